"""``python -m aic_simulator.migrate``: bring the simulator database to the latest schema."""

from aic_common.migrations import upgrade
from aic_simulator.app import MIGRATIONS
from aic_simulator.settings import SimulatorSettings

if __name__ == "__main__":
    upgrade(MIGRATIONS, SimulatorSettings().resolved_database_url())
