"""The LLM writes each character's day: one call per character per simulated day through the real engine
and the policy the service builds, its plan used when it keeps to the day, the places and the persona,
and the rule plan in its place when it does not (or the call fails)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aic_common.bus import Outbox
from aic_common.db import create_db_engine, create_session_factory
from aic_common.migrations import upgrade
from aic_simulator.app import MIGRATIONS, build_policy
from aic_simulator.engine import Engine
from aic_simulator.llm import PLAN_ACTIVITIES, LlmError, LlmPolicy, parse_plan
from aic_simulator.plans import PlanRequest, plan_day
from aic_simulator.settings import SimulatorSettings
from aic_simulator.state import AgentState, EventInfo, LocationInfo, PlanItem
from aic_simulator.store import SimStore
from aic_simulator.testing_llm import (
    ScriptedLlmServer,
    Step,
    answer,
    follows_plan,
    is_plan_request,
    malformed,
    plan_answer,
    slow,
    status,
)
from aic_simulator.tiers import TieredPolicy
from aic_simulator.world import load_world_file, seed_world

pytestmark = pytest.mark.integration
CJK = re.compile(r"[\u4e00-\u9fff]")


def signed(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The example plan with every label marked as the LLM's own, in the label's language."""
    return [
        {**b, "label": b["label"] + ("（自己排的）" if CJK.search(b["label"]) else " (my own plan)")}
        for b in blocks
    ]


@contextlib.asynccontextmanager
async def town(tmp_path: Path, server: ScriptedLlmServer, **overrides: Any) -> AsyncIterator[Engine]:
    """The default world in a migrated SQLite database, run by the engine with the policy the service
    builds for an LLM at ``server`` (the LLM first, rules behind it)."""
    settings = SimulatorSettings(
        data_dir=tmp_path,
        speed=0,
        publish_action_events=False,
        llm_base_url=server.base_url,
        llm_model=server.model,
        **overrides,
    )
    url = settings.resolved_database_url()
    upgrade(MIGRATIONS, url)
    database = create_db_engine(url)
    session_factory = create_session_factory(database)
    seed_world(session_factory, Outbox("test"), load_world_file(settings.world_file), settings.sim_start)
    store = SimStore(session_factory, Outbox("test"), "test")
    assert store.try_lead(timedelta(hours=1))
    world = store.load(settings.seed, 0, settings.sim_start, settings.memory_limit)
    policy = build_policy(settings)
    assert isinstance(policy, TieredPolicy)
    try:
        yield Engine(settings, store, policy, world)
    finally:
        await policy.tiers[0].aclose()  # type: ignore[attr-defined]
        database.dispose()


def llm_of(engine: Engine) -> LlmPolicy:
    llm = engine.policy.tiers[0]  # type: ignore[attr-defined]
    assert isinstance(llm, LlmPolicy)
    return llm


def planned_for(request: dict[str, Any]) -> tuple[str, str]:
    """(the character's name, the day) a plan request is for, as its prompts say them."""
    system, user = (m["content"] for m in request["messages"])
    name = re.search(r"你是「(.+?)」|You are (.+?), a character", system)
    day = re.search(r"(?:日期|Day): (\d{4}-\d{2}-\d{2})", user)
    assert name and day
    return name.group(1) or name.group(2), day.group(1)


