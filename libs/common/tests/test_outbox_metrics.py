"""The outbox relay's metrics: rows waiting raise the pending gauge and the age of the oldest; publishing
brings both back to zero and counts what went out. On SQLite, with a broker the test switches off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import BusUnavailable, Outbox, OutboxRelay
from aic_common.bus.tables import messaging_metadata, outbox_table
from aic_common.db import create_db_engine, create_session_factory, utc_now
from aic_common.messages import Envelope, UserRegistered
from aic_common.runtime import ServiceRuntime
from aic_common.settings import ServiceSettings
from aic_common.testing import app_lifespan
from aic_common.web import create_service_app


class SwitchableBus:
    """A producer whose broker is up or down as the test says."""

    def __init__(self) -> None:
        self.up = False
        self.published: list[Envelope] = []

    async def publish(self, envelope: Envelope) -> None:
        if not self.up:
            raise BusUnavailable("the broker is down")
        self.published.append(envelope)


def _database(url: str) -> sessionmaker[Session]:
    engine = create_db_engine(url)
    messaging_metadata.create_all(engine)
    return create_session_factory(engine)


def _write(session_factory: sessionmaker[Session], count: int, *, age: timedelta = timedelta(0)) -> None:
    outbox = Outbox("test")
    with session_factory.begin() as session:
        for _ in range(count):
            name = uuid.uuid4().hex[:8]
            outbox.add(
                session,
                UserRegistered(user_id=name, username=name, display_name=name, created_at=datetime.now(UTC)),
            )
    if age:
        with session_factory.begin() as session:
            session.execute(outbox_table.update().values(created_at=utc_now() - age))


def _samples(registry: CollectorRegistry) -> dict[str, float]:
    return {s.name: s.value for family in registry.collect() for s in family.samples}


async def test_a_waiting_row_raises_the_gauges_and_publishing_it_clears_them(sqlite_url: str) -> None:
    session_factory = _database(sqlite_url)
    bus = SwitchableBus()
    relay = OutboxRelay(session_factory, bus)  # type: ignore[arg-type]
    registry = CollectorRegistry()
    relay.register_metrics(registry)
    try:
        assert _samples(registry) == {
            "aic_outbox_pending_messages": 0,
            "aic_outbox_oldest_pending_age_seconds": 0,
            "aic_outbox_published_total": 0,
        }
        _write(session_factory, 1, age=timedelta(minutes=5))
        with pytest.raises(BusUnavailable):
            await relay.drain()
        waiting = _samples(registry)
        assert waiting["aic_outbox_pending_messages"] == 1
        assert 300 <= waiting["aic_outbox_oldest_pending_age_seconds"] < 360
        assert waiting["aic_outbox_published_total"] == 0

        bus.up = True
        assert await relay.drain() == 1
        assert _samples(registry) == {
            "aic_outbox_pending_messages": 0,
            "aic_outbox_oldest_pending_age_seconds": 0,
            "aic_outbox_published_total": 1,
        }
    finally:
        await relay.stop()
        session_factory.kw["bind"].dispose()


async def test_a_backlog_larger_than_a_batch_is_counted(sqlite_url: str) -> None:
    session_factory = _database(sqlite_url)
    bus = SwitchableBus()
    bus.up = True
    relay = OutboxRelay(session_factory, bus, batch_size=2)  # type: ignore[arg-type]
    registry = CollectorRegistry()
    relay.register_metrics(registry)
    try:
        _write(session_factory, 5, age=timedelta(seconds=90))
        assert await relay.drain() == 2
        seen = _samples(registry)
        assert seen["aic_outbox_pending_messages"] == 3, "the rows after the batch are counted"
        assert seen["aic_outbox_oldest_pending_age_seconds"] >= 90
        # Between counts the figure follows what each batch published.
        assert await relay.drain() == 2
        assert _samples(registry)["aic_outbox_pending_messages"] == 1
        assert await relay.drain() == 1
        assert _samples(registry)["aic_outbox_pending_messages"] == 0
        assert _samples(registry)["aic_outbox_published_total"] == 5
    finally:
        await relay.stop()
        session_factory.kw["bind"].dispose()


async def test_a_service_app_serves_the_outbox_metrics(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="sample", data_dir=tmp_path, bus_namespace="metrics")
    runtime = ServiceRuntime.create(settings)
    with runtime.engine.begin() as connection:
        messaging_metadata.create_all(connection)
    app = create_service_app(settings, title="sample", lifespan=runtime.lifespan)
    runtime.install_metrics(app)  # installing again (another start of the app) adds nothing
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sample") as client:
            body = (await client.get("/metrics")).text
    assert "aic_outbox_pending_messages 0.0" in body
    assert body.count("# TYPE aic_outbox_oldest_pending_age_seconds gauge") == 1
    assert sa.inspect(runtime.engine).has_table("outbox")
