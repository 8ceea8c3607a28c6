"""Sign-in throttling: failed attempts counted per key in fixed windows, in the database.

Kept in the service's own database so every replica sees the same counts. An account over its limit
refuses even the right password until its window ends, so guessing stops; the window is short, so an
attacker cannot lock the owner out for long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aic_auth.models import LoginThrottle


@dataclass(frozen=True)
class Limit:
    key: str
    max_failures: int


class Throttle:
    def __init__(self, window: timedelta) -> None:
        self.window = window

    def retry_after(self, session: Session, limits: list[Limit], now: datetime) -> int | None:
        """Seconds until a blocked key frees up, or None when no key is over its limit."""
        rows = {
            row.key: row
            for row in session.scalars(
                sa.select(LoginThrottle).where(LoginThrottle.key.in_([limit.key for limit in limits]))
            )
        }
        waits = []
        for limit in limits:
            row = rows.get(limit.key)
            if row is None or row.window_start + self.window <= now:
                continue
            if row.failures >= limit.max_failures:
                waits.append((row.window_start + self.window - now).total_seconds())
        return max(1, math.ceil(max(waits))) if waits else None

    def record_failure(self, session: Session, keys: list[str], now: datetime) -> None:
        for key in keys:
            row = session.get(LoginThrottle, key, with_for_update=True)
            if row is None:
                try:
                    with session.begin_nested():
                        session.add(LoginThrottle(key=key, window_start=now, failures=1))
                except IntegrityError:  # another replica inserted it first: count on its row
                    row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
                else:
                    continue
            if row.window_start + self.window <= now:
                row.window_start, row.failures = now, 1
            else:
                row.failures += 1

    def forget_expired(self, session: Session, now: datetime) -> None:
        session.execute(sa.delete(LoginThrottle).where(LoginThrottle.window_start < now - self.window))
