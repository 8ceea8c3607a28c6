"""Alembic environment of the auth service."""

from aic_auth.models import Base
from aic_common.bus.tables import messaging_metadata
from aic_common.migrations import run_env

run_env([Base.metadata, messaging_metadata])
