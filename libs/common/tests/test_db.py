"""Engines, sessions and the shared Alembic wiring on SQLite and on a real MySQL/MariaDB."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import certifi
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from aic_common import db
from aic_common.db import create_db_engine, create_session_factory, ping, run_transaction, transaction
from aic_common.migrations import downgrade, upgrade
from aic_common.runtime import ServiceRuntime
from aic_common.settings import DbPoolLimits, ServiceSettings

pytestmark = pytest.mark.integration

SAMPLE_MIGRATIONS = str(Path(__file__).parent / "migrations_sample")
CHINESE_WITH_EMOJI = "今天在咖啡馆遇见了老朋友 ☕️🎉 — naïve café"


def table_names(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_create_service_and_messaging_tables_and_roll_back(database_url: str) -> None:
    upgrade(SAMPLE_MIGRATIONS, database_url)
    assert {"notes", "outbox", "processed_messages", "alembic_version"} <= table_names(database_url)
    upgrade(SAMPLE_MIGRATIONS, database_url)  # a second run is a no-op, not an error
    downgrade(SAMPLE_MIGRATIONS, database_url)
    assert table_names(database_url) <= {"alembic_version"}


def test_four_byte_unicode_round_trips(database_url: str) -> None:
    upgrade(SAMPLE_MIGRATIONS, database_url)
    engine = create_db_engine(database_url)
    factory = create_session_factory(engine)
    with transaction(factory) as session:
        session.execute(
            sa.text("INSERT INTO notes (id, body) VALUES (1, :body)"), {"body": CHINESE_WITH_EMOJI}
        )
    with factory() as session:
        assert session.execute(sa.text("SELECT body FROM notes WHERE id = 1")).scalar() == CHINESE_WITH_EMOJI
    engine.dispose()


def test_insert_unless_present_keeps_the_first_row_and_still_refuses_bad_values(database_url: str) -> None:
    metadata = sa.MetaData()
    seen = sa.Table(
        "seen",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(8), unique=True, nullable=False),
        sa.Column("body", sa.String(8), nullable=False),
    )
    engine = create_db_engine(database_url)
    metadata.create_all(engine)
    factory = create_session_factory(engine)
    try:
        with transaction(factory) as session:
            db.insert_unless_present(session, seen, {"key": "a", "body": "first"}, key="key")
            db.insert_unless_present(session, seen, {"key": "a", "body": "second"}, key="key")
            db.insert_unless_present(session, seen, {"key": "b", "body": "other"}, key="key")
        with factory() as session:
            rows = session.execute(sa.select(seen.c.key, seen.c.body).order_by(seen.c.key)).all()
        assert [tuple(row) for row in rows] == [("a", "first"), ("b", "other")]
        # Not INSERT IGNORE: a row the table cannot hold is an error, not a warning and a dropped row.
        with pytest.raises(sa.exc.IntegrityError), transaction(factory) as session:
            db.insert_unless_present(session, seen, {"key": "c", "body": None}, key="key")
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def test_transaction_rolls_back_on_error(database_url: str) -> None:
    upgrade(SAMPLE_MIGRATIONS, database_url)
    engine = create_db_engine(database_url)
    factory = create_session_factory(engine)
    with pytest.raises(ZeroDivisionError), transaction(factory) as session:
        session.execute(sa.text("INSERT INTO notes (id, body) VALUES (2, 'half')"))
        _ = 1 / 0
    with factory() as session:
        assert session.execute(sa.text("SELECT COUNT(*) FROM notes")).scalar() == 0
    engine.dispose()


def test_a_savepoint_first_in_a_transaction_rolls_back_with_it(database_url: str) -> None:
    # On SQLite the driver would run a leading SAVEPOINT outside any transaction, and its RELEASE commit.
    upgrade(SAMPLE_MIGRATIONS, database_url)
    engine = create_db_engine(database_url)
    factory = create_session_factory(engine)
    with pytest.raises(ZeroDivisionError), transaction(factory) as session:
        session.execute(sa.text("SELECT COUNT(*) FROM notes"))
        with session.begin_nested():
            session.execute(sa.text("INSERT INTO notes (id, body) VALUES (3, 'kept by the savepoint')"))
        _ = 1 / 0
    with transaction(factory) as session:
        with session.begin_nested():
            session.execute(sa.text("INSERT INTO notes (id, body) VALUES (4, 'committed')"))
        with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
            session.execute(sa.text("INSERT INTO notes (id, body) VALUES (4, 'duplicate')"))
    with factory() as session:
        assert session.execute(sa.text("SELECT id FROM notes")).scalars().all() == [4]
    engine.dispose()


def test_concurrent_migrators_do_not_collide(mysql_url: str) -> None:
    # Separate processes, as two replicas starting at once would be (Alembic's context is per process).
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=upgrade, args=(SAMPLE_MIGRATIONS, mysql_url)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    assert "notes" in table_names(mysql_url)


def session_counters(engine: sa.Engine) -> dict[str, int]:
    """This connection's own count of ROLLBACKs, COMMITs and pings (Com_admin_commands) on the server."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SHOW SESSION STATUS WHERE Variable_name IN ('Com_rollback', 'Com_commit', 'Com_admin_commands')"
        ).all()
    return {name: int(value) for name, value in rows}


