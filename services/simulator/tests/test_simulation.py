"""The simulator on its own: reproducible steps, pause and resume, reactivity, leadership, control."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from aic_common.bus import InProcessBus, on_commands
from aic_common.bus.rabbit import RabbitBus
from aic_common.messages import Envelope, MessageSent, UserRegistered, make_envelope
from aic_common.testing import app_lifespan, wait_for
from aic_common.tokens import TokenIssuer, TokenVerifier, generate_rsa_private_key_pem
from aic_simulator.app import create_app
from aic_simulator.models import ActionLog, Agent
from aic_simulator.runner import Simulation
from aic_simulator.settings import SimulatorSettings

pytestmark = pytest.mark.integration
ISSUER = TokenIssuer(generate_rsa_private_key_pem(), issuer="aic-auth", audience="aic")
ADMIN = {"Authorization": f"Bearer {ISSUER.issue_access_token('admin-id', username='admin', role='admin')}"}
USER = {"Authorization": f"Bearer {ISSUER.issue_access_token('user-id', username='someone', role='user')}"}


@contextlib.asynccontextmanager
async def simulator(
    settings: SimulatorSettings, bus: InProcessBus | None = None, *, owns_topology: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """``owns_topology=False`` for a second instance on the same queues: deleting queues another
    instance still consumes from races its reconnect and upsets RabbitMQ 3.10's quorum queues."""
    app = create_app(settings, shared_bus=bus)
    app.state.token_verifier = TokenVerifier.from_issuer(ISSUER)
    async with (
        app_lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client,
    ):
        yield client, app
    runtime_bus = app.state.runtime.bus
    if owns_topology and isinstance(runtime_bus, RabbitBus):
        await runtime_bus.delete_topology()


def embedded(tmp_path: Path, name: str = "sim", **overrides: object) -> SimulatorSettings:
    values: dict[str, object] = {
        "data_dir": tmp_path / name,
        "bus_namespace": f"t{uuid.uuid4().hex[:8]}",
        "lease_ttl_seconds": 2,
        "outbox_poll_seconds": 0.05,
        # No social service answers here: nothing to wait for between steps.
        "lockstep": False,
    }
    return SimulatorSettings(**{**values, **overrides})


def action_log(app: FastAPI) -> list[tuple]:
    with app.state.runtime.session_factory() as session:
        return [
            (r.step, r.agent_id, r.sim_time, r.action, r.target, r.content, r.tier)
            for r in session.scalars(sa.select(ActionLog).order_by(ActionLog.decision))
        ]


