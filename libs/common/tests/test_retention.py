"""Retention of the messaging tables: what is old goes in bounded batches, what a redelivery still needs
stays, replicas sweep side by side, and a running service sweeps on its schedule. On SQLite and on the
real MariaDB/MySQL (``database_url``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import apply_once
from aic_common.bus.inbox import forget_processed_before
from aic_common.bus.tables import messaging_metadata, outbox_table, processed_messages_table
from aic_common.db import create_db_engine, create_session_factory, utc_now
from aic_common.messages import UserDeleted, make_envelope
from aic_common.retention import PruneRule, RetentionSweeper, prune_batch
from aic_common.runtime import ServiceRuntime, messaging_prune_rules
from aic_common.settings import ServiceSettings
from aic_common.testing import app_lifespan, wait_for
from aic_common.web import create_service_app

SAMPLE_MIGRATIONS = str(Path(__file__).parent / "migrations_sample")
# The clock the tests sweep with: rows' times are set relative to it, never to the machine's time.
NOW = datetime(2026, 3, 1, 12, 0)


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def session_factory(database_url: str) -> sessionmaker[Session]:
    engine = create_db_engine(database_url)
    messaging_metadata.create_all(engine)
    yield create_session_factory(engine)
    engine.dispose()


def _processed(
    session_factory: sessionmaker[Session], ages: dict[str, timedelta], consumer: str = "c"
) -> None:
    with session_factory.begin() as session:
        session.execute(
            processed_messages_table.insert(),
            [{"consumer": consumer, "message_id": m, "processed_at": NOW - age} for m, age in ages.items()],
        )


def _remaining(session_factory: sessionmaker[Session]) -> set[str]:
    with session_factory() as session:
        return set(session.scalars(sa.select(processed_messages_table.c.message_id)))


def _rule(hours: float = 10) -> PruneRule:
    table = processed_messages_table
    return PruneRule("processed_messages", table, table.c.processed_at, timedelta(hours=hours))


# ---------------------------------------------------------------- settings


def test_retention_inside_the_redelivery_window_is_refused_at_start() -> None:
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(processed_message_retention_hours=24, bus_redelivery_window_hours=48)
    message = str(refused.value)
    assert "AIC_PROCESSED_MESSAGE_RETENTION_HOURS (24)" in message
    assert "AIC_BUS_REDELIVERY_WINDOW_HOURS=48" in message


def test_the_window_counts_every_retry_of_a_delivery() -> None:
    settings = ServiceSettings(bus_redelivery_window_hours=1, processed_message_retention_hours=2)
    assert settings.redelivery_window() == timedelta(hours=1, seconds=settings.bus_delivery_limit * 30)
    # Equal to the window is not longer than it: the retries' seconds push it over.
    with pytest.raises(ValidationError):
        ServiceSettings(bus_redelivery_window_hours=1, processed_message_retention_hours=1)


def test_defaults_keep_messages_past_the_window() -> None:
    settings = ServiceSettings()
    assert timedelta(hours=settings.processed_message_retention_hours) > settings.redelivery_window()


# ---------------------------------------------------------------- pruning


def test_old_rows_go_and_newer_ones_stay(session_factory: sessionmaker[Session]) -> None:
    _processed(
        session_factory,
        {"old-1": timedelta(hours=30), "old-2": timedelta(hours=10, seconds=1), "new": timedelta(hours=9)},
    )
    assert prune_batch(session_factory, _rule(hours=10), NOW, 100) == 2
    assert _remaining(session_factory) == {"new"}


def test_a_batch_deletes_at_most_its_size_oldest_first(session_factory: sessionmaker[Session]) -> None:
    _processed(session_factory, {f"m{i:02}": timedelta(days=30 - i) for i in range(10)})
    assert prune_batch(session_factory, _rule(), NOW, 4) == 4
    assert _remaining(session_factory) == {f"m{i:02}" for i in range(4, 10)}


async def test_a_sweep_goes_batch_after_batch_until_nothing_old_is_left(
    session_factory: sessionmaker[Session],
) -> None:
    _processed(session_factory, {f"old{i}": timedelta(days=2) for i in range(25)} | {"new": timedelta(0)})
    _processed(session_factory, {f"other{i}": timedelta(days=2) for i in range(5)}, consumer="d")
    sweeper = RetentionSweeper(session_factory, batch_size=7, clock=lambda: NOW)
    sweeper.add(_rule())
    assert await sweeper.sweep() == {"processed_messages": 30}
    assert _remaining(session_factory) == {"new"}
    assert await sweeper.sweep() == {"processed_messages": 0}
    assert sweeper.sweeps == 2


def test_the_one_off_form_deletes_in_batches(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        old = utc_now() - timedelta(days=30)
        session.execute(
            processed_messages_table.insert(),
            [{"consumer": "c", "message_id": f"m{i}", "processed_at": old} for i in range(7)],
        )
    assert forget_processed_before(session_factory, timedelta(days=7), batch_size=3) == 7
    assert _remaining(session_factory) == set()


async def test_a_copy_redelivered_within_the_retention_is_still_a_duplicate(
    session_factory: sessionmaker[Session],
) -> None:
    settings = ServiceSettings()
    applied: list[str] = []
    envelope = make_envelope(UserDeleted(user_id="u1", username="ann"), "test")

    def apply(_: Session, env: object) -> None:
        applied.append(str(envelope.id))

    assert apply_once(session_factory, "c", envelope, apply) is True
    with session_factory() as session:
        processed_at = session.scalar(sa.select(processed_messages_table.c.processed_at))
    clock = MovableClock(processed_at + settings.redelivery_window())
    sweeper = RetentionSweeper(session_factory, clock=clock)
    for rule in messaging_prune_rules(settings):
        sweeper.add(rule)

    await sweeper.sweep()  # the last moment a copy may arrive: the record is still there
    assert apply_once(session_factory, "c", envelope, apply) is False
    assert applied == [str(envelope.id)]

    clock.now = processed_at + timedelta(hours=settings.processed_message_retention_hours, seconds=1)
    assert (await sweeper.sweep())["processed_messages"] == 1
    assert _remaining(session_factory) == set()


def test_published_outbox_rows_go_after_their_retention_unpublished_never(
    session_factory: sessionmaker[Session],
) -> None:
    settings = ServiceSettings(outbox_sent_retention_hours=24)
    rows = {
        "sent-long-ago": NOW - timedelta(hours=25),
        "sent-recently": NOW - timedelta(hours=23),
        "never-sent": None,
    }
    with session_factory.begin() as session:
        session.execute(
            outbox_table.insert(),
            [
                {
                    "message_id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
                    "message_type": name,
                    "payload": "{}",
                    "created_at": NOW - timedelta(days=90),
                    "sent_at": sent_at,
                }
                for name, sent_at in rows.items()
            ],
        )
    (rule,) = [r for r in messaging_prune_rules(settings) if r.name == "outbox_sent"]
    assert prune_batch(session_factory, rule, NOW, 100) == 1
    with session_factory() as session:
        left = set(session.scalars(sa.select(outbox_table.c.message_type)))
    assert left == {"sent-recently", "never-sent"}


def test_two_pruners_at_once_share_the_work_without_failing(database_url: str) -> None:
    """Two replicas, each with its own engine, sweeping the same backlog at the same moment."""
    engines = [create_db_engine(database_url) for _ in range(2)]
    messaging_metadata.create_all(engines[0])
    factories = [create_session_factory(engine) for engine in engines]
    _processed(factories[0], {f"old{i}": timedelta(days=3) for i in range(600)} | {"new": timedelta(0)})
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def replica(factory: sessionmaker[Session]) -> None:
        start.wait()
        total = 0
        try:
            while (deleted := prune_batch(factory, _rule(), NOW, 50)) > 0:
                total += deleted
        except Exception as error:  # reported below, with the other replica's outcome
            outcomes.append(error)
        else:
            outcomes.append(total)

    threads = [threading.Thread(target=replica, args=(f,)) for f in factories]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert all(isinstance(o, int) for o in outcomes), outcomes
        assert sum(outcomes) == 600  # type: ignore[arg-type]
        assert _remaining(factories[0]) == {"new"}
    finally:
        for engine in engines:
            engine.dispose()


# ---------------------------------------------------------------- inside a running service


@pytest.fixture(params=["embedded", "real"])
def service_settings(request: pytest.FixtureRequest, tmp_path: Path, bus_namespace: str) -> ServiceSettings:
    common = {"service_name": "sample", "bus_namespace": bus_namespace, "retention_sweep_seconds": 0.05}
    if request.param == "embedded":
        return ServiceSettings(data_dir=tmp_path, **common)
    return ServiceSettings(
        database_url=request.getfixturevalue("mysql_url"),
        broker_url=request.getfixturevalue("rabbitmq_url"),
        **common,
    )


@pytest.fixture
async def running_runtime(
    service_settings: ServiceSettings,
) -> AsyncIterator[tuple[ServiceRuntime, MovableClock]]:
    clock = MovableClock(utc_now())
    runtime = ServiceRuntime.create(service_settings, migrations=SAMPLE_MIGRATIONS, clock=clock)
    app = create_service_app(service_settings, title="sample", routers=[], lifespan=runtime.lifespan)
    async with app_lifespan(app):
        yield runtime, clock
    assert not runtime.retention.running  # stopped with the service
    if hasattr(runtime.bus, "delete_topology"):
        await runtime.bus.delete_topology()


@pytest.mark.integration
async def test_a_running_service_sweeps_on_its_schedule(running_runtime) -> None:
    runtime, clock = running_runtime
    retention = timedelta(hours=runtime.settings.processed_message_retention_hours)
    with runtime.session_factory.begin() as session:
        session.execute(
            processed_messages_table.insert(),
            [
                {
                    "consumer": "c",
                    "message_id": "past",
                    "processed_at": clock.now - retention - timedelta(hours=1),
                },
                {"consumer": "c", "message_id": "recent", "processed_at": clock.now - timedelta(hours=1)},
            ],
        )
    await wait_for(
        lambda: _remaining(runtime.session_factory) == {"recent"}, timeout=20, what="the scheduled sweep"
    )
    sweeps = runtime.retention.sweeps
    clock.now += retention  # a week on: the recent record is past its retention too
    # A sweep is counted once all its rules ran: the rows may be gone a moment before.
    await wait_for(
        lambda: not _remaining(runtime.session_factory) and runtime.retention.sweeps > sweeps,
        timeout=20,
        what="the next sweep",
    )
