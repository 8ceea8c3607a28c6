"""Fixed-window rate limits, in Redis (shared by every gateway replica) or in this process.

A window is short (a minute by default), so a fixed window's burst at the boundary is at most twice
the limit, which is fine for abuse control and costs one round trip per check.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one request under ``key``; seconds to wait when it is over ``limit``, else None."""

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

    def _prune(self, now: float, window_seconds: int) -> None:
        self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window_seconds}

    async def aclose(self) -> None:
        return None


# INCR and set the expiry on the first hit atomically; returns the count and the milliseconds left.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
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
        try:
            count, ttl_ms = await self._script(keys=[self._prefix + key], args=[window_seconds * 1000])
        except Exception as exc:  # Redis down: keep limiting, per process, rather than not at all
            log.warning("rate limit store unavailable (%s); counting locally", exc)
            return await self._fallback.hit(key, limit, window_seconds)
        if int(count) > limit:
            return max(1, math.ceil(int(ttl_ms) / 1000))
        return None

    async def aclose(self) -> None:
        await self._redis.aclose()


def create_rate_limiter(redis_url: str) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
