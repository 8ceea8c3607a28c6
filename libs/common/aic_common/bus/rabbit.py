"""The RabbitMQ transport, on FastStream's RabbitBroker.

Topology (every name prefixed with the namespace):
- topic exchanges ``events``, ``commands``, ``control`` (durable); routing key = message type;
- one durable quorum queue per subscription with ``x-delivery-limit`` and dead-lettering to the
  direct exchange ``dlx``, where ``<queue>.dlq`` collects what failed;
- exclusive, auto-deleted classic queues for per-replica live consumers, consumed one message at a
  time so every replica handles them in the order the broker holds them.
Publishing waits for the broker's confirm and marks messages persistent. Consumers ack after the
handler returns (its DB transaction committed) and nack on error, so the quorum queue counts the
failure towards the delivery limit.

Every message is published with ``user_id`` set to the connection's broker user. RabbitMQ refuses a
message whose ``user_id`` is not the user the connection authenticated as, so a consumer can trust it:
it is handed to handlers as :attr:`Envelope.broker_user` (the simulator obeys control messages only
from the users a deployment allows).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from faststream import AckPolicy
from faststream.exceptions import RejectMessage
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitMessage,
    RabbitQueue,
)

from aic_common.bus.base import (
    COMMANDS,
    CONTROL,
    DEAD_LETTERS,
    EVENTS,
    Binding,
    BusUnavailable,
    Handler,
    Subscription,
    outage_tolerant,
)
from aic_common.messages import Envelope, exchange_for

log = logging.getLogger(__name__)

# Live consumers handle their messages one by one, in the queue's order: with several in flight,
# concurrent handlers can swap two, and replicas would hold different orders (a stream resumed on
# another replica after Last-Event-ID would then repeat or skip one).
_LIVE_CHANNEL = Channel(prefetch_count=1)


async def _raw_body(message: Any) -> bytes:
    # Hand handlers the bytes: the envelope is parsed (and a poison body rejected) by us, not FastStream.
    return bytes(message.body)


def connection_user(url: str) -> str:
    """The broker user an AMQP URL signs in as (RabbitMQ's default, guest, when it names none)."""
    return unquote(urlsplit(url).username or "guest")


class RabbitBus:
    def __init__(
        self,
        url: str,
        namespace: str = "aic",
        *,
        delivery_limit: int = 5,
        outage_pause: float = 0.5,
        prefetch: int = 16,
        publish_timeout: float = 10.0,
        connect_timeout: float = 30.0,
        app_id: str = "aic",
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.user = connection_user(url)
        self.delivery_limit = delivery_limit
        self.outage_pause = outage_pause  # the first pause before a handler that met an outage runs again
        self.publish_timeout = publish_timeout
        self.connect_timeout = connect_timeout
        self.broker = RabbitBroker(
            url,
            default_channel=Channel(prefetch_count=prefetch, publisher_confirms=True),
            graceful_timeout=15.0,
            app_id=app_id,
            logger=logging.getLogger("aic.bus.faststream"),
            log_level=logging.DEBUG,
            reconnect_interval=1.0,
        )
        self._subscriptions: list[tuple[Subscription, RabbitQueue]] = []
        self._exchanges = {
            name: RabbitExchange(f"{namespace}.{name}", type=ExchangeType.TOPIC, durable=True)
            for name in (EVENTS, COMMANDS, CONTROL)
        }
        self._dlx = RabbitExchange(f"{namespace}.{DEAD_LETTERS}", type=ExchangeType.DIRECT, durable=True)
        self._prefetch_channels: dict[int, Channel] = {}
        self._started = False
        self._stopping = False

    # ------------------------------------------------------------------ naming

    def queue_name(self, queue: str) -> str:
        return f"{self.namespace}.{queue}"

    def dead_letter_queue_name(self, queue: str) -> str:
        return f"{self.namespace}.{queue}.dlq"

    @property
    def subscriptions(self) -> list[Subscription]:
        """The consumers registered on this bus, in registration order (its part of the topology)."""
        return [subscription for subscription, _ in self._subscriptions]

    def _rabbit_queue(self, subscription: Subscription) -> RabbitQueue:
        first = subscription.bindings[0].pattern if subscription.bindings else ""
        if subscription.exclusive:
            name = f"{self.queue_name(subscription.queue)}.{uuid.uuid4().hex[:12]}"
            return RabbitQueue(name, durable=False, exclusive=True, auto_delete=True, routing_key=first)
        name = self.queue_name(subscription.queue)
        return RabbitQueue(
            name,
            queue_type=QueueType.QUORUM,
            routing_key=first,
            arguments={
                "x-delivery-limit": self.delivery_limit,
                "x-dead-letter-exchange": self._dlx.name,
                "x-dead-letter-routing-key": name,
                # The default at-most-once dead-lettering: RabbitMQ 3.10's at-least-once mode runs a
                # worker per queue under one supervisor that gives up (taking every quorum queue's
                # dead-lettering with it) when queues come and go quickly. The DLQ holds poison
                # messages for an operator to inspect; it is not part of the delivery guarantee.
            },
        )

    # ------------------------------------------------------------------ consuming

    def subscribe(
        self,
        queue: str,
        bindings: list[Binding],
        handler: Handler,
        *,
        exclusive: bool = False,
        prefetch: int | None = None,
    ) -> None:
        if self._started:
            raise RuntimeError("subscribe before start")
        if not bindings:
            raise ValueError("a subscription needs at least one binding")
        if not exclusive:  # a live consumer has no dependency to wait for, and nobody waits for it
            handler = outage_tolerant(handler, lambda: not self._stopping, first_pause=self.outage_pause)
        subscription = Subscription(queue, list(bindings), handler, exclusive, prefetch)
        rabbit_queue = self._rabbit_queue(subscription)
        self._subscriptions.append((subscription, rabbit_queue))

        async def consume(body: bytes) -> None:
            # The message from FastStream's context, not as a handler argument: an injected one is
            # resolved by a synchronous function that FastDepends runs on a worker thread, a thread hop
            # per message (about a third of a consumer's CPU for a message it ignores).
            message: RabbitMessage = self.broker.context.get_local("message")
            try:
                envelope = Envelope.from_bytes(body, broker_user=message.raw_message.user_id)
            except ValueError as exc:
                # Unparseable: no redelivery can fix it, so straight to the dead-letter queue.
                log.error("rejecting malformed message on %s: %s", rabbit_queue.name, exc)
                raise RejectMessage() from exc
            reply = await handler(envelope)
            if reply is not None and message.reply_to:
                # Replied by hand (no_reply below): a consumer with nothing to say must send nothing,
                # or a silent standby's empty answer could reach the requester before the real one.
                await self.broker.publish(
                    reply.to_bytes(),
                    routing_key=message.reply_to,
                    correlation_id=message.correlation_id,
                    content_type="application/json",
                    user_id=self.user,
                )
            return None

        self.broker.subscriber(
            rabbit_queue,
            self._exchanges[bindings[0].exchange],
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=_raw_body,
            no_reply=True,
            title=rabbit_queue.name,
            channel=self._channel_for(subscription),
        )(consume)

    def _channel_for(self, subscription: Subscription) -> Channel | None:
        if subscription.exclusive:
            return _LIVE_CHANNEL
        if subscription.prefetch is not None:  # a channel of its own: prefetch is set per channel
            return self._prefetch_channels.setdefault(
                subscription.prefetch, Channel(prefetch_count=subscription.prefetch)
            )
        return None  # the broker's default channel

    async def start(self) -> None:
        if self._started:
            return
        self._stopping = False
        await self._connect()
        await self._declare_topology()
        await self.broker.start()
        self._started = True

    async def declare_topology(self) -> None:
        """Declare the exchanges and this service's durable queues, then disconnect, consuming nothing.

        A deployment's migration step runs this before any service starts, so an event published by one
        service during the first start-up (the bootstrap admin's registration) is not dropped for want of
        the queue another service has not declared yet.
        """
        await self._connect()
        try:
            await self._declare_topology(durable_only=True)
        finally:
            await self.broker.stop()

    async def _connect(self) -> None:
        deadline = asyncio.get_running_loop().time() + self.connect_timeout
        while True:
            try:
                await self.broker.connect()
                return
            except Exception as exc:  # connection refused, DNS, auth: retry until the deadline
                if asyncio.get_running_loop().time() > deadline:
                    raise BusUnavailable(f"cannot connect to RabbitMQ: {exc}") from exc
                log.warning("RabbitMQ not reachable yet (%s); retrying", exc)
                await asyncio.sleep(1.0)

    async def _declare_topology(self, *, durable_only: bool = False) -> None:
        exchanges = {name: await self.broker.declare_exchange(ex) for name, ex in self._exchanges.items()}
        dlx = await self.broker.declare_exchange(self._dlx)
        declarer = self.broker.config.declarer
        for subscription, rabbit_queue in self._subscriptions:
            if durable_only and subscription.exclusive:
                continue  # an exclusive queue would vanish with this short connection anyway
            # On the channel its consumer will use: FastStream keeps the first declaration of a queue.
            channel = self._channel_for(subscription)
            queue = await declarer.declare_queue(rabbit_queue, channel=channel)
            for binding in subscription.bindings:
                await queue.bind(exchanges[binding.exchange], routing_key=binding.pattern)
            if not subscription.exclusive:
                dlq = await self.broker.declare_queue(
                    RabbitQueue(self.dead_letter_queue_name(subscription.queue), queue_type=QueueType.QUORUM)
                )
                await dlq.bind(dlx, routing_key=rabbit_queue.name)

    async def stop(self) -> None:
        self._stopping = True
        try:
            await self.broker.stop()
        except Exception as exc:  # a channel the broker already closed must not fail the shutdown
            log.warning("RabbitMQ connection closed with errors: %r", exc)
        self._started = False

    # ------------------------------------------------------------------ publishing

    async def publish(self, envelope: Envelope) -> None:
        try:
            await asyncio.wait_for(
                self.broker.publish(
                    envelope.to_bytes(),
                    exchange=self._exchanges[exchange_for(envelope.type)],
                    routing_key=envelope.type,
                    persist=True,
                    mandatory=False,
                    message_id=str(envelope.id),
                    correlation_id=envelope.correlation_id,
                    content_type="application/json",
                    message_type=envelope.type,
                    user_id=self.user,
                ),
                self.publish_timeout,
            )
        except Exception as exc:
            raise BusUnavailable(f"publish of {envelope.type} not confirmed: {exc!r}") from exc

    async def request(self, envelope: Envelope, timeout: float = 5.0) -> Envelope:
        try:
            response = await self.broker.request(
                envelope.to_bytes(),
                exchange=self._exchanges[exchange_for(envelope.type)],
                routing_key=envelope.type,
                message_id=str(envelope.id),
                correlation_id=envelope.correlation_id,
                content_type="application/json",
                timeout=timeout,
                user_id=self.user,
            )
        except TimeoutError as exc:
            raise BusUnavailable(f"no reply to {envelope.type} within {timeout}s") from exc
        return Envelope.from_bytes(bytes(response.body))

    # ------------------------------------------------------------------ operations

    async def ping(self) -> bool:
        try:
            return bool(await self.broker.ping(timeout=2.0))
        except Exception:
            return False

    async def dead_letters(self, queue: str) -> list[Envelope]:
        # Read without acking, then close the channel: the broker puts every message back.
        connection = self.broker._connection  # FastStream keeps the robust connection here
        if connection is None:
            raise BusUnavailable("not connected")
        channel = await connection.channel()
        found: list[Envelope] = []
        try:
            dlq = await channel.declare_queue(self.dead_letter_queue_name(queue), passive=True)
            while (message := await dlq.get(no_ack=False, fail=False)) is not None:
                try:
                    found.append(Envelope.from_bytes(message.body))
                except ValueError:
                    found.append(
                        Envelope(
                            type="malformed",
                            producer="unknown",
                            data={"raw": message.body.decode(errors="replace")},
                        )
                    )
        finally:
            await channel.close()
        return found

    async def delete_topology(self) -> None:
        """Delete this bus's queues, dead-letter queues and exchanges (tearing down a namespace).

        Call it once every consumer of the namespace has stopped: deleting a quorum queue that a
        robust connection is still consuming makes it re-declare the queue mid-deletion, which
        RabbitMQ 3.10 answers by failing the channel. Uses a connection of its own for that reason."""
        connection = await aio_pika.connect(self.url, timeout=10)
        channel = await connection.channel()
        try:
            for subscription, rabbit_queue in self._subscriptions:
                await channel.queue_delete(rabbit_queue.name)
                if not subscription.exclusive:
                    await channel.queue_delete(self.dead_letter_queue_name(subscription.queue))
            for exchange in [*self._exchanges.values(), self._dlx]:
                await channel.exchange_delete(exchange.name)
        finally:
            await channel.close()
            await connection.close()
