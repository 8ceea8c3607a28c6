"""LLM mode: how much of the configured LLM concurrency the simulator keeps busy.

The real engine with the policy the service builds (the LLM tier first, the rules behind it) against
the scripted OpenAI-compatible server, which answers every call with a valid decision after a fixed
latency. Ticks overlap as in the service: a tick ends once no more than the concurrency of its decisions
are still on their way, and the next tick's decisions take the slots they leave free. Busy share =
time-integral of LLM calls in flight / (wall time x configured concurrency).

Then once per server profile of the scripted server (OpenAI, DeepSeek, Ollama, vLLM, llama.cpp, LM
Studio, a thinking model, DeepSeek-R1 style reasoning, fenced answers, slow answers, bursts of 429 and
503), each answering in 2-5 s as a local model does: the busy share, the decisions that fell back to the
rules, and the tokens spent on answers thrown away (a format refused, an answer cut off in its
thinking or blank, asked again) beside all the tokens spent. The busy share is the steady state's: from
the first answer (until then, while the response format is negotiated, one decision at a time asks) to
the end of the time budget (the last tick's stragglers come after it). The room raised after an answer
is cut off is kept per character (so that a recorded run replays), so each of the town's characters
loses one answer to a thinking model before its answers get room enough.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from aic_simulator.app import build_policy
from aic_simulator.engine import Engine
from aic_simulator.testing_llm import PROFILES, ScriptedLlmServer
from bench.report import Result, Section
from bench.sim_agents import drive, prepare

TITLE = "Simulation (LLM mode)"
GOAL = 0.90
LATENCY_SECONDS = 0.2
CONCURRENCY = 8
# (agents, wall-clock budget in seconds) of a full run: a few decisions a tick, and many.
FULL_SIZES = ((1000, 45.0), (10_000, 45.0))
# Per server profile: a town large enough that each tick has more decisions than slots at 2-5 s a call.
PROFILE_LATENCY = (2.0, 5.0)
PROFILE_AGENTS = 1000
PROFILE_SECONDS = 45.0
QUICK_PROFILES = ("deepseek", "thinking")
FALLBACK_GOAL = 0.01
METHOD = (
    __doc__.split("\n\n", 1)[1].strip()
    + f" Latency {LATENCY_SECONDS * 1000:.0f} ms a call, concurrency {CONCURRENCY}; the reference is the "
    "configured concurrency itself (all slots busy all the time)."
)


async def measure(agents: int, budget_seconds: float, profile: str | None = None) -> dict[str, Any]:
    """A run of ``agents`` for ``budget_seconds``; against a server profile (2-5 s a call) or the plain
    scripted server (LATENCY_SECONDS a call)."""
    server_profile = dataclasses.replace(PROFILES[profile], latency=PROFILE_LATENCY) if profile else None
    with tempfile.TemporaryDirectory() as workdir:
        async with ScriptedLlmServer(
            latency=0 if profile else LATENCY_SECONDS, profile=server_profile
        ) as server:
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
                steady = asyncio.create_task(busy_once_settled(llm, time.perf_counter() + budget_seconds))
                elapsed = await drive(engine, settings.sim_start + timedelta(days=7), budget_seconds)
                stats = llm.stats()
                # Against a profile, the steady state: from the first answer (the format settled) to the
                # end of the budget; the plain server's runs keep measuring the whole run.
                busy = await steady if profile else llm.busy_fraction(elapsed)
                negotiated = llm.negotiation.current
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
        "tokens": stats["tokens"],
        "wasted_tokens": stats["wasted_tokens"],
        "format": negotiated,
    }


async def busy_once_settled(llm: Any, until: float) -> float:
    """The share of the slots kept busy from the moment the server's response format is settled (until
    then one decision at a time asks) to ``until`` (perf_counter time)."""
    while not llm.negotiation.settled and time.perf_counter() < until:  # noqa: ASYNC110 - no event to await
        await asyncio.sleep(0.01)
    started, busy_before = time.perf_counter(), llm.busy_seconds
    await asyncio.sleep(max(0.0, until - started))
    return (llm.busy_seconds - busy_before) / (max(time.perf_counter() - started, 1e-9) * llm.concurrency)


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
    for profile in QUICK_PROFILES if ctx.quick else tuple(PROFILES):
        result = asyncio.run(measure(PROFILE_AGENTS, 10.0 if ctx.quick else PROFILE_SECONDS, profile))
        section.results.append(profile_result(profile, result))
        print(section.results[-1].line(), flush=True)
    return section


def profile_result(profile: str, result: dict[str, Any]) -> Result:
    """One figure per server profile: the busy share, held to the goal with the fallbacks beside it."""
    busy = result["busy_fraction"]
    fallbacks = result["fallbacks"] / max(1, result["decisions"])
    wasted = result["wasted_tokens"] / max(1, result["tokens"])
    return Result(
        TITLE,
        f"{profile} server, 2-5 s a call: LLM slots kept busy",
        busy * CONCURRENCY,
        "slots",
        reference_name="configured concurrency",
        reference_value=float(CONCURRENCY),
        goal=f"above {GOAL:.0%} busy, fewer than {FALLBACK_GOAL:.0%} of decisions falling back",
        met=busy > GOAL and fallbacks < FALLBACK_GOAL,
        details=[
            f"{result['decisions']} decisions in {result['seconds']:.1f} s, "
            f"{result['llm_decisions']} by the LLM, {result['fallbacks']} ({fallbacks:.1%}) fell back; "
            f"{result['calls']} calls, {busy:.1%} busy",
            f"format {result['format']}; {result['tokens']:,} tokens, "
            f"{result['wasted_tokens']:,} ({wasted:.1%}) on answers thrown away",
        ],
    )
