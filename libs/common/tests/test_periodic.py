"""A periodic task keeps its schedule through failures and ends with stop()."""

from __future__ import annotations

import asyncio

import pytest

from aic_common.periodic import PeriodicTask, wait_until_set
from aic_common.testing import wait_for

pytestmark = pytest.mark.unit


async def test_a_failing_round_does_not_end_the_schedule_and_stop_ends_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []

    async def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("the database is away")

    task = PeriodicTask("sweep", 0.01, work)
    await task.start()
    await task.start()  # a second start does not run a second schedule
    await wait_for(lambda: len(rounds) >= 3, timeout=30, what="rounds after a failure")
    await task.stop()
    assert not task.running
    done = len(rounds)
    await asyncio.sleep(0.05)  # several intervals: nothing runs after stop()
    assert len(rounds) == done
    assert "sweep failed; trying again" in caplog.text


@pytest.mark.parametrize("seconds", [10.0, None])
async def test_a_cancellation_arriving_as_the_event_is_set_still_cancels(seconds: float | None) -> None:
    # asyncio.wait_for on Python 3.11 returns the event's result here and the task runs on: a relay
    # being stopped that way kept its stop() waiting forever.
    event = asyncio.Event()

    async def wait_then_carry_on() -> str:
        await wait_until_set(event, seconds)
        return "carried on"

    task = asyncio.create_task(wait_then_carry_on())
    await asyncio.sleep(0)  # the task now waits on the event
    event.set()
    task.cancel()  # in the same turn of the loop
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_wait_until_set_says_whether_the_event_came_in_time() -> None:
    event = asyncio.Event()
    assert await wait_until_set(event, 0.01) is False
    event.set()
    assert await wait_until_set(event, 0.01) is True