async def control(client: httpx.AsyncClient, command: str, **extra: object) -> dict:
    response = await client.post("/api/sim/control", json={"command": command, **extra}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


async def leading(app: FastAPI) -> None:
    await wait_for(lambda: app.state.simulation.is_leader, timeout=20, what="leadership")


async def test_steps_are_reproducible_from_a_seed(tmp_path: Path) -> None:
    logs = []
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        async with simulator(embedded(tmp_path, name, seed=seed)) as (client, app):
            await leading(app)
            status = await control(client, "step", steps=25)
            assert status["steps"] == 25 and status["state"] == "stopped"
            logs.append(action_log(app))
    assert len(logs[0]) >= 25, "every tick decides for at least one agent"
    assert logs[0] == logs[1]
    assert logs[0] != logs[2], "another seed, another story"
    assert {entry[6] for entry in logs[0]} == {"rule"}


async def test_pause_stops_actions_and_resume_continues_from_the_same_time(tmp_path: Path) -> None:
    async with simulator(embedded(tmp_path, speed=0)) as (client, app):
        await leading(app)
        await control(client, "start")
        await wait_for(lambda: len(action_log(app)) > 30, timeout=30, what="the simulation running")
        paused = await control(client, "pause")
        assert paused["state"] == "paused"
        logged = len(action_log(app))
        # Stepping needs the loop to be idle: one step adds exactly one tick.
        stepped = await control(client, "step", steps=1)
        assert stepped["steps"] == paused["steps"] + 1 and stepped["sim_time"] >= paused["sim_time"]
        assert len(action_log(app)) >= logged
        after_step = len(action_log(app))
        status = await control(client, "status")
        assert status["steps"] == stepped["steps"] and len(action_log(app)) == after_step
        running = await control(client, "resume")
        assert running["state"] == "running"
        await wait_for(
            lambda: len(action_log(app)) > after_step + 10, timeout=30, what="actions after resume"
        )
        resumed_times = [entry[2] for entry in action_log(app)[after_step:]]
        assert min(resumed_times).isoformat() >= stepped["sim_time"].replace("Z", "")
        await control(client, "stop")


async def test_control_is_for_admins_and_validates_input(tmp_path: Path) -> None:
    async with simulator(embedded(tmp_path)) as (client, app):
        await leading(app)
        assert (await client.post("/api/sim/control", json={"command": "start"})).status_code == 401
        refused = await client.post("/api/sim/control", json={"command": "start"}, headers=USER)
        assert refused.status_code == 403
        bad = await client.post("/api/sim/control", json={"command": "explode"}, headers=ADMIN)
        assert bad.status_code == 422
        await control(client, "start")
        busy = await client.post("/api/sim/control", json={"command": "step", "steps": 1}, headers=ADMIN)
        assert busy.status_code == 409 and busy.json()["code"] == "running"
        speed = await control(client, "set_speed", speed=120)
        assert speed["speed"] == 120
        await control(client, "stop")
        event = await client.post(
            "/api/sim/events",
            json={"title": "突发:停电", "location_id": "cafe", "duration_minutes": 30},
            headers=ADMIN,
        )
        assert event.status_code == 201
        assert (await client.post("/api/sim/events", json={"title": "x"}, headers=USER)).status_code == 403
        events = (await client.get("/api/sim/events")).json()
        assert any(e["title"] == "突发:停电" and e["source"] == "admin" for e in events)
        world = (await client.get("/api/sim/world")).json()
        assert len(world["locations"]) >= 12 and sum(len(loc["agents"]) for loc in world["locations"]) == 10
        # The world file's map section, for the web UI to draw; and each place's description.
        assert ["plaza", "cafe"] in world["map"]["paths"] and len(world["map"]["water"]) == 2
        assert all(loc["description"] for loc in world["locations"])
        detail = (await client.get("/api/sim/agents/lin_xiaoyu")).json()
        assert detail["persona"]["summary"] and detail["persona"]["summary_en"]


async def test_a_message_to_an_ai_character_wakes_it_and_it_replies_in_character(tmp_path: Path) -> None:
    bus = InProcessBus(f"t{uuid.uuid4().hex[:8]}")
    commands: list[Envelope] = []

    async def record(envelope: Envelope) -> None:
        commands.append(envelope)

    bus.subscribe("test.commands", on_commands("#"), record)
    settings = embedded(
        tmp_path, speed=1, bus_namespace=bus.namespace
    )  # slow: only a wake-up makes it act now
    async with simulator(settings, bus) as (client, app):
        await bus.start()
        await leading(app)
        ai_user = str(uuid.uuid4())
        await bus.publish(
            make_envelope(
                UserRegistered(
                    user_id=ai_user,
                    username="ai_lin_xiaoyu",
                    display_name="林小雨",
                    is_ai=True,
                    created_at=datetime.now(UTC),
                ),
                "auth",
            )
        )

        def linked() -> bool:
            with app.state.runtime.session_factory() as session:
                return session.scalar(sa.select(Agent.user_id).where(Agent.id == "lin_xiaoyu")) == ai_user

        await wait_for(linked, timeout=20, what="the agent linked to its account")
        await control(client, "start")
        person = str(uuid.uuid4())
        await bus.publish(
            make_envelope(
                MessageSent(
                    message_id="m-1",
                    conversation_id="c-1",
                    sender_id=person,
                    sender_username="visitor",
                    recipient_id=ai_user,
                    recipient_username="ai_lin_xiaoyu",
                    content="你好小雨,今天有什么好喝的咖啡推荐?",
                    created_at=datetime.now(UTC),
                ),
                "social",
            )
        )

        def replies() -> list[Envelope]:
            return [
                c
                for c in commands
                if c.type == "social.command.send_message" and c.data["to_user_id"] == person
            ]

        reply = (await wait_for(replies, timeout=30, what="the reply"))[0]
        assert reply.data["actor_id"] == ai_user
        # It answers about what was asked, without quoting it back, and never calls anyone by username.
        assert "咖啡" in reply.data["content"] and "你好小雨" not in reply.data["content"]
        assert "visitor" not in reply.data["content"]
        assert reply.correlation_id and reply.correlation_id.startswith("decision-")
        await control(client, "stop")


async def test_a_standby_instance_stays_passive_and_takes_over_when_the_leader_dies(
    tmp_path: Path, mysql_url: str, rabbitmq_url: str, bus_namespace: str
) -> None:
    def settings(name: str) -> SimulatorSettings:
        return SimulatorSettings(
            data_dir=tmp_path / name,
            database_url=mysql_url,
            broker_url=rabbitmq_url,
            bus_namespace=bus_namespace,
            lease_ttl_seconds=2,
            outbox_poll_seconds=0.05,
        )

    async with simulator(settings("one")) as (first_client, first):
        await leading(first)
        await control(first_client, "step", steps=3)
        async with simulator(settings("two"), owns_topology=False) as (second_client, second):
            status = (await second_client.get("/api/sim/status")).json()
            assert status["is_leader"] is False
            # Control through the standby reaches the leader over the broker.
            relayed = await control(second_client, "status")
            assert relayed["is_leader"] is True and relayed["steps"] == 3
            # The leader dies without a goodbye: its lease simply stops being renewed.
            first.state.simulation._lead_task.cancel()
            first.state.simulation.engine = None
            await wait_for(
                lambda: second.state.simulation.is_leader, timeout=20, what="the standby taking over"
            )
            taken = await control(second_client, "step", steps=2)
            assert taken["steps"] == 5, "it resumed from the leader's checkpoint"


async def test_cli_controls_the_simulation_over_the_broker(
    tmp_path: Path, mysql_url: str, rabbitmq_url: str, bus_namespace: str
) -> None:
    settings = SimulatorSettings(
        data_dir=tmp_path,
        database_url=mysql_url,
        broker_url=rabbitmq_url,
        bus_namespace=bus_namespace,
        lease_ttl_seconds=2,
    )
    async with simulator(settings) as (_, app):
        await leading(app)
        env = {**os.environ, "AIC_BROKER_URL": rabbitmq_url, "AIC_BUS_NAMESPACE": bus_namespace}

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "aic_simulator.cli", "sim", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        stepped = await asyncio.to_thread(cli, "step", "4")
        assert stepped.returncode == 0, stepped.stderr
        assert '"steps": 4' in stepped.stdout
        status = await asyncio.to_thread(cli, "status")
        assert status.returncode == 0 and '"is_leader": true' in status.stdout
        speed = await asyncio.to_thread(cli, "speed", "30")
        assert '"speed": 30.0' in speed.stdout
        assert app.state.simulation.engine.world.speed == 30


def test_migrations_match_the_models(database_url: str) -> None:
    from aic_common.bus.tables import messaging_metadata
    from aic_common.migrations import schema_drift
    from aic_simulator.app import MIGRATIONS
    from aic_simulator.models import Base

    assert schema_drift(MIGRATIONS, database_url, [Base.metadata, messaging_metadata]) == []


class SlowSocialNetwork:
    """The action log as lockstep reads it: the commands' results arrive after ``asked_until_answered``
    looks."""

    def __init__(self, asked_until_answered: int) -> None:
        self.asked = 0
        self.asked_until_answered = asked_until_answered

    def unanswered(self, commands: list[str]) -> list[str]:
        self.asked += 1
        return [] if self.asked > self.asked_until_answered else commands


@pytest.mark.parametrize("mode", ["live", "record", "replay"])
async def test_lockstep_gives_up_on_a_late_result_only_in_a_live_run(tmp_path: Path, mode: str) -> None:
    social = SlowSocialNetwork(asked_until_answered=40)
    waiting = SimpleNamespace(
        settings=embedded(tmp_path, llm_mode=mode, lockstep_timeout_seconds=0.01),
        store=social,
        _result_arrived=asyncio.Event(),
    )
    await Simulation._await_results(waiting, ["command-1"])  # type: ignore[arg-type]
    if mode == "live":  # paced by the wall clock: it goes on without the result
        assert social.asked <= social.asked_until_answered
    else:  # exact: a result a step late would part the replay from the recording
        assert social.asked == social.asked_until_answered + 1
