"""Runs every benchmark, prints each figure as it comes, and writes docs/benchmarks.md.

python -m bench                    # everything, moderate durations (make bench)
python -m bench --quick            # smoke sizes: every benchmark in seconds
python -m bench --only feed events # some of them
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import events, feed_mix, gateway_overhead, notes, sim_agents, sim_llm, sim_society, uploads
from bench.harness import Context
from bench.loadgen import LoadGenerator
from bench.machine import describe
from bench.report import Section, render
from bench.topology import BROKER_URL, MYSQL_URL, REPO

# In running order: the feed and the gateway read the freshly seeded data set before the others add to it.
BENCHMARKS: dict[str, tuple[Callable[[Context], Section], str]] = {
    "gateway": (gateway_overhead.run, gateway_overhead.TITLE),
    "feed": (feed_mix.run, feed_mix.TITLE),
    "events": (events.run, events.TITLE),
    "uploads": (uploads.run, uploads.TITLE),
    "simulation": (sim_agents.run, sim_agents.TITLE),
    "simulation-llm": (sim_llm.run, sim_llm.TITLE),
    "society": (sim_society.run, sim_society.TITLE),
}
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
# The sections behind the page: a run of some benchmarks keeps the others' last results.
RESULTS_FILE = "benchmarks.json"


def run(names: Sequence[str], *, quick: bool) -> list[Section]:
    sections: list[Section] = []
    with LoadGenerator() as loadgen:
        ctx = Context(quick=quick, loadgen=loadgen)
        try:
            for name in names:
                benchmark, title = BENCHMARKS[name]
                print(f"== {title}", flush=True)
                started = time.perf_counter()
                try:
                    section = benchmark(ctx)
                except Exception as exc:
                    traceback.print_exc()
                    section = Section(name, title, "", error=f"{type(exc).__name__}: {exc}"[:300])
                with_notes(section)
                section.measured_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
                section.quick = quick
                sections.append(section)
                print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
        finally:
            ctx.close()
    return sections


def with_notes(section: Section) -> Section:
    section.note = notes.MISSED.get(section.key, "")
    section.context = notes.CONTEXT.get(section.key, "")
    return section


def merged_with_stored(sections: list[Section], stored: Path) -> list[Section]:
    """This run's sections, and the last stored results of the benchmarks it did not run, in running order."""
    by_key = {}
    if stored.exists():
        for data in json.loads(stored.read_text(encoding="utf-8")):
            section = Section.from_dict(data)
            by_key[section.key] = with_notes(section)  # the notes as they are now
    by_key.update({section.key: section for section in sections})
    return [by_key[key] for key in BENCHMARKS if key in by_key]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes and durations")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these")
    parser.add_argument(
        "--output", type=Path, default=None, help="where to write the page (default: docs/benchmarks.md)"
    )
    parser.add_argument(
        "--render-only", action="store_true", help="write the page again from the stored results (new notes)"
    )
    args = parser.parse_args(argv)
    names = [] if args.render_only else args.only or list(BENCHMARKS)
    started = time.perf_counter()
    machine = describe(MYSQL_URL, BROKER_URL)
    print("machine: " + ", ".join(f"{key} {value}" for key, value in machine.items()), flush=True)
    sections = run(names, quick=args.quick)
    # A quick run proves the harness works; it must not overwrite the measured page unless asked to.
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        stored = output.with_name(RESULTS_FILE)
        sections = merged_with_stored(sections, stored)
        stored.write_text(json.dumps([s.as_dict() for s in sections], ensure_ascii=False, indent=1) + "\n")
    page = render(
        sections, machine, quick=args.quick, seconds=time.perf_counter() - started, fixes=notes.FIXES
    )
    if output is not None:
        output.write_text(page, encoding="utf-8")
        print(f"wrote {output}", flush=True)
    failed = [s.key for s in sections if s.error]
    if failed:
        print(f"failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0
