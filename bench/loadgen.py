"""An HTTP load generator: open loop at a fixed rate, or closed loop at saturation.

Open loop: request ``i`` is due at ``start + i / rate`` whatever happened to the others, and its
latency counts from that scheduled time, so a stalled server is charged for the requests it kept
waiting (no coordinated omission). Closed loop: ``concurrency`` workers each send the next request
as soon as the last one answered; the throughput they reach is the saturation throughput.

A scenario is a picklable callable ``scenario(index, rng) -> Call``. :class:`LoadGenerator` runs the
loads in a process of its own, so that its CPU time can be measured apart from the system's (and so
that the benchmark's own bookkeeping does not share its event loop).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import random
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from aic_gateway.upstream_http import UpstreamTransport

Files = dict[str, tuple[str, bytes, str]]


@dataclass(frozen=True)
class Call:
    """One HTTP request; ``kind`` groups the figures of a mix."""

    method: str
    url: str
    kind: str = "request"
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    files: Files | None = None


Scenario = Callable[[int, random.Random], Call]


@dataclass(frozen=True)
class LoadSpec:
    mode: Literal["open", "closed"]
    seconds: float
    rate: float = 0.0  # open loop: requests per second
    concurrency: int = 16  # closed loop: workers
    warmup_seconds: float = 0.0  # requests started before this are sent but not counted
    timeout_seconds: float = 10.0
    max_outstanding: int = 2000  # open loop: past this many in flight, a due request is dropped (an error)
    seed: int = 1


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]


@dataclass
class KindStats:
    count: int
    errors: int
    p50_ms: float
    p99_ms: float


@dataclass
class LoadResult:
    mode: str
    target_rate: float
    concurrency: int
    seconds: float  # measured window
    completed: int  # answered with a status below 400
    errors: int  # status 400 and above, transport errors, timeouts, dropped
    error_kinds: dict[str, int]
    throughput: float  # completed per second of the measured window
    p50_ms: float
    p99_ms: float
    max_ms: float
    by_kind: dict[str, KindStats]
    loadgen_cpu_seconds: float  # CPU time of the load generator's process over the whole run
    wall_seconds: float

    @property
    def error_rate(self) -> float:
        total = self.completed + self.errors
        return self.errors / total if total else 0.0

    @property
    def loadgen_cores(self) -> float:
        """Cores the load generator kept busy on average (1.0 = one core)."""
        return self.loadgen_cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.error_by_kind: dict[str, int] = {}

    def ok(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)

    def error(self, kind: str, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1
        self.error_by_kind[kind] = self.error_by_kind.get(kind, 0) + 1

    def result(self, spec: LoadSpec, window: float, cpu: float, wall: float) -> LoadResult:
        every = sorted(v for values in self.latencies.values() for v in values)
        kinds = set(self.latencies) | set(self.error_by_kind)
        by_kind = {}
        for kind in sorted(kinds):
            values = sorted(self.latencies.get(kind, []))
            by_kind[kind] = KindStats(
                len(values),
                self.error_by_kind.get(kind, 0),
                percentile(values, 0.50) * 1000,
                percentile(values, 0.99) * 1000,
            )
        return LoadResult(
            mode=spec.mode,
            target_rate=spec.rate,
            concurrency=spec.concurrency,
            seconds=window,
            completed=len(every),
            errors=sum(self.errors.values()),
            error_kinds=dict(self.errors),
            throughput=len(every) / window if window else 0.0,
            p50_ms=percentile(every, 0.50) * 1000,
            p99_ms=percentile(every, 0.99) * 1000,
            max_ms=(every[-1] * 1000) if every else 0.0,
            by_kind=by_kind,
            loadgen_cpu_seconds=cpu,
            wall_seconds=wall,
        )


async def send(client: UpstreamTransport, call: Call, timeout_seconds: float) -> httpx.Response:
    timeout = dict.fromkeys(("connect", "read", "write", "pool"), timeout_seconds)
    request = httpx.Request(
        call.method,
        call.url,
        headers=call.headers,
        json=call.json,
        files=call.files,
        extensions={"timeout": timeout},
    )
    response = await client.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


async def _timed(
    client: UpstreamTransport, call: Call, since: float, recorder: _Recorder | None, timeout_seconds: float
) -> None:
    """Send ``call``; charge its latency from ``since`` (the scheduled or the sending time)."""
    try:
        response = await send(client, call, timeout_seconds)
    except httpx.TimeoutException:
        if recorder:
            recorder.error(call.kind, "timeout")
        return
    except httpx.HTTPError as exc:
        if recorder:
            recorder.error(call.kind, type(exc).__name__)
        return
    if recorder is None:
        return
    if response.status_code >= 400:
        recorder.error(call.kind, f"status {response.status_code}")
    else:
        recorder.ok(call.kind, time.perf_counter() - since)


async def _open_loop(
    client: UpstreamTransport, scenario: Scenario, spec: LoadSpec, recorder: _Recorder
) -> None:
    rng = random.Random(spec.seed)
    total = int(spec.rate * (spec.warmup_seconds + spec.seconds))
    start = time.perf_counter() + 0.05
    counted_from = start + spec.warmup_seconds
    in_flight: set[asyncio.Task[None]] = set()
    for index in range(total):
        scheduled = start + index / spec.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        call = scenario(index, rng)
        counted = recorder if scheduled >= counted_from else None
        if len(in_flight) >= spec.max_outstanding:
            if counted:
                counted.error(call.kind, "dropped: too many in flight")
            continue
        task = asyncio.create_task(_timed(client, call, scheduled, counted, spec.timeout_seconds))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=spec.timeout_seconds + 1)


async def _closed_loop(
    client: UpstreamTransport, scenario: Scenario, spec: LoadSpec, recorder: _Recorder
) -> None:
    start = time.perf_counter()
    counted_from = start + spec.warmup_seconds
    deadline = counted_from + spec.seconds
    counter = iter(range(10**12))

    async def worker(number: int) -> None:
        rng = random.Random(spec.seed * 1000 + number)
        while (now := time.perf_counter()) < deadline:
            counted = recorder if now >= counted_from else None
            await _timed(client, scenario(next(counter), rng), now, counted, spec.timeout_seconds)

    await asyncio.gather(*(worker(n) for n in range(spec.concurrency)))


async def run_load(scenario: Scenario, spec: LoadSpec) -> LoadResult:
    """Run one load in this process's event loop."""
    recorder = _Recorder()
    # The gateway's own HTTP/1.1 transport, called directly: httpx's client and pool cost the load
    # generator 1.4 ms of CPU a request on the cores it shares with the system it measures.
    connections = spec.concurrency if spec.mode == "closed" else spec.max_outstanding
    client = UpstreamTransport(max_connections=connections, idle_seconds=60.0)
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    try:
        if spec.mode == "open":
            await _open_loop(client, scenario, spec, recorder)
        else:
            await _closed_loop(client, scenario, spec, recorder)
    finally:
        await client.aclose()
    cpu, wall = time.process_time() - cpu_started, time.perf_counter() - wall_started
    return recorder.result(spec, spec.seconds, cpu, wall)


def _run_load_blocking(scenario: Scenario, spec: LoadSpec) -> LoadResult:
    try:
        import uvloop

        uvloop.install()  # the cheaper loop leaves more of the machine to the system under test
    except ImportError:
        pass
    return asyncio.run(run_load(scenario, spec))


class LoadGenerator:
    """Runs loads in one worker process (spawned once, reused). A context manager."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LoadGenerator:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self, scenario: Scenario, spec: LoadSpec) -> LoadResult:
        if self._pool is None:
            raise RuntimeError("use LoadGenerator as a context manager")
        budget = spec.warmup_seconds + spec.seconds + spec.timeout_seconds + 60
        return self._pool.submit(_run_load_blocking, scenario, spec).result(timeout=budget)

    @property
    def pid(self) -> int | None:
        """The worker's process id, once it has started (after the first run)."""
        if self._pool is None:
            return None
        processes = getattr(self._pool, "_processes", None) or {}
        return next(iter(processes), None)
