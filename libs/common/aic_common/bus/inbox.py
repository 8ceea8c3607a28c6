"""Idempotent consumers: a message changes state once, however often it is delivered.

The handler's state change and the ``processed_messages`` row commit in one transaction. A
redelivered message finds its row and is skipped; two deliveries racing each other collide on the
primary key, one transaction rolls back, and its delivery is retried and then skipped.

:class:`BatchingInbox` does the same for a consumer that takes many messages a second: the messages
delivered while one batch is being written form the next, committed together.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus.tables import processed_messages_table
from aic_common.db import is_database_unavailable, is_lock_conflict, run_in_thread, run_transaction, utc_now
from aic_common.messages import Envelope
from aic_common.observability import bind_correlation_id
from aic_common.retention import PruneRule, prune_batch

log = logging.getLogger(__name__)


def claim_message(session: Session, consumer: str, message_id: str) -> bool:
    """Record ``message_id`` as processed by ``consumer`` in this transaction.

    Returns False when it was processed before (the caller should do nothing).
    """
    table = processed_messages_table
    seen = session.execute(
        sa.select(table.c.message_id).where(table.c.consumer == consumer, table.c.message_id == message_id)
    ).first()
    if seen is not None:
        return False
    session.execute(table.insert().values(consumer=consumer, message_id=message_id, processed_at=utc_now()))
    return True


def apply_once(
    session_factory: sessionmaker[Session],
    consumer: str,
    envelope: Envelope,
    apply: Callable[[Session, Envelope], None],
) -> bool:
    """Run ``apply`` in a transaction that also claims the message; False when it was a duplicate.

    A transaction that loses a deadlock is run again here rather than failing the delivery: a failed
    delivery counts towards the queue's delivery limit, and a valid message must not end in the DLQ
    because it met another one at the wrong moment.
    """

    def claim_and_apply(session: Session) -> bool:
        if not claim_message(session, consumer, str(envelope.id)):
            log.info("skipping duplicate %s %s for %s", envelope.type, envelope.id, consumer)
            return False
        apply(session, envelope)
        return True

    return run_transaction(session_factory, claim_and_apply)


async def apply_once_async(
    session_factory: sessionmaker[Session],
    consumer: str,
    envelope: Envelope,
    apply: Callable[[Session, Envelope], None],
) -> bool:
    """:func:`apply_once` off the event loop, logging under the message's correlation id."""
    with bind_correlation_id(envelope.correlation_id or str(envelope.id)):
        return await run_in_thread(apply_once, session_factory, consumer, envelope, apply)


Apply = Callable[[Session, Envelope], None]
# Called after a message's apply raised and its savepoint rolled back: True records the message as
# processed (with whatever this wrote), False fails its delivery.
Recover = Callable[[Session, Envelope, Exception], bool]
# Called once a batch, before its messages are applied, with those not processed before: to load in one
# statement what each message would otherwise read on its own. What it returns is kept until the batch
# ends: the session's identity map holds loaded objects only while something else refers to them.
Prepare = Callable[[Session, list[Envelope]], object]


class _ClaimRaced(Exception):
    """Another consumer claimed one of the batch's messages first: the batch runs again and skips it."""


