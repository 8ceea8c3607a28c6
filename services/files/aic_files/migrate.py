"""``python -m aic_files.migrate``: bring the files database to the latest schema (a deployment's job)."""

from aic_common.migrations import upgrade
from aic_files.app import MIGRATIONS
from aic_files.settings import FilesSettings

if __name__ == "__main__":
    upgrade(MIGRATIONS, FilesSettings().resolved_database_url())