async def test_the_llm_writes_each_characters_day_once_a_day(tmp_path: Path) -> None:
    async with (
        ScriptedLlmServer(default=answer(follows_plan), planning=answer(plan_answer(signed))) as server,
        town(tmp_path, server) as engine,
    ):
        world = engine.world
        start = world.sim_time
        while world.sim_time < start + timedelta(hours=36):  # a simulated day and a half
            await engine.step(refresh=False, checkpoint=False)
        await engine.settle()

        plans = [r.body for r in server.requests if is_plan_request(r.body)]
        decisions = len(server.requests) - len(plans)
        print(f"\n{len(plans)} plan calls and {decisions} decision calls over 36 simulated hours")
        days = {start.date().isoformat(), (start + timedelta(days=1)).date().isoformat()}
        names = {a.display_name for a in world.agents.values()}
        assert Counter(planned_for(p) for p in plans) == {(n, d): 1 for n in names for d in days}
        assert llm_of(engine).plans == len(plans) == 2 * len(world.agents)
        assert llm_of(engine).plan_errors == 0 and not engine.policy.fallbacks  # type: ignore[attr-defined]
        assert engine.tier_counts.get("llm", 0) == world.decisions > len(world.agents)

        today = world.sim_time.date()
        for agent in world.agents.values():
            assert agent.plan_day == today.isoformat()
            rule = plan_day(agent, today, world.locations, world.events, world.seed)
            assert [i.label for i in agent.plan] != [i.label for i in rule]
            # Its own blocks, but for a hazard's revision (the afternoon storm sends some home).
            own = [i for i in agent.plan if not i.reason.startswith("hazard")]
            assert all(i.label.endswith(("（自己排的）", " (my own plan)")) for i in own), agent.id
            assert {i.activity for i in own} <= set(PLAN_ACTIVITIES)
            assert (agent.plan[0].start, agent.plan[-1].end) == (0, 24 * 60)
            # What the character remembers of its day is the plan it wrote.
            told = next(
                m.content for m in agent.memories if m.content.startswith(("今天的计划", "Today's plan"))
            )
            assert "自己排的" in told or "my own plan" in told

        # The prompt gives the persona's hours and work, the places' opening hours, the day's events with
        # their kinds and the rule plan as an example; the answer's shape is a JSON schema.
        lin = next(p for p in plans if planned_for(p) == ("林小雨", start.date().isoformat()))
        system, user = (m["content"] for m in lin["messages"])
        assert "林小雨" in system and "只在你的睡觉时间里睡觉" in system and "咖啡师" in system
        for seen in (
            "作息: 起床 06:00, 睡觉 23:00 (睡觉时间: 00:00-06:00, 23:00-24:00)",
            "工作: 拾光咖啡馆 (cafe) 07:00-15:00",
            "- bar: 月亮酒吧, bar, 18:00-02:00",
            "- apartments_a: 梧桐公寓, 你的家, 全天",
            "- 20:00-23:00 月亮酒吧爵士之夜 @ 月亮酒吧 (bar) [show]",
            '{"start": "00:00", "end": "06:00", "activity": "sleep", "location_id": "apartments_a"',
        ):
            assert seen in user
        assert "apartments_b" not in user, "other people's homes are not places to plan a day at"
        schema = lin["response_format"]["json_schema"]
        assert schema["name"] == "day_plan" and schema["strict"] is True
        block = schema["schema"]["properties"]["blocks"]["items"]
        assert block["properties"]["location_id"]["enum"] == sorted(world.locations)
        assert lin["max_tokens"] == llm_of(engine).plan_max_tokens


def gap(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return blocks[:1] + blocks[2:]


def unknown_place(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**b, "location_id": "moon"} if b["activity"] == "work" else b for b in blocks]


