"""LLM mode: how much of the configured LLM concurrency the simulator keeps busy.

The real engine with the policy the service builds (the LLM tier first, the rules behind it) against
the scripted OpenAI-compatible server, which answers every call with a valid decision after a fixed
latency. Ticks overlap as in the service: a tick ends once no more than the concurrency of its decisions
are still on their way, and the next tick's decisions take the slots they leave free. Busy share =
time-integral of LLM calls in flight / (wall time x configured concurrency).
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from aic_simulator.app import build_policy
from aic_simulator.engine import Engine
from aic_simulator.testing_llm import ScriptedLlmServer
from bench.report import Result, Section
from bench.sim_agents import drive, prepare

TITLE = "Simulation (LLM mode)"
GOAL = 0.90
LATENCY_SECONDS = 0.2
CONCURRENCY = 8
# (agents, wall-clock budget in seconds) of a full run: a few decisions a tick, and many.
FULL_SIZES = ((1000, 45.0), (10_000, 45.0))
METHOD = (
    __doc__.split("\n\n", 1)[1].strip()
    + f" Latency {LATENCY_SECONDS * 1000:.0f} ms a call, concurrency {CONCURRENCY}; the reference is the "
    "configured concurrency itself (all slots busy all the time)."
)


async def measure(agents: int, budget_seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        async with ScriptedLlmServer(latency=LATENCY_SECONDS) as server:
            settings, store, engine_db = prepare(
                agents,
                Path(workdir),
                llm_base_url=server.base_url,
                llm_model=server.model,
                llm_concurrency=CONCURRENCY,
                decision_timeout_seconds=30.0,
            )
            policy = build_policy(settings)
            llm = policy.tiers[0]
            world = store.load(settings.seed, 0, settings.sim_start, settings.memory_limit)
            engine = Engine(settings, store, policy, world)
            try:
                llm.reset_stats()
                elapsed = await drive(engine, settings.sim_start + timedelta(days=7), budget_seconds)
                stats = llm.stats()
                busy = llm.busy_fraction(elapsed)
                await engine.settle()  # the last tick's stragglers, applied after the measured time
            finally:
                await llm.aclose()
                engine_db.dispose()
    return {
        "agents": agents,
        "seconds": elapsed,
        "busy_fraction": busy,
        "decisions": world.decisions,
        "llm_decisions": engine.tier_counts.get("llm", 0),
        "fallbacks": engine.fallbacks,
        "calls": stats["calls"],
        "max_in_flight": stats["max_in_flight"],
        "steps": world.steps,
    }


def run(ctx: Any) -> Section:
    section = Section("simulation-llm", TITLE, METHOD)
    ideal = CONCURRENCY / LATENCY_SECONDS
    for agents, budget in ((300, 3.0),) if ctx.quick else FULL_SIZES:
        result = asyncio.run(measure(agents, budget))
        busy = result["busy_fraction"]
        per_tick = result["decisions"] / max(1, result["steps"])
        section.results.append(
            Result(
                TITLE,
                f"{agents:,} agents: LLM slots kept busy",
                busy * CONCURRENCY,
                "slots",
                reference_name="configured concurrency",
                reference_value=float(CONCURRENCY),
                goal=f"above {GOAL:.0%} of the configured concurrency",
                met=busy > GOAL,
                details=[
                    f"{result['seconds']:.1f} s of wall time, {result['steps']} ticks, "
                    f"{per_tick:.1f} decisions "
                    f"a tick: {result['calls']} LLM calls = {result['calls'] / result['seconds']:.1f}/s "
                    f"(all slots busy would be {ideal:.0f}/s), {busy:.1%} busy, "
                    f"at most {result['max_in_flight']} in flight",
                    f"{result['decisions']} decisions, {result['llm_decisions']} by the LLM tier, "
                    f"{result['fallbacks']} fell back to the rules",
                ],
            )
        )
        print(section.results[-1].line(), flush=True)
    return section
