"""GET /api/sim/report: the society report (aic_simulator.report) for operators.

It reads the whole window of the action log, so it is computed in a worker thread, never on the
event loop that runs the simulation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from aic_common.db import run_in_thread
from aic_common.errors import InvalidInput
from aic_common.principals import AdminPrincipal
from aic_simulator.report import naive_utc, society_report

router = APIRouter(prefix="/api/sim", tags=["simulation"])


@router.get("/report")
async def report(
    request: Request, _: AdminPrincipal, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """The report over simulated time ``since``..``until`` (ISO; by default the 24 hours before the
    simulation's clock)."""
    since, until = naive_utc(since), naive_utc(until)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must come before until", code="invalid_window")
    session_factory = request.app.state.runtime.session_factory

    def compute() -> dict[str, Any]:
        with session_factory() as session:
            return society_report(session, since=since, until=until)

    return await run_in_thread(compute)
