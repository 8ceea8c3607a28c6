"""Routes under /api/sim: the world and its agents for everyone, control for admins.

The routes run on the event loop the engine runs on: what they read or write in the database goes
through :class:`SimulationService` in a worker thread (run_in_thread), never on the loop itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status

from aic_common.bus import BusUnavailable
from aic_common.db import run_in_thread
from aic_common.errors import AppError, ServiceUnavailable
from aic_common.messages import SimControl, make_envelope
from aic_common.principals import AdminPrincipal, OptionalPrincipal, Principal
from aic_simulator.runner import Simulation
from aic_simulator.schemas import (
    ActionPage,
    ActionResult,
    AgentDetail,
    AgentSummary,
    ControlRequest,
    EventCreate,
    GameEventView,
    TranscriptPage,
    WorldView,
)
from aic_simulator.service import ActionQuery, SimulationService
from aic_simulator.transcript import TranscriptQuery, transcript

router = APIRouter(prefix="/api/sim", tags=["simulation"])


def _simulation(request: Request) -> Simulation:
    return request.app.state.simulation


async def get_service(request: Request) -> SimulationService:
    simulation = _simulation(request)
    return SimulationService(
        request.app.state.runtime.session_factory,
        simulation.settings.sim_start,
        world_map=getattr(request.app.state, "world_map", None),
    )


Service = Annotated[SimulationService, Depends(get_service)]


def _is_operator(principal: Principal | None) -> bool:
    return principal is not None and principal.is_admin


@router.get("/status")
async def sim_status(request: Request, service: Service, principal: OptionalPrincipal) -> dict[str, Any]:
    simulation = _simulation(request)
    if simulation.is_leader:
        status = simulation.status()
    else:
        # A standby answers with what the leader last wrote (its checkpoint).
        status = await run_in_thread(service.standby_status, simulation.status())
    if status.get("llm") and not (principal is not None and principal.is_admin):
        # Where the LLM is served is the operators' business (an internal host, a port).
        status = {**status, "llm": {k: v for k, v in status["llm"].items() if k != "server"}}
    return status


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
async def world(service: Service) -> WorldView:
    return await run_in_thread(service.world)


@router.get("/agents", response_model=list[AgentSummary])
async def agents(service: Service) -> list[AgentSummary]:
    return await run_in_thread(service.agents)


@router.get("/agents/{agent_id}", response_model=AgentDetail)
async def agent_detail(agent_id: str, service: Service, principal: OptionalPrincipal) -> AgentDetail:
    """Memories and relationships only for operators (see SimulationService.agent_detail)."""

    def detail() -> AgentDetail:
        return service.agent_detail(agent_id, operator=_is_operator(principal))

    return await run_in_thread(detail)


@router.get("/agents/{agent_id}/transcript", response_model=TranscriptPage)
async def agent_transcript(
    agent_id: Annotated[str, Path(max_length=64)],
    service: Service,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> TranscriptPage:
    """What a character said in person and what was said to it, newest first: public to anyone, since
    it was said aloud at a place; direct messages are never in it (see aic_simulator.transcript)."""
    query = TranscriptQuery(cursor=int(cursor) if cursor else None, limit=limit)
    return await run_in_thread(transcript, service.session_factory, agent_id, query)


@router.get("/actions", response_model=ActionPage)
async def actions(
    service: Service,
    principal: OptionalPrincipal,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    tier: Annotated[str | None, Query(max_length=16)] = None,
    result: ActionResult | None = None,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ActionPage:
    """The action log, newest first; operators see the whole of each decision (see public_action)."""
    query = ActionQuery(
        agent_id=agent_id,
        action=action,
        tier=tier,
        result=result,
        cursor=int(cursor) if cursor else None,
        limit=limit,
    )

    def page() -> ActionPage:
        return service.actions(query, operator=_is_operator(principal))

    return await run_in_thread(page)


@router.get("/events", response_model=list[GameEventView])
async def events(
    service: Service, upcoming_hours: Annotated[int, Query(ge=1, le=24 * 14)] = 48
) -> list[GameEventView]:
    return await run_in_thread(service.events, upcoming_hours)


@router.post("/events", response_model=GameEventView, status_code=status.HTTP_201_CREATED)
async def inject_event(
    body: EventCreate, request: Request, service: Service, _: AdminPrincipal
) -> GameEventView:
    view = await run_in_thread(service.inject_event, body)
    _simulation(request).poke()
    return view
