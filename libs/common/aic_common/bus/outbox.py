"""Transactional outbox: events commit with the change they describe, a relay publishes them.

:class:`Outbox` writes the envelope into the ``outbox`` table inside the caller's transaction, so a
rolled-back change publishes nothing. :class:`OutboxRelay` publishes unsent rows in id order with
publisher confirms and marks them sent; while the broker is down it backs off and tries again, so
nothing committed is lost. Replicas share the table safely: rows are claimed with
``SELECT ... FOR UPDATE SKIP LOCKED`` on MySQL/MariaDB (and under a process-wide lock on SQLite), so
two relays do not publish the same batch.

The relay also tells how far behind it is (:class:`OutboxCollector`, ``aic_outbox_*`` metrics): how
many rows wait and how long the oldest has waited, from the rows each batch reads anyway; only while a
backlog fills whole batches does it count the waiting rows, at most every ``BACKLOG_COUNT_SECONDS`` and
no further than ``BACKLOG_COUNT_LIMIT``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from aic_common.bus.base import Bus
from aic_common.bus.tables import outbox_table
from aic_common.db import for_update_skip_locked, utc_now
from aic_common.messages import Envelope, MessageData, make_envelope
from aic_common.observability import correlation_id_var
from aic_common.periodic import wait_until_set

log = logging.getLogger(__name__)

_PENDING_KEY = "aic_outbox_pending"
_ROWS_KEY = "aic_outbox_rows"
# How often the relay's worker thread, waiting for confirms, looks whether the event loop still runs.
PUBLISH_WAIT_CHECK_SECONDS = 1.0
# While a backlog fills whole batches, the waiting rows are counted this often at most, and no further
# than this many (an index range on (sent_at, id); the gauge then reads "at least").
BACKLOG_COUNT_SECONDS = 10.0
BACKLOG_COUNT_LIMIT = 100_000


_SQLITE_RELAY_LOCKS: dict[str, threading.Lock] = {}


def _sqlite_relay_lock(session_factory: sessionmaker[Session]) -> contextlib.AbstractContextManager[object]:
    """SQLite has no row locks; embedded mode is one process, so a lock per database file serialises
    its relays (holding SQLite's write lock across a publish would block every other writer)."""
    bind = session_factory.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite":
        return contextlib.nullcontext()
    return _SQLITE_RELAY_LOCKS.setdefault(str(bind.url), threading.Lock())


class Outbox:
    """Writes a service's outgoing messages into its own database.

    The rows wait in the session and are inserted together just before the transaction commits: one
    statement for a transaction that sends many messages (a batch of commands, each with its event)
    instead of one a message. Rows added in a savepoint that rolls back are dropped with it.
    """

    def __init__(self, producer: str) -> None:
        self.producer = producer

    def add(self, session: Session, data: MessageData, *, correlation_id: str | None = None) -> Envelope:
        envelope = make_envelope(data, self.producer, correlation_id or correlation_id_var.get())
        self.add_envelope(session, envelope)
        return envelope

    def add_envelope(self, session: Session, envelope: Envelope) -> None:
        row = {
            "message_id": str(envelope.id),
            "message_type": envelope.type,
            "payload": envelope.model_dump_json(),
            "created_at": utc_now(),
        }
        session.info.setdefault(_ROWS_KEY, []).append((_open_transactions(session), row))


def _open_transactions(session: Session) -> tuple[SessionTransaction, ...]:
    """The transaction a row is added in and every one enclosing it."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    chain: list[SessionTransaction] = []
    while transaction is not None:
        chain.append(transaction)
        transaction = transaction.parent
    return tuple(chain)


@event.listens_for(Session, "before_commit")
def _insert_waiting_rows(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint is being released: the rows wait for the real commit
    rows = session.info.pop(_ROWS_KEY, None)
    if rows:
        session.execute(outbox_table.insert(), [row for _, row in rows])
        session.info[_PENDING_KEY] = True  # the relay is woken once this commits


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back_rows(session: Session, previous_transaction: SessionTransaction) -> None:
    rows = session.info.get(_ROWS_KEY)
    if rows:
        session.info[_ROWS_KEY] = [
            (chain, row) for chain, row in rows if not any(t is previous_transaction for t in chain)
        ]


@event.listens_for(Session, "after_transaction_end")
def _forget_rows_of_ended_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the session's transaction is over, however it ended
        session.info.pop(_ROWS_KEY, None)


class OutboxRelay:
    """Publishes what :class:`Outbox` wrote; one per service process."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        bus: Bus,
        *,
        batch_size: int = 200,
        poll_seconds: float = 0.5,
        max_backoff_seconds: float = 10.0,
    ) -> None:
        self.session_factory = session_factory
        self.bus = bus
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        # What the last batch saw waiting (read by the metrics; written by the worker thread).
        self.backlog_pending = 0
        self.backlog_oldest_created_at: datetime | None = None
        self._backlog_counted_at = float("-inf")
        # Wake the relay as soon as a transaction that wrote to the outbox commits.
        event.listen(session_factory, "after_commit", self._after_commit)
        event.listen(session_factory, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_PENDING_KEY, False):
            self.notify()

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_PENDING_KEY, None)

    def notify(self) -> None:
        """Thread-safe: ask the relay to look at the table now rather than at the next poll."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        event.remove(self.session_factory, "after_commit", self._after_commit)
        event.remove(self.session_factory, "after_rollback", self._after_rollback)

    async def _run(self) -> None:
        backoff = self.poll_seconds
        # Rows published long ago are deleted by the service's retention sweep (aic_common.retention).
        while True:
            # Cleared before the batch is read: a commit while it is being published wakes the wait below.
            self._wakeup.clear()
            try:
                sent = await self.drain()
                backoff = self.poll_seconds
                if sent == self.batch_size:
                    continue  # a full batch: more may be waiting. After a partial one, nothing was.
            except Exception as exc:
                log.warning("outbox relay: %s; retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
                continue
            await wait_until_set(self._wakeup, self.poll_seconds)

    async def drain(self) -> int:
        """Publish one batch of unsent rows; returns how many were published."""
        return await anyio.to_thread.run_sync(self._drain_batch, asyncio.get_running_loop())

    def _drain_batch(self, loop: asyncio.AbstractEventLoop) -> int:
        # Runs in a worker thread holding the row locks while the event loop publishes.
        with _sqlite_relay_lock(self.session_factory), self.session_factory.begin() as session:
            if session.get_bind().dialect.name == "mysql":
                # Under InnoDB's default REPEATABLE READ the locking read below also locks the gap after
                # the last row, and every transaction writing to the outbox would wait for this whole
                # batch to be published. READ COMMITTED locks only the rows it claims. SET TRANSACTION
                # (not SESSION) sets it for this transaction alone: nothing to reset when the connection
                # goes back to the pool (a round trip each way with an isolation_level option).
                session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))
            rows = session.execute(
                sa.select(outbox_table.c.id, outbox_table.c.payload, outbox_table.c.created_at)
                .where(outbox_table.c.sent_at.is_(None))
                .order_by(outbox_table.c.id)
                .limit(self.batch_size)
                .with_for_update(**for_update_skip_locked(session))
            ).all()
            if not rows:
                self._saw_backlog(0, None)
                return 0
            envelopes = [Envelope.model_validate_json(row.payload) for row in rows]
            results = self._publish_on(loop, envelopes)
            # Mark the confirmed prefix only, so order holds and a failed row is retried first.
            confirmed: list[int] = []
            error: BaseException | None = None
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, BaseException):
                    error = result
                    break
                confirmed.append(row.id)
            if confirmed:
                session.execute(
                    outbox_table.update().where(outbox_table.c.id.in_(confirmed)).values(sent_at=utc_now())
                )
            if error is not None:
                failed_id = rows[len(confirmed)].id
                session.execute(
                    outbox_table.update()
                    .where(outbox_table.c.id == failed_id)
                    .values(attempts=outbox_table.c.attempts + 1, last_error=str(error)[:500])
                )
            self._note_backlog(session, rows, len(confirmed))
        self.published += len(confirmed)
        if error is not None:
            raise error
        return len(confirmed)

    def _note_backlog(self, session: Session, rows: Sequence[sa.Row[Any]], sent: int) -> None:
        """What waits after this batch: exact from the batch itself unless it was full (more may wait)."""
        remaining = len(rows) - sent
        # Rows are read in id order, so the first one not published is the oldest still waiting; when the
        # whole batch went out, the next one is younger than its last row.
        oldest = rows[sent].created_at if remaining else rows[-1].created_at
        if len(rows) < self.batch_size:
            self._saw_backlog(remaining, oldest if remaining else None)
            return
        now = time.monotonic()
        if now - self._backlog_counted_at >= BACKLOG_COUNT_SECONDS:
            self._backlog_counted_at = now
            waiting = sa.select(outbox_table.c.id).where(outbox_table.c.sent_at.is_(None))
            pending = session.scalar(
                sa.select(sa.func.count()).select_from(waiting.limit(BACKLOG_COUNT_LIMIT).subquery())
            )
        else:
            pending = max(remaining, self.backlog_pending - sent)
        self._saw_backlog(pending or 0, oldest)

    def _saw_backlog(self, pending: int, oldest_created_at: datetime | None) -> None:
        self.backlog_pending = pending
        self.backlog_oldest_created_at = oldest_created_at

    def oldest_pending_age_seconds(self) -> float:
        """How long the oldest row seen waiting has waited (0 when none waits)."""
        oldest = self.backlog_oldest_created_at
        if oldest is None:
            return 0.0
        return max(0.0, (utc_now() - oldest).total_seconds())

    def register_metrics(self, registry: CollectorRegistry) -> None:
        registry.register(OutboxCollector(self))

    def _publish_on(self, loop: asyncio.AbstractEventLoop, envelopes: list[Envelope]) -> list[object]:
        """Publish on the event loop and wait for the confirms, from the worker thread.

        Waits while the loop runs, and no longer: a loop stopped without cancelling this publish (an app
        torn down mid-batch) would otherwise leave the thread waiting forever, and the process with it.
        The batch then rolls back and is published again, which consumers take once (their inbox).
        """
        publishing = self._publish_all(envelopes)
        try:
            future = asyncio.run_coroutine_threadsafe(publishing, loop)
        except RuntimeError:  # the loop is closed already
            publishing.close()
            raise
        while True:
            try:
                return future.result(timeout=PUBLISH_WAIT_CHECK_SECONDS)
            except concurrent.futures.TimeoutError:
                if loop.is_closed() or not loop.is_running():
                    future.cancel()
                    raise RuntimeError(
                        "the event loop stopped while the outbox relay was publishing"
                    ) from None

    async def _publish_all(self, envelopes: list[Envelope]) -> list[object]:
        # Concurrent publishes on one channel keep their order and pipeline the confirms.
        return await asyncio.gather(*(self.bus.publish(e) for e in envelopes), return_exceptions=True)

    def pending_count(self) -> int:
        with self.session_factory() as session:
            return (
                session.scalar(
                    sa.select(sa.func.count())
                    .select_from(outbox_table)
                    .where(outbox_table.c.sent_at.is_(None))
                )
                or 0
            )


class OutboxCollector(Collector):
    """The relay's ``aic_outbox_*`` metrics, read from what it already knows (no query per scrape)."""

    def __init__(self, relay: OutboxRelay) -> None:
        self.relay = relay

    def collect(self) -> Iterator[Metric]:
        relay = self.relay
        yield GaugeMetricFamily(
            "aic_outbox_pending_messages",
            "Outbox rows waiting to be published, as the relay last saw them",
            value=relay.backlog_pending,
        )
        yield GaugeMetricFamily(
            "aic_outbox_oldest_pending_age_seconds",
            "How long the oldest outbox row still waiting has waited (0 when none waits)",
            value=relay.oldest_pending_age_seconds(),
        )
        yield CounterMetricFamily(
            "aic_outbox_published",
            "Outbox rows this process published (with the broker's confirm)",
            value=relay.published,
        )
