"""A periodic task keeps its schedule through failures and ends with stop()."""

from __future__ import annotations

import asyncio

import pytest

from aic_common.periodic import PeriodicTask
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
