"""Stream tickets and stream counts, in this process and in Redis (shared by every gateway replica)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from aic_common.testing import wait_for
from aic_common.testing.fixtures import unavailable
from aic_gateway.stream_caps import KEY_PREFIX, StreamCaps, StreamLimiter, TooManyStreams
from aic_gateway.stream_tickets import StreamTickets

NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens there


def caps(per_person: int = 2, per_address: int = 3, anonymous: int = 2) -> StreamCaps:
    return StreamCaps(per_person=per_person, per_address=per_address, anonymous=anonymous)


def unreachable_redis() -> Redis:
    return Redis.from_url(NOWHERE, socket_timeout=0.5, socket_connect_timeout=0.5)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    url = os.environ.get("AIC_TEST_REDIS_URL")
    if not url:
        unavailable("Redis", "set AIC_TEST_REDIS_URL=redis://127.0.0.1:6379/15")
    client = Redis.from_url(url)
    yield client
    await client.aclose()


# --------------------------------------------------------------------------- tickets


@pytest.mark.unit
async def test_a_ticket_in_this_process_is_redeemed_once_and_expires() -> None:
    now = [0.0]
    tickets = StreamTickets(None, ttl_seconds=30, clock=lambda: now[0])
    first, second = await tickets.issue("token-1"), await tickets.issue("token-2")
    assert first != second and len(first) >= 40
    assert await tickets.redeem(first) == "token-1"
    assert await tickets.redeem(first) is None  # once
    now[0] += 30
    assert await tickets.redeem(second) is None  # expired
    assert await tickets.redeem("made-up") is None


@pytest.mark.integration
async def test_a_ticket_in_redis_is_redeemed_once_by_any_replica(redis: Redis) -> None:
    issuing, redeeming = StreamTickets(redis, ttl_seconds=30), StreamTickets(redis, ttl_seconds=30)
    ticket = await issuing.issue("the-token")
    key = "aic:stream-ticket:" + hashlib.sha256(ticket.encode()).hexdigest()
    assert 0 < await redis.pttl(key) <= 30_000  # Redis forgets it by itself
    assert ticket.encode() not in b"".join(await redis.keys("aic:stream-ticket:*"))  # a digest only
    assert await redeeming.redeem(ticket) == "the-token"
    assert await issuing.redeem(ticket) is None
    assert await redeeming.redeem(ticket) is None


@pytest.mark.integration
async def test_tickets_are_kept_locally_while_redis_is_unreachable() -> None:
    store = unreachable_redis()
    try:
        tickets = StreamTickets(store, ttl_seconds=30)
        ticket = await tickets.issue("the-token")
        assert await tickets.redeem(ticket) == "the-token"
        assert await tickets.redeem(ticket) is None
    finally:
        await store.aclose()


# --------------------------------------------------------------------------- stream counts


async def refused(limiter: StreamLimiter, user_id: str | None, address: str) -> str:
    with pytest.raises(TooManyStreams) as caught:
        await limiter.acquire(user_id, address)
    assert caught.value.status_code == 429 and caught.value.code == "too_many_streams"
    assert int((caught.value.headers or {})["Retry-After"]) >= 1
    return str(caught.value.detail)


@pytest.mark.unit
async def test_places_are_counted_per_person_address_and_anonymous_and_given_back() -> None:
    limiter = StreamLimiter(caps(), None, lease_seconds=60)
    alice = [await limiter.acquire("alice", "10.0.0.1"), await limiter.acquire("alice", "10.0.0.2")]
    assert "You have too many" in await refused(limiter, "alice", "10.0.0.3")
    anonymous = [await limiter.acquire(None, "10.0.0.1"), await limiter.acquire(None, "10.0.0.4")]
    assert "visitors" in await refused(limiter, None, "10.0.0.5")
    await limiter.acquire("bob", "10.0.0.1")
    assert "your address" in await refused(limiter, "carol", "10.0.0.1")  # three from 10.0.0.1

    alice[0].release()
    alice[0].release()  # once only: the second call gives nothing back twice
    await limiter.acquire("alice", "10.0.0.6")
    await refused(limiter, "alice", "10.0.0.7")
    anonymous[1].release()
    await limiter.acquire(None, "10.0.0.8")


@pytest.mark.integration
async def test_replicas_share_the_places_of_people_and_addresses(redis: Redis) -> None:
    first = StreamLimiter(caps(), redis, lease_seconds=60)
    second = StreamLimiter(caps(), redis, lease_seconds=60)
    person, address = uuid.uuid4().hex, f"10.1.{uuid.uuid4().int % 250}.1"
    try:
        held = [await first.acquire(person, f"{address}0"), await second.acquire(person, f"{address}1")]
        await refused(first, person, f"{address}2")
        await refused(second, person, f"{address}2")
        held[0].release()
        # Given back on the way out (the release never awaits); the other replica sees it soon after.
        await wait_for(lambda: _acquired(second, person, f"{address}3"), what="the place to come back")
        # Anonymous visitors are counted per replica.
        await second.acquire(None, f"{address}4")
        await second.acquire(None, f"{address}5")
        await refused(second, None, f"{address}6")
        await first.acquire(None, f"{address}6")
    finally:
        await first.aclose()
        await second.aclose()


async def _acquired(limiter: StreamLimiter, user_id: str, address: str) -> bool:
    try:
        await limiter.acquire(user_id, address)
    except TooManyStreams:
        return False
    return True


@pytest.mark.integration
async def test_the_places_of_a_replica_that_stopped_renewing_lapse(redis: Redis) -> None:
    dead = StreamLimiter(caps(per_person=1), redis, lease_seconds=1)  # never started: never renews
    alive = StreamLimiter(caps(per_person=1), redis, lease_seconds=60)
    await alive.start()
    person = uuid.uuid4().hex
    try:
        await dead.acquire(person, "10.2.0.1")
        await refused(alive, person, "10.2.0.2")
        await wait_for(lambda: _acquired(alive, person, "10.2.0.3"), timeout=10, what="the lease to lapse")
        assert await redis.zcard(f"{KEY_PREFIX}user:{person}") == 1  # the lapsed lease was dropped
    finally:
        await alive.aclose()
        await dead.aclose()


@pytest.mark.integration
async def test_renewal_keeps_a_short_lease_alive(redis: Redis) -> None:
    limiter = StreamLimiter(caps(per_person=1), redis, lease_seconds=1)
    await limiter.start()
    person = uuid.uuid4().hex
    key = f"{KEY_PREFIX}user:{person}"
    try:
        lease = await limiter.acquire(person, "10.3.0.1")
        first_expiry = (await redis.zrange(key, 0, -1, withscores=True))[0][1]
        # Renewed (its expiry moves on) instead of lapsing: a second stream still finds it there.
        await wait_for(
            lambda: _later_expiry(redis, key, first_expiry + 1500), timeout=10, what="two renewals"
        )
        await refused(limiter, person, "10.3.0.2")
        lease.release()
        await wait_for(lambda: _gone(redis, key), what="the place to be given back")
    finally:
        await limiter.aclose()


async def _later_expiry(redis: Redis, key: str, than: float) -> bool:
    members = await redis.zrange(key, 0, -1, withscores=True)
    return bool(members) and members[0][1] > than


async def _gone(redis: Redis, key: str) -> bool:
    return await redis.zcard(key) == 0


@pytest.mark.integration
async def test_counting_goes_on_locally_while_redis_is_unreachable() -> None:
    store = unreachable_redis()
    limiter = StreamLimiter(caps(), store, lease_seconds=60)
    try:
        held = [await limiter.acquire("alice", "10.4.0.1"), await limiter.acquire("alice", "10.4.0.2")]
        await refused(limiter, "alice", "10.4.0.3")
        held[0].release()
        await limiter.acquire("alice", "10.4.0.3")
    finally:
        await limiter.aclose()
        await store.aclose()
