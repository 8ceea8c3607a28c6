"""``python -m aic_auth.migrate``: bring the auth database to the latest schema (a deployment's job)."""

from aic_auth.app import MIGRATIONS
from aic_auth.settings import AuthSettings
from aic_common.migrations import upgrade

if __name__ == "__main__":
    upgrade(MIGRATIONS, AuthSettings().resolved_database_url())
