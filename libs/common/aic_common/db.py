"""Database engines and sessions: MySQL/MariaDB through PyMySQL, SQLite in embedded mode.

Service code is synchronous SQLAlchemy 2.0; HTTP routes declared with ``def`` run in FastAPI's thread
pool and message handlers call :func:`run_in_thread`, so no DB call blocks the event loop.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import pymysql
from sqlalchemy import BigInteger, DateTime, Engine, Integer, MetaData, Table, create_engine, event, text
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from aic_common.settings import DbPoolLimits

T = TypeVar("T")
log = logging.getLogger(__name__)

# MySQL/MariaDB errors after which running the same transaction again can succeed: the server picked
# it as a deadlock's victim (1213) or it waited too long for a lock (1205).
_LOCK_CONFLICT_ERRORS = frozenset({1205, 1213})
# ... and those that say the server cannot be reached or went away: too many connections (1040),
# shutting down (1053), connection killed (1927, 4031), no socket or no answer (2002, 2003), gone away
# or lost mid-query (2006, 2013, 2055).
_UNAVAILABLE_ERRORS = frozenset({1040, 1053, 1927, 2002, 2003, 2006, 2013, 2055, 4031})

# Constraint names that are the same on every backend, so Alembic migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# An auto-increment big integer key on MySQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")
# Naive UTC with microseconds: MySQL's plain DATETIME would drop them, and ordering by time needs them.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Declarative base for services that do not need their own; each service normally has one."""

    metadata = new_metadata()


def utc_now() -> datetime:
    """Now, as naive UTC: how every service stores time (MySQL's DATETIME keeps no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# A pooled MySQL connection idle longer than this is pinged before it is handed out: the server or a
# proxy may have closed it meanwhile. One in steady use is not: a ping on every checkout is a round
# trip on every request, and a server that restarts under load fails the requests in flight anyway
# (the error invalidates the whole pool, so only connections made after it are used again).
IDLE_PING_SECONDS = 5.0
_idle_clock = time.monotonic  # what measures the idle time (a test moves it forward)


def create_db_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int | None = None,
    pool_recycle: int = 1800,
    echo: bool = False,
) -> Engine:
    """An engine tuned for its backend: utf8mb4, idle connections pinged and no needless ROLLBACKs on
    MySQL; WAL and a busy timeout on SQLite. On MySQL it holds at most ``DbPoolLimits.of(pool_size,
    max_overflow).most`` connections (``max_overflow`` None: as many as ``pool_size``)."""
    pool = DbPoolLimits.of(pool_size, max_overflow)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            _create_private_file(Path(database))
        engine = create_engine(parsed, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "savepoint", _sqlite_savepoint)
        return engine
    if parsed.get_backend_name() == "mysql":
        # Chinese text and emoji need the 4-byte charset; the query string wins over connect_args.
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        engine = create_engine(
            parsed,
            echo=echo,
            pool_recycle=pool_recycle,
            pool_size=pool.size,
            max_overflow=pool.overflow,
            pool_timeout=10,
            connect_args={"connect_timeout": 5, "read_timeout": 30, "write_timeout": 30},
        )
        event.listen(engine, "do_connect", _connect_tracked)
        _ping_when_idle(engine)
        return engine
    return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_recycle=pool_recycle)


class TrackedConnection(pymysql.connections.Connection):
    """A PyMySQL connection that knows whether a statement ran since its last COMMIT or ROLLBACK, and
    skips a ROLLBACK that would undo nothing.

    A Session ends its transaction (COMMIT or ROLLBACK) and then returns the connection to the pool,
    which resets it with a ROLLBACK of its own: a second round trip to the server on every request
    and every consumed batch. The pool's reset still happens whenever something ran after the end."""

    _since_end = False  # a statement ran since the last COMMIT/ROLLBACK (or since connecting)

    def query(self, sql: str | bytes, unbuffered: bool = False) -> int:
        self._since_end = True  # before: a statement that fails may still have begun a transaction
        return super().query(sql, unbuffered)

    def commit(self) -> None:
        super().commit()
        self._since_end = False

    def rollback(self) -> None:
        if self._since_end:
            super().rollback()
            self._since_end = False


def _connect_tracked(_dialect: Any, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
    return TrackedConnection(*cargs, **cparams)


def _ping_when_idle(engine: Engine) -> None:
    """Ping a connection on checkout only when it sat in the pool longer than IDLE_PING_SECONDS; a
    failed ping makes the pool replace it (DisconnectionError), as pool_pre_ping would."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = _idle_clock()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or _idle_clock() - idle_since <= IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"an idle connection failed its ping: {error}") from error


def _create_private_file(path: Path) -> None:
    """A new SQLite file readable by its owner only, from the start: it holds what the service keeps
    (password hashes, tokens). SQLite gives its journal and WAL files the database file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_savepoint(connection: Any, _name: str) -> None:
    """Open the transaction a SAVEPOINT belongs in.

    The driver begins a transaction only before a write, so a SAVEPOINT that came first would run
    outside one and its RELEASE would commit: an outer rollback would keep half the work. IMMEDIATE
    takes the write lock now, as the driver's own BEGIN before a write would."""
    driver = connection.connection.driver_connection
    if not driver.in_transaction:
        driver.execute("BEGIN IMMEDIATE")


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with session_factory.begin() as session:
        yield session


def is_lock_conflict(error: BaseException) -> bool:
    """Whether ``error`` is a deadlock or lock wait timeout: the transaction lost a race, not a rule."""
    if not isinstance(error, DBAPIError):
        return False
    args = getattr(error.orig, "args", ())
    return bool(args) and args[0] in _LOCK_CONFLICT_ERRORS


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached right now, rather than that the work is wrong."""
    if isinstance(error, PoolTimeout):  # every pooled connection busy, none to be had in time
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    args = getattr(error.orig, "args", ())
    return bool(args) and args[0] in _UNAVAILABLE_ERRORS


def run_transaction(
    session_factory: sessionmaker[Session], work: Callable[[Session], T], *, attempts: int = 5
) -> T:
    """``work`` in a transaction that commits on success, run again when it lost a lock conflict.

    Concurrent transactions on InnoDB deadlock now and then (gap locks of two inserts into the same
    index range, for instance); the server rolls one back and says to try again, which this does after
    a short random pause so the two do not collide once more.
    """
    attempt = 1
    while True:
        try:
            with session_factory.begin() as session:
                return work(session)
        except DBAPIError as error:
            if attempt >= attempts or not is_lock_conflict(error):
                raise
            log.info("transaction lost a lock conflict (attempt %d of %d); retrying", attempt, attempts)
            time.sleep(random.uniform(0.0, 0.02 * attempt))  # noqa: S311 - jitter, not a secret
            attempt += 1


async def run_in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking (DB) work off the event loop."""
    return await anyio.to_thread.run_sync(fn, *args)


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def insert_unless_present(session: Session, table: Table, row: dict[str, Any], key: str) -> None:
    """INSERT ``row`` unless a row with the same unique ``key`` exists: one statement, no read first.

    (Not MySQL's INSERT IGNORE, which would also turn a bad value into a warning.)"""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sqlite.insert(table).values(row).on_conflict_do_nothing(index_elements=[key]))
    else:
        session.execute(mysql.insert(table).values(row).on_duplicate_key_update({key: table.c[key]}))


def for_update_skip_locked(engine_or_session: Engine | Session) -> dict[str, Any]:
    """Options for ``select().with_for_update`` where the backend supports row locks (not SQLite)."""
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return {} if bind.dialect.name == "sqlite" else {"skip_locked": True}
