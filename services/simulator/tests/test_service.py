"""The simulator's service (aic_simulator.service) over a migrated database: the world, the characters
and what only operators may see of them, the action log and its typed results, events, a standby's
status; migration 0005 turning the old result texts into typed results; and the routes running the
service off the event loop, so a slow database read stalls no other request."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import Outbox
from aic_common.db import create_db_engine, create_session_factory, utc_now
from aic_common.errors import InvalidInput, NotFound
from aic_common.messages import SimState
from aic_common.migrations import downgrade, upgrade
from aic_common.testing import serving, wait_for
from aic_simulator.app import MIGRATIONS, create_app
from aic_simulator.models import (
    ActionLog,
    Agent,
    CommandResult,
    GameEvent,
    KnownPerson,
    Lease,
    MemoryRecord,
    Relationship,
    SeenPost,
)
from aic_simulator.models import SimState as Checkpoint
from aic_simulator.rules import Why
from aic_simulator.schemas import ActionResult, EventCreate
from aic_simulator.service import ActionQuery, SimulationService
from aic_simulator.settings import SimulatorSettings
from aic_simulator.store import ENGINE_LEASE
from aic_simulator.world import load_world_file, seed_world

START = datetime(2026, 6, 1, 7, 0)
SECRET = "我的门禁密码是 4711"


@pytest.fixture
def session_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """The default world (10 characters) in a migrated SQLite database, with no checkpoint yet."""
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    upgrade(MIGRATIONS, url)
    engine = create_db_engine(url)
    factory = create_session_factory(engine)
    world_file = SimulatorSettings(data_dir=tmp_path).world_file
    seed_world(factory, Outbox("test"), load_world_file(world_file), START)
    yield factory
    engine.dispose()


@pytest.fixture
def service(session_factory: sessionmaker[Session]) -> SimulationService:
    return SimulationService(session_factory, START)


def checkpoint(session_factory: sessionmaker[Session], at: datetime, state: SimState, steps: int = 7) -> None:
    with session_factory.begin() as session:
        row = session.get(Checkpoint, 1) or Checkpoint(id=1)
        row.state, row.sim_time, row.speed, row.seed, row.steps = state.value, at, 60.0, 1, steps
        row.decisions, row.updated_at = steps, utc_now()
        session.merge(row)


def logged(
    decision: int,
    action: str,
    *,
    agent_id: str = "lin_xiaoyu",
    command_id: str | None = None,
    result: CommandResult | None = None,
    detail: str | None = None,
    content: str | None = None,
    target: str | None = None,
) -> ActionLog:
    at = START + timedelta(minutes=decision)
    return ActionLog(
        decision=decision,
        step=decision,
        agent_id=agent_id,
        sim_time=at,
        ends_at=at + timedelta(minutes=5),
        action=action,
        target=target,
        content=content,
        location_id="cafe",
        tier="llm",
        fallback_reason="the rules were asked first" if action == "reply" else None,
        trace={"reason": "test", "options": [content]},
        outcome="finished",
        command_id=command_id,
        result=result,
        result_detail=detail,
        created_at=at,
    )


# ---------------------------------------------------------------- the world and its characters


def test_the_world_shows_who_is_where_what_is_open_and_the_next_days_events(
    service: SimulationService, session_factory: sessionmaker[Session]
) -> None:
    before = service.world()
    assert before.sim_time is None and before.events == []
    assert all(place.open_now for place in before.locations), "no clock yet: nothing is closed"
    assert sum(len(place.agents) for place in before.locations) == len(service.agents()) == 10

    checkpoint(session_factory, datetime(2026, 6, 1, 1, 0), SimState.paused)
    night = service.world()
    assert night.sim_time == datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
    places = {place.id: place for place in night.locations}
    assert not places["cafe"].open_now and places["plaza"].open_now
    assert places["bar"].open_now, "the bar closes at 2 in the morning"
    titles = {event.title for event in night.events}
    assert "早市开张 · Market opens" in titles, "the market opens at 6, within the next day"
    assert not any(event.active for event in night.events if event.title.startswith("早市"))
    where = {agent.id: place.id for place in night.locations for agent in place.agents}
    with session_factory() as session:
        assert where == dict(session.execute(sa.select(Agent.id, Agent.location_id)).all())


def test_only_operators_see_a_characters_memories_relationships_and_private_words(
    service: SimulationService, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        lin = session.get(Agent, "lin_xiaoyu")
        lin.user_id = "user-lin"
        session.add(
            MemoryRecord(
                agent_id=lin.id,
                seq=1,
                sim_time=START,
                kind="conversation",
                content=SECRET,
                importance=0.9,
                audience="private:c1",
            )
        )
        session.add(Relationship(agent_id=lin.id, other="person-1", affinity=0.4, interactions=3, note=""))
        session.add(logged(1, "post", content="今天的咖啡很香"))
        session.add(logged(2, "reply", content=f"好的,{SECRET}", target="person-1"))

    operator = service.agent_detail("lin_xiaoyu", operator=True)
    assert [m.content for m in operator.memories] == [SECRET]
    known = {r["other"]: r for r in operator.relationships}
    assert known["person-1"] == {"other": "person-1", "affinity": 0.4, "interactions": 3, "note": ""}
    assert [(a.action, a.target) for a in operator.recent_actions] == [("reply", "person-1"), ("post", None)]
    assert operator.recent_actions[0].trace["options"] and operator.recent_actions[0].fallback_reason

    # Anyone else, whichever name they ask by: no memories, no relationships, no words said in private.
    for name in ("lin_xiaoyu", operator.username, "user-lin"):
        public = service.agent_detail(name, operator=False)
        assert public.id == "lin_xiaoyu" and public.memories == [] and public.relationships == []
        reply, post = public.recent_actions
        assert reply.content is None and reply.target is None and reply.trace == {}
        assert reply.fallback_reason is None
        assert post.content == "今天的咖啡很香" and post.trace == {}, "a post is public, its reasons are not"
        assert "4711" not in public.model_dump_json()
    with pytest.raises(NotFound):
        service.agent_detail("nobody", operator=True)


# ---------------------------------------------------------------- the action log and events


def test_the_action_log_filters_by_typed_result_and_pages_on(
    service: SimulationService, session_factory: sessionmaker[Session]
) -> None:
    applied, rejected = CommandResult.applied, CommandResult.rejected
    with session_factory.begin() as session:
        session.add_all(
            [
                logged(1, "post", command_id="decision-1", result=applied, detail="post.created"),
                logged(2, "comment", command_id="decision-2", result=rejected, detail="post_not_found"),
                logged(3, "like", command_id="decision-3"),
                logged(4, "rest", agent_id="chen_mo"),
                logged(5, "post", command_id="decision-5", result=applied, detail="post.created"),
                logged(
                    6,
                    "reply",
                    command_id="decision-6",
                    result=applied,
                    detail="message.sent",
                    content=SECRET,
                    target="person-1",
                ),
            ]
        )

    def decisions(operator: bool = True, **query: Any) -> list[int]:
        return [item.decision for item in service.actions(ActionQuery(**query), operator=operator).items]

    assert decisions() == [6, 5, 4, 3, 2, 1]
    assert decisions(result=ActionResult.applied) == [6, 5, 1]
    assert decisions(result=ActionResult.rejected) == [2]
    assert decisions(result=ActionResult.pending) == [3], "an action that sent no command is not pending"
    assert decisions(result=ActionResult.applied, action="post") == [5, 1]
    assert decisions(agent_id="chen_mo") == [4]
    assert decisions(tier="rule") == []

    first = service.actions(ActionQuery(limit=4), operator=True)
    assert [i.decision for i in first.items] == [6, 5, 4, 3] and first.next_cursor is not None
    rest = service.actions(ActionQuery(limit=4, cursor=int(first.next_cursor)), operator=True)
    assert [i.decision for i in rest.items] == [2, 1] and rest.next_cursor is None

    shown = {i.decision: (i.result_kind, i.result_detail, i.result) for i in first.items + rest.items}
    assert shown[2] == (ActionResult.rejected, "post_not_found", "rejected: post_not_found")
    assert shown[3] == (ActionResult.pending, None, None) and shown[4] == (None, None, None)
    private = service.actions(ActionQuery(action="reply"), operator=False).items[0]
    assert private.content is None and private.target is None and private.trace == {}
    assert private.result_kind == ActionResult.applied, "what social did with it is no secret"


def test_the_action_log_names_targets_and_codes_the_rules_reasons_and_fallbacks(
    service: SimulationService, session_factory: sessionmaker[Session]
) -> None:
    def decided(
        decision: int,
        action: str,
        target: str | None,
        tier: str = "llm",
        content: str | None = None,
        **trace: Any,
    ) -> ActionLog:
        row = logged(decision, action, target=target, content=content)
        row.tier, row.trace = tier, {"reason": "我想去看看", **trace}
        return row

    with session_factory.begin() as session:
        session.get(Agent, "chen_mo").user_id = "user-chen"
        market = session.scalar(sa.select(GameEvent).order_by(GameEvent.id).limit(1))
        session.add(KnownPerson(user_id="user-visitor", username="visitor_1", display_name="小访客"))
        now = utc_now()
        for post_id, author in (("11", "user-visitor"), ("12", "user-chen")):
            session.add(
                SeenPost(post_id=post_id, author_id=author, author_username="x", content="…", created_at=now)
            )
        session.add_all(
            [
                decided(1, "move", "cafe", tier="rule", reason="my plan: 在咖啡馆上班", plan="在咖啡馆上班"),
                decided(2, "talk", "chen_mo", tier="rule", reason=str(Why.talk), recipient="chen_mo"),
                # A reply's target is the message answered; whom it went to is the log's recipient.
                decided(
                    3, "reply", "m-11", tier="rule", reason=str(Why.answer_first), recipient="user-visitor"
                ),
                decided(4, "follow", "user-chen"),
                decided(5, "like", "11"),
                decided(6, "comment", "12"),
                decided(7, "comment", "404"),  # a post the simulator has not seen: a post, by no one known
                decided(8, "attend_event", str(market.id)),
                decided(9, "pick_up", "camera"),
                decided(10, "search", "咖啡"),
                decided(11, "rest", None, tier="rule", reason="an old text the rules wrote once"),
                decided(
                    12,
                    "goodbye",
                    "m-12",
                    content=f"再见，{SECRET}",
                    channel="dm",
                    recipient="user-visitor",
                    detail={"fallbacks": [{"tier": "llm", "reason": "timeout after 10.0s"}]},
                ),
            ]
        )
    items = {i.decision: i for i in service.actions(ActionQuery(), operator=True).items}

    def named(decision: int) -> tuple[str | None, str | None, str | None]:
        item = items[decision]
        return item.target_kind, item.target_name, item.target_name_en

    assert named(1) == ("place", "拾光咖啡馆", "Moments Café")
    assert named(2) == ("person", "陈默", None)
    assert named(3) == ("person", "小访客", None)
    assert named(4) == ("person", "陈默", None), "a character by its account id"
    assert named(5) == ("post", "小访客", None) and named(6) == ("post", "陈默", None)
    assert named(7) == ("post", None, None), "a kind, never the bare id"
    assert named(8) == ("event", market.title, None)
    assert named(9) == ("item", "旧胶片相机", "Old film camera")
    assert named(10) == ("query", "咖啡", None)
    assert named(11) == (None, None, None)

    codes = {decision: item.reason_code for decision, item in items.items()}
    assert codes[1] == "plan" and codes[2] == "talk" and codes[3] == "answer_first"
    assert codes[11] is None, "a text the rules no longer write has no code: shown as written"
    assert codes[4] is None, "an LLM's reasons are its own words"
    assert [(f.tier, f.kind) for f in items[12].fallbacks] == [("llm", "timeout")]
    assert items[1].fallbacks == []

    # The same in the character's own recent decisions.
    recent = {a.decision: a for a in service.agent_detail("lin_xiaoyu", operator=True).recent_actions}
    assert (recent[9].target_kind, recent[9].target_name) == ("item", "旧胶片相机")

    # Anyone else: no reasons, and a goodbye said by direct message is as private as a reply.
    public = {i.decision: i for i in service.actions(ActionQuery(), operator=False).items}
    assert public[1].target_name == "拾光咖啡馆" and public[1].reason_code is None
    assert public[12].fallbacks == [] and public[12].content is None
    assert (public[12].target, public[12].target_name, public[12].target_kind) == (None, None, None)
    assert (public[3].target, public[3].target_name) == (None, None)


def test_an_operators_event_starts_after_the_clock_and_is_checked_first(
    service: SimulationService, session_factory: sessionmaker[Session]
) -> None:
    early = service.inject_event(EventCreate(title="快闪 · Flash mob", location_id="plaza", kind="show"))
    assert early.starts_at == START.replace(tzinfo=UTC), "no clock yet: the simulation's start"
    assert early.active and early.source == "admin" and early.kind == "show"

    now = datetime(2026, 6, 3, 12, 0)
    checkpoint(session_factory, now, SimState.running)
    later = service.inject_event(
        EventCreate(title="台风 · Typhoon", kind="hazard", starts_in_minutes=60, duration_minutes=30)
    )
    assert later.starts_at == (now + timedelta(hours=1)).replace(tzinfo=UTC) and not later.active
    assert [e.title for e in service.events(upcoming_hours=2) if e.source == "admin"] == ["台风 · Typhoon"]
    assert all(e.title != "台风 · Typhoon" for e in service.events(upcoming_hours=1))

    refused = {
        "invalid_effects": EventCreate(title="x", effects={"wealth": 0.5}),
        "unknown_location": EventCreate(title="x", location_id="moon"),
        # Past the request's own validation (a caller that builds the body itself).
        "invalid_kind": EventCreate.model_construct(**{**EventCreate(title="x").model_dump(), "kind": "war"}),
    }
    for code, body in refused.items():
        with pytest.raises(InvalidInput) as error:
            service.inject_event(body)
        assert error.value.code == code
    assert len([e for e in service.events(upcoming_hours=24 * 14) if e.source == "admin"]) == 1


# ---------------------------------------------------------------- the run


def test_a_standby_reports_the_leaders_checkpoint_and_its_own_role(
    service: SimulationService, session_factory: sessionmaker[Session]
) -> None:
    instance = {"role": "standby", "is_leader": False, "leader": "simulator-1"}
    assert service.standby_status(instance) == {**instance, "state": None, "checkpoint": None}

    checkpoint(session_factory, datetime(2026, 6, 2, 10, 0), SimState.paused, steps=99)
    status = service.standby_status(instance)
    written = {"state": SimState.paused, "sim_time": "2026-06-02T10:00:00", "steps": 99}
    assert status == {**instance, **written, "checkpoint": written}
    assert type(status["state"]) is SimState


def test_the_report_window_runs_forwards_and_zoned_times_become_utc(service: SimulationService) -> None:
    with pytest.raises(InvalidInput) as error:
        service.report(since=START, until=START - timedelta(hours=1))
    assert error.value.code == "invalid_window"
    midnight_in_shanghai = datetime(2026, 6, 2, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    report = service.report(since=START, until=midnight_in_shanghai)
    assert report["window"] == {
        "since": "2026-06-01T07:00:00",
        "until": "2026-06-01T16:00:00",
        "sim_hours": 9,
    }
    assert report["decisions"] == 0


# ---------------------------------------------------------------- migration 0005


@pytest.mark.integration
def test_the_migration_turns_result_texts_into_typed_results_and_back(database_url: str) -> None:
    upgrade(MIGRATIONS, database_url, "0004")
    engine = create_db_engine(database_url)
    old = {
        1: ("decision-1", "applied: post.created"),
        2: ("decision-2", "rejected: post_not_found"),
        3: ("decision-3", "rejected: "),  # a refusal without a code
        4: ("decision-4", None),  # no answer yet
        5: (None, None),  # no command
    }
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO action_logs (decision, step, agent_id, sim_time, ends_at, action,"
                    " location_id, tier, trace, outcome, command_id, result, created_at)"
                    " VALUES (:decision, 1, 'lin_xiaoyu', :at, :at, 'post', 'cafe', 'rule', '{}',"
                    " 'finished', :command, :result, :at)"
                ),
                [
                    {"decision": decision, "command": command, "result": result, "at": START}
                    for decision, (command, result) in old.items()
                ],
            )
        upgrade(MIGRATIONS, database_url)
        factory = create_session_factory(engine)
        with factory() as session:
            typed = {
                r.decision: (r.result, r.result_detail)
                for r in session.scalars(sa.select(ActionLog).order_by(ActionLog.decision))
            }
        assert typed == {
            1: (CommandResult.applied, "post.created"),
            2: (CommandResult.rejected, "post_not_found"),
            3: (CommandResult.rejected, ""),
            4: (None, None),
            5: (None, None),
        }
        assert (
            SimulationService(factory, START)
            .actions(ActionQuery(result=ActionResult.pending), operator=True)
            .items[0]
            .decision
            == 4
        )

        downgrade(MIGRATIONS, database_url, "0004")
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT decision, result FROM action_logs ORDER BY decision"))
            assert dict(rows.all()) == {decision: result for decision, (_, result) in old.items()}
    finally:
        engine.dispose()


# ---------------------------------------------------------------- off the event loop


@pytest.mark.integration
async def test_a_slow_database_read_stalls_no_other_request(tmp_path: Path, mysql_url: str) -> None:
    """A standby reads the leader's checkpoint for its status. While another connection holds the
    checkpoint's table locked, that read waits; the service's other requests must still be answered."""
    upgrade(MIGRATIONS, mysql_url)
    engine = create_db_engine(mysql_url)
    factory = create_session_factory(engine)
    with factory.begin() as session:  # another instance leads for the whole test
        session.add(Lease(name=ENGINE_LEASE, holder="elsewhere", expires_at=utc_now() + timedelta(hours=1)))
    checkpoint(factory, datetime(2026, 6, 2, 10, 0), SimState.paused, steps=99)
    settings = SimulatorSettings(
        data_dir=tmp_path, database_url=mysql_url, bus_namespace=f"t{uuid.uuid4().hex[:8]}"
    )
    app = create_app(settings)
    reading_checkpoint = threading.Event()

    def before_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM sim_state" in statement:
            reading_checkpoint.set()

    sa.event.listen(app.state.runtime.engine, "before_cursor_execute", before_execute)
    locker = engine.connect()
    unlocked = threading.Lock()

    def unlock() -> None:
        with unlocked:
            if locker.info.pop("locked", False):
                locker.exec_driver_sql("UNLOCK TABLES")

    # Were the read on the event loop, nothing could answer until the lock went: it goes after 10 s
    # at the latest, so such a failure is an assertion, not a hung test.
    deadline = threading.Timer(10, unlock)
    try:
        async with serving(app, "http://sim") as client:
            locker.exec_driver_sql("LOCK TABLES sim_state WRITE")
            locker.info["locked"] = True
            deadline.start()
            status = asyncio.create_task(client.get("/api/sim/status"))
            await wait_for(reading_checkpoint.is_set, timeout=10, what="the status reading the checkpoint")

            live = await client.get("/health/live")
            agents = await client.get("/api/sim/agents")
            assert live.status_code == agents.status_code == 200 and len(agents.json()) == 10
            assert not status.done(), "the status still waits for the lock, and nothing else waited for it"

            await asyncio.to_thread(unlock)
            answered = (await status).json()
            assert answered["role"] == "standby" and answered["is_leader"] is False
            assert answered["state"] == "paused" and answered["steps"] == 99
    finally:
        deadline.cancel()
        unlock()
        locker.close()
        engine.dispose()
