"""What a service sees of the message bus, whichever transport is underneath.

A service declares subscriptions (a queue name, the exchange/routing-key patterns bound to it and an
async handler), starts the bus, and publishes envelopes. Topic patterns follow AMQP: ``*`` is exactly
one dot-separated word, ``#`` is zero or more. Delivery is at least once: a handler that raises gets
the message again, up to the delivery limit, after which the message goes to the queue's dead-letter
queue and the queue keeps flowing. Handlers therefore must be idempotent (see ``inbox``). A handler
that fails because something it depends on cannot be reached (its database, or a service's object
storage: see :class:`DependencyUnavailable`) is not a failed delivery: the transport holds the message
and runs the handler again after a pause, for as long as the outage lasts (see :func:`outage_tolerant`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Protocol

from aic_common.db import is_database_unavailable
from aic_common.messages import Envelope

log = logging.getLogger(__name__)

# A handler may return an envelope, sent back to the requester when the message was a request.
Handler = Callable[[Envelope], Awaitable[Envelope | None]]

EVENTS = "events"
COMMANDS = "commands"
CONTROL = "control"
DEAD_LETTERS = "dlx"  # where a durable queue's poison messages go (RabbitMQ's dead-letter exchange)


class BusUnavailable(Exception):
    """The transport cannot take a message right now; the caller should retry later."""


class DependencyUnavailable(Exception):
    """Something the work needs cannot be reached right now; the same work succeeds once it is back.

    Raised by a layer that knows the difference (a storage client: refused or timed out is this, access
    denied is not), it makes a message's handler wait for the dependency instead of failing the message.
    """

    dependency = "a dependency"  # what is away, for the logs: "object storage", say


def unavailable_dependency(error: BaseException) -> str | None:
    """What ``error`` says is away for now (the database or a :class:`DependencyUnavailable`'s
    dependency), or None when it says that the work itself failed.

    The one decision of what a message waits for rather than fails on.
    """
    if isinstance(error, DependencyUnavailable):
        return error.dependency
    if is_database_unavailable(error):
        return "database"
    return None


@dataclass(frozen=True)
class Binding:
    exchange: str  # one of EVENTS, COMMANDS, CONTROL (the namespace is added by the transport)
    pattern: str


def on_events(*patterns: str) -> list[Binding]:
    return [Binding(EVENTS, p) for p in patterns]


def on_commands(*patterns: str) -> list[Binding]:
    return [Binding(COMMANDS, p) for p in patterns]


def on_control(*patterns: str) -> list[Binding]:
    return [Binding(CONTROL, p) for p in patterns]


@dataclass
class Subscription:
    queue: str
    bindings: list[Binding]
    handler: Handler
    # An exclusive queue lives as long as this process's connection (a gateway replica's live stream);
    # it is not durable and has no dead-lettering: what it misses while down is not wanted.
    exclusive: bool = False
    # How many unacknowledged messages the consumer holds at once (None: the bus's default); a consumer
    # that commits in batches (``BatchingInbox``) wants more, a live one exactly one.
    prefetch: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


class Bus(Protocol):
    namespace: str

    def subscribe(
        self,
        queue: str,
        bindings: list[Binding],
        handler: Handler,
        *,
        exclusive: bool = False,
        prefetch: int | None = None,
    ) -> None:
        """Register a consumer; must be called before :meth:`start`."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def declare_topology(self) -> None:
        """Create the subscriptions' durable queues without consuming (a deployment's migration step)."""

    async def publish(self, envelope: Envelope) -> None:
        """Hand the message to the transport; returns once it is safely stored (confirmed)."""

    async def request(self, envelope: Envelope, timeout: float = 5.0) -> Envelope:
        """Publish and wait for the handler's reply (used for simulation control status)."""

    async def ping(self) -> bool: ...

    async def dead_letters(self, queue: str) -> list[Envelope]:
        """What sits in a queue's dead-letter queue (for operators and tests); does not remove it."""


def outage_tolerant(
    handler: Handler,
    keep_waiting: Callable[[], bool],
    *,
    first_pause: float = 0.5,
    longest_pause: float = 5.0,
) -> Handler:
    """``handler``, run again while a dependency of it is away (:func:`unavailable_dependency`) and
    ``keep_waiting()`` holds.

    An outage is not the message's fault. Failing the delivery would count towards the delivery limit,
    and a valid message would reach the DLQ within a second of the database or the storage going away.
    Held instead, the message stays unacknowledged: a crash meanwhile hands it back to the queue, and a
    stopping bus (``keep_waiting()`` false) lets it fail as usual.
    """

    async def run(envelope: Envelope) -> Envelope | None:
        pause = first_pause
        while True:
            try:
                return await handler(envelope)
            except Exception as error:
                dependency = unavailable_dependency(error)
                if dependency is None or not keep_waiting():
                    raise
                log.warning(
                    "%s unavailable while handling %s %s; trying again in %.1fs",
                    dependency,
                    envelope.type,
                    envelope.id,
                    pause,
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, longest_pause)

    return run


@lru_cache(maxsize=4096)
def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more words."""
    pat, key = pattern.split("."), routing_key.split(".")

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(key)
        if pat[i] == "#":
            return match(i + 1, j) or (j < len(key) and match(i, j + 1))
        if j == len(key):
            return False
        return pat[i] in ("*", key[j]) and match(i + 1, j + 1)

    return match(0, 0)
