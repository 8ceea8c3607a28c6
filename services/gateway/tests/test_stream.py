"""The live stream over a real HTTP server, fed by the in-process bus and by a real RabbitMQ.

Streaming responses are read from a uvicorn server on a loopback port: httpx's ASGI transport buffers a
whole response, which a stream never finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn

from aic_common.bus import EVENTS, Bus, InProcessBus
from aic_common.bus.rabbit import RabbitBus
from aic_common.messages import (
    CreatePostCommand,
    Envelope,
    FileUploaded,
    MessageData,
    MessageSent,
    NotificationCreated,
    PostCreated,
    PostDeleted,
    PostLiked,
    UserDeleted,
    UserRegistered,
    UserUpdated,
    exchange_for,
    make_envelope,
)
from aic_common.settings import ServiceSettings
from aic_common.testing import free_port, wait_for
from aic_common.tokens import TokenIssuer, TokenVerifier, generate_rsa_private_key_pem
from aic_common.web import create_service_app
from aic_gateway.stream import RoutedEvent, StreamHub, route_event, stream_router
from aic_gateway.stream_caps import StreamCaps, StreamLimiter
from aic_gateway.stream_tickets import StreamTickets

ALICE, BOB, CAROL = "u-alice", "u-bob", "u-carol"


# ---------------------------------------------------------------- events


def envelope(data: MessageData) -> Envelope:
    return make_envelope(data, producer="test")


def post(content: str = "你好，世界", author: str = CAROL) -> Envelope:
    return envelope(
        PostCreated(
            post_id=str(uuid.uuid4()),
            author_id=author,
            author_username=author,
            content=content,
            created_at=datetime.now(UTC),
        )
    )


def notification(user_id: str) -> Envelope:
    return envelope(
        NotificationCreated(
            notification_id=str(uuid.uuid4()),
            user_id=user_id,
            kind="like",
            actor_id=CAROL,
            actor_username="carol",
            created_at=datetime.now(UTC),
        )
    )


def message(sender: str, recipient: str) -> Envelope:
    return envelope(
        MessageSent(
            message_id=str(uuid.uuid4()),
            conversation_id=str(uuid.uuid4()),
            sender_id=sender,
            sender_username=sender,
            recipient_id=recipient,
            recipient_username=recipient,
            content="悄悄话",
            created_at=datetime.now(UTC),
        )
    )


def ids_of(*envelopes: Envelope) -> list[str]:
    return [str(e.id) for e in envelopes]


def assert_same_events(received: list[str], expected: list[str]) -> None:
    """Each expected event exactly once and nothing else. RabbitMQ hands a queue's messages to
    concurrent tasks, so events published back to back may arrive swapped; order is not checked here.
    """
    assert len(received) == len(set(received)), f"duplicates in {received}"
    assert sorted(received) == sorted(expected)


# ---------------------------------------------------------------- SSE client


@dataclass
class Frame:
    event: str | None = None
    id: str | None = None
    data: str | None = None
    retry: str | None = None
    comment: str | None = None

    def json(self) -> Any:
        assert self.data is not None
        return json.loads(self.data)


class SseClient:
    """Reads one event stream in the background into ``frames``."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.frames: list[Frame] = []
        self.ended = False
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        frame = Frame()
        touched = False
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if touched:
                        self.frames.append(frame)
                    frame, touched = Frame(), False
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                touched = True
                if name == "":
                    frame.comment = value
                elif name == "data":
                    frame.data = value if frame.data is None else f"{frame.data}\n{value}"
                elif name in ("event", "id", "retry"):
                    setattr(frame, name, value)
        except httpx.HTTPError:
            pass
        finally:
            self.ended = True

    def events(self, type_: str | None = None) -> list[Frame]:
        return [f for f in self.frames if f.event is not None and (type_ is None or f.event == type_)]

    def ids(self) -> list[str]:
        return [f.id for f in self.events() if f.id is not None]

    async def wait_for_id(self, event_id: str | uuid.UUID, timeout: float = 15.0) -> None:
        await wait_for(lambda: str(event_id) in self.ids(), timeout=timeout, what=f"event {event_id}")

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.response.aclose()


# ---------------------------------------------------------------- a gateway around the hub


