"""Rate limits in memory and in Redis; Redis counts are shared by every gateway replica."""

from __future__ import annotations

import os
import uuid

import pytest

from aic_common.testing.fixtures import unavailable
from aic_gateway.ratelimit import MemoryRateLimiter, RedisRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.unit
async def test_memory_limiter_counts_per_key_and_window() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    results = [await limiter.hit("ip:a", 3, 60) for _ in range(5)]
    assert results[:3] == [None, None, None]
    assert results[3] == 60 and results[4] == 60
    assert await limiter.hit("ip:b", 3, 60) is None  # another key has its own count
    clock.now += 45
    assert await limiter.hit("ip:a", 3, 60) == 15
    clock.now += 16
    assert await limiter.hit("ip:a", 3, 60) is None  # a new window


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("AIC_TEST_REDIS_URL")
    if not url:
        unavailable("Redis", "set AIC_TEST_REDIS_URL=redis://127.0.0.1:6379/15")
    return url


@pytest.mark.integration
async def test_two_replicas_share_one_redis_count(redis_url: str) -> None:
    first, second = RedisRateLimiter(redis_url), RedisRateLimiter(redis_url)
    key = f"ip:{uuid.uuid4().hex}"
    try:
        answers = [await (first if i % 2 else second).hit(key, 4, 30) for i in range(6)]
        assert answers[:4] == [None] * 4
        assert all(wait is not None and 1 <= wait <= 30 for wait in answers[4:])
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.integration
async def test_redis_outage_falls_back_to_local_counting() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0")  # nothing listens there
    answers = [await limiter.hit("ip:x", 2, 30) for _ in range(3)]
    assert answers[:2] == [None, None] and answers[2] is not None
    await limiter.aclose()


async def over_limits_in_turn(limiter: MemoryRateLimiter | RedisRateLimiter, ip: str, user: str) -> list:
    """Requests counted under an address (limit 3) and a person (limit 2), as the edge checks them."""
    return [await limiter.hit_all([(ip, 3), (user, 2)], 30) for _ in range(4)]


@pytest.mark.unit
async def test_memory_limiter_counts_every_key_until_the_first_over_its_limit() -> None:
    limiter = MemoryRateLimiter(Clock())

    answers = await over_limits_in_turn(limiter, "ip:a", "user:u")

    assert answers[:2] == [None, None]
    assert answers[2] == 30 and answers[3] == 30  # the person is over; then the address too
    # The fourth request stopped at the address: the person's count stayed at three.
    assert await limiter.hit("user:u", 4, 30) is None


@pytest.mark.integration
async def test_redis_limiter_checks_every_key_in_one_call_and_stops_at_the_first_over(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url)
    run = uuid.uuid4().hex
    try:
        answers = await over_limits_in_turn(limiter, f"ip:{run}", f"user:{run}")

        assert answers[:2] == [None, None]
        assert all(wait is not None and 1 <= wait <= 30 for wait in answers[2:])
        assert await limiter.hit(f"user:{run}", 4, 30) is None  # counted three times, not four
        assert await limiter.hit(f"other:{run}", 1, 30) is None  # an untouched key starts at one
    finally:
        await limiter.aclose()
