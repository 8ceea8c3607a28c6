"""The live stream ``GET /api/stream``: server-sent events fed from the broker.

Each gateway replica consumes every event through one exclusive queue and fans it out to the browsers
connected to it. Public activity goes to everyone, with what the REST API shows anyone; a person's
notifications and messages only to that person. A browser signs its stream in with a one-use ticket
(stream_tickets), and each person, address and replica holds only so many streams (stream_caps).
A short history (a ring buffer) lets a client that reconnects, to this replica or another,
catch up from its ``Last-Event-ID``: envelope ids come from the producer, so they are the same on every
replica, and every replica's buffer holds them in the broker's order (the bus hands a live consumer one
message at a time), so "what came after this id" is the same question everywhere. When the history
no longer reaches back that far the client gets ``event: reset`` and refetches.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from aic_common.bus import Bus, on_events
from aic_common.errors import AppError, ServiceUnavailable, Unauthorized
from aic_common.messages import Envelope
from aic_common.principals import Principal, bearer_token, verify_token
from aic_gateway.stream_caps import StreamLease, StreamLimiter
from aic_gateway.stream_tickets import StreamTickets

log = logging.getLogger(__name__)

STREAM_QUEUE = "gateway.stream"
DEFAULT_QUEUE_SIZE = 1000
RETRY_MILLISECONDS = 3000

# Private events and the data fields naming the users who may see them.
PRIVATE_AUDIENCE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "notification.created": ("user_id",),
    "message.sent": ("sender_id", "recipient_id"),
}

# Public events, each with the data fields everyone gets (None: all of them): what the REST API shows
# anyone. Anything not listed here or above (user.deleted, user.updated, file.*, commands, control) is
# never streamed.
PUBLIC_EVENT_FIELDS: Mapping[str, frozenset[str] | None] = {
    "post.created": None,
    # Not who deleted it (its author or a moderator): the API shows that to nobody.
    "post.deleted": frozenset({"post_id", "author_id"}),
    "comment.created": None,
    # Not who liked it (see PERSONAL_EVENT_FIELDS): that a post was liked is public, its count is.
    "post.liked": frozenset({"post_id", "post_author_id"}),
    "user.followed": None,
    # Not the role: who the administrators are is nobody's business.
    "user.registered": frozenset({"user_id", "username", "display_name", "is_ai", "created_at"}),
    "sim.clock.advanced": None,
    "sim.action.started": None,
    "sim.action.finished": None,
    "sim.state.changed": None,
}

# Public events of which the person a data field names gets all the data, everyone else the fields above:
# the API shows a like to the liker alone (liked_by_me), so only the liker's stream says who liked.
PERSONAL_EVENT_FIELDS: Mapping[str, str] = {
    "post.liked": "user_id",
}

RETRY_FRAME = f"retry: {RETRY_MILLISECONDS}\n\n".encode()
RESET_FRAME = b"event: reset\ndata: {}\n\n"
PING_FRAME = b": ping\n\n"

Audience = frozenset[str] | None  # None: everyone


@dataclass(frozen=True, slots=True)
class RoutedEvent:
    audience: Audience
    data: dict[str, Any]
    # The one person who gets ``personal_data`` (the whole event) instead of ``data``; None: nobody.
    person: str | None = None
    personal_data: dict[str, Any] | None = None


def route_event(envelope: Envelope) -> RoutedEvent | None:
    """Who may see ``envelope`` and the data each gets; None when it is not streamed at all."""
    fields = PRIVATE_AUDIENCE_FIELDS.get(envelope.type)
    if fields is not None:
        audience = frozenset(
            value for name in fields if isinstance(value := envelope.data.get(name), str) and value
        )
        # A private event that names nobody must not fall through to everyone.
        return RoutedEvent(audience, envelope.data) if audience else None
    if envelope.type not in PUBLIC_EVENT_FIELDS:
        return None
    keep = PUBLIC_EVENT_FIELDS[envelope.type]
    data = envelope.data if keep is None else {k: v for k, v in envelope.data.items() if k in keep}
    person = envelope.data.get(PERSONAL_EVENT_FIELDS.get(envelope.type, ""))
    if isinstance(person, str) and person and data != envelope.data:
        return RoutedEvent(None, data, person, envelope.data)
    return RoutedEvent(None, data)


def sse_frame(envelope: Envelope, data: Mapping[str, Any]) -> bytes:
    """One event in the SSE wire format; the JSON is on one line (json escapes newlines)."""
    event_id = str(envelope.id)
    payload = {
        "type": envelope.type,
        "id": event_id,
        # As the envelope itself serialises it (UTC with "Z"), so clients parse one format.
        "occurred_at": envelope.model_dump(mode="json", include={"occurred_at"})["occurred_at"],
        "data": data,
    }
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"id: {event_id}\nevent: {envelope.type}\ndata: {body}\n\n".encode()


def _canonical_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _StreamEvent:
    id: str
    audience: Audience
    frame: bytes  # encoded once, shared by every subscriber
    received: float
    person: str | None = None  # who gets personal_frame instead of frame
    personal_frame: bytes = b""

    def visible_to(self, user_id: str | None) -> bool:
        return self.audience is None or (user_id is not None and user_id in self.audience)

    def frame_for(self, user_id: str | None) -> bytes:
        return self.personal_frame if user_id is not None and user_id == self.person else self.frame


class _Signal(enum.Enum):
    RESET = "reset"  # too slow: tell the client to refetch, then end the stream
    CLOSE = "close"  # the hub is stopping: end the stream


class _Subscriber:
    __slots__ = ("queue", "user_id")

    def __init__(self, user_id: str | None, queue_size: int) -> None:
        self.user_id = user_id
        self.queue: asyncio.Queue[_StreamEvent | _Signal] = asyncio.Queue(queue_size)


class StreamHub:
    """Fans the broker's events out to the connected clients of this replica, with a replay buffer."""

    def __init__(
        self,
        bus: Bus,
        *,
        heartbeat_seconds: float,
        replay_events: int,
        replay_seconds: float,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if heartbeat_seconds <= 0:
            raise ValueError("heartbeat_seconds must be positive")
        if replay_events < 0 or replay_seconds < 0:
            raise ValueError("replay_events and replay_seconds must not be negative")
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.bus = bus
        self.heartbeat_seconds = heartbeat_seconds
        self.replay_events = replay_events
        self.replay_seconds = replay_seconds
        self.queue_size = queue_size
        self._clock = clock
        self._subscribers: set[_Subscriber] = set()
        self._by_user: dict[str, set[_Subscriber]] = {}
        self._buffer: deque[_StreamEvent] = deque()
        self._index: dict[str, _StreamEvent] = {}
        self._registered = False
        self._accepting = True
        self.received_count = 0  # envelopes consumed, streamed or not
        self.slow_disconnects = 0  # clients cut off because they did not keep up

    # ------------------------------------------------------------------ lifecycle

    def register(self) -> None:
        """Subscribe this replica's exclusive queue to every event; call before the bus starts."""
        if self._registered:
            return
        self.bus.subscribe(STREAM_QUEUE, on_events("#"), self._on_envelope, exclusive=True)
        self._registered = True

    async def start(self) -> None:
        self._accepting = True

    async def stop(self) -> None:
        """End every open stream (so the server can shut down) and refuse new ones until start."""
        self._accepting = False
        self.close_all()

    def close_all(self) -> None:
        """End every open stream now; synchronous so a shutdown hook can call it on the loop."""
        for subscriber in list(self._subscribers):
            self._close(subscriber, _Signal.CLOSE)

    def close_user(self, user_id: str) -> None:
        """End every open stream of ``user_id`` now: the account was deleted."""
        for subscriber in list(self._by_user.get(user_id, ())):
            self._close(subscriber, _Signal.CLOSE)

    @property
    def accepting(self) -> bool:
        return self._accepting

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def buffered_count(self) -> int:
        """Events a reconnecting client could still catch up on (before pruning by age)."""
        return len(self._buffer)

    # ------------------------------------------------------------------ incoming events

    async def _on_envelope(self, envelope: Envelope) -> None:
        self.received_count += 1
        try:
            self.dispatch(envelope)
        except Exception:
            # A live stream must not stall on one bad event; the exclusive queue would only drop it.
            log.exception("could not stream %s %s", envelope.type, envelope.id)
        # Let the streams drain between events: a transport that hands over a backlog without
        # suspending (the in-process bus) would otherwise fill every client's queue in one go.
        await asyncio.sleep(0)

    def dispatch(self, envelope: Envelope) -> bool:
        """Buffer and fan out one envelope without awaiting; False when it is not streamed."""
        routed = route_event(envelope)
        if routed is None:
            return False
        audience = routed.audience
        event_id = str(envelope.id)
        if event_id in self._index:
            return False  # at-least-once delivery: the same event again
        event = _StreamEvent(
            event_id,
            audience,
            sse_frame(envelope, routed.data),
            self._clock(),
            routed.person,
            sse_frame(envelope, routed.personal_data) if routed.personal_data is not None else b"",
        )
        self._remember(event)
        if audience is None:
            targets: list[_Subscriber] | set[_Subscriber] = self._subscribers
        else:
            targets = [s for user_id in audience for s in self._by_user.get(user_id, ())]
        too_slow: list[_Subscriber] = []
        for subscriber in targets:
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                too_slow.append(subscriber)
        for subscriber in too_slow:
            # Cut it off rather than let its backlog grow; on reconnect it replays what it can.
            self.slow_disconnects += 1
            log.info("stream client of user %s too slow; disconnecting", subscriber.user_id or "-")
            self._close(subscriber, _Signal.RESET)
        return True

    def _remember(self, event: _StreamEvent) -> None:
        if self.replay_events == 0 or self.replay_seconds == 0:
            return
        self._prune()
        if len(self._buffer) >= self.replay_events:
            del self._index[self._buffer.popleft().id]
        self._buffer.append(event)
        self._index[event.id] = event

    def _prune(self) -> None:
        oldest = self._clock() - self.replay_seconds
        while self._buffer and self._buffer[0].received < oldest:
            del self._index[self._buffer.popleft().id]

    def _replay_after(self, last_event_id: str, user_id: str | None) -> list[_StreamEvent] | None:
        """What ``user_id`` may see after ``last_event_id``; None when that id is no longer known."""
        self._prune()
        key = _canonical_id(last_event_id)
        anchor = self._index.get(key) if key else None
        if anchor is None or not anchor.visible_to(user_id):
            return None
        missed: list[_StreamEvent] = []
        for event in reversed(self._buffer):
            if event is anchor:
                break
            if event.visible_to(user_id):
                missed.append(event)
        missed.reverse()
        return missed

    # ------------------------------------------------------------------ subscribers

    def _add(self, subscriber: _Subscriber) -> None:
        self._subscribers.add(subscriber)
        if subscriber.user_id is not None:
            self._by_user.setdefault(subscriber.user_id, set()).add(subscriber)

    def _remove(self, subscriber: _Subscriber) -> None:
        self._subscribers.discard(subscriber)
        if subscriber.user_id is not None and (same_user := self._by_user.get(subscriber.user_id)):
            same_user.discard(subscriber)
            if not same_user:
                del self._by_user[subscriber.user_id]

    def _close(self, subscriber: _Subscriber, signal: _Signal) -> None:
        self._remove(subscriber)
        # Drop its backlog so the signal fits and is the next thing the stream sees.
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(signal)

    async def events(
        self,
        user_id: str | None,
        last_event_id: str | None = None,
        *,
        expires_in: float | None = None,
    ) -> AsyncIterator[bytes]:
        """The SSE byte stream of one client; registers on first iteration, unregisters when closed.

        ``expires_in`` (seconds) ends the stream when the client's token expires, so a stream does not
        outlive the credentials that opened it.
        """
        if not self._accepting:
            return
        loop = asyncio.get_running_loop()
        deadline = None if expires_in is None else loop.time() + expires_in
        subscriber = _Subscriber(user_id, self.queue_size)
        # Live first, then the buffer, with no await in between: every event is in exactly one of them.
        self._add(subscriber)
        replay = self._replay_after(last_event_id, user_id) if last_event_id else []
        try:
            if replay is None:
                yield RETRY_FRAME + RESET_FRAME
                replayed: set[str] = set()
            else:
                yield b"".join([RETRY_FRAME, *(event.frame_for(user_id) for event in replay)])
                replayed = {event.id for event in replay}
            while True:
                timeout = self.heartbeat_seconds
                if deadline is not None:
                    timeout = min(timeout, deadline - loop.time())
                    if timeout <= 0:
                        return
                try:
                    async with asyncio.timeout(timeout):
                        item = await subscriber.queue.get()
                except TimeoutError:
                    if deadline is not None and loop.time() >= deadline:
                        return
                    yield PING_FRAME
                    continue
                if item is _Signal.RESET:
                    yield RESET_FRAME
                    return
                if item is _Signal.CLOSE:
                    return
                assert isinstance(item, _StreamEvent)
                if replayed:
                    if item.id in replayed:
                        continue
                    replayed.clear()  # live has moved past the replayed range; nothing older follows
                yield item.frame_for(user_id)
        finally:
            self._remove(subscriber)


class StreamTicket(BaseModel):
    ticket: str
    expires_in: int


class _LeasedStream(StreamingResponse):
    """A stream that gives its places back (stream_caps) however it ends, even if never started."""

    def __init__(self, *args: Any, lease: StreamLease, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.lease.release()


def _client_address(request: Request) -> str:
    # As the edge middleware found it (trusted proxies considered); the peer when it did not run.
    address = request.scope.get("state", {}).get("client_ip")
    return address or (request.client.host if request.client else "unknown")


def stream_router(hub: StreamHub, *, tickets: StreamTickets, limiter: StreamLimiter) -> APIRouter:
    router = APIRouter(tags=["stream"])

    @router.post(
        "/api/stream/ticket",
        status_code=status.HTTP_201_CREATED,
        response_model=StreamTicket,
        summary="A ticket that opens one live stream",
    )
    async def stream_ticket(request: Request) -> StreamTicket:
        """For clients that cannot send headers with the stream request (EventSource): open
        `GET /api/stream?ticket=...` with it once, within `expires_in` seconds. The access token never
        goes into a URL, where proxies would log it."""
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise Unauthorized("Sign in to get a stream ticket", code="not_authenticated")
        await verify_token(request, token)
        ticket = await tickets.issue(token)
        return StreamTicket(ticket=ticket, expires_in=int(tickets.ttl_seconds))

    @router.get(
        "/api/stream",
        response_class=StreamingResponse,
        summary="Live events (server-sent events)",
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "Public activity for everyone; the caller's own notifications and messages "
                "when signed in (a bearer token, or a ticket from POST /api/stream/ticket). Resume with "
                "Last-Event-ID; `event: reset` means refetch.",
            },
            400: {"description": "An access token in the URL (`token_in_query`): send a ticket instead"},
            401: {"description": "The token is invalid or expired, or the ticket unknown, used or expired"},
            429: {"description": "Too many streams open for this person or address (`too_many_streams`)"},
        },
    )
    async def stream(
        request: Request,
        ticket: Annotated[
            str | None,
            Query(
                max_length=100,
                description="A ticket from POST /api/stream/ticket, for clients that "
                "cannot set headers (EventSource); it opens one stream",
            ),
        ] = None,
        last_event_id: Annotated[
            str | None, Query(description="Resume after this event id (when Last-Event-ID cannot be sent)")
        ] = None,
    ) -> StreamingResponse:
        # Checked before the response starts, so every refusal is a plain error in the common shape.
        if "access_token" in request.query_params:
            # Refused rather than ignored: a client sending it leaks it to every log on the way.
            raise AppError(
                "Do not put the access token in the URL: send it as 'Authorization: Bearer <token>' or "
                "open the stream with a ticket from POST /api/stream/ticket",
                code="token_in_query",
            )
        token = bearer_token(request.headers.get("authorization"))
        if token is None and ticket:
            token = await tickets.redeem(ticket)
            if token is None:
                raise Unauthorized(
                    "The stream ticket is unknown, used or expired; get a new one", code="invalid_ticket"
                )
        user_id: str | None = None
        expires_in: float | None = None
        if token:
            claims = await verify_token(request, token)
            principal = Principal.from_claims(claims)
            request.state.principal = principal
            user_id = principal.user_id
            expires_in = (claims.expires_at - datetime.now(UTC)).total_seconds()
        if not hub.accepting:
            raise ServiceUnavailable("The live stream is shutting down; reconnect shortly")
        lease = await limiter.acquire(user_id, _client_address(request))
        resume_from = request.headers.get("last-event-id") or last_event_id or None
        return _LeasedStream(
            hub.events(user_id, resume_from, expires_in=expires_in),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            lease=lease,
        )

    return router
