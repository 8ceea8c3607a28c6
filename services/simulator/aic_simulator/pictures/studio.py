"""Pictures on their way: made by the image backend and stored as the character, off the clock.

The engine orders a picture when a character posts with one and holds the post back; the studio makes
it (at most ``concurrency`` at once, each within ``timeout_seconds`` from the moment a slot takes it up),
stores it through the files service as the character, and the engine sends the post with it in the
first tick after it is ready, or without it, the reason in the decision's trace, when it failed. Other
characters decide and the clock moves meanwhile. Only the built-in renderer is *instant*: it draws in
a fraction of a second and always the same picture for a seed, so the engine waits for it in the tick
that asked, and a seed tells the same story.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from aic_common.messages import CreatePostCommand
from aic_simulator.pictures.base import ImageBackend, Picture, PictureFailed, PictureRequest

log = logging.getLogger(__name__)


class PictureStore(Protocol):
    async def store(self, owner_id: str, picture: Picture) -> str:
        """Upload the picture as ``owner_id``'s file; its file id. PictureFailed when refused."""


@dataclass
class PictureJob:
    decision: int  # the decision that posted: its action log row gets the picture's trace
    owner_id: str  # the character's user id
    post: CreatePostCommand  # held back until the picture is ready
    request: PictureRequest
    task: asyncio.Task[str] | None = None  # the stored file's id
    timings: dict[str, float] = field(default_factory=dict)  # generate_ms, store_ms

    def outcome(self) -> tuple[list[str], dict[str, Any]]:
        """The post's image ids and what the trace says of the picture (the task is done)."""
        assert self.task is not None and self.task.done()
        trace: dict[str, Any] = {
            "prompt": self.request.prompt,
            "seed": self.request.seed,
            "size": f"{self.request.width}x{self.request.height}",
            "subject": self.request.moment.subject,
            **{name: round(ms, 1) for name, ms in self.timings.items()},
        }
        if self.task.cancelled():
            return [], {**trace, "status": "failed", "reason": "cancelled"}
        error = self.task.exception()
        if error is None:
            return [self.task.result()], {**trace, "status": "attached", "file_id": self.task.result()}
        reason = error.reason if isinstance(error, PictureFailed) else "error"
        return [], {**trace, "status": "failed", "reason": reason, "error": str(error)[:300]}


class PictureStudio:
    def __init__(
        self, backend: ImageBackend, store: PictureStore, *, concurrency: int, timeout_seconds: float
    ) -> None:
        self.backend = backend
        self.store = store
        self.timeout_seconds = timeout_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._jobs: list[PictureJob] = []  # in the order they were asked for
        self.attached = 0  # since this instance started: the operator's status
        self.failed: Counter[str] = Counter()  # by reason

    @property
    def instant(self) -> bool:
        return self.backend.name == "builtin"

    @property
    def waiting(self) -> int:
        return len(self._jobs)

    def order(self, job: PictureJob) -> None:
        job.task = asyncio.create_task(self._make(job), name=f"picture-{job.decision}")
        self._jobs.append(job)

    async def _make(self, job: PictureJob) -> str:
        async with self._slots:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self.timeout_seconds):
                    picture = await self.backend.generate(job.request)
            except TimeoutError:
                raise PictureFailed(
                    "timeout", f"no picture from {self.backend.name} within {self.timeout_seconds:g} s"
                ) from None
            finally:
                job.timings["generate_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        try:
            return await self.store.store(job.owner_id, picture)
        finally:
            job.timings["store_ms"] = (time.perf_counter() - started) * 1000

    def finished(self) -> list[PictureJob]:
        """The jobs done since the last call (made, or failed), in the order they were asked for."""
        done = [job for job in self._jobs if job.task is not None and job.task.done()]
        self._jobs = [job for job in self._jobs if job not in done]
        for job in done:
            if not job.task.cancelled() and (error := job.task.exception()) is not None:  # type: ignore[union-attr]
                log.warning("picture for decision %d failed: %s", job.decision, error)
                self.failed[error.reason if isinstance(error, PictureFailed) else "error"] += 1
            elif not job.task.cancelled():  # type: ignore[union-attr]
                self.attached += 1
        return done

    def status(self) -> dict[str, Any]:
        """The backend and how its pictures went since this instance started (the operator's status)."""
        return {
            "backend": self.backend.name,
            "waiting": len(self._jobs),
            "attached": self.attached,
            "failed": dict(self.failed),
        }

    async def wait(self) -> None:
        """Until every job on its way is done (each is bounded by the timeout and the store's)."""
        tasks = [job.task for job in self._jobs if job.task is not None]
        if tasks:
            await asyncio.wait(tasks)

    async def cancel(self) -> None:
        """Drop the jobs on their way (the engine stops leading): their posts are not sent."""
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            if job.task is not None:
                job.task.cancel()
        await asyncio.gather(*(job.task for job in jobs if job.task is not None), return_exceptions=True)

    async def aclose(self) -> None:
        await self.cancel()
        with contextlib.suppress(Exception):
            await self.backend.aclose()
