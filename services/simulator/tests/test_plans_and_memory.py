"""A character's day and memory: plans from the persona, revised by a hazard; conversations that end;
memories kept to their audience; reflections that do not nest."""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime, timedelta

import pytest

from aic_simulator.conversations import COOLDOWN, LAPSE, RECENT_LINES, Conversations, budget
from aic_simulator.memory import private_audience, reflect, remember, retrieve, visible_to
from aic_simulator.plans import current, join_event, mentioned_events, plan_day, shelter
from aic_simulator.settings import DEFAULT_WORLD
from aic_simulator.state import AgentState, EventInfo, LocationInfo, World
from aic_simulator.world import load_world_file

DAY = date(2026, 6, 1)
WORLD = load_world_file(DEFAULT_WORLD)
LOCATIONS = {
    loc["id"]: LocationInfo(
        loc["id"],
        loc["name"],
        loc["name_en"],
        loc["kind"],
        loc["x"],
        loc["y"],
        loc["capacity"],
        loc["opens_at"],
        loc["closes_at"],
    )
    for loc in WORLD["locations"]
}


def character(character_id: str) -> AgentState:
    spec = next(c for c in WORLD["characters"] if c["id"] == character_id)
    return AgentState(
        id=spec["id"],
        username=spec["username"],
        display_name=spec["display_name"],
        user_id=f"user-{spec['id']}",
        persona={**spec["persona"], "language": spec.get("language", "zh")},
        home_id=spec["home_id"],
        location_id=spec["home_id"],
        energy=0.8,
        sociability=0.5,
        mood=0.2,
        current_action=None,
        current_decision=None,
        next_wake_at=datetime.combine(DAY, datetime.min.time()),
        importance_since_reflection=0.0,
        memory_seq=0,
    )


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute)


def world_events(days: int = 14) -> list[EventInfo]:
    """The default world's events laid out as seed_world lays them out."""
    events = []
    for spec in WORLD["events"]:
        for day in range(days) if spec.get("repeat_daily") else [spec.get("day_offset", 0)]:
            starts = at(spec["start_hour"], day=DAY + timedelta(days=day))
            events.append(
                EventInfo(
                    len(events) + 1,
                    spec["title"],
                    spec["description"],
                    spec.get("location_id"),
                    starts,
                    starts + timedelta(hours=spec["hours"]),
                    {},
                    spec.get("kind", "gathering"),
                )
            )
    return events


