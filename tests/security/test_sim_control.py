"""Simulation control: refused to anyone but admins over HTTP, and over the broker obeyed only from the
broker users the deployment allows (the operators' CLI user and the simulator's own), as RabbitMQ
vouches for them; every other service's user may not even publish on the control exchange.

The broker half runs on the real RabbitMQ with a second broker user made for the test: it may
publish to the control exchange (the broker lets it) but the simulator must not obey it, whether it
says who it is, says nothing, or claims to be the allowed user (which RabbitMQ itself refuses).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.exceptions import ChannelPreconditionFailed
from aiormq.exceptions import ChannelAccessRefused

from aic_common.bus.rabbit import RabbitBus, connection_user
from aic_common.bus.users import CONTROL_ROLE, broker_url_as, management_client
from aic_common.messages import Envelope, SimCommand, SimControl, make_envelope
from aic_common.testing.community import Account, Community, fake_ip
from aic_gateway.stack import Stack

pytestmark = pytest.mark.e2e
CONTROL = {"command": "set_speed", "speed": 1234.5}
EVENT = {"title": "A storm nobody ordered", "description": "", "duration_minutes": 30}


# --------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def person(community: Community) -> Account:
    return community.register("simuser")


@pytest.mark.parametrize(("path", "body"), [("/api/sim/control", CONTROL), ("/api/sim/events", EVENT)])
@pytest.mark.parametrize("through", ["gateway", "simulator"])
def test_control_and_game_events_are_refused_to_anonymous_callers_and_people(
    stack: Stack, person: Account, admin: Account, through: str, path: str, body: dict[str, Any]
) -> None:
    speed_before = _status(stack)["speed"]
    with httpx.Client(base_url=stack.url(through), timeout=30) as http:
        anonymous = http.post(path, json=body, headers={"X-Forwarded-For": fake_ip()})
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.json()["code"] == "not_authenticated"
        refused = http.post(path, json=body, headers=person.headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "admin_required"
        events = http.get("/api/sim/events", params={"upcoming_hours": 24 * 14}, headers=admin.headers)
    assert _status(stack)["speed"] == speed_before
    assert EVENT["title"] not in [event["title"] for event in events.json()]


def test_an_admin_may_inject_a_game_event(community: Community, admin: Account) -> None:
    # The control of the matrix above: the same body from an admin is accepted.
    body = {**EVENT, "title": f"Festival {uuid.uuid4().hex[:6]}"}
    created = community.http.post("/api/sim/events", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    listed = community.http.get("/api/sim/events", params={"upcoming_hours": 48}, headers=admin.headers)
    assert body["title"] in [event["title"] for event in listed.json()]


# --------------------------------------------------------------------- over the broker


@pytest.fixture(scope="module")
def intruder_url(stack: Stack, rabbitmq_management_url: str) -> Iterator[str]:
    """A broker user of the test's own, allowed by RabbitMQ to do anything on the default vhost."""
    # Made through the management API: a password is JSON there, never an argument a tool could take
    # for an option (a random one may well begin with "-").
    name, password = f"aic_intruder_{uuid.uuid4().hex[:8]}", "-" + secrets.token_urlsafe(16)
    with management_client(rabbitmq_management_url) as client:
        assert client.put(f"/api/users/{name}", json={"password": password, "tags": ""}).status_code == 201
        try:
            everything = {"configure": ".*", "write": ".*", "read": ".*"}
            assert client.put(f"/api/permissions/%2F/{name}", json=everything).status_code in (201, 204)
            yield broker_url_as(stack.config.broker_url, name, password)
        finally:
            client.delete(f"/api/users/{name}")


def _control_url(stack: Stack) -> str:
    return stack.broker_url(CONTROL_ROLE)


def _status(stack: Stack) -> dict[str, Any]:
    return httpx.get(f"{stack.url('simulator')}/api/sim/status", timeout=10).json()


@pytest.fixture
async def speed_restored(stack: Stack) -> AsyncIterator[float]:
    """The simulation's speed before the test, set back afterwards (by the allowed broker user)."""
    before = _status(stack)["speed"]
    yield before
    await _request(_control_url(stack), stack, SimCommand.set_speed, speed=before)


