"""What every benchmark gets: the run's mode, the load generator, the stack, and a way to measure a load."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from typing import Any

from bench.loadgen import LoadGenerator, LoadResult, LoadSpec, Scenario
from bench.machine import CpuMeter, CpuShare
from bench.topology import BenchStack

# The seeded data set of the issue: 5 000 people, 100 000 posts; a quick run seeds a sliver of it.
FULL_USERS, FULL_POSTS = 5000, 100_000
QUICK_USERS, QUICK_POSTS = 60, 600


@dataclass
class Context:
    quick: bool
    loadgen: LoadGenerator
    _stack: BenchStack | None = None
    _closers: list[Any] = field(default_factory=list)

    def seconds(self, full: float) -> float:
        """A measuring window: ``full`` seconds, or a sliver of it in a quick run."""
        return min(1.0, full) if self.quick else full

    def warmup(self, full: float = 3.0) -> float:
        return 0.2 if self.quick else full

    @property
    def stack(self) -> BenchStack:
        """The running stack, started on first use and stopped by :meth:`close`."""
        if self._stack is None:
            users, posts = (QUICK_USERS, QUICK_POSTS) if self.quick else (FULL_USERS, FULL_POSTS)
            print(f"starting the stack ({users} people, {posts} posts)...", flush=True)
            self._stack = BenchStack(users=users, posts=posts, quick=self.quick).start()
        return self._stack

    def close(self) -> None:
        if self._stack is not None:
            self._stack.stop()
            self._stack = None

    def measure(
        self, scenario: Scenario, spec: LoadSpec, processes: list[str]
    ) -> tuple[LoadResult, CpuShare]:
        """Run a load and, meanwhile, how much CPU the named stack processes and the load generator used."""
        if self.loadgen.pid is None:  # spawn the worker before measuring, so its start-up is not counted
            self.loadgen.run(scenario, LoadSpec("closed", seconds=0.2, concurrency=1))
        pids = {name: self.stack.pids()[name] for name in processes}
        meter = CpuMeter({**pids, "load generator": self.loadgen.pid}).start()
        result = self.loadgen.run(scenario, spec)
        return result, meter.stop()


def latency_line(result: LoadResult) -> str:
    errors = f", {result.errors} errors {result.error_kinds}" if result.errors else ""
    return (
        f"{result.throughput:,.1f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms "
        f"({result.completed} requests{errors})"
    )


def noise_jpeg(min_bytes: int, seed: int = 1) -> bytes:
    """A JPEG of random pixels, just over ``min_bytes``: it compresses as badly as a detailed photo."""
    from PIL import Image

    rng = random.Random(seed)
    side = 256
    while True:
        image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        if buffer.tell() >= min_bytes:
            return buffer.getvalue()
        side = int(side * 1.2)
