"""Gateway overhead: the same requests straight to the service and through the gateway, side by side.

Three endpoints: a light one (a profile), the home feed, and a 1 MB image upload. Each is measured at
saturation (closed loop) and at a fixed rate (open loop, half the direct saturation throughput), first
straight to the service and then through the gateway, with the same people and the same load generator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.harness import Context, latency_line, noise_jpeg
from bench.loadgen import Call, LoadResult, LoadSpec
from bench.report import Result, Section

TITLE = "Gateway overhead"
METHOD = (
    "The same requests straight to the owning service and through the gateway (JWT check, rate limits in "
    "Redis, streaming proxy), on the real topology with the seeded data set. Saturation: a closed loop of "
    "workers; fixed rate: an open loop at half the direct saturation throughput, latency counted from each "
    "request's scheduled time. The load generator runs in a process of its own; its CPU share is given."
)
FEED_GOAL = 0.80


@dataclass(frozen=True)
class Endpoint:
    """GET one of a few people's profiles, GET their home feed, or POST a 1 MB image."""

    base_url: str
    kind: str  # "light" | "feed" | "upload"
    tokens: tuple[str, ...]
    usernames: tuple[str, ...]
    image: bytes = b""

    @property
    def service(self) -> str:
        return SERVICE_OF[self.kind]

    def __call__(self, index: int, rng: random.Random) -> Call:
        headers = {"Authorization": f"Bearer {self.tokens[index % len(self.tokens)]}"}
        if self.kind == "light":
            username = self.usernames[rng.randrange(len(self.usernames))]
            return Call("GET", f"{self.base_url}/api/users/{username}", self.kind, headers)
        if self.kind == "feed":
            return Call("GET", f"{self.base_url}/api/feed/home?limit=20", self.kind, headers)
        files = {"file": (f"photo{index}.jpg", self.image, "image/jpeg")}
        return Call("POST", f"{self.base_url}/api/files", self.kind, headers, files=files)


SERVICE_OF = {"light": "social", "feed": "social", "upload": "files"}
LABEL = {"light": "light request (GET a profile)", "feed": "home feed", "upload": "1 MB image upload"}
CONCURRENCY = {"light": 16, "feed": 16, "upload": 4}


def run(ctx: Context) -> Section:
    section = Section("gateway", TITLE, METHOD)
    stack = ctx.stack
    people = stack.humans(40 if ctx.quick else 200)
    tokens = tuple(stack.token(p) for p in people)
    usernames = tuple(p.username for p in people)
    image = noise_jpeg(1_000_000)
    for kind in ("light", "feed", "upload"):
        service = SERVICE_OF[kind]
        endpoints = {
            "direct": Endpoint(
                stack.url(service), kind, tokens, usernames, image if kind == "upload" else b""
            ),
            "gateway": Endpoint(
                stack.url("gateway"), kind, tokens, usernames, image if kind == "upload" else b""
            ),
        }

        def load(
            target: str, spec: LoadSpec, endpoint_of: dict[str, Endpoint] = endpoints
        ) -> tuple[LoadResult, str]:
            result, cpu = ctx.measure(endpoint_of[target], spec, [endpoint_of["direct"].service, "gateway"])
            return result, f"{target}: {latency_line(result)}; {cpu.summary(result.throughput)}"

        saturation = LoadSpec(
            "closed", seconds=ctx.seconds(15), concurrency=CONCURRENCY[kind], warmup_seconds=ctx.warmup()
        )
        direct, direct_line = load("direct", saturation)
        gateway, gateway_line = load("gateway", saturation)
        rate = max(1.0, round(direct.throughput * 0.5))
        fixed = LoadSpec("open", seconds=ctx.seconds(15), rate=rate, warmup_seconds=ctx.warmup())
        direct_fixed, direct_fixed_line = load("direct", fixed)
        gateway_fixed, gateway_fixed_line = load("gateway", fixed)

        goal = f"gateway keeps at least {FEED_GOAL:.0%} of the direct throughput" if kind == "feed" else ""
        ratio = gateway.throughput / direct.throughput if direct.throughput else 0.0
        section.results.append(
            Result(
                TITLE,
                f"{LABEL[kind]}: saturation throughput through the gateway",
                gateway.throughput,
                "req/s",
                reference_name=f"straight to {service}",
                reference_value=direct.throughput,
                goal=goal,
                met=(ratio >= FEED_GOAL and gateway.error_rate < 0.01) if kind == "feed" else None,
                details=[
                    f"saturation, {CONCURRENCY[kind]} workers — {direct_line}",
                    f"saturation, {CONCURRENCY[kind]} workers — {gateway_line}",
                    f"added at saturation: p50 +{gateway.p50_ms - direct.p50_ms:.1f} ms, "
                    f"p99 +{gateway.p99_ms - direct.p99_ms:.1f} ms",
                    f"fixed rate {rate:.0f} req/s — {direct_fixed_line}",
                    f"fixed rate {rate:.0f} req/s — {gateway_fixed_line}",
                    f"added at {rate:.0f} req/s: p50 +{gateway_fixed.p50_ms - direct_fixed.p50_ms:.1f} ms, "
                    f"p99 +{gateway_fixed.p99_ms - direct_fixed.p99_ms:.1f} ms",
                ],
            )
        )
        print(section.results[-1].line(), flush=True)
    return section
