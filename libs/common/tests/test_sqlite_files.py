"""An embedded service's SQLite file (password hashes, tokens) is its owner's alone from the start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from aic_common.db import create_db_engine

pytestmark = pytest.mark.unit


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_file_and_its_directory_are_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        database = tmp_path / "var" / "auth.db"
        engine = create_db_engine(f"sqlite:///{database}")
        assert mode(database.parent) == 0o700 and mode(database) == 0o600, "before anything is written"
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE secrets (value TEXT)"))
            connection.execute(sa.text("INSERT INTO secrets VALUES ('argon2 hash')"))
            # The write-ahead log and its index, while the connection is open, take the file's mode.
            written = {path.name: mode(path) for path in database.parent.iterdir()}
        engine.dispose()
    finally:
        os.umask(previous)
    assert written == {"auth.db": 0o600, "auth.db-wal": 0o600, "auth.db-shm": 0o600}
