"""How many live streams one person, one client address and all anonymous visitors may hold open.

A stream costs a connection, a queue and a share of every event's fan-out for as long as it is open,
and a rate limit (requests a minute) does not bound that: a client can open a few hundred in a minute
and keep them. So each stream takes a place under its person (signed in) or under the anonymous
visitors of this replica, and under its client address, and gives them back when it ends.

Places of people and addresses are counted on all replicas together when the gateway has Redis: each
open stream is a member of a sorted set per person and per address, scored by when its lease ends.
A replica renews its streams' leases every third of the lease and removes them when they end; the
leases of a replica that died lapse by themselves, and whoever counts next drops them. Without Redis,
or while it is unreachable, each replica counts alone. Anonymous visitors are always counted per
replica: that cap protects what one replica can carry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aic_common.errors import TooManyRequests

log = logging.getLogger(__name__)

KEY_PREFIX = "aic:streams:"
ANONYMOUS = "anonymous"
RETRY_AFTER_SECONDS = 10
# Leases renewed per round trip to Redis.
RENEW_BATCH = 500

# KEYS: the sets to take a place in; ARGV[1]: the lease, ARGV[2]: its milliseconds, ARGV[2 + i]: the
# cap of KEYS[i]. Drops lapsed leases, then adds the lease to every set and returns 0, or returns i,
# the first set that is full, and adds it nowhere. Redis's own clock, so replicas' clocks never differ.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return i end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ms, ARGV[1])
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
return 0
"""
# KEYS[i] holds the lease ARGV[i + 1]; ARGV[1]: the milliseconds from now its lease runs.
_RENEW = """
local t = redis.call('TIME')
local ms = tonumber(ARGV[1])
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ms
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, expiry, ARGV[i + 1])
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
return 0
"""
# KEYS[i] holds the lease ARGV[i].
_RELEASE = """
for i, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[i]) end
return 0
"""


class TooManyStreams(TooManyRequests):
    code = "too_many_streams"


@dataclass(frozen=True)
class StreamCaps:
    per_person: int
    per_address: int
    anonymous: int  # per replica


@dataclass(eq=False)
class StreamLease:
    """The places one open stream holds; :meth:`release` gives them back (once; it never awaits, so a
    stream can call it while being cancelled)."""

    limiter: StreamLimiter
    local_keys: tuple[str, ...]
    shared_keys: tuple[str, ...] = ()  # in Redis, under member ``id``
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter._release(self)


class StreamLimiter:
    def __init__(self, caps: StreamCaps, redis: Any | None, *, lease_seconds: float) -> None:
        self.caps = caps
        self.lease_ms = max(1000, int(lease_seconds * 1000))
        self._redis = redis
        self._acquire_script = redis.register_script(_ACQUIRE) if redis is not None else None
        self._renew_script = redis.register_script(_RENEW) if redis is not None else None
        self._release_script = redis.register_script(_RELEASE) if redis is not None else None
        self._local: Counter[str] = Counter()
        self._shared: set[StreamLease] = set()  # leases held in Redis, renewed until released
        self._tasks: set[asyncio.Task[None]] = set()
        self._renewer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._redis is not None and self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="stream-lease-renewal")

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        for lease in list(self._shared):
            lease.release()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)

    async def acquire(self, user_id: str | None, address: str) -> StreamLease:
        """The places of one more stream of ``user_id`` (None: anonymous) from ``address``; raises
        :class:`TooManyStreams` when one of them is full."""
        caps = self.caps
        checks = [(f"user:{user_id}", caps.per_person)] if user_id else []
        checks.append((f"ip:{address}", caps.per_address))
        # Taken before any await, so that concurrent requests cannot all pass the same check.
        local = [] if user_id else [(ANONYMOUS, caps.anonymous)]
        if self._redis is None:
            local += checks
            checks = []
        self._take_local(local)
        lease = StreamLease(self, tuple(key for key, _ in local))
        if not checks:
            return lease
        try:
            full = await self._acquire_script(
                keys=[KEY_PREFIX + key for key, _ in checks],
                args=[lease.id, self.lease_ms, *(cap for _, cap in checks)],
            )
        except Exception as exc:  # Redis down: keep counting, per replica, rather than not at all
            log.warning("stream count store unavailable (%s); counting locally", exc)
            try:
                self._take_local(checks)
            except TooManyStreams:
                lease.release()
                raise
            lease.local_keys += tuple(key for key, _ in checks)
            return lease
        if int(full):
            lease.release()
            raise _refusal(checks[int(full) - 1][0])
        lease.shared_keys = tuple(KEY_PREFIX + key for key, _ in checks)
        self._shared.add(lease)
        return lease

    def _take_local(self, checks: Sequence[tuple[str, int]]) -> None:
        for key, cap in checks:
            if self._local[key] >= cap:
                raise _refusal(key)
        for key, _ in checks:
            self._local[key] += 1

    def _release(self, lease: StreamLease) -> None:
        for key in lease.local_keys:
            self._local[key] -= 1
            if self._local[key] <= 0:
                del self._local[key]
        if lease.shared_keys:
            self._shared.discard(lease)
            self._spawn(self._forget(lease))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forget(self, lease: StreamLease) -> None:
        try:
            await self._release_script(keys=list(lease.shared_keys), args=[lease.id] * len(lease.shared_keys))
        except Exception as exc:  # its lease lapses by itself
            log.warning("could not give back a stream's places (%s); they lapse with its lease", exc)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            leases = list(self._shared)
            for start in range(0, len(leases), RENEW_BATCH):
                batch = leases[start : start + RENEW_BATCH]
                keys = [key for lease in batch for key in lease.shared_keys]
                members = [lease.id for lease in batch for _ in lease.shared_keys]
                try:
                    await self._renew_script(keys=keys, args=[self.lease_ms, *members])
                except Exception as exc:
                    log.warning("could not renew the leases of open streams (%s)", exc)
                    continue
                # One that ended while its renewal was on the way was added back: take it out again.
                for lease in batch:
                    if lease.released:
                        self._spawn(self._forget(lease))


def _refusal(key: str) -> TooManyStreams:
    kind = key.partition(":")[0]
    detail = {
        "user": "You have too many live streams open; close one (another tab or device) first",
        "ip": "Too many live streams are open from your address; close one first",
        ANONYMOUS: "Too many visitors are watching live right now; sign in or try again shortly",
    }[kind]
    return TooManyStreams(detail, retry_after=RETRY_AFTER_SECONDS)