def closed_place(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The morning market closes at 13:00; every day goes on past it.
    return [b if b["activity"] == "sleep" else {**b, "location_id": "market"} for b in blocks]


# What the LLM answers, and why its plan is not taken.
INVALID: dict[str, tuple[Step, str]] = {
    "gap": (answer(plan_answer(gap)), "(a gap or an overlap)"),
    "unknown place": (answer(plan_answer(unknown_place)), "unknown place 'moon'"),
    "closed place": (answer(plan_answer(closed_place)), "market is closed at"),
    "bad JSON": (malformed('{"blocks": [{"start": "00:00", '), "invalid plan: no JSON object"),
    "timeout": (slow(30.0), "timeout after 0.25s"),
    "HTTP 400": (status(400)[0], "HTTP 400: "),
}


@pytest.mark.parametrize("failure", list(INVALID))
async def test_a_plan_that_does_not_hold_gives_way_to_the_rule_plan(
    tmp_path: Path, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "aic_simulator.tiers")
    step, why = INVALID[failure]
    async with (
        ScriptedLlmServer(default=answer(follows_plan), planning=step) as server,
        town(tmp_path, server, decision_timeout_seconds=0.25) as engine,
    ):
        world = engine.world
        today = world.sim_time.date()
        while any(a.plan_day != today.isoformat() for a in world.agents.values()):
            await engine.step(refresh=False, checkpoint=False)
        for agent in world.agents.values():
            rule = plan_day(agent, today, world.locations, world.events, world.seed)
            assert agent.plan == rule, agent.id
        plans = [r for r in server.requests if is_plan_request(r.body)]
        assert len(plans) == len(world.agents), "one call per character, never retried"
        assert llm_of(engine).plan_errors == len(plans)
        assert engine.policy.fallbacks["llm:plan"] == len(plans)  # type: ignore[attr-defined]
        reasons = [r.getMessage() for r in caplog.records if "could not plan" in r.getMessage()]
        assert len(reasons) == len(plans) and all(why in r for r in reasons), reasons[:1]
        # The decisions still come from the LLM: only the plans fell back.
        assert engine.tier_counts.get("llm", 0) > 0


# ---------------------------------------------------------------------- what a valid plan is

DAY = date(2030, 1, 7)
HOME = LocationInfo("home", "家", "Home", "home", 0, 0, 10, 0, 24)
PLACES = {
    "home": HOME,
    "cafe": LocationInfo("cafe", "咖啡馆", "Café", "cafe", 1, 1, 10, 8, 22),
    "bar": LocationInfo("bar", "酒吧", "Bar", "bar", 2, 2, 10, 18, 26),
    "other_home": LocationInfo("other_home", "别人家", "Next door", "home", 3, 3, 10, 0, 24),
}


def request_for(language: str = "zh") -> PlanRequest:
    agent = AgentState(
        id="a",
        username="a",
        display_name="阿青",
        user_id=None,
        persona={"language": language, "daily_rhythm": {"wake": 7, "sleep": 23}},
        home_id="home",
        location_id="home",
        energy=1.0,
        sociability=0.5,
        mood=0.0,
        current_action=None,
        current_decision=None,
        next_wake_at=datetime(2030, 1, 7, tzinfo=UTC),
        importance_since_reflection=0.0,
        memory_seq=0,
    )
    show = EventInfo(
        1, "演出 · Show", "", "bar", datetime(2030, 1, 7, 20), datetime(2030, 1, 7, 22), {}, "show"
    )
    return PlanRequest(agent, DAY, PLACES, [show], [])


def day_of(*blocks: tuple[str, str, str, str, str]) -> str:
    keys = ("start", "end", "activity", "location_id", "label")
    return json.dumps({"blocks": [dict(zip(keys, b, strict=True)) for b in blocks]}, ensure_ascii=False)


GOOD = [
    ("00:00", "07:00", "sleep", "home", "睡觉"),
    ("07:00", "09:30", "meal", "home", "在家吃早饭"),
    ("09:30", "18:00", "work", "cafe", "在咖啡馆上班"),
    ("18:00", "20:00", "leisure", "other_home", "去邻居家坐坐"),
    ("20:00", "23:00", "event", "bar", "去酒吧看演出"),
    ("23:00", "24:00", "sleep", "home", "睡觉"),
]


def test_a_plan_that_keeps_to_the_day_the_places_and_the_persona_is_taken_as_it_is() -> None:
    plan = parse_plan(request_for(), "Here you go:\n```json\n" + day_of(*GOOD) + "\n```")
    assert plan[2] == PlanItem(570, 1080, "work", "cafe", "在咖啡馆上班", "my plan for the day")
    assert [(i.start, i.end) for i in plan] == [
        (0, 420),
        (420, 570),
        (570, 1080),
        (1080, 1200),
        (1200, 1380),
        (1380, 1440),
    ]
    late = [*GOOD[:4], ("20:00", "24:00", "leisure", "bar", "在酒吧待到半夜")]
    assert parse_plan(request_for(), day_of(*late))[-1].location_id == "bar", "a bar is open past midnight"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({1: ("07:00", "09:00", "meal", "home", "在家吃早饭")}, "block 3: starts at 09:30, not 09:00"),
        ({1: ("06:00", "09:30", "meal", "home", "在家吃早饭")}, "block 2: starts at 06:00, not 07:00"),
        ({5: ("23:00", "23:30", "sleep", "home", "睡觉")}, "the day ends at 23:30, not 24:00"),
        ({2: ("09:30", "9h", "work", "cafe", "上班")}, 'block 3: start and end must be times "HH:MM"'),
        ({2: ("09:30", "18:00", "nap", "cafe", "上班")}, "block 3: activity 'nap' is not one of"),
        ({2: ("09:30", "18:00", "work", "moon", "上班")}, "block 3: unknown place 'moon'"),
        ({1: ("07:00", "09:30", "meal", "cafe", "吃早饭")}, "block 2: cafe is closed at 07:00"),
        ({4: ("20:00", "23:00", "event", "cafe", "喝咖啡")}, "block 5: cafe is closed at 22:00"),
        (
            {1: ("07:00", "09:30", "sleep", "home", "睡懒觉")},
            "block 2: sleeps at 07:00, outside its sleep hours",
        ),
        (
            {0: ("00:00", "07:00", "sleep", "other_home", "睡觉")},
            "block 1: sleeps away from home, at other_home",
        ),
        (
            {2: ("09:30", "18:00", "work", "cafe", "working")},
            "block 3: the label 'working' is not in Chinese",
        ),
        ({2: ("09:30", "18:00", "work", "cafe", "")}, "block 3: the label must be a text of 1 to 60"),
    ],
)
def test_a_plan_that_breaks_a_rule_is_refused_saying_which(
    change: dict[int, tuple[str, str, str, str, str]], why: str
) -> None:
    blocks = [change.get(i, block) for i, block in enumerate(GOOD)]
    with pytest.raises(LlmError, match=re.escape(why)):
        parse_plan(request_for(), day_of(*blocks))


def test_an_english_characters_labels_are_in_english_and_an_answer_needs_blocks() -> None:
    english = [(s, e, a, p, "a quiet day") for s, e, a, p, _ in GOOD]
    assert parse_plan(request_for("en"), day_of(*english))[0].label == "a quiet day"
    with pytest.raises(LlmError, match="is not in English"):
        parse_plan(request_for("en"), day_of(*GOOD))
    for text, why in (("", "empty answer"), ('{"plan": []}', "no blocks"), ("sure!", "no JSON object")):
        with pytest.raises(LlmError, match=why):
            parse_plan(request_for(), text)
