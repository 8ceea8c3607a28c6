"""Alembic environment of the files service."""

from aic_common.bus.tables import messaging_metadata
from aic_common.migrations import run_env
from aic_files.models import Base

run_env([Base.metadata, messaging_metadata])
