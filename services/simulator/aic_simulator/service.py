"""What the simulator's API and broker handlers read and write beside the engine: the world and its
characters as the World page and the operator console see them, the action log, events (and an
operator's new one), the society report, and the leader's checkpoint a standby reports.

Each method opens its own session and is blocking: callers on the event loop run it in a worker thread
(``aic_common.db.run_in_thread``), so a slow database never stalls the simulation or other requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.errors import InvalidInput, NotFound
from aic_common.messages import SimState
from aic_simulator.metrics import fallback_kind
from aic_simulator.models import (
    ActionLog,
    Agent,
    CommandResult,
    GameEvent,
    Item,
    KnownPerson,
    Location,
    MemoryRecord,
    Relationship,
    SeenPost,
)
from aic_simulator.models import SimState as Checkpoint
from aic_simulator.report import naive_utc, society_report
from aic_simulator.rules import reason_code
from aic_simulator.schemas import (
    ActionPage,
    ActionResult,
    ActionView,
    AgentDetail,
    AgentSummary,
    EventCreate,
    FallbackView,
    GameEventView,
    LocationView,
    MemoryView,
    TargetKind,
    WorldMapView,
    WorldView,
)
from aic_simulator.state import EVENT_KINDS, LocationInfo
from aic_simulator.store import wall_now

# Actions whose text went to one person only (and a goodbye said by direct message: see public_action).
PRIVATE_ACTIONS = frozenset({"reply", "message"})
# What each kind of action's target is (policy.ActionKind); actions without a target are not listed.
TARGET_KINDS = {
    "move": TargetKind.place,
    "work": TargetKind.place,
    "talk": TargetKind.person,
    "say": TargetKind.person,
    "message": TargetKind.person,
    "reply": TargetKind.person,
    "goodbye": TargetKind.person,
    "follow": TargetKind.person,
    "unfollow": TargetKind.person,
    "like": TargetKind.post,
    "repost": TargetKind.post,
    "comment": TargetKind.post,
    "attend_event": TargetKind.event,
    "pick_up": TargetKind.item,
    "use_item": TargetKind.item,
    "search": TargetKind.query,
}
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


def action_view(row: ActionLog, names: TargetNames) -> ActionView:
    """A row of the action log; ``names`` (TargetNames.load) names its target."""
    trace = row.trace or {}
    reason = trace.get("reason")
    failed = (trace.get("detail") or {}).get("fallbacks") or []
    target_kind, target_name, target_name_en = names.of(row)
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
        trace=trace,
        outcome=row.outcome,
        result=f"{row.result.value}: {row.result_detail or ''}" if row.result else None,
        result_kind=result_kind(row),
        result_detail=row.result_detail,
        target_kind=target_kind,
        target_name=target_name,
        target_name_en=target_name_en,
        reason_code=reason_code(reason) if row.tier == "rule" and isinstance(reason, str) else None,
        fallbacks=[
            FallbackView(tier=str(f.get("tier", "")), kind=fallback_kind(str(f.get("reason", ""))))
            for f in failed
            if isinstance(f, dict)
        ],
    )


def public_action(view: ActionView) -> ActionView:
    """An action as anyone may see it: no private text or recipient, and no decision trace, whose
    options and LLM answers can quote what people wrote to the character in private."""
    hidden: dict[str, Any] = {"trace": {}, "fallback_reason": None, "reason_code": None, "fallbacks": []}
    if view.action in PRIVATE_ACTIONS or view.trace.get("channel") == "dm":
        hidden.update(content=None, target=None, target_kind=None, target_name=None, target_name_en=None)
    return view.model_copy(update=hidden)


@dataclass
class TargetNames:
    """The names of the targets of a page of the action log, read in one query per kind of target."""

    people: dict[str, str] = field(default_factory=dict)  # agent id or account id -> display name
    places: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, name_en)
    items: dict[str, tuple[str, str]] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)  # id -> title
    post_authors: dict[str, str] = field(default_factory=dict)  # post id -> author's account id

    @staticmethod
    def target_id(row: ActionLog) -> str | None:
        """Whom or what the action was for: a conversation's other side (the log's ``recipient``: a
        reply's target is the message answered) or else the target itself."""
        recipient = (row.trace or {}).get("recipient")
        if TARGET_KINDS.get(row.action) == TargetKind.person and isinstance(recipient, str) and recipient:
            return recipient
        return row.target

    @classmethod
    def load(cls, session: Session, rows: list[ActionLog]) -> TargetNames:
        wanted: dict[TargetKind, set[str]] = {}
        for row in rows:
            kind, target = TARGET_KINDS.get(row.action), cls.target_id(row)
            if kind is not None and target:
                wanted.setdefault(kind, set()).add(target)
        names = cls()
        if ids := wanted.get(TargetKind.place):
            for loc in session.scalars(sa.select(Location).where(Location.id.in_(ids))):
                names.places[loc.id] = (loc.name, loc.name_en)
        if ids := wanted.get(TargetKind.item):
            for item in session.scalars(sa.select(Item).where(Item.id.in_(ids))):
                names.items[item.id] = (item.name, item.name_en)
        if ids := {i for i in wanted.get(TargetKind.event, ()) if i.isdigit()}:
            for event in session.scalars(sa.select(GameEvent).where(GameEvent.id.in_([int(i) for i in ids]))):
                names.events[str(event.id)] = event.title
        if ids := wanted.get(TargetKind.post):
            for post_id, author in session.execute(
                sa.select(SeenPost.post_id, SeenPost.author_id).where(SeenPost.post_id.in_(ids))
            ):
                names.post_authors[post_id] = author
        people = wanted.get(TargetKind.person, set()) | set(names.post_authors.values())
        if people:
            for person in session.scalars(sa.select(KnownPerson).where(KnownPerson.user_id.in_(people))):
                names.people[person.user_id] = person.display_name
            characters = sa.select(Agent).where(sa.or_(Agent.id.in_(people), Agent.user_id.in_(people)))
            for agent in session.scalars(characters):
                names.people[agent.id] = agent.display_name
                if agent.user_id:
                    names.people[agent.user_id] = agent.display_name
        return names

    def of(self, row: ActionLog) -> tuple[TargetKind | None, str | None, str | None]:
        """The target's kind, name and English name (None where there is none, or it is not known)."""
        kind, target = TARGET_KINDS.get(row.action), self.target_id(row)
        if kind is None or not target:
            return None, None, None
        match kind:
            case TargetKind.place:
                return kind, *self.places.get(target, (None, None))
            case TargetKind.item:
                return kind, *self.items.get(target, (None, None))
            case TargetKind.event:
                return kind, self.events.get(target), None
            case TargetKind.post:
                return kind, self.people.get(self.post_authors.get(target, "")), None
            case TargetKind.person:
                return kind, self.people.get(target), None
            case TargetKind.query:
                return kind, target, None


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
    world_map: WorldMapView | None = None  # the world file's map section, if it has one

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
                    description=loc.description,
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
            return WorldView(sim_time=now, locations=locations, events=events, map=self.world_map)

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
            rows = list(actions)
            names = TargetNames.load(session, rows)
            recent = [action_view(a, names) for a in rows]
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
            page = list(rows[: query.limit])
            names = TargetNames.load(session, page)
            views = [action_view(r, names) for r in page]
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
