"""Idempotent consumers: a message changes state once, however often it is delivered.

The handler's state change and the ``processed_messages`` row commit in one transaction. A
redelivered message finds its row and is skipped; two deliveries racing each other collide on the
primary key, one transaction rolls back, and its delivery is retried and then skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus.tables import processed_messages_table
from aic_common.db import run_in_thread, run_transaction, utc_now
from aic_common.messages import Envelope
from aic_common.observability import bind_correlation_id

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


def forget_processed_before(session_factory: sessionmaker[Session], age: timedelta) -> int:
    """Drop idempotency records older than ``age`` (far beyond any redelivery window)."""
    cutoff = utc_now() - age
    with session_factory.begin() as session:
        result = session.execute(
            processed_messages_table.delete().where(processed_messages_table.c.processed_at < cutoff)
        )
        return result.rowcount or 0
