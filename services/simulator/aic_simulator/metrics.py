"""The simulator's ``aic_sim_*`` metrics: leadership, the simulated clock, and who decides.

Everything is read at scrape time from what the simulation already keeps in memory (no query): whether
this instance leads, whether its engine runs, where the simulated clock stands and when it last moved,
and counters of the decisions by the tier that made them and of the fallbacks by tier and reason.
The counters live in :class:`DecisionCounts`, which outlives an engine (a standby that takes over
carries on counting), so they only ever grow within a process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from aic_simulator.policy import DecisionTrace
    from aic_simulator.runner import Simulation

# A fallback's reason is free text ("HTTP 500 after 3 attempts", "invalid output: action 'fly' not
# offered"); the metric labels it with its kind, so that the label's values stay few.
FALLBACK_KINDS = (
    ("timeout", "timeout"),
    ("invalid output", "invalid_output"),
    ("invalid response", "invalid_response"),
    ("refused", "refused"),
    ("no options", "no_options"),
    ("error:", "error"),
)


def fallback_kind(reason: str) -> str:
    """The kind of a tier's failure: timeout, invalid_output, invalid_response, refused, no_options,
    http_error (the server answered an error status), unreachable (no answer after the retries), error
    (an exception) or other."""
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


def register_metrics(simulation: Simulation, registry: CollectorRegistry) -> None:
    registry.register(SimulatorCollector(simulation))
