"""The embedded-mode transport: RabbitMQ's routing and delivery rules inside one process.

Same envelope, same topic routing, at-least-once delivery with a delivery limit and a dead-letter queue.
A publisher only enqueues, so a consumer's failure never reaches it. Messages live in memory: they
survive a consumer's failure, not the process (embedded mode is for one machine and development).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aic_common.bus.base import Binding, BusUnavailable, Handler, Subscription, outage_tolerant, topic_matches
from aic_common.messages import Envelope, exchange_for

log = logging.getLogger(__name__)


@dataclass
class _Delivery:
    envelope: Envelope
    failures: int = 0
    reply_to: asyncio.Future[Envelope | None] | None = None


@dataclass
class _Queue:
    subscription: Subscription
    pending: asyncio.Queue[_Delivery] = field(default_factory=asyncio.Queue)
    dead: list[Envelope] = field(default_factory=list)
    in_flight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)


class InProcessBus:
    """A bus whose exchanges and queues are Python objects in this process."""

    def __init__(
        self,
        namespace: str = "aic",
        *,
        delivery_limit: int = 5,
        outage_pause: float = 0.5,
        workers_per_queue: int = 4,
        redelivery_delay: float = 0.05,
    ) -> None:
        self.namespace = namespace
        self.delivery_limit = delivery_limit
        self.outage_pause = outage_pause  # the first pause before a handler that met an outage runs again
        self.workers_per_queue = workers_per_queue
        self.redelivery_delay = redelivery_delay
        self._queues: dict[str, _Queue] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    def subscribe(
        self,
        queue: str,
        bindings: list[Binding],
        handler: Handler,
        *,
        exclusive: bool = False,
        prefetch: int | None = None,
    ) -> None:
        if queue in self._queues:
            raise ValueError(f"queue {queue} already has a consumer")
        if not exclusive:
            handler = outage_tolerant(handler, lambda: self._running, first_pause=self.outage_pause)
        self._queues[queue] = _Queue(Subscription(queue, list(bindings), handler, exclusive, prefetch))
        if self._running:
            self._start_workers(self._queues[queue])

    async def declare_topology(self) -> None:
        """Nothing to declare: in-process queues exist with their subscriptions."""

    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        for queue in self._queues.values():
            self._start_workers(queue)

    def _start_workers(self, queue: _Queue) -> None:
        # Exclusive queues feed live streams in order: one worker keeps that order. A worker is a message
        # in flight, so the prefetch a subscription asks for is its number of workers.
        subscription = queue.subscription
        count = 1 if subscription.exclusive else subscription.prefetch or self.workers_per_queue
        for _ in range(count):
            self._tasks.append(asyncio.create_task(self._work(queue), name=f"bus:{queue.subscription.queue}"))

    async def stop(self) -> None:
        self._running = False
        # Let what is being handled finish, then stop the workers; undelivered messages stay queued.
        for queue in self._queues.values():
            if queue.in_flight:
                queue.idle.clear()
                await queue.idle.wait()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def publish(self, envelope: Envelope) -> None:
        self._route(envelope, reply_to=None)

    async def request(self, envelope: Envelope, timeout: float = 5.0) -> Envelope:
        reply: asyncio.Future[Envelope | None] = asyncio.get_running_loop().create_future()
        if not self._route(envelope, reply_to=reply):
            raise BusUnavailable(f"no consumer for {envelope.type}")
        result = await asyncio.wait_for(reply, timeout)
        if result is None:
            raise BusUnavailable(f"{envelope.type} was handled without a reply")
        return result

    def _route(self, envelope: Envelope, reply_to: asyncio.Future[Envelope | None] | None) -> int:
        exchange = exchange_for(envelope.type)
        routed = 0
        for queue in self._queues.values():
            if any(
                b.exchange == exchange and topic_matches(b.pattern, envelope.type)
                for b in queue.subscription.bindings
            ):
                # Each queue gets its own copy, as a broker would deliver it.
                copy = envelope.model_copy(deep=True)
                queue.pending.put_nowait(_Delivery(copy, reply_to=reply_to if routed == 0 else None))
                routed += 1
        return routed

    async def ping(self) -> bool:
        return self._running

    async def dead_letters(self, queue: str) -> list[Envelope]:
        return list(self._queues[queue].dead) if queue in self._queues else []

    async def _work(self, queue: _Queue) -> None:
        while True:
            delivery = await queue.pending.get()
            queue.in_flight += 1
            try:
                reply = await queue.subscription.handler(delivery.envelope)
            except asyncio.CancelledError:
                queue.pending.put_nowait(delivery)
                raise
            except Exception:
                delivery.failures += 1
                self._handle_failure(queue, delivery)
            else:
                if delivery.reply_to is not None and not delivery.reply_to.done():
                    delivery.reply_to.set_result(reply)
            finally:
                queue.in_flight -= 1
                if queue.in_flight == 0:
                    queue.idle.set()

    def _handle_failure(self, queue: _Queue, delivery: _Delivery) -> None:
        name = queue.subscription.queue
        if queue.subscription.exclusive:
            log.exception("live consumer %s failed on %s; dropped", name, delivery.envelope.type)
            return
        if delivery.failures > self.delivery_limit:
            log.error(
                "message %s (%s) failed %d times on %s; dead-lettered",
                delivery.envelope.id,
                delivery.envelope.type,
                delivery.failures,
                name,
            )
            queue.dead.append(delivery.envelope)
            if delivery.reply_to is not None and not delivery.reply_to.done():
                delivery.reply_to.set_exception(BusUnavailable(f"{delivery.envelope.type} failed"))
            return
        log.warning("consumer %s failed on %s; redelivering", name, delivery.envelope.id, exc_info=True)
        # Back of the queue after a short pause, so one failing message does not starve the rest.
        asyncio.get_running_loop().call_later(self.redelivery_delay, queue.pending.put_nowait, delivery)