async def _request(url: str, stack: Stack, command: SimCommand, **values: Any) -> dict[str, Any]:
    """What the leading simulator answers to a control message published as ``url``'s broker user."""
    bus = RabbitBus(url, stack.config.bus_namespace, connect_timeout=10)
    await bus.start()
    try:
        reply = await bus.request(make_envelope(SimControl(command=command, **values), "cli"), timeout=30)
    finally:
        await bus.stop()
    return reply.data


async def _publish_raw(url: str, stack: Stack, speed: float, **properties: Any) -> dict[str, Any]:
    """A control message published by hand with the given AMQP properties; the simulator's reply.

    The reply comes through RabbitMQ's direct reply-to, which needs no queue of the publisher's own."""
    connection = await aio_pika.connect(url, timeout=10)
    try:
        channel = await connection.channel(publisher_confirms=True)
        replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        answered: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        correlation_id = uuid.uuid4().hex

        async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            if message.correlation_id == correlation_id and not answered.done():
                answered.set_result(Envelope.from_bytes(message.body).data)

        await replies.consume(on_reply, no_ack=True)
        exchange = await channel.get_exchange(f"{stack.config.bus_namespace}.control", ensure=False)
        envelope = make_envelope(SimControl(command=SimCommand.set_speed, speed=speed), "cli")
        await exchange.publish(
            aio_pika.Message(
                envelope.to_bytes(),
                content_type="application/json",
                correlation_id=correlation_id,
                reply_to="amq.rabbitmq.reply-to",
                **properties,
            ),
            routing_key=envelope.type,
        )
        return await asyncio.wait_for(answered, 30)
    finally:
        await connection.close()


async def test_the_simulator_obeys_the_operators_broker_user_and_its_own(
    stack: Stack, speed_restored: float
) -> None:
    for role, speed in ((CONTROL_ROLE, 777.0), ("simulator", 778.0)):
        url = stack.broker_url(role)
        assert connection_user(url) == f"{stack.config.bus_namespace}-{role}"  # each its own broker user
        reply = await _request(url, stack, SimCommand.set_speed, speed=speed)
        assert reply["ok"] is True, reply
        assert reply["status"]["speed"] == speed
        assert _status(stack)["speed"] == speed


async def test_no_other_service_may_even_publish_a_control_message(
    stack: Stack, speed_restored: float
) -> None:
    # RabbitMQ itself refuses social's user the control exchange: the channel is closed on publish.
    with pytest.raises(ChannelAccessRefused):
        await asyncio.wait_for(_publish_raw(stack.broker_url("social"), stack, 4321.0), 30)
    assert _status(stack)["speed"] == speed_restored


async def test_control_from_another_broker_user_is_refused(
    stack: Stack, intruder_url: str, speed_restored: float
) -> None:
    reply = await _request(intruder_url, stack, SimCommand.set_speed, speed=4321.0)
    assert reply == {
        "ok": False,
        "code": "control_not_allowed",
        "detail": "This broker user may not control the simulation",
    }
    assert _status(stack)["speed"] == speed_restored
    step = await _request(intruder_url, stack, SimCommand.step, steps=3)
    assert step["ok"] is False and step["code"] == "control_not_allowed"
    assert "refused control message" in stack.log_path("simulator").read_text(encoding="utf-8")


async def test_control_that_names_no_broker_user_is_refused(stack: Stack, speed_restored: float) -> None:
    # Even on the allowed user's own connection: without user_id, RabbitMQ vouches for nobody.
    reply = await _publish_raw(_control_url(stack), stack, 4321.0)
    assert reply["ok"] is False and reply["code"] == "control_not_allowed", reply
    assert _status(stack)["speed"] == speed_restored


async def test_rabbitmq_refuses_a_message_claiming_another_broker_user(
    stack: Stack, intruder_url: str, speed_restored: float
) -> None:
    # The property the check rests on: an intruder cannot say it is the allowed user.
    with pytest.raises(ChannelPreconditionFailed):
        allowed = connection_user(_control_url(stack))
        await asyncio.wait_for(_publish_raw(intruder_url, stack, 4321.0, user_id=allowed), 30)
    assert _status(stack)["speed"] == speed_restored
