"""Alembic environment of the social service."""

from aic_common.bus.tables import messaging_metadata
from aic_common.migrations import run_env
from aic_social.models import Base

run_env([Base.metadata, messaging_metadata])
