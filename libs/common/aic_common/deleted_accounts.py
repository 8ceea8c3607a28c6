"""Accounts deleted a moment ago, whose access tokens every service refuses before they expire.

An access token is checked against nothing but the signing keys, so it would outlive its account by up
to its lifetime. Each service process therefore remembers the accounts ``user.deleted`` names, for as
long as a token issued before the deletion can live (:data:`~aic_common.tokens.MAX_ACCESS_TOKEN_TTL_SECONDS`
after the deletion), and its verifier refuses their tokens (:class:`~aic_common.tokens.JwksKeySource`).

Every process must hear of every deletion, so each listens on an exclusive queue of its own: a durable
queue is shared by a service's replicas, each of which would hear of only some. The list lives in
memory: a process started after a deletion does not know of it (the gateway in front of it, which is
older, usually does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC

from aic_common.bus import Bus, on_events
from aic_common.messages import Envelope, UserDeleted, parse_data
from aic_common.tokens import MAX_ACCESS_TOKEN_TTL_SECONDS

log = logging.getLogger(__name__)

QUEUE_SUFFIX = "deleted-accounts"


class DeletedAccounts:
    """The ids of accounts deleted within the last ``remember_seconds``; ``user_id in deleted``."""

    def __init__(
        self,
        *,
        remember_seconds: float = MAX_ACCESS_TOKEN_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.remember_seconds = remember_seconds
        self._clock = clock
        self._until: dict[str, float] = {}  # user id -> when its last token has expired
        self._listeners: list[Callable[[str], None]] = []

    def __contains__(self, user_id: object) -> bool:
        until = self._until.get(user_id) if isinstance(user_id, str) else None
        return until is not None and until > self._clock()

    def __len__(self) -> int:
        self._forget_expired()
        return len(self._until)

    def on_deleted(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(user_id)`` for each deletion heard of (the gateway closes their streams)."""
        self._listeners.append(listener)

    def add(self, user_id: str, deleted_at: float) -> None:
        """Remember ``user_id``, deleted at ``deleted_at`` (epoch seconds; a time ahead of this
        process's clock counts as now, so a skewed clock cannot make the entry outlive its tokens)."""
        self._forget_expired()
        until = min(deleted_at, self._clock()) + self.remember_seconds
        if until <= self._clock():
            return  # heard of too late to matter: every token it had has expired
        self._until[user_id] = max(until, self._until.get(user_id, until))
        for listener in self._listeners:
            try:
                listener(user_id)
            except Exception:
                log.exception("a listener failed on the deletion of account %s", user_id)

    def _forget_expired(self) -> None:
        now = self._clock()
        for user_id in [user_id for user_id, until in self._until.items() if until <= now]:
            del self._until[user_id]

    def listen(self, bus: Bus, service_name: str) -> DeletedAccounts:
        """Hear of deletions on ``<service_name>.deleted-accounts``, a queue of this process's own;
        call before the bus starts."""
        bus.subscribe(
            f"{service_name}.{QUEUE_SUFFIX}",
            on_events(UserDeleted.message_type),
            self._on_envelope,
            exclusive=True,
        )
        return self

    async def _on_envelope(self, envelope: Envelope) -> None:
        try:
            event = parse_data(envelope, UserDeleted)
        except ValueError:
            # A live queue has no dead-letter queue: a message that fails would come back for ever.
            log.error("ignoring a malformed %s message %s", envelope.type, envelope.id)
            return
        occurred_at = envelope.occurred_at
        if occurred_at.tzinfo is None:  # every service writes UTC
            occurred_at = occurred_at.replace(tzinfo=UTC)
        self.add(event.user_id, occurred_at.timestamp())
        log.info("refusing the tokens of deleted account %s", event.user_id)
