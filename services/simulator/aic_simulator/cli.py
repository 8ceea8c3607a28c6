"""``aic sim start|pause|resume|stop|step N|speed X|status|report``: control the simulation over the broker.

The command is published to the control exchange; the leading simulator answers with its status, or
for ``report [--since ISO] [--until ISO]`` with the society report (goals met or not; ``--json`` prints
it as it came). The
broker URL and namespace come from AIC_BROKER_URL / AIC_BUS_NAMESPACE. The deployment gives the CLI a
broker user of its own, allowed to publish control messages only, and names it to the simulator in
AIC_SIM_CONTROL_BROKER_USERS: the simulator obeys no other user (RabbitMQ vouches for who published).

``aic sim export FILE``, ``aic sim import FILE [--world-file PATH]`` and ``aic sim fork --from-checkpoint
--to URL [--branch NAME]`` work on the simulator database itself (AIC_DATABASE_URL, with the simulator's
AIC_WORLD_FILE, AIC_SIM_START): a run is data at rest, and reading it needs no simulator running, nor
one that leads (see aic_simulator.recording).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import BusUnavailable
from aic_common.bus.rabbit import RabbitBus
from aic_common.messages import SimCommand, SimControl, make_envelope
from aic_common.settings import ServiceSettings

WORDS = {
    "start": SimCommand.start,
    "pause": SimCommand.pause,
    "resume": SimCommand.resume,
    "stop": SimCommand.stop,
    "step": SimCommand.step,
    "speed": SimCommand.set_speed,
    "status": SimCommand.status,
    "report": SimCommand.report,
}
# Commands on the simulator database rather than messages to the leading simulator.
RUN_COMMANDS = ("export", "import", "fork")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aic", description="Operate AI Community.")
    groups = parser.add_subparsers(dest="group", required=True)
    sim = groups.add_parser("sim", help="control the simulation")
    sim.add_argument("command", choices=[*WORDS, *RUN_COMMANDS])
    sim.add_argument(
        "value",
        nargs="?",
        help="steps for 'step', simulated seconds per second for 'speed', the file for 'export' and 'import'",
    )
    sim.add_argument("--since", type=datetime.fromisoformat, help="report: from this simulated time (ISO)")
    sim.add_argument("--until", type=datetime.fromisoformat, help="report: to this simulated time (ISO)")
    sim.add_argument("--json", action="store_true", help="report: print the report's JSON as it came")
    sim.add_argument("--timeout", type=float, default=30.0)
    sim.add_argument("--from-checkpoint", action="store_true", help="fork: from the simulation's checkpoint")
    sim.add_argument("--to", help="fork: the new branch's database URL (an empty database)")
    sim.add_argument("--branch", help="fork: the new branch's name")
    sim.add_argument("--world-file", type=Path, help="import: where to write the run's world file")
    return parser.parse_args(argv)


def to_message(args: argparse.Namespace) -> SimControl:
    command = WORDS[args.command]
    if command == SimCommand.step:
        return SimControl(command=command, steps=int(args.value or 1))
    if command == SimCommand.set_speed:
        if args.value is None:
            raise SystemExit("aic sim speed needs a value, e.g. aic sim speed 60")
        return SimControl(command=command, speed=float(args.value))
    if command == SimCommand.report:
        return SimControl(command=command, since=args.since, until=args.until)
    return SimControl(command=command)


def _figure(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def render_report(report: dict[str, Any]) -> str:
    """The society report as an operator reads it in a terminal: the goals first, then the figures."""
    window, goals = report["window"], report["goals"]
    lines = [
        f"Society report: {window['since']} to {window['until']} ({window['sim_hours']:g} simulated hours)",
        "",
        f"Goals: {sum(1 for g in goals if g['met'])} of {len(goals)} met",
    ]
    verdicts = {True: "met", False: "NOT MET", None: "n/a"}
    for goal in goals:
        verdict, value = verdicts[goal["met"]], _figure(goal["value"])
        lines.append(f"  {verdict:<8} {goal['name']:<40} {value:>8}  (goal {goal['target']})")
    kinds = ", ".join(f"{kind} {n}" for kind, n in report["decisions_by_kind"].items() if n)
    messages = report["ai_messages"]
    pair, exchange = messages["busiest_pair"], messages["longest_exchange"]
    texts = report["texts"]
    questions = report["questions"]
    lines += [
        "",
        f"Decisions: {report['decisions']}" + (f" ({kinds})" if kinds else ""),
        f"AI-to-AI messages: {messages['count']} ({_share(messages['share_of_decisions'])} of decisions), "
        f"{messages['in_sleep_hours']} in sleep hours",
        f"  busiest pair: {pair['a']} & {pair['b']}, {pair['messages']} messages"
        if pair
        else "  busiest pair: none",
        f"  longest exchange: {exchange['a']} & {exchange['b']}, {exchange['turns']} turns "
        f"({exchange['conversation']})"
        if exchange
        else "  longest exchange: none",
        f"Texts: {texts['all']['count']}, {_share(texts['all']['distinct'])} distinct, "
        f"{_share(texts['all']['distinct_masked'])} once names and numbers are masked",
        *(
            f"  {kind}: {stats['count']}, {_share(stats['distinct'])} / {_share(stats['distinct_masked'])}"
            for kind, stats in texts["by_kind"].items()
        ),
        f"Questions from people: {questions['count']} asked, {questions['answered']} answered, "
        f"{questions['answered_within_30s']} within 30 s, {questions['on_topic']} on topic "
        f"({_share(questions['on_topic_share'])})",
        f"Nested reflections: {report['nested_reflections']}",
        f"Posts contradicting the world: {report['contradictions']['count']}",
        *(
            f"  #{c['decision']} {c['sim_time']} {c['agent']}: {c['content']!r} ({c['why']})"
            for c in report["contradictions"]["examples"]
        ),
        f"Private-content leaks: {report['private_leaks']['count']}",
        *(f"  #{c['decision']} {c['agent']}: {c['why']}" for c in report["private_leaks"]["examples"]),
    ]
    return "\n".join(lines)


async def send(message: SimControl, settings: ServiceSettings, timeout: float) -> dict:
    url = settings.broker_url.get_secret_value()
    if not url:
        raise SystemExit("AIC_BROKER_URL is not set: the CLI talks to the simulator through RabbitMQ")
    bus = RabbitBus(url, settings.bus_namespace, connect_timeout=5)
    await bus.start()
    try:
        reply = await bus.request(make_envelope(message, "cli"), timeout=timeout)
    finally:
        await bus.stop()
    return reply.data


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.command in RUN_COMMANDS:
        from aic_simulator.recording import RunFileError

        try:
            return run_command(args)
        except RunFileError as exc:
            print(f"aic sim {args.command}: {exc}", file=sys.stderr)
            return 1
    message = to_message(args)
    try:
        reply = asyncio.run(send(message, ServiceSettings(service_name="cli"), args.timeout))
    except BusUnavailable as exc:
        print(f"no answer from the simulator: {exc}", file=sys.stderr)
        return 2
    if message.command == SimCommand.report and reply.get("ok") and not args.json:
        print(render_report(reply["report"]))
    else:
        print(json.dumps(reply, ensure_ascii=False, indent=2))
    return 0 if reply.get("ok") else 1


def run_command(args: argparse.Namespace) -> int:
    """export, import or fork, on the database AIC_DATABASE_URL names."""
    from aic_common.bus import Outbox
    from aic_common.migrations import upgrade
    from aic_simulator.app import MIGRATIONS
    from aic_simulator.recording import export_run, fork, import_run, read_run, replay_settings, write_run
    from aic_simulator.settings import SimulatorSettings
    from aic_simulator.world import load_world_file

    settings = SimulatorSettings()
    url = settings.resolved_database_url()
    if args.command == "fork":
        if not args.from_checkpoint or not args.to:
            raise SystemExit("aic sim fork --from-checkpoint --to URL: a fork starts at the checkpoint")
        upgrade(MIGRATIONS, args.to)
        world = load_world_file(settings.world_file)
        outbox = Outbox(settings.service_name)
        made = fork(_sessions(url), _sessions(args.to), outbox, world, settings.sim_start, args.branch)
        at = made["checkpoint"]
        print(
            f"branch {made['branch']} forked from {made['parent']} at {at['sim_time']} (step {at['steps']}), "
            f"{len(made['answers'])} answers to replay; run the simulator on it with (and set its speed once "
            "it is past the checkpoint)"
        )
        go_on = {
            **replay_settings(made, settings.world_file),
            "AIC_LLM_MODE": "record",
            "AIC_DATABASE_URL": args.to,
        }
        # After the checkpoint the fork asks a server: this one, or any other.
        go_on["AIC_LLM_BASE_URL"] = settings.llm_base_url or "<the server's URL>"
        print(_shell(go_on))
        return 0
    if not args.value:
        raise SystemExit(f"aic sim {args.command} FILE")
    path = Path(args.value)
    if args.command == "export":
        document = export_run(_sessions(url), load_world_file(settings.world_file), settings.sim_start)
        write_run(document, path)
        print(
            f"branch {document['branch']}: {len(document['log'])} decisions, "
            f"{len(document['answers'])} recorded answers, written to {path}"
        )
        return 0
    document = read_run(path)
    upgrade(MIGRATIONS, url)
    import_run(document, _sessions(url), Outbox(settings.service_name))
    world_file = args.world_file or path.with_name(path.name.split(".")[0] + ".world.json")
    world_file.write_text(json.dumps(document["world"], ensure_ascii=False, indent=2), encoding="utf-8")
    print(
        f"branch {document['branch']}: {len(document['answers'])} answers loaded, the world written to "
        f"{world_file}; replay it with the simulator settings"
    )
    print(_shell(replay_settings(document, world_file)))
    return 0


def _sessions(url: str) -> sessionmaker[Session]:
    from aic_common.db import create_db_engine, create_session_factory

    return create_session_factory(create_db_engine(url))


def _shell(settings: dict[str, str]) -> str:
    return "\n".join(f"  {name}={shlex.quote(value)}" for name, value in settings.items())


if __name__ == "__main__":
    raise SystemExit(main())
