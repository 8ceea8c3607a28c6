"""A sample service assembled with ServiceRuntime, on both transports: write, publish, consume, health."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI

from aic_common.bus import apply_once_async, on_events
from aic_common.messages import Envelope, UserDeleted
from aic_common.runtime import ServiceRuntime
from aic_common.settings import ServiceSettings
from aic_common.testing import app_lifespan, wait_for
from aic_common.web import create_service_app

pytestmark = pytest.mark.integration
SAMPLE_MIGRATIONS = str(Path(__file__).parent / "migrations_sample")


def sample_service(settings: ServiceSettings) -> tuple[FastAPI, ServiceRuntime, list[str]]:
    runtime = ServiceRuntime.create(settings, migrations=SAMPLE_MIGRATIONS)
    consumed: list[str] = []
    router = APIRouter()

    @router.post("/notes/{note_id}", status_code=201)
    def create_note(note_id: int) -> dict[str, int]:
        with runtime.session_factory.begin() as session:
            session.execute(sa.text("INSERT INTO notes (id, body) VALUES (:id, 'x')"), {"id": note_id})
            runtime.outbox.add(session, UserDeleted(user_id=str(note_id), username=f"n{note_id}"))
        return {"id": note_id}

    async def on_user_deleted(envelope: Envelope) -> None:
        def apply(session: sa.orm.Session, env: Envelope) -> None:
            session.execute(sa.text("DELETE FROM notes WHERE id = :id"), {"id": int(env.data["user_id"])})

        if await apply_once_async(runtime.session_factory, "sample.notes", envelope, apply):
            consumed.append(envelope.data["username"])

    runtime.bus.subscribe("sample.user-deleted", on_events("user.deleted"), on_user_deleted)
    app = create_service_app(settings, title="sample", routers=[router], lifespan=runtime.lifespan)
    return app, runtime, consumed


@pytest.fixture(params=["embedded", "real"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, bus_namespace: str) -> ServiceSettings:
    if request.param == "embedded":
        return ServiceSettings(service_name="sample", data_dir=tmp_path, bus_namespace=bus_namespace)
    return ServiceSettings(
        service_name="sample",
        database_url=request.getfixturevalue("mysql_url"),
        broker_url=request.getfixturevalue("rabbitmq_url"),
        bus_namespace=bus_namespace,
    )


@pytest.fixture
async def running(
    settings: ServiceSettings,
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime, list[str]]]:
    app, runtime, consumed = sample_service(settings)
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sample") as client:
            yield client, runtime, consumed
    if hasattr(runtime.bus, "delete_topology"):  # once the app has stopped consuming
        await runtime.bus.delete_topology()


async def test_a_write_publishes_through_the_outbox_to_a_consumer(running) -> None:
    client, runtime, consumed = running
    response = await client.post("/notes/7")
    assert response.status_code == 201
    await wait_for(lambda: consumed == ["n7"], timeout=20, what="the consumer applying the event")
    with runtime.session_factory() as session:
        assert session.execute(sa.text("SELECT COUNT(*) FROM notes")).scalar() == 0


async def test_ready_when_database_and_broker_answer(running) -> None:
    client, _, _ = running
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


async def test_blocking_handlers_never_outnumber_the_kept_database_connections(
    settings: ServiceSettings,
) -> None:
    # Each blocking handler holds a connection; with more threads than the pool keeps, every request past
    # them would open a connection of its own and close it after (tens of ms of CPU each, under load).
    settings = settings.model_copy(update={"db_pool_size": 3})
    app, runtime, _ = sample_service(settings)
    in_flight = 0
    most_checked_out = 0
    release = threading.Event()
    lock = threading.Lock()

    def on_checkout(*_: object) -> None:
        nonlocal most_checked_out
        most_checked_out = max(most_checked_out, runtime.engine.pool.checkedout())

    sa.event.listen(runtime.engine, "checkout", on_checkout)
    router = APIRouter()

    @router.get("/hold")
    def hold() -> dict[str, bool]:
        nonlocal in_flight
        with runtime.session_factory() as session:
            session.execute(sa.text("SELECT 1"))
            with lock:
                in_flight += 1
            released = release.wait(timeout=30)
            with lock:
                in_flight -= 1
        return {"released": released}

    app.include_router(router)
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sample") as client:
            requests = [asyncio.create_task(client.get("/hold")) for _ in range(8)]
            limiter = anyio.to_thread.current_default_thread_limiter()
            await wait_for(lambda: in_flight == 3, timeout=20, what="three handlers holding connections")
            await wait_for(
                lambda: limiter.statistics().tasks_waiting >= 5, timeout=20, what="the rest queued"
            )
            assert in_flight == 3 and limiter.total_tokens == 3
            release.set()
            responses = await asyncio.gather(*requests)
    assert [r.json() for r in responses] == [{"released": True}] * 8
    assert most_checked_out <= 3, f"{most_checked_out} connections out at once with a pool of 3"
    if hasattr(runtime.bus, "delete_topology"):
        await runtime.bus.delete_topology()