@dataclass
class Transport:
    kind: str
    make_bus: Callable[[], Bus]
    publisher: Bus

    async def publish(self, *envelopes: Envelope) -> None:
        for item in envelopes:
            await self.publisher.publish(item)


@pytest.fixture(
    params=[
        pytest.param("inprocess", marks=pytest.mark.unit),
        pytest.param("rabbit", marks=pytest.mark.integration),
    ]
)
async def transport(request: pytest.FixtureRequest, bus_namespace: str) -> AsyncIterator[Transport]:
    if request.param == "inprocess":
        shared = InProcessBus(bus_namespace)
        await shared.start()
        yield Transport("inprocess", lambda: shared, shared)
        await shared.stop()
        return
    url = request.getfixturevalue("rabbitmq_url")
    buses: list[RabbitBus] = []

    def make_bus() -> Bus:
        bus = RabbitBus(url, bus_namespace, app_id="gateway")
        buses.append(bus)
        return bus

    publisher = RabbitBus(url, bus_namespace, app_id="test-publisher")
    await publisher.start()
    buses.append(publisher)
    yield Transport("rabbit", make_bus, publisher)
    for bus in reversed(buses):
        with contextlib.suppress(Exception):
            await bus.stop()
    for bus in reversed(buses):
        with contextlib.suppress(Exception):
            await bus.delete_topology()


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer(generate_rsa_private_key_pem(), issuer="aic-auth", audience="aic")


@dataclass
class Gateway:
    hub: StreamHub
    tickets: StreamTickets
    url: str
    issuer: TokenIssuer
    server: uvicorn.Server
    task: asyncio.Task[None]
    http: httpx.AsyncClient
    clients: list[SseClient] = field(default_factory=list)

    def token(self, user_id: str, **kwargs: Any) -> str:
        return self.issuer.issue_access_token(user_id, username=user_id, role="user", **kwargs)

    async def connect(
        self,
        user_id: str | None = None,
        *,
        via_query: bool = False,
        last_event_id: str | None = None,
        token: str | None = None,
        **kwargs: Any,
    ) -> SseClient:
        """Open a stream and wait until it is live (the hub sent ``retry``, so it is registered).
        ``via_query``: as EventSource does, with a stream ticket and the last event id in the URL."""
        headers: dict[str, str] = {}
        params: dict[str, str] = {}
        token = token or (self.token(user_id, **kwargs) if user_id else None)
        if token:
            if via_query:
                params["ticket"] = await self.ticket(token)
            else:
                headers["Authorization"] = f"Bearer {token}"
        if last_event_id:
            if via_query:
                params["last_event_id"] = last_event_id
            else:
                headers["Last-Event-ID"] = last_event_id
        request = self.http.build_request("GET", f"{self.url}/api/stream", headers=headers, params=params)
        response = await self.http.send(request, stream=True)
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        client = SseClient(response)
        self.clients.append(client)
        await wait_for(lambda: any(f.retry == "3000" for f in client.frames), what="the retry frame")
        return client

    async def ticket(self, token: str) -> str:
        response = await self.http.post(
            f"{self.url}/api/stream/ticket", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 201, response.text
        return response.json()["ticket"]

    async def publish_settled(self, transport: Transport, *envelopes: Envelope) -> Envelope:
        """Publish, wait until this replica consumed all of it, then publish a marker and return it.

        A client that has the marker has had its chance at everything before it: nothing published
        earlier can still be on its way.
        """
        expected = self.hub.received_count + sum(exchange_for(e.type) == EVENTS for e in envelopes)
        await transport.publish(*envelopes)
        await wait_for(lambda: self.hub.received_count >= expected, what="the hub to consume")
        marker = post("marker")
        await transport.publish(marker)
        return marker

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        await self.hub.stop()
        self.server.should_exit = True
        await self.task
        await self.http.aclose()


StartGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(transport: Transport, issuer: TokenIssuer) -> AsyncIterator[StartGateway]:
    """Starts a gateway replica (its own bus, hub and HTTP server); several for RabbitMQ."""
    started: list[Gateway] = []

    async def start(caps: StreamCaps | None = None, **hub_options: Any) -> Gateway:
        """``caps``: how many streams it takes (plenty by default); ``clock`` times the hub and tickets."""
        options: dict[str, Any] = {"heartbeat_seconds": 30.0, "replay_events": 100, "replay_seconds": 300.0}
        options.update(hub_options)
        caps = caps or StreamCaps(per_person=100, per_address=100, anonymous=100)
        clock = hub_options.get("clock")
        bus = transport.make_bus()
        hub = StreamHub(bus, **options)
        hub.register()
        await bus.start()
        await hub.start()
        tickets = StreamTickets(None, ttl_seconds=30, **({"clock": clock} if clock else {}))
        limiter = StreamLimiter(caps, None, lease_seconds=60)
        app = create_service_app(
            ServiceSettings(service_name="gateway"),
            title="t",
            routers=[stream_router(hub, tickets=tickets, limiter=limiter)],
        )
        app.state.token_verifier = TokenVerifier.from_issuer(issuer)
        port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        await wait_for(lambda: server.started, what="uvicorn to start")
        http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), trust_env=False)
        gateway = Gateway(hub, tickets, f"http://127.0.0.1:{port}", issuer, server, task, http)
        started.append(gateway)
        return gateway

    yield start
    for gateway in reversed(started):
        await gateway.close()


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> Gateway:
    return await start_gateway()