class _IsolateFrom(Exception):
    """A message applied without a savepoint raised: the batch runs again, in savepoints from it on."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


class BatchingInbox:
    """:func:`apply_once` for many messages in one transaction: group commit for a busy consumer.

    A commit waits for the database's log flush, so one transaction per message caps a consumer at a few
    hundred messages a second whatever the CPU. Here the messages handed in while a batch is being
    written wait and form the next batch, up to ``max_batch``: no timer, so a lone message is written at
    once. A message whose ``apply`` raises rolls back alone and only its delivery fails (redelivered,
    then dead-lettered, as with :func:`apply_once`), unless ``recover`` takes the error; the others
    commit. For that a failing message needs a savepoint of its own, but a savepoint costs two round
    trips a message and most messages do not fail: so a batch is first applied without savepoints, and
    when a message raises, the transaction is rolled back and the batch run again, the messages before it
    as they were and every message from it on in a savepoint (a batch holding a refused command is thus
    written twice, the second time from the refusal on in savepoints). A lost deadlock or an unreachable
    database spoils the whole transaction, so the batch is run again or fails as a whole. How many
    messages can wait is the subscription's prefetch.

    The batch's claims are written together, after its messages: one statement instead of one a message.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        consumer: str,
        *,
        max_batch: int = 100,
        recover: Recover | None = None,
        prepare: Prepare | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.consumer = consumer
        self.max_batch = max_batch
        self.recover = recover
        self.prepare = prepare
        self._waiting: list[tuple[Envelope, Apply, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # committed batches, for tests and metrics
        self.isolated_runs = 0  # batches run again with savepoints after a message failed

    async def apply_once(self, envelope: Envelope, apply: Apply) -> bool:
        """Apply ``envelope`` once, committed with whatever else is waiting; False when a duplicate.

        Returns after the commit; raises what ``apply`` raised for this message."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((envelope, apply, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name=f"inbox:{self.consumer}")
        return await done

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            try:
                outcomes = await run_in_thread(self._apply_batch, [(e, a) for e, a, _ in batch])
            except Exception as error:
                outcomes = [error] * len(batch)
            for (_, _, done), outcome in zip(batch, outcomes, strict=True):
                if done.done():  # its delivery was cancelled (the bus is stopping): redelivered later
                    continue
                if isinstance(outcome, BaseException):
                    done.set_exception(outcome)
                else:
                    done.set_result(outcome)

    def _apply_batch(self, batch: list[tuple[Envelope, Apply]]) -> list[bool | Exception]:
        attempt = 1
        isolate_from = len(batch)  # the first run trusts every message
        while True:
            try:
                outcomes = run_transaction(
                    self.session_factory,
                    functools.partial(self._claim_and_apply, batch=batch, isolate_from=isolate_from),
                )
            except _ClaimRaced:
                if attempt >= 3:
                    raise
                attempt += 1
                continue
            except _IsolateFrom as failed:
                # Only a trusted message raises this, so each run trusts fewer: the runs end.
                isolate_from = failed.position
                self.isolated_runs += 1
                continue
            self.batches += 1
            return outcomes

    def _claim_and_apply(
        self, session: Session, batch: list[tuple[Envelope, Apply]], isolate_from: int
    ) -> list[bool | Exception]:
        """Messages at positions below ``isolate_from`` are applied without a savepoint."""
        table = processed_messages_table
        ids = [str(envelope.id) for envelope, _ in batch]
        seen = set(
            session.scalars(
                sa.select(table.c.message_id).where(
                    table.c.consumer == self.consumer, table.c.message_id.in_(ids)
                )
            )
        )
        fresh: list[tuple[Envelope, Apply] | None] = []  # None: processed before, or twice in this batch
        for envelope, apply in batch:
            message_id = str(envelope.id)
            if message_id in seen:
                log.info("skipping duplicate %s %s for %s", envelope.type, message_id, self.consumer)
                fresh.append(None)
            else:
                seen.add(message_id)
                fresh.append((envelope, apply))
        loaded = self.prepare(session, [i[0] for i in fresh if i is not None]) if self.prepare else None
        outcomes: list[bool | Exception] = []
        claimed: list[str] = []
        for position, item in enumerate(fresh):
            if item is None:
                outcomes.append(False)
                continue
            envelope, apply = item
            with bind_correlation_id(envelope.correlation_id or str(envelope.id)):
                if position < isolate_from:
                    outcome = self._apply_trusted(session, envelope, apply, position)
                else:
                    outcome = self._apply_one(session, envelope, apply)
            if outcome is True:
                claimed.append(str(envelope.id))
            outcomes.append(outcome)
        del loaded  # held until here on purpose (see Prepare)
        if claimed:
            now = utc_now()
            try:
                session.execute(
                    table.insert(),
                    [{"consumer": self.consumer, "message_id": m, "processed_at": now} for m in claimed],
                )
            except sa.exc.IntegrityError as error:
                raise _ClaimRaced() from error
        return outcomes

    @staticmethod
    def _apply_trusted(session: Session, envelope: Envelope, apply: Apply, position: int) -> bool:
        try:
            apply(session, envelope)
            session.flush()  # a failing write shows here, under its own message, not at the commit
        except Exception as error:
            if is_lock_conflict(error) or is_database_unavailable(error):
                raise
            raise _IsolateFrom(position) from error
        return True

    def _apply_one(self, session: Session, envelope: Envelope, apply: Apply) -> bool | Exception:
        try:
            with session.begin_nested():
                apply(session, envelope)
        except Exception as error:
            if is_lock_conflict(error) or is_database_unavailable(error):
                raise  # the transaction is gone: the batch as a whole is retried or fails
            if self.recover is not None and self.recover(session, envelope, error):
                return True
            log.warning("%s %s failed on %s: %r", envelope.type, envelope.id, self.consumer, error)
            return error
        return True


def forget_processed_before(
    session_factory: sessionmaker[Session], age: timedelta, *, batch_size: int = 1000
) -> int:
    """Drop idempotency records older than ``age``, in batches; how many went.

    A service does this on a schedule (``processed_messages`` in :mod:`aic_common.retention`, with
    ``age`` past the bus's redelivery window, which its settings check); this is the one-off form."""
    table = processed_messages_table
    rule = PruneRule("processed_messages", table, table.c.processed_at, age)
    now, total = utc_now(), 0
    while (deleted := prune_batch(session_factory, rule, now, batch_size)) == batch_size:
        total += deleted
    return total + deleted
