"""GET /api/sim/report: the society report (aic_simulator.report) for operators.

It reads the whole window of the action log, so it is computed in a worker thread, never on the
event loop that runs the simulation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter

from aic_common.db import run_in_thread
from aic_common.principals import AdminPrincipal
from aic_simulator.api.sim import Service

router = APIRouter(prefix="/api/sim", tags=["simulation"])


@router.get("/report")
async def report(
    service: Service, _: AdminPrincipal, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """The report over simulated time ``since``..``until`` (ISO; by default the 24 hours before the
    simulation's clock)."""
    return await run_in_thread(service.report, since, until)
