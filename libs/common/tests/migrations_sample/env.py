"""Migrations of a sample service, used to test the shared Alembic wiring."""

import sqlalchemy as sa

from aic_common.bus.tables import messaging_metadata
from aic_common.db import new_metadata
from aic_common.migrations import run_env

sample_metadata = new_metadata()
sa.Table(
    "notes",
    sample_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("body", sa.String(200), nullable=False),
)

run_env([sample_metadata, messaging_metadata])
