"""Fixed-window rate limits, in Redis (shared by every gateway replica) or in this process.

A window is short (a minute by default), so a fixed window's burst at the boundary is at most twice
the limit, which is fine for abuse control and costs one round trip per check.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Protocol

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one request under ``key``; seconds to wait when it is over ``limit``, else None."""

    async def hit_all(self, checks: Sequence[tuple[str, int]], window_seconds: int) -> int | None:
        """Count one request under each ``(key, limit)`` in turn, stopping at the first over its limit
        (the later keys are not counted); seconds to wait then, else None."""

    async def aclose(self) -> None: ...


class MemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        now = self._clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window_seconds:
            start, count = now, 0
        count += 1
        if len(self._windows) >= self._max_keys and key not in self._windows:
            self._prune(now, window_seconds)
        self._windows[key] = (start, count)
        if count > limit:
            return max(1, math.ceil(start + window_seconds - now))
        return None

    async def hit_all(self, checks: Sequence[tuple[str, int]], window_seconds: int) -> int | None:
        for key, limit in checks:
            wait = await self.hit(key, limit, window_seconds)
            if wait is not None:
                return wait
        return None

    def _prune(self, now: float, window_seconds: int) -> None:
        self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window_seconds}

    async def aclose(self) -> None:
        return None


# INCR and set the expiry on the first hit atomically; returns the count and the milliseconds left.
# Every key of a request in one round trip: KEYS are the counters, ARGV[1] the window in ms and ARGV[i + 1]
# the limit of KEYS[i]. Returns the milliseconds left in the window of the first key over its limit (the
# keys after it are not counted), or -1 when every key is within its limit.
_HIT_SCRIPT = """
local window = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, window) end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then redis.call('PEXPIRE', key, window); ttl = window end
  if count > tonumber(ARGV[i + 1]) then return ttl end
end
return -1
"""


class RedisRateLimiter:
    """Counts in Redis; if Redis is unreachable it falls back to counting in this process."""

    def __init__(self, url: str, prefix: str = "aic:rl:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(_HIT_SCRIPT)
        self._prefix = prefix
        self._fallback = MemoryRateLimiter()

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        return await self.hit_all([(key, limit)], window_seconds)

    async def hit_all(self, checks: Sequence[tuple[str, int]], window_seconds: int) -> int | None:
        keys = [self._prefix + key for key, _ in checks]
        try:
            ttl_ms = await self._script(
                keys=keys, args=[window_seconds * 1000, *(limit for _, limit in checks)]
            )
        except Exception as exc:  # Redis down: keep limiting, per process, rather than not at all
            log.warning("rate limit store unavailable (%s); counting locally", exc)
            return await self._fallback.hit_all(checks, window_seconds)
        if int(ttl_ms) >= 0:
            return max(1, math.ceil(int(ttl_ms) / 1000))
        return None

    async def aclose(self) -> None:
        await self._redis.aclose()


def create_rate_limiter(redis_url: str) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
