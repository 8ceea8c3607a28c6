"""Rule-based agents for one simulated day: decisions per second and memory per agent.

    python -m bench.sim_agents                              # 1 000 and 10 000 agents
    python -m bench.sim_agents --agents 1000 10000 100000 --hours 24 --budget 120

Each size runs the real engine (perceive, decide, act, remember, checkpoint to SQLite) in a process of
its own, one after the other, so that one size's memory does not count against the next. A run stops
at the end of the simulated span or when its wall-clock budget is spent, whichever comes first; the
simulated hours it covered are reported with it. Memory per agent is the growth of the process's
resident memory from before the world is loaded to the end of the run, divided by the agents
(``--tracemalloc`` counts Python allocations instead, at a large cost in speed).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from aic_common.bus import Outbox
from aic_common.db import create_db_engine, create_session_factory
from aic_common.migrations import upgrade
from aic_simulator.engine import Engine
from aic_simulator.models import Agent
from aic_simulator.rules import RulePolicy
from aic_simulator.settings import SimulatorSettings
from aic_simulator.store import SimStore
from aic_simulator.world import load_world_file, seed_world

REPO = Path(__file__).resolve().parent.parent
TITLE = "Simulation (rule-based)"
METHOD = (
    "The real engine (perceive, decide with the rule-based policy, act, remember, checkpoint to SQLite "
    "once a wall-clock second) as fast as it runs, for one simulated day from 07:00, each size in a fresh "
    "process. A size stops at the end of the day or when its wall-clock budget is spent: then it covered "
    "fewer "
    "simulated hours, said next to it, and the time a whole day would take is extrapolated from the rate "
    "(labelled so). Memory per agent: growth of resident memory from before the world is loaded to the end, "
    "divided by the agents. The reference of each size is the 1 000-agent run."
)
# (agents, wall-clock budget in seconds) of a full run.
FULL_SIZES = ((1000, 120.0), (10_000, 150.0), (100_000, 240.0))


def populate(session_factory, world: dict, agents: int, start) -> None:
    """The world file's places and events, and ``agents`` characters cloned from its personas."""
    seed_world(session_factory, Outbox("bench"), {**world, "characters": []}, start)
    templates = world["characters"]
    rows = []
    for i in range(agents):
        template = templates[i % len(templates)]
        rows.append(
            {
                "id": f"a{i:06d}",
                "username": f"bench_{i:06d}",
                "display_name": f"{template['display_name']}{i}",
                "user_id": None,
                "persona": {**template["persona"], "language": template.get("language", "zh")},
                "home_id": template["home_id"],
                "location_id": template["home_id"],
                "energy": 0.8,
                "sociability": 0.5,
                "mood": 0.2,
                "current_action": None,
                "current_decision": None,
                # Wakes on whole minutes, as the engine schedules them: agents share ticks.
                "next_wake_at": start + timedelta(minutes=(i * 37) % 60),
                "importance_since_reflection": 0.0,
                "memory_seq": 0,
            }
        )
    with session_factory.begin() as session:
        for chunk in range(0, len(rows), 5000):
            session.execute(sa.insert(Agent), rows[chunk : chunk + 5000])


