"""The files service's app factory: the composition root of the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI

from aic_common.bus import InProcessBus
from aic_common.db import run_in_thread
from aic_common.principals import verifier_from_settings
from aic_common.runtime import ServiceRuntime
from aic_common.web import create_service_app
from aic_files.api import files, internal
from aic_files.messaging import OrphanSweeper, register_consumers
from aic_files.service import Clock, FilesService, utc_now
from aic_files.settings import FilesSettings
from aic_files.storage import Storage, create_storage

MIGRATIONS = "aic_files:migrations"


def create_app(
    settings: FilesSettings | None = None,
    *,
    shared_bus: InProcessBus | None = None,
    jwks_client: Any = None,
    storage: Storage | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """``jwks_client`` reaches auth in-process in dev mode; ``storage`` and ``clock`` are for tests."""
    settings = settings or FilesSettings()
    runtime = ServiceRuntime.create(settings, migrations=MIGRATIONS, shared_bus=shared_bus)
    storage = storage or create_storage(settings)
    service = FilesService(
        settings=settings,
        session_factory=runtime.session_factory,
        outbox=runtime.outbox,
        storage=storage,
        clock=clock,
    )
    register_consumers(runtime.bus, service)
    sweeper = OrphanSweeper(service, settings.orphan_sweep_interval_seconds)

    async def storage_ready() -> None:
        await run_in_thread(storage.ping)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            await run_in_thread(storage.ensure_ready)
            app.state.readiness_checks["storage"] = storage_ready
            await sweeper.start()
            try:
                yield
            finally:
                await sweeper.stop()

    app = create_service_app(
        settings,
        title="AI Community files",
        routers=[internal.router, files.router],
        lifespan=lifespan,
        # An upload streams to a spool file, capped as it arrives (max_upload_bytes, aic_files.upload).
        body_limits={("POST", "/api/files"): None, ("POST", internal.UPLOADS_PATH): None},
    )
    app.state.files_service = service
    app.state.runtime = runtime
    app.state.orphan_sweeper = sweeper
    app.state.processing_slots = anyio.CapacityLimiter(settings.max_concurrent_processing)
    app.state.token_verifier = verifier_from_settings(settings, jwks_client, runtime=runtime)
    return app
