"""Rule-based agents for one simulated day: decisions per second and memory per agent.

    python bench/sim_agents.py                 # 1 000 and 10 000 agents
    python bench/sim_agents.py --agents 1000 10000 100000 --hours 24

Each size runs the real engine (perceive, decide, act, remember, checkpoint to SQLite) in this
process, one after the other, so the ratios between sizes are measured on the same machine state.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

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
                "next_wake_at": start + timedelta(seconds=(i * 37) % 3600),
                "importance_since_reflection": 0.0,
                "memory_seq": 0,
            }
        )
    with session_factory.begin() as session:
        for chunk in range(0, len(rows), 5000):
            session.execute(sa.insert(Agent), rows[chunk : chunk + 5000])


async def run_day(agents: int, hours: int, workdir: Path) -> dict[str, float]:
    url = f"sqlite:///{workdir / f'sim_{agents}.db'}"
    settings = SimulatorSettings(data_dir=workdir, database_url=url, publish_action_events=False, speed=0)
    upgrade("aic_simulator:migrations", url)
    engine_db = create_db_engine(url)
    session_factory = create_session_factory(engine_db)
    populate(session_factory, load_world_file(settings.world_file), agents, settings.sim_start)
    store = SimStore(session_factory, Outbox("simulator"), "bench")
    assert store.try_lead(timedelta(hours=1))

    gc.collect()
    tracemalloc.start()
    world = store.load(settings.seed, 0, settings.sim_start, settings.memory_limit)
    engine = Engine(settings, store, RulePolicy(settings.seed), world)
    end = settings.sim_start + timedelta(hours=hours)
    started = last_checkpoint = time.perf_counter()
    while world.sim_time < end:
        # As a running simulator does: refresh and checkpoint once a second of wall time.
        due = time.perf_counter() - last_checkpoint >= settings.checkpoint_seconds
        await engine.step(refresh=due, checkpoint=due)
        if due:
            last_checkpoint = time.perf_counter()
    await engine.checkpoint()
    elapsed = time.perf_counter() - started
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    engine_db.dispose()
    return {
        "agents": agents,
        "decisions": world.decisions,
        "steps": world.steps,
        "seconds": elapsed,
        "decisions_per_second": world.decisions / elapsed,
        "bytes_per_agent": current / agents,
        "peak_bytes_per_agent": peak / agents,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--hours", type=int, default=24)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}"
    )
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for agents in args.agents:
            result = asyncio.run(run_day(agents, args.hours, Path(workdir)))
            results.append(result)
            print(
                f"{agents:>7} agents, {args.hours} simulated hours: {result['decisions']:>8} decisions in "
                f"{result['seconds']:.1f} s = {result['decisions_per_second']:,.0f} decisions/s; "
                f"memory {result['bytes_per_agent'] / 1024:.1f} KiB/agent "
                f"(peak {result['peak_bytes_per_agent'] / 1024:.1f})",
                flush=True,
            )
    base = results[0]
    for result in results[1:]:
        speed = result["decisions_per_second"] / base["decisions_per_second"]
        memory = result["bytes_per_agent"] / base["bytes_per_agent"]
        sizes = f"{result['agents']}/{base['agents']} agents"
        print(f"ratio {sizes}: decisions/s x{speed:.2f}, memory per agent x{memory:.2f}")


if __name__ == "__main__":
    main()