def resident_bytes() -> int:
    """The process's resident memory now (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def prepare(agents: int, workdir: Path, **settings_overrides: Any) -> tuple[SimulatorSettings, SimStore, Any]:
    """A migrated SQLite database with the world and ``agents`` characters; the store leads it."""
    url = f"sqlite:///{workdir / f'sim_{agents}.db'}"
    settings = SimulatorSettings(
        data_dir=workdir, database_url=url, publish_action_events=False, speed=0, **settings_overrides
    )
    upgrade("aic_simulator:migrations", url)
    engine_db = create_db_engine(url)
    session_factory = create_session_factory(engine_db)
    populate(session_factory, load_world_file(settings.world_file), agents, settings.sim_start)
    store = SimStore(session_factory, Outbox("bench"), "bench")
    assert store.try_lead(timedelta(hours=1))
    return settings, store, engine_db


async def drive(engine: Engine, end: datetime, budget_seconds: float | None) -> float:
    """Step until simulated ``end`` or until the budget is spent; returns the wall seconds it took."""
    world, settings = engine.world, engine.settings
    started = last_checkpoint = time.perf_counter()
    deadline = started + budget_seconds if budget_seconds else None
    while world.sim_time < end and (deadline is None or time.perf_counter() < deadline):
        # As a running simulator does: refresh and checkpoint once a second of wall time.
        due = time.perf_counter() - last_checkpoint >= settings.checkpoint_seconds
        await engine.step(refresh=due, checkpoint=due)
        if due:
            last_checkpoint = time.perf_counter()
    await engine.checkpoint()
    return time.perf_counter() - started


async def run_day(
    agents: int, hours: float, workdir: Path, *, budget_seconds: float | None = None, trace: bool = True
) -> dict[str, float]:
    settings, store, engine_db = prepare(agents, workdir)
    gc.collect()
    resident_before = resident_bytes()
    if trace:
        tracemalloc.start()
    world = store.load(settings.seed, 0, settings.sim_start, settings.memory_limit)
    engine = Engine(settings, store, RulePolicy(settings.seed), world)
    elapsed = await drive(engine, settings.sim_start + timedelta(hours=hours), budget_seconds)
    if trace:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    else:
        current = peak = resident_bytes() - resident_before
    engine_db.dispose()
    return {
        "agents": agents,
        "decisions": world.decisions,
        "steps": world.steps,
        "seconds": elapsed,
        "simulated_hours": (world.sim_time - settings.sim_start).total_seconds() / 3600,
        "decisions_per_second": world.decisions / elapsed,
        "bytes_per_agent": current / agents,
        "peak_bytes_per_agent": peak / agents,
    }


def run_in_subprocess(agents: int, hours: float, budget_seconds: float | None) -> dict[str, float]:
    """One size in a fresh interpreter, so its memory is its own."""
    command = [
        sys.executable,
        "-m",
        "bench.sim_agents",
        "--json",
        "--agents",
        str(agents),
        "--hours",
        str(hours),
    ]
    if budget_seconds:
        command += ["--budget", str(budget_seconds)]
    timeout = (budget_seconds or 3600) + 600  # populating and loading the world come on top of the budget
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"the {agents}-agent run failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def describe(result: dict[str, float], hours: float) -> str:
    covered = result["simulated_hours"]
    span = (
        f"{covered:.1f} of {hours:g} simulated hours"
        if covered < hours - 1e-6
        else f"{hours:g} simulated hours"
    )
    return (
        f"{int(result['agents']):>7} agents, {span}: {int(result['decisions']):>8} decisions in "
        f"{result['seconds']:.1f} s = {result['decisions_per_second']:,.0f} decisions/s; "
        f"memory {result['bytes_per_agent'] / 1024:.1f} KiB/agent"
    )


def run(ctx: Any) -> Any:
    from bench.report import Result, Section

    section = Section("simulation", TITLE, METHOD)
    hours = 1.0 if ctx.quick else 24.0
    sizes = ((200, 10.0),) if ctx.quick else FULL_SIZES
    base: dict[str, float] | None = None
    for agents, budget in sizes:
        result = run_in_subprocess(agents, hours, budget)
        print(f"  {describe(result, hours)}", flush=True)
        base = base or result
        covered = result["simulated_hours"]
        details = [describe(result, hours).strip()]
        if covered < hours - 1e-6:
            details.append(
                f"extrapolated (not measured): a whole day would take about "
                f"{result['seconds'] * hours / max(covered, 1e-9) / 60:.0f} minutes at this rate"
            )
        section.results.append(
            Result(
                TITLE,
                f"{agents:,} agents: decisions per second",
                result["decisions_per_second"],
                "decisions/s",
                reference_name=f"{int(base['agents']):,} agents",
                reference_value=base["decisions_per_second"],
                details=[
                    *details,
                    f"memory {result['bytes_per_agent'] / 1024:.1f} KiB per agent: resident memory grown "
                    "over the run, fixed costs (heap, SQLite's cache) included (most of it with few agents)",
                ],
            )
        )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--budget", type=float, default=None, help="wall-clock seconds a size may run")
    parser.add_argument("--tracemalloc", action="store_true", help="count Python allocations (slow)")
    parser.add_argument("--json", action="store_true", help="run in this process, print one JSON line")
    args = parser.parse_args()
    if args.json:
        with tempfile.TemporaryDirectory() as workdir:
            result = asyncio.run(
                run_day(
                    args.agents[0],
                    args.hours,
                    Path(workdir),
                    budget_seconds=args.budget,
                    trace=args.tracemalloc,
                )
            )
        print(json.dumps(result))
        return
    for agents in args.agents:
        print(describe(run_in_subprocess(agents, args.hours, args.budget), args.hours), flush=True)


if __name__ == "__main__":
    main()
