"""What the simulator's API and broker handlers read and write beside the engine: the world and its
characters as the World page and the operator console see them, the action log, events (and an
operator's new one), the society report, and the leader's checkpoint a standby reports.

Each method opens its own session and is blocking: callers on the event loop run it in a worker thread
(``aic_common.db.run_in_thread``), so a slow database never stalls the simulation or other requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.errors import InvalidInput, NotFound
from aic_common.messages import SimState
from aic_simulator.models import (
    ActionLog,
    Agent,
    CommandResult,
    GameEvent,
    Item,
    Location,
    MemoryRecord,
    Relationship,
)
from aic_simulator.models import SimState as Checkpoint
from aic_simulator.report import naive_utc, society_report
from aic_simulator.schemas import (
    ActionPage,
    ActionResult,
    ActionView,
    AgentDetail,
    AgentSummary,
    EventCreate,
    GameEventView,
    LocationView,
    MemoryView,
    WorldView,
)
from aic_simulator.state import EVENT_KINDS, LocationInfo
from aic_simulator.store import wall_now

# Actions whose text went to one person only.
PRIVATE_ACTIONS = frozenset({"reply", "message"})
EVENT_EFFECTS = frozenset({"mood", "energy", "sociability"})


@dataclass(frozen=True)
class ActionQuery:
    """A page of the action log: the filters, and the id the previous page ended at."""

    agent_id: str | None = None
    action: str | None = None
    tier: str | None = None
    result: ActionResult | None = None
    cursor: int | None = None
    limit: int = 50


def summary_of(agent: Agent) -> AgentSummary:
    return AgentSummary(
        id=agent.id,
        username=agent.username,
        display_name=agent.display_name,
        user_id=agent.user_id,
        location_id=agent.location_id,
        current_action=agent.current_action,
        energy=round(agent.energy, 3),
        sociability=round(agent.sociability, 3),
        mood=round(agent.mood, 3),
        summary=str(agent.persona.get("summary", "")),
        summary_en=str(agent.persona.get("summary_en", "")),
    )


def result_kind(row: ActionLog) -> ActionResult | None:
    if row.result is not None:
        return ActionResult(row.result.value)
    return ActionResult.pending if row.command_id else None


def action_view(row: ActionLog) -> ActionView:
    return ActionView(
        id=str(row.id),
        decision=row.decision,
        step=row.step,
        agent_id=row.agent_id,
        sim_time=row.sim_time,
        ends_at=row.ends_at,
        action=row.action,
        target=row.target,
        content=row.content,
        location_id=row.location_id,
        tier=row.tier,
        fallback_reason=row.fallback_reason,
        trace=row.trace or {},
        outcome=row.outcome,
        result=f"{row.result.value}: {row.result_detail or ''}" if row.result else None,
        result_kind=result_kind(row),
        result_detail=row.result_detail,
    )


def public_action(view: ActionView) -> ActionView:
    """An action as anyone may see it: no private text or recipient, and no decision trace, whose
    options and LLM answers can quote what people wrote to the character in private."""
    hidden: dict[str, Any] = {"trace": {}, "fallback_reason": None}
    if view.action in PRIVATE_ACTIONS:
        hidden.update(content=None, target=None)
    return view.model_copy(update=hidden)


def event_view(row: GameEvent, now: datetime | None) -> GameEventView:
    return GameEventView(
        id=str(row.id),
        title=row.title,
        description=row.description,
        location_id=row.location_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        kind=row.kind,
        source=row.source,
        active=now is not None and row.starts_at <= now < row.ends_at,
    )


def result_filter(result: ActionResult) -> sa.ColumnElement[bool]:
    if result == ActionResult.pending:
        return sa.and_(ActionLog.command_id.is_not(None), ActionLog.result.is_(None))
    return ActionLog.result == CommandResult(result.value)


@dataclass(frozen=True)
class SimulationService:
    session_factory: sessionmaker[Session]
    sim_start: datetime  # the simulated time of a world that has no checkpoint yet
    clock: Callable[[], datetime] = wall_now

    def _sim_time(self, session: Session) -> datetime | None:
        checkpoint = session.get(Checkpoint, 1)
        return checkpoint.sim_time if checkpoint else None

    # ------------------------------------------------------------------ the world and its characters

    def world(self) -> WorldView:
        """The places with who is there and whether they are open, and the events of the next day."""
        with self.session_factory() as session:
            now = self._sim_time(session)
            by_place: dict[str, list[AgentSummary]] = {}
            for agent in session.scalars(sa.select(Agent).order_by(Agent.id)):
                by_place.setdefault(agent.location_id, []).append(summary_of(agent))
            locations = [
                LocationView(
                    id=loc.id,
                    name=loc.name,
                    name_en=loc.name_en,
                    kind=loc.kind,
                    x=loc.x,
                    y=loc.y,
                    capacity=loc.capacity,
                    open_now=_info(loc).is_open(now) if now else True,
                    agents=by_place.get(loc.id, []),
                )
                for loc in session.scalars(sa.select(Location).order_by(Location.id))
            ]
            events = []
            if now is not None:
                upcoming = (
                    sa.select(GameEvent)
                    .where(GameEvent.ends_at > now, GameEvent.starts_at < now + timedelta(days=1))
                    .order_by(GameEvent.starts_at)
                    .limit(50)
                )
                events = [event_view(e, now) for e in session.scalars(upcoming)]
            return WorldView(sim_time=now, locations=locations, events=events)

    def agents(self) -> list[AgentSummary]:
        with self.session_factory() as session:
            return [summary_of(a) for a in session.scalars(sa.select(Agent).order_by(Agent.id))]

    def agent_detail(self, agent_id: str, *, operator: bool) -> AgentDetail:
        """A character by its id, username or account id. Memories and relationships (they hold private
        conversations) only for operators; for anyone else the recent actions as public_action shows
        them."""
        with self.session_factory() as session:
            agent = session.get(Agent, agent_id) or session.scalar(
                sa.select(Agent).where(sa.or_(Agent.username == agent_id, Agent.user_id == agent_id))
            )
            if agent is None:
                raise NotFound("No such character")
            actions = session.scalars(
                sa.select(ActionLog)
                .where(ActionLog.agent_id == agent.id)
                .order_by(ActionLog.id.desc())
                .limit(20)
            )
            recent = [action_view(a) for a in actions]
            inventory = session.scalars(sa.select(Item.name).where(Item.holder_id == agent.id)).all()
            relationships, memories = self._private_side(session, agent.id) if operator else ([], [])
            return AgentDetail(
                **summary_of(agent).model_dump(),
                persona=agent.persona,
                home_id=agent.home_id,
                inventory=list(inventory),
                relationships=relationships,
                memories=memories,
                recent_actions=recent if operator else [public_action(a) for a in recent],
            )

    def _private_side(self, session: Session, agent_id: str) -> tuple[list[dict[str, Any]], list[MemoryView]]:
        """A character's relationships and its latest memories: what it knows of people, for operators."""
        relationships = [
            {
                "other": r.other,
                "affinity": round(r.affinity, 3),
                "interactions": r.interactions,
                "note": r.note,
            }
            for r in session.scalars(sa.select(Relationship).where(Relationship.agent_id == agent_id))
        ]
        latest = (
            sa.select(MemoryRecord)
            .where(MemoryRecord.agent_id == agent_id)
            .order_by(MemoryRecord.id.desc())
            .limit(30)
        )
        memories = [
            MemoryView(
                seq=m.seq, sim_time=m.sim_time, kind=m.kind, content=m.content, importance=m.importance
            )
            for m in session.scalars(latest)
        ]
        return relationships, memories

    # ------------------------------------------------------------------ the action log and events

    def actions(self, query: ActionQuery, *, operator: bool) -> ActionPage:
        """The action log, newest first; operators see the whole of each decision (see public_action)."""
        statement = sa.select(ActionLog)
        if query.agent_id:
            statement = statement.where(ActionLog.agent_id == query.agent_id)
        if query.action:
            statement = statement.where(ActionLog.action == query.action)
        if query.tier:
            statement = statement.where(ActionLog.tier == query.tier)
        if query.result is not None:
            statement = statement.where(result_filter(query.result))
        if query.cursor is not None:
            statement = statement.where(ActionLog.id < query.cursor)
        with self.session_factory() as session:
            rows = session.scalars(statement.order_by(ActionLog.id.desc()).limit(query.limit + 1)).all()
        views = [action_view(r) for r in rows[: query.limit]]
        return ActionPage(
            items=views if operator else [public_action(v) for v in views],
            next_cursor=str(rows[query.limit - 1].id) if len(rows) > query.limit else None,
        )

    def events(self, upcoming_hours: int) -> list[GameEventView]:
        """The events on or starting within ``upcoming_hours`` of the simulation's clock (all, before
        it has one)."""
        with self.session_factory() as session:
            now = self._sim_time(session)
            statement = sa.select(GameEvent).order_by(GameEvent.starts_at).limit(200)
            if now is not None:
                statement = statement.where(
                    GameEvent.ends_at > now, GameEvent.starts_at < now + timedelta(hours=upcoming_hours)
                )
            return [event_view(e, now) for e in session.scalars(statement)]

    def inject_event(self, body: EventCreate) -> GameEventView:
        """An operator's event, starting ``starts_in_minutes`` after the simulation's clock."""
        if body.kind not in EVENT_KINDS:
            raise InvalidInput(f"kind is one of {', '.join(EVENT_KINDS)}", code="invalid_kind")
        if set(body.effects) - EVENT_EFFECTS or any(abs(v) > 1 for v in body.effects.values()):
            raise InvalidInput(
                "effects may set mood, energy or sociability, each between -1 and 1", code="invalid_effects"
            )
        with self.session_factory.begin() as session:
            if body.location_id and session.get(Location, body.location_id) is None:
                raise InvalidInput(f"No location {body.location_id}", code="unknown_location")
            now = self._sim_time(session) or self.sim_start
            starts = now + timedelta(minutes=body.starts_in_minutes)
            event = GameEvent(
                key=None,
                title=body.title,
                description=body.description,
                location_id=body.location_id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=body.duration_minutes),
                effects=body.effects,
                kind=body.kind,
                source="admin",
                created_at=self.clock(),
            )
            session.add(event)
            session.flush()
            return event_view(event, now)

    # ------------------------------------------------------------------ the run

    def standby_status(self, instance: dict[str, Any]) -> dict[str, Any]:
        """A standby's status: what it knows of itself (``instance``: its role and who leads) and the
        simulation as the leader last wrote it (its checkpoint), also at the top level, as a leader's
        status has it. ``state`` is None while no leader has written one."""
        with self.session_factory() as session:
            checkpoint = session.get(Checkpoint, 1)
            if checkpoint is None:
                return {**instance, "state": None, "checkpoint": None}
            written = {
                "state": SimState(checkpoint.state),
                "sim_time": checkpoint.sim_time.isoformat(),
                "steps": checkpoint.steps,
            }
        return {**instance, **written, "checkpoint": written}

    def report(self, since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
        """The society report over simulated time ``since``..``until`` (a time with a zone is converted
        to UTC; by default the 24 hours before the simulation's clock)."""
        since, until = naive_utc(since), naive_utc(until)
        if since is not None and until is not None and since >= until:
            raise InvalidInput("since must come before until", code="invalid_window")
        with self.session_factory() as session:
            return society_report(session, since=since, until=until)


def _info(loc: Location) -> LocationInfo:
    return LocationInfo(
        loc.id, loc.name, loc.name_en, loc.kind, loc.x, loc.y, loc.capacity, loc.opens_at, loc.closes_at
    )
