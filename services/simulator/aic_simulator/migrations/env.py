"""Alembic environment of the simulator."""

from aic_common.bus.tables import messaging_metadata
from aic_common.migrations import run_env
from aic_simulator.models import Base

run_env([Base.metadata, messaging_metadata])
