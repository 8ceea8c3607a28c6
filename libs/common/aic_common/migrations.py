"""Alembic wiring that every service reuses.

A service keeps its migrations in ``<package>/migrations`` (``env.py`` calls :func:`run_env` with the
service's metadata) and migrates with :func:`upgrade`, from its start-up in embedded mode or from a
one-shot job in the real topology. On MySQL a named lock serialises concurrent migrators (two
replicas starting at once), so a migration never runs twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection

from aic_common.db import create_db_engine, is_sqlite
from aic_common.settings import DbPoolLimits

log = logging.getLogger(__name__)

# A migration works on one connection (the one holding the migration lock): the most a migrating
# process (a deployment's migration step, an init container) opens.
MIGRATION_POOL = DbPoolLimits(size=1, overflow=0)


def alembic_config(script_location: str, url: str) -> Config:
    """``script_location`` is ``package:migrations`` or a directory path."""
    config = Config()
    config.set_main_option("script_location", script_location)
    # Passed as an attribute, not a main option: ConfigParser would interpolate '%' in passwords.
    config.attributes["database_url"] = url
    return config


def upgrade(script_location: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(script_location, url), revision)


def downgrade(script_location: str, url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(script_location, url), revision)


@contextmanager
def _migration_lock(connection: Connection, name: str) -> Iterator[None]:
    if connection.dialect.name != "mysql":
        yield
        return
    got = connection.execute(sa.text("SELECT GET_LOCK(:name, 300)"), {"name": name}).scalar()
    if got != 1:
        raise RuntimeError(f"could not take the migration lock {name}")
    try:
        yield
    finally:
        connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})


def run_env(target_metadata: sa.MetaData | Sequence[sa.MetaData]) -> None:
    """The body of every service's ``migrations/env.py``."""
    config = context.config
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    batch = is_sqlite(url)  # SQLite alters tables by copying them: Alembic's batch mode
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=batch)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_db_engine(url, pool_size=MIGRATION_POOL.size, max_overflow=MIGRATION_POOL.overflow)
    try:
        with engine.connect() as connection:
            lock_name = f"aic_migrate_{connection.engine.url.database}"[:64]
            with _migration_lock(connection, lock_name):
                context.configure(
                    connection=connection,
                    target_metadata=target_metadata,
                    render_as_batch=batch,
                    compare_type=True,
                )
                with context.begin_transaction():
                    context.run_migrations()
                connection.commit()
    finally:
        engine.dispose()


def schema_drift(
    script_location: str, url: str, target_metadata: sa.MetaData | Sequence[sa.MetaData]
) -> list:
    """What differs between the models and the database migrated to head (empty when they agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade(script_location, url)
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            metadata = target_metadata
            if not isinstance(metadata, sa.MetaData):
                metadata = sa.MetaData()
                for source in target_metadata:  # type: ignore[union-attr]
                    for table in source.tables.values():
                        table.to_metadata(metadata)
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()
