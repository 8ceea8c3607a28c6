"""Retention: rows of tables that only grow are deleted on a schedule once older than their setting.

A service lists what may go as :class:`PruneRule` objects (a table, the time column its age is measured
by, how long rows are kept, and what else a row must be to go); :class:`RetentionSweeper` runs every
rule each ``interval_seconds`` while the service runs (:class:`aic_common.runtime.ServiceRuntime` starts
and stops it with the service).

A months-old backlog is deleted in short transactions of at most ``batch_size`` rows, picked by primary
key, so no statement locks the table for long. Replicas run the same sweep side by side: on
MySQL/MariaDB each batch's rows are claimed with ``FOR UPDATE SKIP LOCKED`` (under READ COMMITTED, so
no gap is locked against the inserts the table keeps taking), and two replicas take different rows; on
SQLite (embedded mode, one process) a batch is one ``DELETE ... WHERE key IN (SELECT ... LIMIT n)``
statement, which takes the write lock from its start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.db import run_in_thread, run_transaction, utc_now
from aic_common.periodic import PeriodicTask

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class PruneRule:
    """Rows of ``table`` whose ``age_column`` is more than ``keep_for`` in the past go, when they also
    meet ``only_if`` (a condition built anew for each statement; None: every old row)."""

    name: str
    table: sa.Table
    age_column: sa.Column[datetime]
    keep_for: timedelta
    only_if: Callable[[], sa.ColumnElement[bool]] | None = None

    def _condition(self, cutoff: datetime) -> sa.ColumnElement[bool]:
        old = self.age_column < cutoff
        return sa.and_(old, self.only_if()) if self.only_if is not None else old


def prune_batch(session_factory: sessionmaker[Session], rule: PruneRule, now: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the oldest rows ``rule`` lets go, in one transaction; how many went."""
    cutoff = now - rule.keep_for
    keys = list(rule.table.primary_key.columns)
    oldest_first = sa.select(*keys).where(rule._condition(cutoff)).order_by(rule.age_column).limit(limit)

    def delete(session: Session) -> int:
        if session.get_bind().dialect.name == "sqlite":
            key = sa.tuple_(*keys) if len(keys) > 1 else keys[0]
            result = session.execute(rule.table.delete().where(key.in_(oldest_first)))
            return result.rowcount or 0
        if session.get_bind().dialect.name == "mysql":
            session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))
        found = session.execute(oldest_first.with_for_update(skip_locked=True)).all()
        if not found:
            return 0
        result = session.execute(rule.table.delete().where(_any_of(keys, [tuple(row) for row in found])))
        return result.rowcount or 0

    return run_transaction(session_factory, delete)


def _any_of(keys: list[sa.Column[object]], rows: list[tuple[object, ...]]) -> sa.ColumnElement[bool]:
    """``key IN rows`` as MySQL and MariaDB look it up by index: a row-value ``(a, b) IN (...)`` may be
    read as a full scan, so a composite key is ``a = x AND b IN (...)`` for each leading value."""
    if len(keys) == 1:
        return keys[0].in_([row[0] for row in rows])
    groups: dict[tuple[object, ...], list[object]] = {}
    for row in rows:
        groups.setdefault(row[:-1], []).append(row[-1])
    return sa.or_(
        *(
            sa.and_(*(k == v for k, v in zip(keys[:-1], prefix, strict=True)), keys[-1].in_(last))
            for prefix, last in groups.items()
        )
    )


@dataclass
class RetentionSweeper:
    """Runs every rule, batch after batch until a batch comes back short, every ``interval_seconds``.

    ``clock`` says what now is (naive UTC, as rows store it): tests move it instead of waiting.
    """

    session_factory: sessionmaker[Session]
    interval_seconds: float = 600.0
    batch_size: int = 1000
    clock: Clock = utc_now
    rules: list[PruneRule] = field(default_factory=list)
    sweeps: int = 0  # completed sweeps, for tests and operators
    deleted: dict[str, int] = field(default_factory=dict)  # rows deleted so far, by rule
    _schedule: PeriodicTask | None = field(default=None, repr=False)

    def add(self, rule: PruneRule) -> None:
        if any(r.name == rule.name for r in self.rules):
            raise ValueError(f"a prune rule named {rule.name} exists already")
        self.rules.append(rule)

    async def sweep(self) -> dict[str, int]:
        """One pass over every rule; returns the rows deleted by each. A batch at a time off the event
        loop, so a long backlog neither holds a worker thread for long nor keeps a stop waiting."""
        counts: dict[str, int] = {}
        for rule in self.rules:
            now = self.clock()
            total = 0
            while True:
                deleted = await run_in_thread(prune_batch, self.session_factory, rule, now, self.batch_size)
                total += deleted
                if deleted < self.batch_size:
                    break
            counts[rule.name] = total
            self.deleted[rule.name] = self.deleted.get(rule.name, 0) + total
            if total:
                log.info("retention: deleted %d rows of %s", total, rule.name)
        self.sweeps += 1
        return counts

    @property
    def running(self) -> bool:
        return self._schedule is not None and self._schedule.running

    async def start(self) -> None:
        if self.rules and self._schedule is None:
            self._schedule = PeriodicTask("retention sweep", self.interval_seconds, self.sweep)
            await self._schedule.start()

    async def stop(self) -> None:
        if self._schedule is not None:
            await self._schedule.stop()
            self._schedule = None
