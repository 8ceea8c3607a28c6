"""A poison message in every consumer queue ends in that queue's DLQ, and the queue keeps flowing.

The queues are not listed here: each service's app is built from its factory, with the environment
the stack gave it, and its bus tells which consumers it registered. So a consumer added later is
tested too (or this test says which valid message it lacks). Each durable queue gets two poisons
straight into it, a body that is no envelope (rejected at once) and an envelope whose data its
handler refuses (dead-lettered after the delivery limit), then a valid message, which must be
applied. Exclusive per-replica queues have no DLQ by design: there a poison is dropped, and the
consumer must go on serving.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
import httpx
import pytest
import sqlalchemy as sa

from aic_common.bus import topic_matches
from aic_common.bus.base import Subscription
from aic_common.bus.rabbit import RabbitBus
from aic_common.messages import (
    CATALOGUE,
    CreateAiAccount,
    CreatePostCommand,
    MessageData,
    PostCreated,
    SimClockAdvanced,
    SimControl,
    UserDeleted,
    UserRegistered,
    exchange_for,
    make_envelope,
)
from aic_common.testing import service_bus_from_environment, wait_for
from aic_gateway.stack import GATEWAY_SPEC, Stack

from .conftest import PASSWORD, LiveClient, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

UNDECODABLE = b"\xff\xfe not an envelope {"


@dataclass(frozen=True)
class Consumer:
    service: str
    subscription: Subscription
    queue: str  # the broker's name of it
    dead_letter_queue: str


@pytest.fixture(scope="module")
def consumers(fault_stack: Stack) -> list[Consumer]:
    """Every consumer each service registers, read from its bus after building it as the stack does."""
    found: list[Consumer] = []
    for spec in [*fault_stack.config.services, GATEWAY_SPEC]:
        bus = service_bus_from_environment(spec.factory, fault_stack.env_for(spec.name))
        assert isinstance(bus, RabbitBus)
        found += [
            Consumer(spec.name, s, bus.queue_name(s.queue), bus.dead_letter_queue_name(s.queue))
            for s in bus.subscriptions
        ]
    return found


def _bound_types(subscription: Subscription) -> list[str]:
    return [
        message_type
        for message_type in CATALOGUE
        if any(
            b.exchange == exchange_for(message_type) and topic_matches(b.pattern, message_type)
            for b in subscription.bindings
        )
    ]


def valid_message(message_type: str, ai_character: str) -> MessageData | None:
    """A message of ``message_type`` that its consumers apply (and record in their inbox)."""
    tag = uuid.uuid4().hex[:8]
    samples: dict[str, Callable[[], MessageData]] = {
        UserRegistered.message_type: lambda: UserRegistered(
            user_id=str(uuid.uuid4()),
            username=f"poisoned_{tag}",
            display_name="试毒者",
            created_at=datetime.now(UTC),
        ),
        UserDeleted.message_type: lambda: UserDeleted(user_id=str(uuid.uuid4()), username=f"gone_{tag}"),
        CreatePostCommand.message_type: lambda: CreatePostCommand(
            actor_id=ai_character, content="毒药之后,一切照常"
        ),
        CreateAiAccount.message_type: lambda: CreateAiAccount(
            username=f"ai_antidote_{tag}", display_name="解药"
        ),
        PostCreated.message_type: lambda: PostCreated(
            post_id="1",
            author_id=str(uuid.uuid4()),
            author_username=f"someone_{tag}",
            content="…",
            image_ids=[str(uuid.uuid4())],
            created_at=datetime.now(UTC),
        ),
    }
    sample = samples.get(message_type)
    return sample() if sample else None


async def _dead_letters(connection: aio_pika.abc.AbstractConnection, queue: str, ids: set[str]) -> set[str]:
    """Take ``ids`` out of a DLQ (basic.get, acknowledged); anything else stays there."""
    channel = await connection.channel()
    taken: set[str] = set()
    try:
        dlq = await channel.declare_queue(queue, passive=True)
        while (message := await dlq.get(no_ack=False, fail=False)) is not None:
            if message.message_id in ids:
                await message.ack()
                taken.add(message.message_id)
    finally:
        await channel.close()  # what was not acknowledged goes back
    return taken


async def _all_dead_lettered(connection: aio_pika.abc.AbstractConnection, queue: str, ids: set[str]) -> None:
    found: set[str] = set()

    async def all_found() -> bool:
        found.update(await _dead_letters(connection, queue, ids - found))
        return found == ids

    await wait_for(all_found, timeout=30, interval=0.2, what=f"the poison in {queue}")


def _processed(engine: sa.Engine, message_id: str) -> bool:
    with engine.connect() as conn:
        query = sa.text("SELECT COUNT(*) FROM processed_messages WHERE message_id = :id")
        return bool(conn.execute(query, {"id": message_id}).scalar())


async def test_a_poison_message_in_every_durable_queue_ends_in_its_dlq_and_the_queue_keeps_flowing(
    fault_stack: Stack, consumers: list[Consumer], stack_database: Callable[[Stack, str], sa.Engine]
) -> None:
    stack = fault_stack
    durable = [c for c in consumers if not c.subscription.exclusive]
    assert {c.service for c in durable} >= {"auth", "social", "files", "simulator"}

    def ai_characters() -> list[str]:
        with stack_database(stack, "social").connect() as conn:
            return list(conn.execute(sa.text("SELECT user_id FROM profiles WHERE is_ai = 1")).scalars())

    ai_character = (await wait_for(ai_characters, timeout=60, interval=0.5, what="an AI character"))[0]
    connection = await aio_pika.connect(stack.config.broker_url)
    try:
        channel = await connection.channel()
        sent: dict[str, tuple[set[str], str]] = {}  # queue -> (poison ids, valid id)
        for consumer in durable:
            types = _bound_types(consumer.subscription)
            valid = next((m for t in types if (m := valid_message(t, ai_character)) is not None), None)
            assert valid is not None, f"no valid sample message for {consumer.queue} (binds {types})"
            undecodable_id, refused = str(uuid.uuid4()), make_envelope(valid, "fault-test")
            refused.data = {}  # the right type, none of its fields
            good = make_envelope(valid, "fault-test")
            for body, message_id in (
                (UNDECODABLE, undecodable_id),
                (refused.to_bytes(), str(refused.id)),
                (good.to_bytes(), str(good.id)),
            ):
                message = aio_pika.Message(
                    body,
                    message_id=message_id,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                )
                await channel.default_exchange.publish(message, routing_key=consumer.queue)
            sent[consumer.queue] = ({undecodable_id, str(refused.id)}, str(good.id))

        for consumer in durable:
            poisons, good_id = sent[consumer.queue]
            engine = stack_database(stack, consumer.service)
            await wait_for(
                lambda engine=engine, good_id=good_id: _processed(engine, good_id),
                timeout=60,
                interval=0.2,
                what=f"the valid message after the poison in {consumer.queue}",
            )
            await _all_dead_lettered(connection, consumer.dead_letter_queue, poisons)
    finally:
        await connection.close()


async def test_a_poison_message_to_a_live_consumer_is_dropped_and_it_keeps_serving(
    fault_stack: Stack, consumers: list[Consumer]
) -> None:
    """The exclusive queues: every gateway replica's live stream, every simulator's control queue, and
    every process's list of deleted accounts (aic_common.deleted_accounts)."""
    stack = fault_stack
    exclusive = {c.subscription.queue for c in consumers if c.subscription.exclusive}
    deleted_accounts = {
        f"{service}.deleted-accounts" for service in ("gateway", "social", "files", "simulator")
    }
    assert exclusive == {"gateway.stream", "simulator.control", *deleted_accounts}, (
        "a new live consumer needs a check here"
    )
    namespace = stack.config.bus_namespace
    live = LiveClient([stack.gateway_url], {"X-Forwarded-For": "10.250.0.1"})
    live.start()
    bus = RabbitBus(stack.config.broker_url, namespace)
    connection = await aio_pika.connect(stack.config.broker_url)
    try:
        await wait_for(lambda: live.connected, timeout=20, what="the live stream")
        await bus.start()
        channel = await connection.channel()
        for exchange, routing_key in (
            (f"{namespace}.events", "fault.poison"),
            (f"{namespace}.control", "sim.control"),
            (f"{namespace}.events", UserDeleted.message_type),
        ):
            target = await channel.get_exchange(exchange)
            await target.publish(aio_pika.Message(UNDECODABLE), routing_key=routing_key)
        refused = make_envelope(UserDeleted(user_id="poison", username="poison"), "fault-test")
        await bus.publish(refused.model_copy(update={"data": {"user_id": ["not", "an", "id"]}}))

        tick = make_envelope(
            SimClockAdvanced(sim_time=datetime.now(UTC), previous_sim_time=datetime.now(UTC)), "simulator"
        )
        await bus.publish(tick)
        await wait_for(lambda: str(tick.id) in live.ids(), timeout=20, what="the stream after the poison")
        reply = await bus.request(make_envelope(SimControl(command="status"), "fault-test"), timeout=10)
        assert reply.data["ok"] is True
        # The lists of deleted accounts still hear of deletions: the gateway refuses the token at once.
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as gateway:
            person = await sign_up(gateway, "poisoned")
            deleted = await gateway.request(
                "DELETE", "/api/auth/me", json={"password": PASSWORD}, headers=person.headers
            )
            assert deleted.status_code == 204, deleted.text

            async def token_refused() -> bool:
                return (await gateway.get("/api/feed/home", headers=person.headers)).status_code == 401

            await wait_for(
                token_refused, timeout=20, interval=0.2, what="the deleted account's token refused"
            )
    finally:
        await live.stop()
        await bus.stop()
        await connection.close()