# ---------------------------------------------------------------- who sees what


async def test_anonymous_client_gets_public_events_only(gateway: Gateway, transport: Transport) -> None:
    anonymous = await gateway.connect()
    private = notification(ALICE)
    registered = envelope(
        UserRegistered(
            user_id="u-dora", username="dora", display_name="朵拉", role="admin", created_at=datetime.now(UTC)
        )
    )
    public = post("第一条动态\n两行")
    marker = await gateway.publish_settled(transport, private, registered, public)

    await anonymous.wait_for_id(marker.id)
    assert_same_events(anonymous.ids(), ids_of(registered, public, marker))  # no notification
    frame = anonymous.events("post.created")[0]
    assert frame.id == str(public.id)
    assert frame.json() == {
        "type": "post.created",
        "id": str(public.id),
        "occurred_at": public.model_dump(mode="json")["occurred_at"],
        "data": public.data,
    }
    assert frame.json()["data"]["content"] == "第一条动态\n两行"
    # Public profile fields only: the role says who the administrators are.
    assert anonymous.events("user.registered")[0].json()["data"] == {
        "user_id": "u-dora",
        "username": "dora",
        "display_name": "朵拉",
        "is_ai": False,
        "created_at": registered.data["created_at"],
    }


async def test_private_events_reach_only_their_audience(gateway: Gateway, transport: Transport) -> None:
    alice = await gateway.connect(ALICE)
    bob = await gateway.connect(BOB, via_query=True)  # EventSource passes a ticket in the query
    anonymous = await gateway.connect()

    for_alice, for_bob = notification(ALICE), notification(BOB)
    carol_to_alice, carol_to_bob, alice_to_bob = (
        message(CAROL, ALICE),
        message(CAROL, BOB),
        message(ALICE, BOB),
    )
    marker = await gateway.publish_settled(
        transport, for_alice, for_bob, carol_to_alice, carol_to_bob, alice_to_bob
    )

    for client in (alice, bob, anonymous):
        await client.wait_for_id(marker.id)
    assert_same_events(alice.ids(), ids_of(for_alice, carol_to_alice, alice_to_bob, marker))
    assert_same_events(bob.ids(), ids_of(for_bob, carol_to_bob, alice_to_bob, marker))
    assert anonymous.ids() == ids_of(marker)
    assert alice.events("notification.created")[0].json()["data"] == for_alice.data


async def test_unlisted_events_are_never_streamed(gateway: Gateway, transport: Transport) -> None:
    alice = await gateway.connect(ALICE)
    unlisted = [
        envelope(UserDeleted(user_id=ALICE, username="alice")),
        envelope(UserUpdated(user_id=ALICE, username="alice", display_name="Alice")),
        envelope(
            FileUploaded(
                file_id="f1", owner_id=ALICE, content_type="image/png", size=1, width=1, height=1, sha256="0"
            )
        ),
        envelope(CreatePostCommand(actor_id=ALICE, content="a command")),
        Envelope(type="something.unknown", producer="test", data={"user_id": ALICE}),
    ]
    marker = await gateway.publish_settled(transport, *unlisted)

    await alice.wait_for_id(marker.id)
    assert alice.ids() == ids_of(marker)


