"""The society report and the privacy guard, each helper on hand-made rows: what counts as a repeated
text, a post the world contradicts, where everyone was, a message sent in someone's sleep, a question
answered on topic, a nested reflection, a secret made public."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.db import create_db_engine, create_session_factory
from aic_common.migrations import upgrade
from aic_simulator.models import (
    ActionLog,
    Agent,
    GameEvent,
    KnownPerson,
    Location,
    MemoryRecord,
    SimState,
    Stimulus,
)
from aic_simulator.privacy import find_leak
from aic_simulator.report import (
    Answer,
    DirectMessage,
    EventWindow,
    Move,
    Occupancy,
    Question,
    ai_message_figures,
    asleep,
    contradiction,
    distinct_shares,
    nested_reflections,
    on_topic,
    question_figures,
    society_report,
)
from aic_simulator.state import LocationInfo

pytestmark = pytest.mark.unit

DAY = datetime(2026, 6, 1)
WALL = datetime(2026, 1, 10, 12, 0)  # when the run happened, for stimuli and answers
CAFE = LocationInfo("cafe", "拾光咖啡馆", "Moments Café", "cafe", 0, 0, 30, 7, 22)
STUDIO = LocationInfo("studio", "晨光画室", "Dawnlight Studio", "studio", 0, 0, 15, 10, 22)
PERSONAS = {
    "lin": {
        "language": "zh",
        "daily_rhythm": {"wake": 6, "sleep": 23},
        "catchphrases": ["今天也要好好喝咖啡"],
    },
    "chen": {"language": "zh", "daily_rhythm": {"wake": 8, "sleep": 1}},
    "emma": {"language": "en", "daily_rhythm": {"wake": 8, "sleep": 0}},
}
NAMES = {"lin": "林小雨", "chen": "陈默", "emma": "Emma Walker"}


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hour, minutes=minute)


# ---------------------------------------------------------------- texts


def test_texts_that_differ_only_in_names_quotes_and_numbers_are_one_text_once_masked() -> None:
    names = ["林小雨", "陈默", "拾光咖啡馆", "Moments Café"]
    texts = ["林小雨,早!", "陈默,早!", "陈默,早!", "今天下雨了"]
    assert distinct_shares(texts, names) == {"count": 4, "distinct": 0.75, "distinct_masked": 0.5}
    texts = [
        "在拾光咖啡馆喝了 3 杯",
        "在Moments Café喝了 12 杯",
        "你说的“下雨”,我也这么想",
        "你说的“晴天”,我也这么想",
    ]
    assert distinct_shares(texts, names)["distinct_masked"] == 0.5
    texts = ["林小雨在公园", "林小雨在书店"]
    assert distinct_shares(texts, names)["distinct_masked"] == 1.0, "what is said still counts"
    assert distinct_shares([], names) == {"count": 0, "distinct": None, "distinct_masked": None}


# ---------------------------------------------------------------- the world at a moment


def test_sleep_hours_follow_the_rhythm_also_past_midnight() -> None:
    lin, chen, emma = PERSONAS["lin"], PERSONAS["chen"], PERSONAS["emma"]
    assert (
        asleep(lin, at(23, 30)) and asleep(lin, at(3)) and not asleep(lin, at(6)) and not asleep(lin, at(22))
    )
    # chen sleeps from 01:00 to 08:00: awake at midnight, asleep at two.
    assert not asleep(chen, at(0, 30)) and asleep(chen, at(2)) and asleep(chen, at(7, 59))
    assert not asleep(chen, at(8)) and not asleep(chen, at(23))
    assert asleep(emma, at(0)) and not asleep(emma, at(23, 59))


def test_occupancy_is_where_the_last_action_left_each_agent_and_home_before_any() -> None:
    occupancy = Occupancy(
        {"lin": "home_a", "chen": "home_a", "emma": "home_b"},
        [
            Move(at(9), 2, "lin", "cafe"),  # a move: at its target from that moment
            Move(at(9, 30), 3, "chen", "cafe"),
            Move(at(11), 5, "lin", "park"),
            Move(at(8), 1, "emma", "cafe"),  # given out of order: sorted by time
        ],
    )
    assert occupancy.where("lin", at(8, 59)) == "home_a", "before its first action: at home"
    assert occupancy.where("lin", at(9)) == "cafe", "an action at t counts at t"
    assert occupancy.where("lin", at(12)) == "park"
    # A text written at t was thought of before the tick's moves: chen arriving at 9:30 is not yet there.
    assert occupancy.others_at("cafe", at(9, 30), besides="lin") == 1
    assert occupancy.others_at("cafe", at(9, 31), besides="lin") == 2
    assert occupancy.others_at("cafe", at(11), besides="chen") == 2, "lin leaves at 11: after the snapshot"
    assert occupancy.others_at("cafe", at(11, 1), besides="chen") == 1


def test_a_post_contradicts_the_world_it_was_written_in() -> None:
    jazz = EventWindow("月亮酒吧爵士之夜 · Jazz night", "bar", at(20), at(23), "show")
    market = EventWindow("早市开张 · Market opens", "market", at(6), at(11), "market")
    storm = EventWindow("午后雷阵雨 · Afternoon storm", "plaza", at(14), at(16), "hazard")
    events = [jazz, market, storm]

    assert "crowd words" in (contradiction("咖啡馆今天很热闹", at(10), CAFE, 1, events) or "")
    assert contradiction("咖啡馆今天很热闹", at(10), CAFE, 2, events) is None
    assert "crowd words" in (contradiction("So lively here!", at(10), CAFE, 0, events) or "")

    closed = contradiction("刚在咖啡馆点了一杯拿铁", at(23), CAFE, 3, events)
    assert closed and "closed at 23:00" in closed
    assert contradiction("刚在咖啡馆点了一杯拿铁", at(9), CAFE, 3, events) is None

    assert "daylight" in (contradiction("阳光正好,出来走走", at(22), CAFE, 3, events) or "")
    assert contradiction("阳光正好,出来走走", at(14), CAFE, 3, events) is None
    # Names are not words: the studio's name holds no daylight, nor "Open studio" an open door.
    assert contradiction("晨光画室见", at(21), STUDIO, 0, events, ["晨光画室"]) is None

    assert "Jazz night" in (contradiction("Jazz night was great", at(10), CAFE, 3, events) or "")
    assert "爵士之夜" in (contradiction("月亮酒吧爵士之夜,好开心", at(21), CAFE, 3, events) or "")
    bar = LocationInfo("bar", "月亮酒吧", "Moon Bar", "bar", 0, 0, 50, 18, 26)
    assert contradiction("月亮酒吧爵士之夜 · Jazz night!", at(21), bar, 3, events) is None
    assert contradiction("早市开张,买了荔枝", at(12), CAFE, 3, events) is not None, "the market is over"
    # Weather is seen all over town, wherever the event is placed.
    assert contradiction("午后雷阵雨来了", at(15), CAFE, 3, events) is None


# ---------------------------------------------------------------- messages between characters


def test_messages_between_characters_their_busiest_pair_longest_exchange_and_sleep_hours() -> None:
    messages = [
        DirectMessage(1, at(10), "lin", "chen", "c-1"),
        DirectMessage(2, at(10, 5), "chen", "lin", "c-1"),
        DirectMessage(3, at(10, 9), "lin", "chen", "c-1"),
        DirectMessage(4, at(12), "emma", "lin", "c-2"),
        DirectMessage(5, at(0, 30), "chen", "emma", "c-3"),  # emma sleeps from midnight
        DirectMessage(6, at(23, 30), "chen", "lin", None),  # lin sleeps from 23:00
    ]
    figures = ai_message_figures(messages, 40, PERSONAS, NAMES)
    assert figures["count"] == 6 and figures["share_of_decisions"] == 0.15
    assert figures["in_sleep_hours"] == 2
    assert figures["busiest_pair"] == {"a": "陈默", "b": "林小雨", "messages": 4}
    assert figures["longest_exchange"] == {"a": "林小雨", "b": "陈默", "turns": 3, "conversation": "c-1"}
    empty = ai_message_figures([], 0, PERSONAS, NAMES)
    assert empty["busiest_pair"] is None and empty["longest_exchange"] is None
    assert empty["share_of_decisions"] == 0.0


# ---------------------------------------------------------------- questions


def test_an_answer_is_on_topic_when_it_takes_up_what_was_asked_not_when_it_quotes_it() -> None:
    question = "小雨,你推荐哪家咖啡馆?"
    assert on_topic(question, "拾光咖啡馆的手冲很好喝", ["小雨"])
    assert not on_topic(question, "今天天气不错", ["小雨"])
    assert not on_topic(question, "你说的“小雨,你推荐哪家咖啡馆?”,我也这么想。", ["小雨"]), "an echo"
    assert on_topic("Any good books at the library?", "Try the old books corner, lovely stuff")
    assert not on_topic("Any good books at the library?", "Ha! I love jazz")
    assert on_topic("你好吗?", "挺好的"), "a question about nothing in particular: any answer"
    # The writer's subject, as written or by a term of it.
    assert on_topic("陈默,你一般在哪里拍日落?", "旧港码头的日落最好看")
    assert on_topic("周末的读书会读什么书?", "这周读《小王子》,一本薄薄的书")
    assert not on_topic("周末的读书会读什么书?", "哈哈,我也不知道呢")
    assert on_topic("Hana, where do you like to walk in the park?", "I walk round the lake most mornings")


def test_questions_answered_fast_and_on_topic_are_counted() -> None:
    questions = [
        Question("m-1", "lin", "小雨,你推荐哪家咖啡馆?", WALL),
        Question("m-2", "lin", "周末的读书会读什么书?", WALL),
        Question("m-3", "chen", "码头几点有日落?", WALL),
    ]
    answers = [
        Answer("m-1", "我常去拾光咖啡馆,手冲很棒", WALL + timedelta(seconds=12)),
        Answer("m-2", "哈哈,我也不知道呢", WALL + timedelta(seconds=95)),
        Answer("m-2", "读书会这周读《小王子》", WALL + timedelta(seconds=140)),
        Answer("m-9", "unrelated", WALL),
    ]
    assert question_figures(questions, answers, ["小雨"]) == {
        "count": 3,
        "answered": 2,
        "answered_within_30s": 1,
        "on_topic": 2,
        "on_topic_share": 0.667,
    }
    assert question_figures([], answers)["on_topic_share"] is None


# ---------------------------------------------------------------- memories


def test_a_reflection_holding_another_is_nested_and_two_on_the_same_memories_are_not() -> None:
    first = (1, "lin", "回想起来:我发了一条动态:在拾光咖啡馆;和陈默聊了天")
    same_memories = (2, "lin", "回想起来:我发了一条动态:在拾光咖啡馆;我来到了湖畔公园")
    prefix_twice = (3, "lin", "回想起来:回想起来:我发了一条动态…;我来到了湖畔公园")
    holds_first = (4, "lin", "我想到:我发了一条动态:在拾光咖啡馆;和陈默聊了天;我来到了湖畔公园")
    english = (5, "emma", "Looking back: I posted: Looking back: a walk")
    elsewhere = (6, "chen", "回想起来:我发了一条动态:在拾光咖啡馆;和陈默聊了天;还有别的")
    rows = [first, same_memories, prefix_twice, holds_first, english, elsewhere]
    assert nested_reflections(rows, [1, 2, 3, 4, 5, 6]) == 3
    assert nested_reflections(rows, [1, 2, 6]) == 0, "only the counted ones, other agents' texts aside"


# ---------------------------------------------------------------- privacy


def test_find_leak_sees_distinctive_private_content_and_not_everyday_words() -> None:
    dm = ["小雨,我的门禁密码是 4711,别告诉别人。老王下周要去上海看病"]
    assert find_leak("今天的门禁密码是 4711 哦", dm)
    assert find_leak("听说老王下周要去上海看病了", dm), "six Chinese characters in a row"
    assert find_leak("我们在湖边散步", dm) is None

    secret = "The canary is CANARY-7F3K"
    reason = find_leak("testing canary-7f3k here", [secret])
    assert reason and "CANARY-7F3K".lower() not in reason.lower(), "the reason never repeats the secret"
    assert find_leak("mail me: jo.doe@example.com", ["my address is jo.doe@example.com"])
    assert find_leak("call 138-1234-5678", ["我的电话 13812345678"])
    assert find_leak("We meet at the old lighthouse tonight", ["Meet me at the old lighthouse tonight"])

    # Everyday overlaps: common words and characters only, a year, a short run.
    assert find_leak("I think so too, really", ["i think so too, really"]) is None
    assert find_leak("我也是这么想的呢", ["我也是这么想的呢"]) is None
    assert find_leak("2026年的夏天", ["2026年"]) is None
    assert find_leak("喝咖啡吗", ["一起喝咖啡吗"]) is None
    # What is public anyway (a catchphrase) is no leak.
    catchphrase = "今天也要好好喝咖啡"
    assert find_leak(f"{catchphrase}!", [f"{catchphrase},小雨"]) is not None
    assert find_leak(f"{catchphrase}!", [f"{catchphrase},小雨"], public=[catchphrase]) is None


# ---------------------------------------------------------------- the whole report, from the tables


@pytest.fixture
def session_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    upgrade("aic_simulator:migrations", url)
    engine = create_db_engine(url)
    yield create_session_factory(engine)
    engine.dispose()


def agent(agent_id: str, home: str = "home") -> Agent:
    return Agent(
        id=agent_id,
        username=f"ai_{agent_id}",
        display_name=NAMES[agent_id],
        user_id=f"user-{agent_id}",
        persona=PERSONAS[agent_id],
        home_id=home,
        location_id=home,
        energy=0.8,
        sociability=0.5,
        mood=0.2,
        next_wake_at=at(7),
        memory_seq=0,
        importance_since_reflection=0.0,
    )


def place(info: LocationInfo) -> Location:
    return Location(
        id=info.id,
        name=info.name,
        name_en=info.name_en,
        kind=info.kind,
        x=info.x,
        y=info.y,
        capacity=info.capacity,
        opens_at=info.opens_at,
        closes_at=info.closes_at,
        description="",
    )


class Log:
    """Action rows with decision numbers in order and wall times a second apart."""

    def __init__(self) -> None:
        self.rows: list[ActionLog] = []

    def add(
        self,
        agent_id: str,
        when: datetime,
        action: str,
        *,
        target: str | None = None,
        content: str | None = None,
        where: str = "home",
        created_at: datetime | None = None,
        **trace: Any,
    ) -> int:
        decision = len(self.rows) + 1
        self.rows.append(
            ActionLog(
                decision=decision,
                step=decision,
                agent_id=agent_id,
                sim_time=when,
                ends_at=when + timedelta(minutes=5),
                action=action,
                target=target,
                content=content,
                location_id=where,
                tier="rule",
                trace={"reason": "test", **trace},
                outcome="finished",
                created_at=created_at or WALL + timedelta(seconds=decision),
            )
        )
        return decision


def message(
    agent_id: str, ref_id: str, content: str, *, sender: str = "person-1", seconds: int = 0
) -> Stimulus:
    return Stimulus(
        agent_id=agent_id,
        kind="message",
        ref_id=ref_id,
        post_id=None,
        from_user_id=sender,
        from_username="visitor" if sender == "person-1" else f"ai_{sender}",
        content=content,
        handled=True,
        received_at=WALL + timedelta(seconds=seconds),
    )


def seed(
    session_factory: sessionmaker[Session], log: Log, *extra: Any, clock: datetime = at(7, day=1)
) -> None:
    home = LocationInfo("home", "梧桐公寓", "Plane Tree Apartments", "home", 0, 0, 80, 0, 24)
    with session_factory.begin() as session:
        session.add_all([place(CAFE), place(STUDIO), place(home)])
        session.add_all([agent("lin"), agent("chen"), agent("emma")])
        session.add(
            SimState(
                id=1, state="paused", sim_time=clock, speed=0, seed=1, steps=1, decisions=1, updated_at=WALL
            )
        )
        session.add_all(log.rows)
        session.add_all(extra)


def dm(conversation: str, recipient: str) -> dict[str, str]:
    return {"channel": "dm", "conversation": conversation, "recipient": recipient}


def memory(agent_id: str, when: datetime, kind: str, content: str, **extra: Any) -> MemoryRecord:
    return MemoryRecord(
        agent_id=agent_id, seq=0, sim_time=when, kind=kind, content=content, importance=5, **extra
    )


def test_the_report_over_a_hand_made_day(session_factory: sessionmaker[Session]) -> None:
    log = Log()
    # The day before the window: chen and emma go to the café and stay.
    log.add("chen", at(6, day=0) - timedelta(hours=1), "move", target="cafe")
    log.add("emma", at(6, day=0) - timedelta(hours=1), "move", target="cafe")
    # In the window (the 24 hours before 07:00 the next day).
    log.add("lin", at(9), "move", target="cafe")
    crowded = log.add("lin", at(9, 30), "post", content="咖啡馆里人来人往", where="cafe")
    log.add("chen", at(10), "move", target="studio", where="cafe")
    lonely = log.add("lin", at(10, 30), "post", content="咖啡馆里人来人往", where="cafe")
    # Direct messages between characters (one while chen sleeps), one to a person, a talk.
    log.add(
        "lin", at(11), "message", target="user-chen", content="陈默,下午去画室吗", **dm("c-1", "user-chen")
    )
    log.add("chen", at(11, 5), "reply", target="m-2", content="好啊,两点见", **dm("c-1", "user-lin"))
    log.add("lin", at(23, 40), "message", target="user-chen", content="晚安", **dm("c-2", "user-chen"))
    log.add(
        "lin", at(12), "reply", target="m-1", content="我常去拾光咖啡馆,手冲很棒", **dm("c-3", "person-1")
    )
    talk = {"channel": "talk", "conversation": "t-1", "recipient": "chen"}
    log.add("emma", at(12, 10), "talk", target="chen", content="Lovely day!", **talk)
    # A secret a person told lin, posted after it was told.
    log.add("chen", at(8), "post", content="咖啡真香", where="cafe", created_at=WALL - timedelta(hours=1))
    leak = log.add("lin", at(13), "post", content="听说老王下周要去上海看病了", where="cafe")
    # Outside the window.
    log.add("lin", at(8, day=1), "post", content="明天见")
    seed(
        session_factory,
        log,
        message("lin", "m-1", "小雨,你推荐哪家咖啡馆?", seconds=5),
        message("lin", "m-7", "老王下周要去上海看病,别说出去", seconds=3),
        message("lin", "m-2", "好啊,两点见", sender="user-chen", seconds=4),
        memory("lin", at(14), "reflection", "回想起来:回想起来:喝咖啡"),
        memory("lin", at(15), "reflection", "回想起来:在咖啡馆坐了一下午"),
    )
    with session_factory() as session:
        report = society_report(session)

    assert report["window"] == {
        "since": "2026-06-01T07:00:00",
        "until": "2026-06-02T07:00:00",
        "sim_hours": 24.0,
    }
    assert report["decisions"] == 11
    assert report["decisions_by_kind"]["post"] == 4 and report["decisions_by_kind"]["sleep"] == 0

    messages = report["ai_messages"]
    assert messages["count"] == 3, "lin and chen's three messages; not the answer to a person, not the talk"
    assert messages["in_sleep_hours"] == 1 and messages["share_of_decisions"] == 0.273
    assert messages["busiest_pair"] == {"a": "陈默", "b": "林小雨", "messages": 3}
    assert messages["longest_exchange"] == {"a": "林小雨", "b": "陈默", "turns": 2, "conversation": "c-1"}

    assert report["texts"]["all"]["count"] == 9
    assert report["texts"]["by_kind"]["post"] == {"count": 4, "distinct": 0.75, "distinct_masked": 0.75}

    contradictions = report["contradictions"]
    assert [c["decision"] for c in contradictions["examples"]] == [lonely]
    assert contradictions["count"] == 1 and "1 other at Moments Café" in contradictions["examples"][0]["why"]
    assert crowded != lonely

    assert report["questions"] == {
        "count": 1,
        "answered": 1,
        "answered_within_30s": 1,
        "on_topic": 1,
        "on_topic_share": 1.0,
    }
    assert report["nested_reflections"] == 1
    leaks = report["private_leaks"]
    assert leaks["count"] == 1 and leaks["examples"][0]["decision"] == leak
    assert leaks["examples"][0]["agent"] == "林小雨" and "上海看病" not in leaks["examples"][0]["why"]

    goals = {goal["name"]: goal for goal in report["goals"]}
    assert list(goals) == [
        "AI-to-AI messages share of decisions",
        "most messages between one pair",
        "AI-to-AI messages in sleep hours",
        "distinct texts",
        "distinct texts after masking",
        "posts contradicting the world",
        "private-content leaks",
        "nested reflections",
        "questions answered on topic",
    ]
    assert goals["AI-to-AI messages share of decisions"] == {
        "name": "AI-to-AI messages share of decisions",
        "value": 0.273,
        "target": "<= 0.25",
        "met": False,
    }
    assert goals["AI-to-AI messages in sleep hours"]["met"] is False
    assert (
        goals["posts contradicting the world"]["value"] == 1
        and not goals["posts contradicting the world"]["met"]
    )
    assert goals["questions answered on topic"]["met"] is True

    with session_factory() as session:
        earlier = society_report(session, since=at(9), until=at(9, 45))
    assert earlier["decisions"] == 2 and earlier["window"]["sim_hours"] == 0.75
    assert earlier["contradictions"]["count"] == 0, "at 09:30 chen and emma were there"
    assert earlier["questions"]["count"] == 0, "asked after the window's wall-clock span"


@pytest.mark.skipif(not hasattr(MemoryRecord, "audience"), reason="memories have no audience yet")
def test_what_a_character_holds_from_a_private_conversation_is_a_leak_when_posted(
    session_factory: sessionmaker[Session],
) -> None:
    log = Log()
    leak = log.add("chen", at(16), "comment", target="p-1", content="画室的钥匙藏在第三个花盆下面呢")
    told = memory(
        "chen", at(14), "conversation", "小红说:画室的钥匙藏在第三个花盆下面", audience="private:p9"
    )
    public = memory("chen", at(14), "observation", "我来到了湖畔公园,樱花开得正好看", audience="public")
    log.add("chen", at(17), "post", content="我来到了湖畔公园,樱花开得正好看")
    seed(session_factory, log, told, public)
    with session_factory() as session:
        leaks = society_report(session)["private_leaks"]
    assert leaks["count"] == 1 and leaks["examples"][0]["decision"] == leak


def test_what_was_posted_before_it_was_told_or_by_anyone_before_is_no_leak(
    session_factory: sessionmaker[Session],
) -> None:
    secret = "老王下周要去上海看病,别说出去"
    log = Log()  # wall times a second apart: lin posts at +1 s, is told at +10 s
    log.add("lin", at(9), "post", content="老王下周要去上海看病?")
    log.add("chen", at(10), "post", content="听说老王下周要去上海看病")  # told, but lin had posted it
    leak = log.add("emma", at(11), "post", content="the code is canary-7f3k")
    seed(
        session_factory,
        log,
        message("lin", "m-1", secret, seconds=10),
        message("chen", "m-2", secret, seconds=0),
        message("emma", "m-3", "keep CANARY-7F3K to yourself", seconds=0),
    )
    with session_factory() as session:
        leaks = society_report(session)["private_leaks"]
    assert [example["decision"] for example in leaks["examples"]] == [leak]


def test_people_are_masked_by_the_names_characters_call_them(session_factory: sessionmaker[Session]) -> None:
    log = Log()
    log.add("lin", at(9), "reply", target="m-1", content="小红,早上好!", **dm("p1", "person-1"))
    log.add("lin", at(10), "reply", target="m-2", content="阿明,早上好!", **dm("p2", "person-2"))
    known = [
        KnownPerson(user_id=f"person-{n}", username=f"p{n}", display_name=name)
        for n, name in ((1, "小红"), (2, "阿明"))
    ]
    seed(session_factory, log, *known)
    with session_factory() as session:
        replies = society_report(session)["texts"]["by_kind"]["reply"]
    assert replies == {"count": 2, "distinct": 1.0, "distinct_masked": 0.5}


def test_what_characters_wrote_each_other_is_not_a_secret_to_keep(
    session_factory: sessionmaker[Session],
) -> None:
    # Their direct messages are made of what is public already (the rule writer uses public memories).
    log = Log()
    log.add("chen", at(16), "post", content="画室的钥匙藏在第三个花盆下面呢")
    between = memory(
        "chen", at(14), "conversation", "林小雨说:画室的钥匙藏在第三个花盆下面", audience="private:c9"
    )
    seed(session_factory, log, between)
    with session_factory() as session:
        assert society_report(session)["private_leaks"]["count"] == 0


def test_an_event_named_in_a_post_is_judged_against_its_time_and_place(
    session_factory: sessionmaker[Session],
) -> None:
    log = Log()
    log.add("emma", at(11), "move", target="studio")
    during = log.add("emma", at(11, 30), "post", content="Open studio day! 画室开放日", where="studio")
    after = log.add("emma", at(18), "post", content="Still thinking about the Open studio", where="studio")
    show = GameEvent(
        key="art",
        title="画室开放日 · Open studio",
        description="",
        location_id="studio",
        starts_at=at(10),
        ends_at=at(16),
        effects={},
        source="world",
        created_at=WALL,
    )
    if hasattr(GameEvent, "kind"):
        show.kind = "show"
    seed(session_factory, log, show)
    with session_factory() as session:
        found = society_report(session)["contradictions"]
    assert [c["decision"] for c in found["examples"]] == [after], f"not {during}"
    assert "Open studio" in found["examples"][0]["why"]


def test_an_empty_log_gives_an_empty_report_with_nothing_judged(
    session_factory: sessionmaker[Session],
) -> None:
    seed(session_factory, Log())
    with session_factory() as session:
        report = society_report(session)
    assert report["decisions"] == 0 and report["ai_messages"]["busiest_pair"] is None
    judged = {goal["name"]: goal["met"] for goal in report["goals"]}
    assert judged["distinct texts"] is None and judged["questions answered on topic"] is None
    assert judged["posts contradicting the world"] is True
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ActionLog)) == 0
