"""``python -m aic_social.migrate``: bring the social database to the latest schema (a deployment's job)."""

from aic_common.migrations import upgrade
from aic_social.app import MIGRATIONS
from aic_social.settings import SocialSettings

if __name__ == "__main__":
    upgrade(MIGRATIONS, SocialSettings().resolved_database_url())
