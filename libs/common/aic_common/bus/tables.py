"""The two tables every service that talks on the bus has in its own database.

``outbox`` holds events written in the same transaction as the state change they describe;
``processed_messages`` remembers which incoming messages a consumer has applied. Each service's first
Alembic migration creates them with :func:`create_messaging_tables`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from aic_common.db import BigIntId, new_metadata

messaging_metadata = new_metadata()

# Envelopes can carry a long post; MEDIUMTEXT lifts MySQL's 64 KB TEXT limit.
LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")

outbox_table = sa.Table(
    "outbox",
    messaging_metadata,
    sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(36), nullable=False, unique=True),
    sa.Column("message_type", sa.String(100), nullable=False),
    sa.Column("payload", LongText, nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("sent_at", sa.DateTime(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500), nullable=True),
    # The relay scans unsent rows in id order: (sent_at, id) makes that an index range.
    sa.Index("ix_outbox_sent_at_id", "sent_at", "id"),
)

processed_messages_table = sa.Table(
    "processed_messages",
    messaging_metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("message_id", sa.String(36), primary_key=True),
    sa.Column("processed_at", sa.DateTime(), nullable=False, index=True),
)


def create_messaging_tables(op: Any) -> None:
    """Create both tables from an Alembic migration (``op`` is ``alembic.op``)."""
    bind = op.get_bind()
    messaging_metadata.create_all(bind, checkfirst=True)


def drop_messaging_tables(op: Any) -> None:
    bind = op.get_bind()
    messaging_metadata.drop_all(bind, checkfirst=True)
