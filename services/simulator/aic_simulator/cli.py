"""``aic sim start|pause|resume|stop|step N|speed X|status``: control the simulation over the broker.

The command is published to the control exchange; the leading simulator answers with its status. The
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
}


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aic", description="Operate AI Community.")
    groups = parser.add_subparsers(dest="group", required=True)
    sim = groups.add_parser("sim", help="control the simulation")
    sim.add_argument("command", choices=list(WORDS))
    sim.add_argument("value", nargs="?", help="steps for 'step', simulated seconds per second for 'speed'")
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
    return SimControl(command=command)


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
    print(json.dumps(reply, ensure_ascii=False, indent=2))
    return 0 if reply.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