@pytest.mark.unit
def test_routing_rules() -> None:
    assert route_event(envelope(UserDeleted(user_id=ALICE, username="alice"))) is None
    assert route_event(Envelope(type="notification.created", producer="t", data={})) is None
    private = message(ALICE, BOB)
    assert route_event(private) == RoutedEvent(frozenset({ALICE, BOB}), private.data)
    routed = route_event(post("x"))
    assert routed is not None and routed.audience is None and routed.data["content"] == "x"


# ---------------------------------------------------------------- authentication


async def test_invalid_token_is_401_before_streaming(gateway: Gateway) -> None:
    other = TokenIssuer(generate_rsa_private_key_pem(), issuer="aic-auth", audience="aic")
    forged = other.issue_access_token(ALICE, username="alice", role="user")
    attempts: list[dict[str, Any]] = [
        {"headers": {"Authorization": "Bearer not.a.token"}},
        {"headers": {"Authorization": f"Bearer {forged}"}},
        {"headers": {"Authorization": "Basic abc"}},
    ]
    for attempt in attempts:
        response = await gateway.http.get(f"{gateway.url}/api/stream", **attempt)
        assert response.status_code == 401, attempt
        assert response.json()["code"] == "invalid_token"
        assert set(response.json()) == {"detail", "code"}
        assert response.headers["www-authenticate"] == "Bearer"
    assert gateway.hub.subscriber_count == 0


async def test_stream_ends_when_the_token_expires(gateway: Gateway) -> None:
    alice = await gateway.connect(ALICE, ttl_seconds=2)
    await wait_for(lambda: alice.ended, timeout=5, what="the stream to end at token expiry")
    await wait_for(lambda: gateway.hub.subscriber_count == 0, what="the subscriber to go")


async def test_a_like_names_the_liker_to_the_liker_alone_and_a_deletion_names_nobody(
    gateway: Gateway, transport: Transport
) -> None:
    before = post("before")
    liked = envelope(PostLiked(post_id="p1", post_author_id=ALICE, user_id=BOB))
    deleted = envelope(PostDeleted(post_id="p1", author_id=ALICE, deleted_by="u-admin"))
    liker, author, anonymous = (
        await gateway.connect(BOB),
        await gateway.connect(ALICE),
        await gateway.connect(),
    )
    await transport.publish(before)
    await liker.wait_for_id(before.id)
    marker = await gateway.publish_settled(transport, liked, deleted)
    # Live, and replayed to clients that come back after the event.
    replayed_liker = await gateway.connect(BOB, last_event_id=str(before.id))
    replayed_anonymous = await gateway.connect(last_event_id=str(before.id))

    public_like = {"post_id": "p1", "post_author_id": ALICE}
    for client, like in [
        (liker, liked.data),
        (replayed_liker, liked.data),
        (author, public_like),
        (anonymous, public_like),
        (replayed_anonymous, public_like),
    ]:
        await client.wait_for_id(marker.id)
        assert client.events("post.liked")[0].json()["data"] == like
        assert client.events("post.deleted")[0].json()["data"] == {"post_id": "p1", "author_id": ALICE}


# ---------------------------------------------------------------- tickets

inprocess_only = pytest.mark.parametrize("transport", ["inprocess"], indirect=True)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"detail": response.json()["detail"], "code": code}


@inprocess_only
async def test_a_ticket_opens_one_stream_once_and_only_while_fresh(start_gateway: StartGateway) -> None:
    now = [1000.0]
    gateway = await start_gateway(clock=lambda: now[0])
    stream_url = f"{gateway.url}/api/stream"
    ticket = await gateway.ticket(gateway.token(ALICE))
    async with gateway.http.stream("GET", stream_url, params={"ticket": ticket}) as opened:
        assert opened.status_code == 200
    assert_error(await gateway.http.get(stream_url, params={"ticket": ticket}), 401, "invalid_ticket")

    stale = await gateway.ticket(gateway.token(ALICE))
    now[0] += gateway.tickets.ttl_seconds
    assert_error(await gateway.http.get(stream_url, params={"ticket": stale}), 401, "invalid_ticket")
    assert_error(await gateway.http.get(stream_url, params={"ticket": "made-up"}), 401, "invalid_ticket")
    anonymous = await gateway.http.post(f"{gateway.url}/api/stream/ticket")
    assert_error(anonymous, 401, "not_authenticated")