def test_mysql_engine_uses_utf8mb4_and_ends_each_transaction_with_one_round_trip(mysql_url: str) -> None:
    # One connection, reused by every session: its server-side counters count what each session sent.
    # The pool's reset after a session ended its own transaction was a second ROLLBACK on every request,
    # and a pre-ping a third round trip.
    engine = create_db_engine(mysql_url, pool_size=1)
    factory = create_session_factory(engine)
    assert engine.url.query["charset"] == "utf8mb4"
    try:
        before = session_counters(engine)
        for _ in range(5):
            with factory() as session:
                session.execute(sa.text("SELECT 1"))
        for _ in range(5):
            with factory.begin() as session:
                session.execute(sa.text("SELECT 1"))
        after = session_counters(engine)
        # Each counter read is a connection checkout that ran a statement: one ROLLBACK of its own.
        assert after["Com_rollback"] - before["Com_rollback"] == 5 + 1
        assert after["Com_commit"] - before["Com_commit"] == 5
        assert after["Com_admin_commands"] == before["Com_admin_commands"]  # no pings: none sat idle
    finally:
        engine.dispose()


def test_a_connection_returned_mid_transaction_is_still_rolled_back(mysql_url: str) -> None:
    # Work the Session's bookkeeping never saw (the driver used directly) must not reach the next user.
    upgrade(SAMPLE_MIGRATIONS, mysql_url)
    engine = create_db_engine(mysql_url, pool_size=1)
    try:
        with engine.connect() as connection:
            connection.commit()  # SQLAlchemy's transaction is over; the driver's is about to begin
            connection.connection.driver_connection.query("INSERT INTO notes (id, body) VALUES (9, 'x')")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT COUNT(*) FROM notes")).scalar() == 0
    finally:
        engine.dispose()


def test_an_idle_connection_the_server_closed_is_replaced_unseen(
    mysql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_db_engine(mysql_url, pool_size=1)
    try:
        with engine.connect() as connection:
            first_id = connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
        killer = create_db_engine(mysql_url, pool_size=1)
        with killer.connect() as admin:
            admin.exec_driver_sql(f"KILL {int(first_id)}")
        killer.dispose()
        # Time passes beyond the idle limit: the pooled connection is pinged, found dead and replaced.
        later = time.monotonic() + db.IDLE_PING_SECONDS + 1
        monkeypatch.setattr(db, "_idle_clock", lambda: later)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar() != first_id
    finally:
        engine.dispose()


def test_database_tls_is_chosen_in_the_url_as_the_deployment_guide_says(mysql_url: str) -> None:
    # docs/deploy.md: a CA in the URL requires a server that proves itself with it (this one cannot: it
    # offers no TLS, or a certificate the public CAs do not sign), and ssl_disabled connects plainly.
    separator = "&" if "?" in mysql_url else "?"
    plain = create_db_engine(f"{mysql_url}{separator}ssl_disabled=true")
    verified = create_db_engine(f"{mysql_url}{separator}ssl_ca={certifi.where()}&ssl_check_hostname=true")
    try:
        ping(plain)
        with pytest.raises(sa.exc.OperationalError):
            ping(verified)
    finally:
        plain.dispose()
        verified.dispose()


def test_sqlite_engine_creates_its_directory_and_uses_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'x.db'}"
    engine = create_db_engine(url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_a_deadlock_victim_is_run_again_and_both_transactions_commit(mysql_url: str) -> None:
    """Two transactions lock two rows in opposite order: InnoDB rolls one back (1213), which
    run_transaction runs again; both changes end up committed, neither raises."""
    upgrade(SAMPLE_MIGRATIONS, mysql_url)
    engine = create_db_engine(mysql_url)
    factory = create_session_factory(engine)
    with transaction(factory) as session:
        session.execute(sa.text("INSERT INTO notes (id, body) VALUES (1, ''), (2, '')"))
    both_hold_their_first_lock = threading.Barrier(2, timeout=10)
    attempts: list[str] = []

    def writer(name: str, first: int, second: int) -> None:
        def work(session: Session) -> None:
            attempts.append(name)
            session.execute(sa.text("SELECT id FROM notes WHERE id = :id FOR UPDATE"), {"id": first})
            if attempts.count(name) == 1:
                both_hold_their_first_lock.wait()
            session.execute(
                sa.text("UPDATE notes SET body = CONCAT(body, :name) WHERE id IN (:a, :b)"),
                {"name": name, "a": first, "b": second},
            )

        run_transaction(factory, work)

    threads = [
        threading.Thread(target=writer, args=("a", 1, 2)),
        threading.Thread(target=writer, args=("b", 2, 1)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with factory() as session:
        bodies = [row.body for row in session.execute(sa.text("SELECT body FROM notes ORDER BY id"))]
    engine.dispose()
    assert len(attempts) == 3  # one of the two ran twice
    assert sorted(bodies[0]) == sorted(bodies[1]) == ["a", "b"]


def test_run_transaction_does_not_retry_other_errors(sqlite_url: str) -> None:
    factory = create_session_factory(create_db_engine(sqlite_url))
    calls: list[int] = []

    def work(session: Session) -> None:
        calls.append(1)
        session.execute(sa.text("SELECT * FROM no_such_table"))

    with pytest.raises(sa.exc.OperationalError):
        run_transaction(factory, work)
    assert calls == [1]


@pytest.mark.parametrize(("size", "overflow", "most"), [(5, 5, 10), (8, 2, 10), (3, 0, 3), (4, None, 8)])
def test_a_service_engine_holds_no_more_connections_than_its_settings_allow(
    size: int, overflow: int | None, most: int
) -> None:
    # What tests/deploy adds up against the servers' max_connections: the settings' pool limits, which
    # are what the runtime sizes its engine with (no connection is opened here).
    settings = ServiceSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="mysql+pymysql://u:p@127.0.0.1:1/x",
        db_pool_size=size,
        db_max_overflow=overflow,
    )
    assert settings.db_pool_limits() == DbPoolLimits(size, most - size)
    assert settings.db_pool_limits().most == most
    engine = ServiceRuntime.create(settings).engine
    assert isinstance(engine.pool, QueuePool)
    assert (engine.pool.size(), engine.pool._max_overflow) == (size, most - size)
