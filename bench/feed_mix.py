"""Feed: a DeathStarBench-style mix through the gateway at stepped rates, on the seeded data set.

60 % home timeline, 30 % user timeline, 10 % compose. Each step is an open loop at a fixed rate; the
figure is the highest rate whose p99 stays under 100 ms with under 1 % errors.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.harness import Context, latency_line
from bench.loadgen import Call, LoadSpec
from bench.report import Result, Section

TITLE = "Feed"
P99_LIMIT_MS = 100.0
GOAL_RATE = 300.0
FULL_STEPS = (25, 50, 100, 150, 200, 250, 300, 400, 500)
QUICK_STEPS = (10, 20)
METHOD = (
    "The seeded data set through the gateway: 60 % home timeline (`GET /api/feed/home`), 30 % user timeline "
    "(`GET /api/users/{name}/posts`), 10 % compose (`POST /api/posts`), as people chosen at random among "
    "a few hundred. Open-loop steps of rising rate, latency counted from each request's scheduled time; "
    f"the figure is the highest step with p99 under {P99_LIMIT_MS:.0f} ms and under 1 % errors. The "
    "reference is the same mix at saturation (closed loop, 32 workers)."
)


@dataclass(frozen=True)
class FeedMix:
    base_url: str
    tokens: tuple[str, ...]
    usernames: tuple[str, ...]  # whose timelines are read: anyone in the data set

    def __call__(self, index: int, rng: random.Random) -> Call:
        headers = {"Authorization": f"Bearer {self.tokens[rng.randrange(len(self.tokens))]}"}
        draw = rng.random()
        if draw < 0.6:
            return Call("GET", f"{self.base_url}/api/feed/home?limit=20", "home timeline", headers)
        if draw < 0.9:
            username = self.usernames[rng.randrange(len(self.usernames))]
            return Call(
                "GET", f"{self.base_url}/api/users/{username}/posts?limit=20", "user timeline", headers
            )
        content = f"bench post {index}: 今天的咖啡很好喝 #coffee"
        return Call("POST", f"{self.base_url}/api/posts", "compose", headers, json={"content": content})


def run(ctx: Context) -> Section:
    section = Section("feed", TITLE, METHOD)
    stack = ctx.stack
    people = stack.humans(40 if ctx.quick else 500)
    mix = FeedMix(
        stack.url("gateway"),
        tuple(stack.token(p) for p in people),
        tuple(p.username for p in stack.people),
    )
    processes = ["gateway", "social"]
    saturation, saturation_cpu = ctx.measure(
        mix,
        LoadSpec("closed", seconds=ctx.seconds(15), concurrency=32, warmup_seconds=ctx.warmup()),
        processes,
    )
    details = [
        f"saturation, 32 workers: {latency_line(saturation)}; {saturation_cpu.summary(saturation.throughput)}"
    ]
    best = 0.0
    for rate in QUICK_STEPS if ctx.quick else FULL_STEPS:
        spec = LoadSpec("open", seconds=ctx.seconds(20), rate=rate, warmup_seconds=ctx.warmup())
        result, cpu = ctx.measure(mix, spec, processes)
        kinds = "; ".join(
            f"{kind} p50 {stats.p50_ms:.0f} / p99 {stats.p99_ms:.0f} ms"
            for kind, stats in result.by_kind.items()
        )
        passed = result.p99_ms < P99_LIMIT_MS and result.error_rate < 0.01
        details.append(
            f"{rate} req/s: {latency_line(result)} — {'ok' if passed else 'over the limit'}; {kinds}; "
            f"{cpu.summary(result.throughput)}"
        )
        print(f"  feed step {details[-1]}", flush=True)
        if not passed:
            break
        best = float(rate)
    section.results.append(
        Result(
            TITLE,
            f"highest rate with p99 < {P99_LIMIT_MS:.0f} ms (60/30/10 mix)",
            best,
            "req/s",
            reference_name="the same mix at saturation",
            reference_value=saturation.throughput,
            goal=f"at least {GOAL_RATE:.0f} req/s on 2 cores",
            met=best >= GOAL_RATE,
            details=details,
        )
    )
    print(section.results[-1].line(), flush=True)
    return section