@inprocess_only
async def test_an_access_token_in_the_url_is_refused(gateway: Gateway) -> None:
    token = gateway.token(ALICE)
    response = await gateway.http.get(f"{gateway.url}/api/stream", params={"access_token": token})
    assert_error(response, 400, "token_in_query")
    assert token not in response.text
    assert gateway.hub.subscriber_count == 0


# ---------------------------------------------------------------- how many streams


@inprocess_only
async def test_streams_past_a_cap_are_refused_until_one_ends(start_gateway: StartGateway) -> None:
    # Every client here speaks from 127.0.0.1: one address.
    gateway = await start_gateway(caps=StreamCaps(per_person=2, per_address=4, anonymous=1))
    stream_url = f"{gateway.url}/api/stream"

    def signed_in(user_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {gateway.token(user_id)}"}

    first = await gateway.connect(ALICE)
    await gateway.connect(ALICE)
    assert_error(await gateway.http.get(stream_url, headers=signed_in(ALICE)), 429, "too_many_streams")
    await gateway.connect()
    assert_error(await gateway.http.get(stream_url), 429, "too_many_streams")  # anonymous ones
    await gateway.connect(BOB)
    refused = await gateway.http.get(stream_url, headers=signed_in(CAROL))  # the address is full
    assert_error(refused, 429, "too_many_streams")
    assert int(refused.headers["Retry-After"]) >= 1

    await first.close()

    async def reopened() -> bool:
        response = await gateway.http.send(
            gateway.http.build_request("GET", stream_url, headers=signed_in(ALICE)), stream=True
        )
        await response.aclose()
        return response.status_code == 200

    # Its place, under Alice and under the address, comes back once the gateway saw it end.
    await wait_for(reopened, what="the closed stream's place")


# ---------------------------------------------------------------- liveness


async def test_heartbeat_when_idle(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(heartbeat_seconds=0.2)
    client = await gateway.connect()
    await wait_for(lambda: sum(f.comment == "ping" for f in client.frames) >= 2, timeout=5, what="two pings")


async def test_disconnect_unregisters(gateway: Gateway) -> None:
    first = await gateway.connect(ALICE)
    second = await gateway.connect()
    assert gateway.hub.subscriber_count == 2
    await first.close()
    await wait_for(lambda: gateway.hub.subscriber_count == 1, what="the first client to be unregistered")
    await second.close()
    await wait_for(lambda: gateway.hub.subscriber_count == 0, what="every client to be unregistered")


async def test_stop_ends_open_streams_and_refuses_new_ones(gateway: Gateway) -> None:
    client = await gateway.connect()
    await gateway.hub.stop()
    await wait_for(lambda: client.ended, what="the stream to end")
    assert gateway.hub.subscriber_count == 0
    response = await gateway.http.get(f"{gateway.url}/api/stream")
    assert response.status_code == 503
    await gateway.hub.start()


async def test_slow_consumer_is_cut_off_without_affecting_others(
    start_gateway: StartGateway, transport: Transport
) -> None:
    gateway = await start_gateway(queue_size=2)
    fast = await gateway.connect()
    # A client that stopped reading: its stream was opened (registered) and is then left alone.
    slow = gateway.hub.events(None)
    assert (await anext(slow)).startswith(b"retry: 3000")
    assert gateway.hub.subscriber_count == 2

    burst = [post(f"#{i}") for i in range(10)]
    await transport.publish(*burst)

    await wait_for(lambda: len(fast.ids()) == len(burst), what="the fast client to get the burst")
    assert_same_events(fast.ids(), ids_of(*burst))
    assert gateway.hub.slow_disconnects == 1
    assert gateway.hub.subscriber_count == 1
    # Its backlog was dropped: the next thing it reads is the reset, then the stream ends.
    assert await anext(slow) == b"event: reset\ndata: {}\n\n"
    with pytest.raises(StopAsyncIteration):
        await anext(slow)


# ---------------------------------------------------------------- resuming


async def test_reconnect_with_last_event_id_replays_exactly_what_was_missed(
    gateway: Gateway, transport: Transport
) -> None:
    alice = await gateway.connect(ALICE)
    seen = post("before")
    await transport.publish(seen)
    await alice.wait_for_id(seen.id)
    await alice.close()
    await wait_for(lambda: gateway.hub.subscriber_count == 0, what="the client to go")

    missed = [post("missed 1"), notification(ALICE), notification(BOB), post("missed 2")]
    await transport.publish(*missed)
    await wait_for(lambda: gateway.hub.buffered_count == 5, what="the hub to buffer the missed events")

    again = await gateway.connect(ALICE, last_event_id=str(seen.id))
    live = post("after")
    await transport.publish(live)
    await again.wait_for_id(live.id)
    assert_same_events(again.ids()[:-1], ids_of(missed[0], missed[1], missed[3]))  # not Bob's
    assert again.ids()[-1] == str(live.id)

    # The same through the query parameter, for a new EventSource that cannot send the header.
    resume_from = again.ids()[1]
    by_query = await gateway.connect(ALICE, via_query=True, last_event_id=resume_from)
    await by_query.wait_for_id(live.id)
    assert by_query.ids() == again.ids()[2:]


async def test_resume_while_events_flow_has_no_gap_and_no_duplicate(
    gateway: Gateway, transport: Transport
) -> None:
    observer = await gateway.connect()  # connected throughout: what an uninterrupted client sees
    first = await gateway.connect()
    burst = [post(f"#{i}") for i in range(60)]
    publishing = asyncio.create_task(transport.publish(*burst))
    await wait_for(lambda: len(first.ids()) >= 10, what="ten events before the disconnect")
    await first.close()
    resume_from = first.ids()[-1]

    second = await gateway.connect(last_event_id=resume_from)
    await publishing
    await wait_for(lambda: len(observer.ids()) == len(burst), what="the observer to get the burst")
    expected = observer.ids()[observer.ids().index(resume_from) + 1 :]
    await wait_for(lambda: len(second.ids()) >= len(expected), what="the resumed client to catch up")
    assert second.ids() == expected


async def test_unknown_or_expired_last_event_id_gets_reset(
    start_gateway: StartGateway, transport: Transport
) -> None:
    now = [1000.0]
    gateway = await start_gateway(replay_seconds=60.0, clock=lambda: now[0])
    for unknown in (str(uuid.uuid4()), "not-an-id"):
        client = await gateway.connect(last_event_id=unknown)
        await wait_for(client.events, what="the reset")
        assert client.events() == [Frame(event="reset", data="{}")]

    old = post("old")
    await transport.publish(old)
    await wait_for(lambda: gateway.hub.buffered_count == 1, what="the event to be buffered")
    now[0] += 61  # older than the replay window
    late = await gateway.connect(last_event_id=str(old.id))
    await wait_for(late.events, what="the reset")
    assert late.events() == [Frame(event="reset", data="{}")]
    # After the reset the stream goes on live.
    fresh = post("fresh")
    await transport.publish(fresh)
    await late.wait_for_id(fresh.id)

    # Someone else's private event id is as good as unknown.
    secret = notification(BOB)
    await transport.publish(secret)
    await wait_for(lambda: gateway.hub.buffered_count == 2, what="the notification to be buffered")
    nosy = await gateway.connect(ALICE, last_event_id=str(secret.id))
    await wait_for(nosy.events, what="the reset")
    assert nosy.events() == [Frame(event="reset", data="{}")]


# Replicas each need their own exclusive queue: RabbitMQ only.
@pytest.mark.integration
@pytest.mark.parametrize("transport", ["rabbit"], indirect=True)
async def test_reconnect_to_another_replica_replays(
    start_gateway: StartGateway, transport: Transport
) -> None:
    first, second = await start_gateway(), await start_gateway()
    client = await first.connect(BOB)
    seen = post("seen on the first replica")
    await transport.publish(seen)
    await client.wait_for_id(seen.id)
    await client.close()

    missed = [notification(BOB), post("missed")]
    await transport.publish(*missed)
    await wait_for(lambda: second.hub.buffered_count == 3, what="the second replica to buffer")
    resumed = await second.connect(BOB, last_event_id=str(seen.id))
    await wait_for(lambda: len(resumed.ids()) >= len(missed), what="the replay")
    assert_same_events(resumed.ids(), ids_of(*missed))
