"""The simulator's ``aic_sim_*`` metrics: leadership, the simulated clock, who decides, and the LLM.

Everything is read at scrape time from what the simulation already keeps in memory (no query): whether
this instance leads, whether its engine runs, where the simulated clock stands and when it last moved,
and counters of the decisions by the tier that made them and of the fallbacks by tier and reason.
The counters live in :class:`DecisionCounts`, which outlives an engine (a standby that takes over
carries on counting), so they only ever grow within a process. With an LLM tier, ``aic_sim_llm_*``
say what it costs and how its server answers (labelled by server and model): tokens in, out and
wasted, calls by outcome, call latency, slots in use and waited for, tokens of the simulated day, the
response format in use, and plans that fell back by reason.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from aic_simulator.llm_server import LATENCY_BUCKETS

if TYPE_CHECKING:
    from aic_simulator.llm import LlmPolicy
    from aic_simulator.policy import DecisionTrace
    from aic_simulator.runner import Simulation

# A fallback's reason is free text ("HTTP 500 after 3 attempts", "invalid output: action 'fly' not
# offered"); the metric labels it with its kind, so that the label's values stay few.
FALLBACK_KINDS = (
    ("timeout", "timeout"),
    ("queued", "queued"),  # waited too long for a free slot
    ("token budget", "budget"),
    ("invalid output", "invalid_output"),
    ("invalid response", "invalid_response"),
    ("refused", "refused"),
    ("invalid plan", "invalid_output"),
    ("not recorded", "not_recorded"),
    ("no options", "no_options"),
    ("error:", "error"),
)


def fallback_kind(reason: str) -> str:
    """The kind of a tier's failure: timeout, queued (no free slot in time), budget (the day's tokens
    spent), invalid_output, invalid_response, refused, no_options, not_recorded (a replay without that
    answer), http_error (the server answered an error status), unreachable (no answer after the retries),
    error (an exception) or other."""
    for prefix, kind in FALLBACK_KINDS:
        if reason.startswith(prefix):
            return kind
    if reason.startswith("HTTP "):
        return "http_error"
    if " after " in reason and reason.endswith(" attempts"):
        return "unreachable"  # a transport error on every attempt ("ConnectError after 3 attempts")
    return "other"


class DecisionCounts:
    """Decisions by deciding tier, and tiers skipped by (tier, reason kind)."""

    def __init__(self) -> None:
        self.decided: Counter[str] = Counter()
        self.fallbacks: Counter[tuple[str, str]] = Counter()

    def record(self, trace: DecisionTrace) -> None:
        self.decided[trace.tier] += 1
        for failed in trace.detail.get("fallbacks", ()):
            self.fallbacks[(str(failed.get("tier")), fallback_kind(str(failed.get("reason", ""))))] += 1


def _unix_seconds(moment: datetime) -> float:
    # Simulated time is kept as naive UTC, like every stored time.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class SimulatorCollector(Collector):
    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation

    def collect(self) -> Iterator[Metric]:
        simulation = self.simulation
        engine = simulation.engine
        yield GaugeMetricFamily(
            "aic_sim_leader",
            "1 when this instance leads the simulation, 0 on standby",
            value=int(engine is not None),
        )
        running = engine is not None and engine.world.state == "running"
        yield GaugeMetricFamily(
            "aic_sim_running", "1 when this instance leads and the simulation runs", value=int(running)
        )
        clock = GaugeMetricFamily(
            "aic_sim_clock_seconds", "The simulated time (Unix seconds) of the leading instance"
        )
        advanced = GaugeMetricFamily(
            "aic_sim_clock_advanced_timestamp_seconds",
            "Wall time (Unix seconds) the leading instance last moved the simulated clock",
        )
        if engine is not None:
            clock.add_metric([], _unix_seconds(engine.world.sim_time))
            advanced.add_metric([], engine.clock_advanced_at)
        yield clock
        yield advanced
        counts = simulation.decision_counts
        decided = CounterMetricFamily(
            "aic_sim_decisions", "Decisions applied, by the tier that made them", labels=["tier"]
        )
        for tier, count in sorted(counts.decided.items()):
            decided.add_metric([tier], count)
        yield decided
        fallbacks = CounterMetricFamily(
            "aic_sim_fallbacks",
            "Decisions a tier could not make (the next tier made them), by tier and kind of reason",
            labels=["tier", "reason"],
        )
        for (tier, reason), count in sorted(counts.fallbacks.items()):
            fallbacks.add_metric([tier, reason], count)
        yield fallbacks
        from aic_simulator.llm import llm_tier  # here: llm imports this module

        llm = llm_tier(getattr(simulation, "policy", None))
        if llm is not None:
            yield from llm_metrics(llm)


def llm_metrics(llm: LlmPolicy) -> Iterator[Metric]:
    """The LLM tier's ``aic_sim_llm_*`` metrics, labelled by its server and model."""
    usage, names = llm.usage, ["server", "model"]
    server = [llm.server, llm.model]
    tokens = CounterMetricFamily(
        "aic_sim_llm_tokens",
        "Tokens the LLM server counted, by direction (in: prompt, out: completion)",
        labels=[*names, "direction"],
    )
    tokens.add_metric([*server, "in"], usage.prompt_tokens)
    tokens.add_metric([*server, "out"], usage.completion_tokens)
    yield tokens
    wasted = CounterMetricFamily(
        "aic_sim_llm_wasted_tokens",
        "Tokens spent on answers thrown away (asked again, or fell back)",
        labels=names,
    )
    wasted.add_metric(server, usage.wasted_tokens)
    yield wasted
    calls = CounterMetricFamily(
        "aic_sim_llm_calls",
        "HTTP calls to the LLM server, by outcome (status code, or transport)",
        labels=[*names, "outcome"],
    )
    for outcome, count in sorted(usage.calls.items()):
        calls.add_metric([*server, outcome], count)
    yield calls
    latency = HistogramMetricFamily(
        "aic_sim_llm_call_latency_seconds", "How long each HTTP call to the LLM server took", labels=names
    )
    cumulative, buckets = 0, []
    for bound, count in zip(LATENCY_BUCKETS, usage.latency_buckets, strict=True):
        cumulative += count
        buckets.append(("+Inf" if math.isinf(bound) else f"{bound:g}", cumulative))
    latency.add_metric(server, buckets, usage.latency_sum)
    yield latency
    slots = GaugeMetricFamily(
        "aic_sim_llm_slots",
        "LLM slots: configured, in use, and decisions waiting for one",
        labels=[*names, "state"],
    )
    slots.add_metric([*server, "configured"], llm.concurrency)
    slots.add_metric([*server, "in_use"], llm.in_flight)
    slots.add_metric([*server, "waiting"], llm.queued)
    yield slots
    today = GaugeMetricFamily(
        "aic_sim_llm_tokens_today",
        "Tokens spent on the current simulated day (the budgets count these)",
        labels=names,
    )
    today.add_metric(server, llm.budget.spent)
    yield today
    format_in_use = GaugeMetricFamily(
        "aic_sim_llm_response_format",
        "1 for the response format the LLM tier uses with its server",
        labels=[*names, "format"],
    )
    format_in_use.add_metric([*server, llm.negotiation.current], 1)
    yield format_in_use
    plans = CounterMetricFamily(
        "aic_sim_llm_plan_fallbacks",
        "Plans the LLM could not write (the rule plan stood), by kind of reason",
        labels=[*names, "reason"],
    )
    for (call, reason), count in sorted(usage.failures.items()):
        if call == "plan":
            plans.add_metric([*server, reason], count)
    yield plans


def register_metrics(simulation: Simulation, registry: CollectorRegistry) -> None:
    registry.register(SimulatorCollector(simulation))
