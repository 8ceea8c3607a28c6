"""Routes under /api/sim: the world and its agents for everyone, control for admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, status

from aic_common.bus import BusUnavailable
from aic_common.errors import AppError, InvalidInput, NotFound, ServiceUnavailable
from aic_common.messages import SimControl, make_envelope
from aic_common.principals import AdminPrincipal, OptionalPrincipal, Principal
from aic_simulator.models import (
    ActionLog,
    Agent,
    GameEvent,
    Item,
    Location,
    MemoryRecord,
    Relationship,
    SimState,
)
from aic_simulator.runner import Simulation
from aic_simulator.schemas import (
    ActionPage,
    ActionResult,
    ActionView,
    AgentDetail,
    AgentSummary,
    ControlRequest,
    EventCreate,
    GameEventView,
    LocationView,
    MemoryView,
    WorldView,
)
from aic_simulator.state import LocationInfo
from aic_simulator.store import wall_now

router = APIRouter(prefix="/api/sim", tags=["simulation"])

# Actions whose text went to one person only.
PRIVATE_ACTIONS = frozenset({"reply", "message"})


def _simulation(request: Request) -> Simulation:
    return request.app.state.simulation


def _summary(agent: Agent) -> AgentSummary:
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


def _action(row: ActionLog) -> ActionView:
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
        result=row.result,
    )


def _is_operator(principal: Principal | None) -> bool:
    return principal is not None and principal.is_admin


def _public_action(view: ActionView) -> ActionView:
    """An action as anyone may see it: no private text or recipient, and no decision trace, whose
    options and LLM answers can quote what people wrote to the character in private."""
    hidden: dict[str, Any] = {"trace": {}, "fallback_reason": None}
    if view.action in PRIVATE_ACTIONS:
        hidden.update(content=None, target=None)
    return view.model_copy(update=hidden)


def _event(row: GameEvent, now: Any) -> GameEventView:
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


@router.get("/status")
async def sim_status(request: Request) -> dict[str, Any]:
    simulation = _simulation(request)
    if simulation.is_leader:
        return simulation.status()
    # A standby answers with what the leader last wrote (its checkpoint).
    with request.app.state.runtime.session_factory() as session:
        state = session.get(SimState, 1)
    return {
        **simulation.status(),
        "checkpoint": {"state": state.state, "sim_time": state.sim_time.isoformat(), "steps": state.steps}
        if state
        else None,
    }


@router.post("/control")
async def control(body: ControlRequest, request: Request, _: AdminPrincipal) -> dict[str, Any]:
    simulation = _simulation(request)
    if simulation.is_leader:
        return await simulation.control(body.command, steps=body.steps, speed=body.speed)
    # Another instance leads: ask it over the broker, as the CLI does.
    command = make_envelope(SimControl(command=body.command, steps=body.steps, speed=body.speed), "simulator")
    try:
        reply = await request.app.state.runtime.bus.request(command, timeout=30)
    except (BusUnavailable, TimeoutError) as exc:
        raise ServiceUnavailable("No simulator instance is leading right now", code="no_leader") from exc
    if not reply.data.get("ok"):
        raise AppError(
            reply.data.get("detail", "refused"), code=reply.data.get("code", "refused"), status_code=409
        )
    return reply.data["status"]


@router.get("/world", response_model=WorldView)
def world(request: Request) -> WorldView:
    with request.app.state.runtime.session_factory() as session:
        state = session.get(SimState, 1)
        now = state.sim_time if state else None
        agents = session.scalars(sa.select(Agent).order_by(Agent.id)).all()
        by_place: dict[str, list[AgentSummary]] = {}
        for agent in agents:
            by_place.setdefault(agent.location_id, []).append(_summary(agent))
        locations = []
        for loc in session.scalars(sa.select(Location).order_by(Location.id)):
            info = LocationInfo(
                loc.id,
                loc.name,
                loc.name_en,
                loc.kind,
                loc.x,
                loc.y,
                loc.capacity,
                loc.opens_at,
                loc.closes_at,
            )
            locations.append(
                LocationView(
                    id=loc.id,
                    name=loc.name,
                    name_en=loc.name_en,
                    kind=loc.kind,
                    x=loc.x,
                    y=loc.y,
                    capacity=loc.capacity,
                    open_now=info.is_open(now) if now else True,
                    agents=by_place.get(loc.id, []),
                )
            )
        events = []
        if now is not None:
            events = [
                _event(e, now)
                for e in session.scalars(
                    sa.select(GameEvent)
                    .where(GameEvent.ends_at > now, GameEvent.starts_at < now + timedelta(days=1))
                    .order_by(GameEvent.starts_at)
                    .limit(50)
                )
            ]
        return WorldView(sim_time=now, locations=locations, events=events)


@router.get("/agents", response_model=list[AgentSummary])
def agents(request: Request) -> list[AgentSummary]:
    with request.app.state.runtime.session_factory() as session:
        return [_summary(a) for a in session.scalars(sa.select(Agent).order_by(Agent.id))]


@router.get("/agents/{agent_id}", response_model=AgentDetail)
def agent_detail(agent_id: str, request: Request, principal: OptionalPrincipal) -> AgentDetail:
    """Memories and relationships (they hold private conversations) only for operators; for anyone
    else the recent actions as :func:`_public_action` shows them."""
    operator = _is_operator(principal)
    with request.app.state.runtime.session_factory() as session:
        agent = session.get(Agent, agent_id) or session.scalar(
            sa.select(Agent).where(sa.or_(Agent.username == agent_id, Agent.user_id == agent_id))
        )
        if agent is None:
            raise NotFound("No such character")
        memories = session.scalars(
            sa.select(MemoryRecord)
            .where(MemoryRecord.agent_id == agent.id)
            .order_by(MemoryRecord.id.desc())
            .limit(30)
        ).all()
        actions = session.scalars(
            sa.select(ActionLog).where(ActionLog.agent_id == agent.id).order_by(ActionLog.id.desc()).limit(20)
        ).all()
        relations = session.scalars(sa.select(Relationship).where(Relationship.agent_id == agent.id)).all()
        inventory = session.scalars(sa.select(Item.name).where(Item.holder_id == agent.id)).all()
        recent = [_action(a) for a in actions]
        return AgentDetail(
            **_summary(agent).model_dump(),
            persona=agent.persona,
            home_id=agent.home_id,
            inventory=list(inventory),
            relationships=[
                {
                    "other": r.other,
                    "affinity": round(r.affinity, 3),
                    "interactions": r.interactions,
                    "note": r.note,
                }
                for r in relations
            ]
            if operator
            else [],
            memories=[
                MemoryView(
                    seq=m.seq, sim_time=m.sim_time, kind=m.kind, content=m.content, importance=m.importance
                )
                for m in memories
            ]
            if operator
            else [],
            recent_actions=recent if operator else [_public_action(a) for a in recent],
        )


@router.get("/actions", response_model=ActionPage)
def actions(
    request: Request,
    principal: OptionalPrincipal,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    tier: Annotated[str | None, Query(max_length=16)] = None,
    result: ActionResult | None = None,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ActionPage:
    """The action log, newest first; operators see the whole of each decision (see _public_action)."""
    statement = sa.select(ActionLog)
    if agent_id:
        statement = statement.where(ActionLog.agent_id == agent_id)
    if action:
        statement = statement.where(ActionLog.action == action)
    if tier:
        statement = statement.where(ActionLog.tier == tier)
    if result == ActionResult.pending:
        statement = statement.where(ActionLog.command_id.is_not(None), ActionLog.result.is_(None))
    elif result is not None:
        # record_result writes "applied: <event>" or "rejected: <code>".
        statement = statement.where(ActionLog.result.like(f"{result.value}:%"))
    if cursor:
        statement = statement.where(ActionLog.id < int(cursor))
    with request.app.state.runtime.session_factory() as session:
        rows = session.scalars(statement.order_by(ActionLog.id.desc()).limit(limit + 1)).all()
    views = [_action(r) for r in rows[:limit]]
    return ActionPage(
        items=views if _is_operator(principal) else [_public_action(v) for v in views],
        next_cursor=str(rows[limit - 1].id) if len(rows) > limit else None,
    )


@router.get("/events", response_model=list[GameEventView])
def events(
    request: Request, upcoming_hours: Annotated[int, Query(ge=1, le=24 * 14)] = 48
) -> list[GameEventView]:
    with request.app.state.runtime.session_factory() as session:
        state = session.get(SimState, 1)
        now = state.sim_time if state else None
        statement = sa.select(GameEvent).order_by(GameEvent.starts_at).limit(200)
        if now is not None:
            statement = statement.where(
                GameEvent.ends_at > now, GameEvent.starts_at < now + timedelta(hours=upcoming_hours)
            )
        return [_event(e, now) for e in session.scalars(statement)]


@router.post("/events", response_model=GameEventView, status_code=status.HTTP_201_CREATED)
def inject_event(body: EventCreate, request: Request, _: AdminPrincipal) -> GameEventView:
    allowed = {"mood", "energy", "sociability"}
    if set(body.effects) - allowed or any(abs(v) > 1 for v in body.effects.values()):
        raise InvalidInput(
            "effects may set mood, energy or sociability, each between -1 and 1", code="invalid_effects"
        )
    with request.app.state.runtime.session_factory.begin() as session:
        if body.location_id and session.get(Location, body.location_id) is None:
            raise InvalidInput(f"No location {body.location_id}", code="unknown_location")
        state = session.get(SimState, 1)
        now = state.sim_time if state else request.app.state.simulation.settings.sim_start
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
            created_at=wall_now(),
        )
        session.add(event)
        session.flush()
        view = _event(event, now)
    request.app.state.simulation.poke()
    return view
