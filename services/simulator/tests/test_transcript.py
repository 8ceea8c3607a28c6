"""A character's transcript: the lines said in person, to it or by it, public; direct messages never."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import Outbox
from aic_common.db import create_db_engine, create_session_factory
from aic_common.errors import NotFound
from aic_common.migrations import upgrade
from aic_simulator.app import MIGRATIONS
from aic_simulator.models import ActionLog, Agent
from aic_simulator.settings import SimulatorSettings
from aic_simulator.transcript import TranscriptQuery, transcript
from aic_simulator.world import load_world_file, seed_world

START = datetime(2026, 6, 1, 7, 0)
DM_SECRET = "私信里的门禁密码 4711"
DM_GOODBYE = "私下说的再见 8822"


def line(decision: int, agent_id: str, action: str, content: str | None, **trace: Any) -> ActionLog:
    at = START + timedelta(minutes=decision)
    return ActionLog(
        decision=decision,
        step=decision,
        agent_id=agent_id,
        sim_time=at,
        ends_at=at + timedelta(minutes=5),
        action=action,
        target=trace.get("recipient"),
        content=content,
        location_id="cafe",
        tier="rule",
        trace={"reason": "test", **trace},
        outcome="finished",
        created_at=at,
    )


def a_day_of_talk() -> list[ActionLog]:
    """Lin talks with Chen at the café; Chen messages Lin in private; Lin waves at no one; others talk."""
    return [
        line(
            1,
            "lin_xiaoyu",
            "talk",
            "早呀,今天咖啡不错",
            channel="talk",
            conversation="c1",
            recipient="chen_mo",
        ),
        line(2, "chen_mo", "say", "是啊,新豆子", channel="talk", conversation="c1", recipient="lin_xiaoyu"),
        line(3, "lin_xiaoyu", "goodbye", "回头见", channel="talk", conversation="c1", recipient="chen_mo"),
        line(4, "chen_mo", "message", DM_SECRET, channel="dm", conversation="c2", recipient="user-lin"),
        line(5, "lin_xiaoyu", "reply", DM_SECRET, channel="dm", conversation="c2", recipient="user-chen"),
        line(6, "lin_xiaoyu", "goodbye", DM_GOODBYE, channel="dm", conversation="c2", recipient="user-chen"),
        # A line whose channel the log does not say (an older row, a wave at someone busy): left out.
        line(7, "lin_xiaoyu", "talk", "没人听见的话", recipient="chen_mo"),
        line(8, "zhou_yang", "talk", "别人的对话", channel="talk", conversation="c3", recipient="chen_mo"),
        line(9, "lin_xiaoyu", "move", None),
    ]


@pytest.fixture
def session_factory(database_url: str, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """The default world in a migrated database of each kind, with a day of talk in its action log."""
    upgrade(MIGRATIONS, database_url)
    engine = create_db_engine(database_url)
    factory = create_session_factory(engine)
    seed_world(
        factory, Outbox("test"), load_world_file(SimulatorSettings(data_dir=tmp_path).world_file), START
    )
    with factory.begin() as session:
        for agent_id, user_id in (("lin_xiaoyu", "user-lin"), ("chen_mo", "user-chen")):
            session.get(Agent, agent_id).user_id = user_id
        session.add_all(a_day_of_talk())
    yield factory
    engine.dispose()


pytestmark = pytest.mark.integration


def test_a_transcript_holds_the_lines_said_in_person_by_and_to_the_character(
    session_factory: sessionmaker[Session],
) -> None:
    page = transcript(session_factory, "lin_xiaoyu", TranscriptQuery())
    assert [(i.decision, i.speaker_id, i.listener_id, i.text) for i in page.items] == [
        (3, "lin_xiaoyu", "chen_mo", "回头见"),
        (2, "chen_mo", "lin_xiaoyu", "是啊,新豆子"),
        (1, "lin_xiaoyu", "chen_mo", "早呀,今天咖啡不错"),
    ]
    assert {i.conversation_id for i in page.items} == {"c1"} and page.items[0].location_id == "cafe"
    assert page.next_cursor is None
    chen = transcript(session_factory, "user-chen", TranscriptQuery())  # by account id too
    assert [i.decision for i in chen.items] == [8, 3, 2, 1], "what others said to it is in it"


def test_no_direct_message_is_ever_in_a_transcript(session_factory: sessionmaker[Session]) -> None:
    for agent_id in ("lin_xiaoyu", "chen_mo", "zhou_yang"):
        texts = " ".join(i.text for i in transcript(session_factory, agent_id, TranscriptQuery()).items)
        assert DM_SECRET not in texts and DM_GOODBYE not in texts and "没人听见" not in texts


def test_a_transcript_pages_on_without_gaps_and_a_stranger_is_not_found(
    session_factory: sessionmaker[Session],
) -> None:
    first = transcript(session_factory, "chen_mo", TranscriptQuery(limit=3))
    assert [i.decision for i in first.items] == [8, 3, 2] and first.next_cursor is not None
    rest = transcript(session_factory, "chen_mo", TranscriptQuery(cursor=int(first.next_cursor), limit=3))
    assert [i.decision for i in rest.items] == [1] and rest.next_cursor is None
    with pytest.raises(NotFound):
        transcript(session_factory, "nobody", TranscriptQuery())
