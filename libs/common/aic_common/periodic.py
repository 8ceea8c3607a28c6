"""Work a service repeats on a schedule while it runs (retention sweeps, the files service's orphan sweep),
and waiting for a wake-up with a time limit, as polling loops do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def wait_until_set(event: asyncio.Event, seconds: float | None) -> bool:
    """Whether ``event`` is set within ``seconds`` (None: no limit).

    Not ``asyncio.wait_for(event.wait(), ...)``: on Python 3.11 that swallows a cancellation arriving
    just as the event is set (it returns the result instead), and a loop being stopped then runs on,
    its ``stop()`` waiting forever. ``asyncio.timeout`` tells its own expiry from a cancellation.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


class PeriodicTask:
    """Runs ``work`` every ``interval_seconds``, first one interval after :meth:`start`, in a task of its
    own until :meth:`stop`. A round that fails is logged (the database away, say) and the next one tries
    again: a failure never ends the schedule."""

    def __init__(self, name: str, interval_seconds: float, work: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.interval_seconds = interval_seconds
        self.work = work
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            try:
                await self.work()
            except Exception:
                log.exception("%s failed; trying again in %ss", self.name, self.interval_seconds)