EVENTS = world_events()


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("day", [0, 1, 2])
@pytest.mark.parametrize("who", [c["id"] for c in WORLD["characters"]])
def test_every_plan_covers_the_day_and_sleeps_in_the_persona_hours(who: str, day: int, seed: int) -> None:
    agent = character(who)
    plan = plan_day(agent, DAY + timedelta(days=day), LOCATIONS, EVENTS, seed=seed)
    assert plan[0].start == 0 and plan[-1].end == 24 * 60
    assert all(a.end == b.start for a, b in itertools.pairwise(plan)), "blocks are contiguous"
    for minute in range(0, 24 * 60, 5):
        moment = at(minute // 60, minute % 60)
        block = current(plan, moment)
        assert block is not None
        assert (block.activity == "sleep") == (not agent.awake_at(moment)), (who, moment, block)
        if block.activity == "sleep":
            assert block.location_id == agent.home_id
        elif block.location_id and LOCATIONS[block.location_id].kind != "home":
            assert LOCATIONS[block.location_id].is_open(moment), (who, moment, block)


def test_the_barista_works_the_cafe_shift_and_the_teacher_is_at_school() -> None:
    barista = plan_day(character("lin_xiaoyu"), DAY, LOCATIONS, [], seed=7)
    teacher = plan_day(character("xiao_tao"), DAY, LOCATIONS, [], seed=7)
    assert current(barista, at(10)).activity == "work"
    assert current(barista, at(10)).location_id == "cafe"
    assert "咖啡馆" in current(barista, at(10)).label
    assert current(teacher, at(9)).location_id == "school"
    assert current(teacher, at(20)).activity != "work"


def test_a_plan_is_the_same_for_a_seed_and_differs_between_days() -> None:
    agent = character("chen_mo")
    assert plan_day(agent, DAY, LOCATIONS, [], seed=7) == plan_day(agent, DAY, LOCATIONS, [], seed=7)
    days = [plan_day(agent, DAY + timedelta(days=n), LOCATIONS, [], seed=7) for n in range(5)]
    assert len({tuple((b.start, b.location_id) for b in plan) for plan in days}) > 1


def test_a_night_owl_is_up_after_midnight_and_asleep_later() -> None:
    painter = character("chen_mo")  # sleeps at 01:00, wakes at 08:00
    plan = plan_day(painter, DAY, LOCATIONS, [], seed=7)
    assert current(plan, at(0, 30)).activity != "sleep"
    assert current(plan, at(3)).activity == "sleep"


def test_an_event_that_fits_the_interests_gets_into_some_plans() -> None:
    jazz = EventInfo(1, "爵士之夜 · Jazz night", "live music 音乐", "bar", at(19), at(22), {}, "show")
    teacher = character("xiao_tao")  # music teacher, sleeps at 22
    planned = [
        any(b.activity == "event" for b in plan_day(teacher, DAY, LOCATIONS, [jazz], seed=s))
        for s in range(30)
    ]
    assert 0 < sum(planned) < 30


def test_a_hazard_sends_the_plan_home_until_it_is_over() -> None:
    agent = character("lin_xiaoyu")
    plan = plan_day(agent, DAY, LOCATIONS, [], seed=7)
    storm = EventInfo(9, "台风预警 · Typhoon warning", "", None, at(10), at(13), {}, "hazard")
    revised = shelter(agent, plan, storm, at(10, 20))
    assert current(revised, at(11)).activity == "shelter"
    assert current(revised, at(11)).location_id == agent.home_id
    for before_or_after in (at(10), at(14)):
        kept, planned = current(revised, before_or_after), current(plan, before_or_after)
        assert (kept.activity, kept.location_id) == (planned.activity, planned.location_id)
    assert all(a.end == b.start for a, b in itertools.pairwise(revised))


def test_private_memories_reach_only_their_own_conversation() -> None:
    agent = character("lin_xiaoyu")
    remember(agent, at(9), "observation", "咖啡馆今天来了新的豆子")
    remember(agent, at(9, 5), "conversation", "小明说他的密码是 tulip-42", audience=private_audience("c1"))
    remember(agent, at(9, 10), "conversation", "小红说她下周搬家", audience=private_audience("c2"))
    public = [m.content for m in retrieve(agent, at(10), "密码 搬家 豆子", k=10)]
    assert public == ["咖啡馆今天来了新的豆子"]
    with_c1 = {m.content for m in retrieve(agent, at(10), "密码", k=10, audience=private_audience("c1"))}
    assert "小明说他的密码是 tulip-42" in with_c1 and "小红说她下周搬家" not in with_c1
    assert len(visible_to(agent.memories, private_audience("c2"))) == 2


def test_retrieval_puts_what_the_situation_is_about_first() -> None:
    agent = character("emma_w")
    for n in range(8):
        remember(agent, at(8, n), "observation", f"walked past the plaza fountain again number {n}")
    remember(agent, at(7), "observation", "the bookstore is reading The Little Prince this week")
    best = retrieve(agent, at(9), "book club at the bookstore", k=1)[0]
    assert "Little Prince" in best.content


def test_reflections_draw_on_observations_and_conversations_and_never_nest() -> None:
    agent = character("lin_xiaoyu")
    reflections = []
    for n in range(60):
        remember(agent, at(8) + timedelta(minutes=n), "observation", f"第{n}位客人点了一杯手冲咖啡")
        if entry := reflect(agent, at(8) + timedelta(minutes=n), threshold=10):
            reflections.append(entry)
    assert len(reflections) >= 5
    for entry in reflections:
        assert entry.content.count("回想起来") == 1, entry.content
        assert not any(other.content in entry.content for other in reflections if other is not entry)


def test_conversation_budgets_are_shaped_by_persona_friendship_and_the_hour() -> None:
    chatty, reserved = character("xiao_tao"), character("chen_mo")  # 活泼 vs 克制
    rng = random.Random

    def mean(agent: AgentState, affinity: float, hour: int) -> float:
        return sum(budget("talk", agent, affinity, hour, rng(n)) for n in range(50)) / 50

    assert mean(chatty, 0.0, 15) > mean(reserved, 0.0, 15)
    assert mean(reserved, 0.8, 15) > mean(reserved, 0.0, 15)
    assert mean(chatty, 0.0, 22) < mean(chatty, 0.0, 15)
    assert all(3 <= budget("talk", chatty, 1.0, 12, rng(n)) <= 8 for n in range(50))
    assert all(2 <= budget("dm", chatty, 1.0, 12, rng(n)) <= 6 for n in range(50))


def test_a_pair_waits_after_a_conversation_and_an_idle_one_lapses() -> None:
    a, b = character("lin_xiaoyu"), character("chen_mo")
    world = World(at(9), 0, "running", 1, 0, 0, LOCATIONS, {}, [], {a.id: a, b.id: b})
    talks = Conversations(world)
    talk = talks.open("talk", a, b.id, "咖啡", 4, at(9), "cafe")
    assert talks.cooling_down(a.id, b.id, at(9)), "an open conversation: no second one"
    talks.turn(talk, a.id, "早呀", at(9))
    assert talk.speaker == b.id and talk.turns == 1
    for n in range(8):
        talks.turn(talk, (b, a)[n % 2].id, f"第{n}句", at(9, n))
    assert len(talk.lines) == RECENT_LINES and talk.lines[-1] == (a.id, "第7句"), "the latest lines, in order"
    talks.end(talk, at(9, 10))
    assert talks.cooling_down(b.id, a.id, at(9, 10) + COOLDOWN - timedelta(minutes=1))
    assert not talks.cooling_down(a.id, b.id, at(9, 10) + COOLDOWN)
    idle = talks.open("dm", a, b.id, "画展", 4, at(15))
    assert talks.between("dm", b.id, a.id, at(15) + LAPSE - timedelta(minutes=1)) is idle
    assert talks.between("dm", a.id, b.id, at(15) + LAPSE + timedelta(minutes=1)) is None
    assert idle.ended_at == at(15)


def test_hearing_of_an_event_puts_it_into_free_time_but_never_over_work() -> None:
    teacher = character("xiao_tao")
    plan = plan_day(teacher, DAY, LOCATIONS, [], seed=7)
    jazz = EventInfo(3, "月亮酒吧爵士之夜 · Jazz night", "", "bar", at(19), at(22), {}, "show")
    heard = mentioned_events("今晚月亮酒吧爵士之夜,一起去吗?", [jazz], at(15))
    assert heard == [jazz]
    assert mentioned_events("今晚有爵士之夜吗", [jazz], at(20)) == [], "it has begun: no longer to come"
    revised = join_event(teacher, plan, jazz, LOCATIONS)
    assert revised is not None
    assert current(revised, at(19, 30)).activity == "event"
    assert current(revised, at(19, 30)).location_id == "bar"
    assert all(a.end == b.start for a, b in itertools.pairwise(revised))
    morning = EventInfo(4, "读书会 · Book club", "", "bookstore", at(10), at(12), {}, "gathering")
    assert join_event(teacher, plan, morning, LOCATIONS) is None, "she teaches at ten"
