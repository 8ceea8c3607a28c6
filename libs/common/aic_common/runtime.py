"""The parts every service process assembles the same way: database, bus, outbox relay, health.

A service builds one :class:`ServiceRuntime` in its app factory, registers its consumers on
``runtime.bus`` and uses :meth:`ServiceRuntime.lifespan` as (part of) its FastAPI lifespan. In
embedded mode several services share one in-process bus; the runtime then leaves starting and
stopping it to whoever created it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import Bus, BusUnavailable, InProcessBus, Outbox, OutboxRelay, create_bus
from aic_common.bus.tables import outbox_table, processed_messages_table
from aic_common.db import create_db_engine, create_session_factory, run_in_thread, utc_now
from aic_common.migrations import upgrade
from aic_common.retention import Clock, PruneRule, RetentionSweeper
from aic_common.settings import ServiceSettings
from aic_common.web import database_check

log = logging.getLogger(__name__)


class Background(Protocol):
    """Work a process keeps doing while it runs, started and stopped with the runtime."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    bus: Bus
    outbox: Outbox
    relay: OutboxRelay
    # Deletes what the service no longer needs (its messaging tables here; a service adds its own rules).
    retention: RetentionSweeper
    migrations: str | None = None
    owns_bus: bool = True
    # Started after the bus and the rest, stopped before them (the list of deleted accounts, loading
    # from auth: aic_common.principals.verifier_from_settings).
    background: list[Background] = field(default_factory=list)
    _started: bool = field(default=False, repr=False)

    @classmethod
    def create(
        cls,
        settings: ServiceSettings,
        *,
        migrations: str | None = None,
        shared_bus: InProcessBus | None = None,
        clock: Clock = utc_now,
    ) -> ServiceRuntime:
        """``migrations`` is the Alembic script location, e.g. ``"aic_auth:migrations"``; ``clock`` is
        what the retention sweep takes for now (tests move it)."""
        pool = settings.db_pool_limits()
        engine = create_db_engine(
            settings.resolved_database_url(),
            pool_size=pool.size,
            max_overflow=pool.overflow,
            pool_recycle=settings.db_pool_recycle_seconds,
        )
        session_factory = create_session_factory(engine)
        bus = create_bus(settings, shared_inprocess=shared_bus)
        retention = RetentionSweeper(
            session_factory,
            interval_seconds=settings.retention_sweep_seconds,
            batch_size=settings.retention_batch_size,
            clock=clock,
        )
        for rule in messaging_prune_rules(settings):
            retention.add(rule)
        return cls(
            settings=settings,
            engine=engine,
            session_factory=session_factory,
            bus=bus,
            outbox=Outbox(settings.service_name),
            relay=OutboxRelay(session_factory, bus, poll_seconds=settings.outbox_poll_seconds),
            retention=retention,
            migrations=migrations,
            owns_bus=shared_bus is None or bus is not shared_bus,
        )

    async def start(self) -> None:
        # Blocking handlers run on the thread pool, each holding a database connection: with more threads
        # than kept connections, every request past them opens a connection of its own and closes it after
        # (PyMySQL's TLS probe alone costs some 30 ms of CPU), which under load feeds on itself.
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.settings.db_pool_size
        if self.migrations and self.settings.migrate_on_start:
            await run_in_thread(upgrade, self.migrations, self.settings.resolved_database_url())
        if self.owns_bus:
            # A shared in-process bus is started by its owner once every service has migrated, so no
            # message reaches a consumer whose tables do not exist yet.
            await self.bus.start()
        await self.relay.start()
        await self.retention.start()
        for work in self.background:
            await work.start()
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        for work in reversed(self.background):
            await work.stop()
        await self.retention.stop()
        await self.relay.stop()
        if self.owns_bus:
            await self.bus.stop()
        self.engine.dispose()
        self._started = False

    def prepare(self) -> None:
        """A deployment's migration step: the database schema, then the broker's durable queues."""
        if self.migrations:
            upgrade(self.migrations, self.settings.resolved_database_url())
        asyncio.run(self.bus.declare_topology())
        self.engine.dispose()

    def install_readiness(self, app: FastAPI) -> None:
        async def broker() -> None:
            if not await self.bus.ping():
                raise BusUnavailable("the message broker does not answer")

        app.state.readiness_checks["database"] = database_check(self.engine)
        app.state.readiness_checks["broker"] = broker

    def install_metrics(self, app: FastAPI) -> None:
        """The outbox relay's ``aic_outbox_*`` metrics in the app's registry, once."""
        if getattr(app.state, "outbox_metrics_relay", None) is self.relay:
            return
        self.relay.register_metrics(app.state.metrics_registry)
        app.state.outbox_metrics_relay = self.relay

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        self.install_metrics(app)
        await self.start()
        self.install_readiness(app)
        try:
            yield
        finally:
            await self.stop()


def messaging_prune_rules(settings: ServiceSettings) -> list[PruneRule]:
    """What every service's messaging tables let go: idempotency records past the redelivery window
    (the settings refuse a retention inside it), and outbox rows published a while ago."""
    return [
        PruneRule(
            "processed_messages",
            processed_messages_table,
            processed_messages_table.c.processed_at,
            timedelta(hours=settings.processed_message_retention_hours),
        ),
        PruneRule(
            "outbox_sent",
            outbox_table,
            outbox_table.c.sent_at,  # NULL (not yet published) is never older than the cutoff
            timedelta(hours=settings.outbox_sent_retention_hours),
        ),
    ]
