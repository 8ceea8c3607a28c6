"""``aic sim start|pause|resume|stop|step N|speed X|status|report``: control the simulation over the broker.

The command is published to the control exchange; the leading simulator answers with its status, or
for ``report [--since ISO] [--until ISO]`` with the society report (goals met or not; ``--json`` prints
it as it came). The
broker URL and namespace come from AIC_BROKER_URL / AIC_BUS_NAMESPACE. The deployment gives the CLI a
broker user of its own, allowed to publish control messages only, and names it to the simulator in
AIC_SIM_CONTROL_BROKER_USERS: the simulator obeys no other user (RabbitMQ vouches for who published).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

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


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aic", description="Operate AI Community.")
    groups = parser.add_subparsers(dest="group", required=True)
    sim = groups.add_parser("sim", help="control the simulation")
    sim.add_argument("command", choices=list(WORDS))
    sim.add_argument("value", nargs="?", help="steps for 'step', simulated seconds per second for 'speed'")
    sim.add_argument("--since", type=datetime.fromisoformat, help="report: from this simulated time (ISO)")
    sim.add_argument("--until", type=datetime.fromisoformat, help="report: to this simulated time (ISO)")
    sim.add_argument("--json", action="store_true", help="report: print the report's JSON as it came")
    sim.add_argument("--timeout", type=float, default=30.0)
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


if __name__ == "__main__":
    raise SystemExit(main())
