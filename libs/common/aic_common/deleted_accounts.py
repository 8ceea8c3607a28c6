"""Accounts deleted a moment ago, whose access tokens every service refuses before they expire.

An access token is checked against nothing but the signing keys, so it would outlive its account by up
to its lifetime. Each service process therefore remembers the accounts ``user.deleted`` names, for as
long as a token issued before the deletion can live (:data:`~aic_common.tokens.MAX_ACCESS_TOKEN_TTL_SECONDS`
after the deletion), and its verifier refuses their tokens (:class:`~aic_common.tokens.JwksKeySource`).

Every process must hear of every deletion, so each listens on an exclusive queue of its own: a durable
queue is shared by a service's replicas, each of which would hear of only some. The list lives in
memory, so a process started after a deletion (a restart, a new replica) or cut off from the broker
when the event went out would not know of it: auth also keeps each deletion for as long
(``deleted_accounts``, in the deletion's transaction) and serves the recent ones at
:data:`DELETED_ACCOUNTS_PATH`, which every process loads when it starts and again every
:data:`RELOAD_SECONDS` (:meth:`DeletedAccounts.load_from`; the bus layer tells of no reconnection, so
this also covers a process cut off from the broker). A load that fails is logged and tried again every
:data:`RETRY_SECONDS`; it never stops the process from starting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC

import httpx
from pydantic import BaseModel, ValidationError

from aic_common.bus import Bus, on_events
from aic_common.messages import Envelope, UserDeleted, parse_data
from aic_common.periodic import PeriodicTask
from aic_common.tokens import MAX_ACCESS_TOKEN_TTL_SECONDS
from aic_common.types import UtcDateTime

log = logging.getLogger(__name__)

QUEUE_SUFFIX = "deleted-accounts"
# Auth's list of recent deletions, beside its JWKS. For the services alone: the gateway does not forward it.
DELETED_ACCOUNTS_PATH = "/api/auth/internal/deleted-accounts"
RELOAD_SECONDS = 60.0  # how often the list is loaded again: a deletion missed on the bus is known by then
RETRY_SECONDS = 5.0  # how soon a load that failed is tried again
LOAD_TIMEOUT_SECONDS = 5.0  # the most a start waits for auth


class RecentDeletion(BaseModel):
    user_id: str
    deleted_at: UtcDateTime


class RecentDeletions(BaseModel):
    """What auth answers at :data:`DELETED_ACCOUNTS_PATH`: the accounts deleted within the last
    :data:`~aic_common.tokens.MAX_ACCESS_TOKEN_TTL_SECONDS`."""

    accounts: list[RecentDeletion]


def deleted_accounts_url(auth_url: str) -> str:
    """Where auth lists its recent deletions: the same scheme, host and port as ``auth_url``, say its
    JWKS's (``AIC_JWKS_URL``)."""
    return str(httpx.URL(auth_url).join(DELETED_ACCOUNTS_PATH))


class DeletedAccounts:
    """The ids of accounts deleted within the last ``remember_seconds``; ``user_id in deleted``."""

    def __init__(
        self,
        *,
        remember_seconds: float = MAX_ACCESS_TOKEN_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
        reload_seconds: float = RELOAD_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.remember_seconds = remember_seconds
        self.reload_seconds = reload_seconds
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._until: dict[str, float] = {}  # user id -> when its last token has expired
        self._listeners: list[Callable[[str], None]] = []
        self._source: tuple[str, httpx.AsyncClient | None] | None = None  # auth's list, and how to reach it
        self._loaded_at = float("-inf")  # time.monotonic() of the last load that worked
        self._failing = False
        self._schedule: PeriodicTask | None = None

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
        known = user_id in self._until
        self._until[user_id] = max(until, self._until.get(user_id, until))
        if known:
            return  # heard of on the bus and loaded from auth too: the listeners have been told
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

    # ------------------------------------------------------------------ auth's list

    def load_from(self, url: str, *, http_client: httpx.AsyncClient | None = None) -> DeletedAccounts:
        """Load auth's recent deletions from ``url`` when :meth:`start` is awaited and every
        ``reload_seconds`` after; ``http_client`` reaches auth in-process in dev mode."""
        self._source = (url, http_client)
        return self

    async def load(self) -> int:
        """Add what auth lists now; how many accounts it listed. Raises ``httpx.HTTPError`` or
        ``ValueError`` when auth cannot be asked or its answer is not a list of deletions."""
        if self._source is None:
            raise RuntimeError("load_from() names no list to load")
        url, client = self._source
        if client is not None:
            response = await client.get(url, timeout=LOAD_TIMEOUT_SECONDS)
        else:
            async with httpx.AsyncClient(timeout=LOAD_TIMEOUT_SECONDS) as own_client:
                response = await own_client.get(url)
        response.raise_for_status()
        try:
            listed = RecentDeletions.model_validate_json(response.content)
        except ValidationError as exc:
            raise ValueError(f"not a list of deleted accounts: {exc.error_count()} errors") from exc
        for entry in listed.accounts:
            self.add(entry.user_id, entry.deleted_at.timestamp())
        self._loaded_at = time.monotonic()
        return len(listed.accounts)

    async def _load_if_due(self) -> None:
        if time.monotonic() - self._loaded_at < self.reload_seconds:
            return
        assert self._source is not None
        try:
            count = await self.load()
        except Exception as exc:  # auth away, slow or answering nonsense: never fatal, tried again
            # Once per outage: the bus still tells of new deletions meanwhile.
            if not self._failing:
                log.warning(
                    "cannot load the recently deleted accounts from %s (%s); trying again every %ss, "
                    "until then only deletions heard of on the bus are refused",
                    self._source[0],
                    exc,
                    self.retry_seconds,
                )
            self._failing = True
            return
        if self._failing:
            log.info("loaded the recently deleted accounts from %s again", self._source[0])
        self._failing = False
        log.debug("loaded %d recently deleted accounts", count)

    async def start(self) -> None:
        """Load auth's list once now (at most :data:`LOAD_TIMEOUT_SECONDS`; a failure does not stop the
        start), then again every ``reload_seconds`` (``retry_seconds`` after a failure), in the
        background. Nothing to do without :meth:`load_from`."""
        if self._source is None or self._schedule is not None:
            return
        await self._load_if_due()
        self._schedule = PeriodicTask("loading deleted accounts", self.retry_seconds, self._load_if_due)
        await self._schedule.start()

    async def stop(self) -> None:
        if self._schedule is not None:
            await self._schedule.stop()
            self._schedule = None
