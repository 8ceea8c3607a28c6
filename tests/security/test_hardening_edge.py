"""Hardening at the edge, on the real topology: live streams are capped per person, per client address
and (per replica) for anonymous people; request bodies are capped per route before they are read, at the
gateway and at the services behind it; the live stream shows each audience only what the REST API shows
it; a browser opens its stream with a single-use ticket, never with its access token in the URL.

Every test speaks from addresses of its own (X-Forwarded-For, which the stack's gateway believes from
127.0.0.1), so no two tests share a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from aic_common.testing import free_port, wait_for, wait_until, wait_until_serving
from aic_common.testing.community import Account, Community, fake_ip
from aic_gateway.stack import AUTH, GATEWAY, Stack

pytestmark = pytest.mark.e2e
# GatewaySettings' defaults, which the stack runs with.
STREAMS_PER_PERSON = 5
STREAMS_PER_ADDRESS = 20
BODY_LIMIT = 128 * 1024
MB = 1 << 20
ExtraGateway = Callable[..., contextlib.AbstractContextManager[str]]  # the extra_gateway fixture


# --------------------------------------------------------------------------- live streams, synchronously


@contextlib.contextmanager
def stream_client(base_url: str) -> Iterator[httpx.Client]:
    """A client for many open streams at once: a connection each, none kept for reuse."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(30.0, read=None), limits=limits) as http:
        yield http


def open_stream(http: httpx.Client, ip: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """GET /api/stream; its headers have come (so the gateway counted it), its body is left unread."""
    request = http.build_request("GET", "/api/stream", headers={"X-Forwarded-For": ip, **(headers or {})})
    response = http.send(request, stream=True)
    if response.status_code != 200:
        response.read()
        response.close()
    return response


def opened_once_free(http: httpx.Client, ip: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """A stream opened as soon as the gateway has a place for it again (a closed one's place comes back
    when the gateway notices the disconnect)."""
    return wait_until(
        lambda: (response := open_stream(http, ip, headers)).status_code == 200 and response,
        timeout=30,
        interval=0.1,
        what="a place for one more stream",
    )


def assert_too_many_streams(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {"detail": response.json()["detail"], "code": "too_many_streams"}
    assert int(response.headers["Retry-After"]) >= 1


@contextlib.contextmanager
def closing_all(responses: list[httpx.Response]) -> Iterator[list[httpx.Response]]:
    try:
        yield responses
    finally:
        for response in responses:
            response.close()


def test_live_streams_from_one_address_are_capped(stack: Stack) -> None:
    ip = fake_ip()
    with stream_client(stack.gateway_url) as http, closing_all([]) as opened:
        for _ in range(STREAMS_PER_ADDRESS):
            opened.append(open_stream(http, ip))
            assert opened[-1].status_code == 200, opened[-1].text
        assert_too_many_streams(open_stream(http, ip))
        # Only that address waits ...
        opened.append(open_stream(http, fake_ip()))
        assert opened[-1].status_code == 200
        # ... and only while its streams are open: a closed one gives its place back.
        opened.pop(0).close()
        opened.append(opened_once_free(http, ip))
        assert_too_many_streams(open_stream(http, ip))


def test_live_streams_of_one_person_are_capped_on_every_replica(
    stack: Stack, community: Community, extra_gateway: ExtraGateway
) -> None:
    if not stack.config.redis_url:
        pytest.skip("replicas share stream counts through Redis (AIC_TEST_REDIS_URL)")
    person = community.register("streamer", wait_for_profile=False)
    signed_in = {"Authorization": f"Bearer {person.access_token}"}
    with (
        extra_gateway() as other_url,
        stream_client(stack.gateway_url) as first,
        stream_client(other_url) as second,
        closing_all([]) as opened,
    ):
        # From a new address each time: the person's own count is what stops them.
        for http in (first, first, first, second, second):
            opened.append(open_stream(http, fake_ip(), signed_in))
            assert opened[-1].status_code == 200, opened[-1].text
        assert_too_many_streams(open_stream(first, fake_ip(), signed_in))
        assert_too_many_streams(open_stream(second, fake_ip(), signed_in))
        # Other people, and anonymous visitors, are not affected.
        other = community.register("bystander", wait_for_profile=False)
        opened.append(open_stream(first, fake_ip(), {"Authorization": f"Bearer {other.access_token}"}))
        opened.append(open_stream(second, fake_ip()))
        assert [r.status_code for r in opened[-2:]] == [200, 200]
        # A stream closed on one replica frees a place on the other.
        opened.pop(0).close()
        opened.append(opened_once_free(second, fake_ip(), signed_in))


@contextlib.contextmanager
def killable_gateway(
    stack: Stack, tmp_path: Path, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One more gateway process (like ``extra_gateway``), handed out with its process to kill."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIC_")}
    env.update(stack.env_for(GATEWAY))
    env.update({"AIC_PORT": str(port), "AIC_DATA_DIR": str(tmp_path), **settings})
    log_path = tmp_path / f"gateway-{port}.log"
    command = [sys.executable, "-m", "uvicorn", "aic_gateway.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{url}/health/ready", process=process, log_path=log_path)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_streams_of_a_replica_that_dies_give_their_places_back(
    stack: Stack, community: Community, tmp_path: Path
) -> None:
    if not stack.config.redis_url:
        pytest.skip("replicas share stream counts through Redis (AIC_TEST_REDIS_URL)")
    person = community.register("orphan", wait_for_profile=False)
    signed_in = {"Authorization": f"Bearer {person.access_token}"}
    with (
        killable_gateway(stack, tmp_path, AIC_STREAM_LEASE_SECONDS="2") as (doomed_url, doomed),
        stream_client(doomed_url) as on_doomed,
        stream_client(stack.gateway_url) as http,
        closing_all([]) as opened,
    ):
        for _ in range(STREAMS_PER_PERSON):
            opened.append(open_stream(on_doomed, fake_ip(), signed_in))
            assert opened[-1].status_code == 200, opened[-1].text
        assert_too_many_streams(open_stream(http, fake_ip(), signed_in))
        # Killed, it cannot say its streams ended: their leases run out instead.
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        opened.append(opened_once_free(http, fake_ip(), signed_in))


def test_anonymous_streams_are_capped_per_replica(
    stack: Stack, community: Community, extra_gateway: ExtraGateway
) -> None:
    person = community.register("known", wait_for_profile=False)
    with (
        extra_gateway(AIC_STREAM_MAX_ANONYMOUS="2") as url,
        stream_client(url) as http,
        closing_all([]) as opened,
    ):
        opened += [open_stream(http, fake_ip()), open_stream(http, fake_ip())]
        assert [r.status_code for r in opened] == [200, 200]
        assert_too_many_streams(open_stream(http, fake_ip()))
        # People who signed in are counted as themselves.
        opened.append(open_stream(http, fake_ip(), {"Authorization": f"Bearer {person.access_token}"}))
        assert opened[-1].status_code == 200, opened[-1].text


# --------------------------------------------------------------------------- request bodies


def raw_request(url: str, head: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Send ``head`` (and ``body``) over a socket of its own; the answer's status and JSON body. The
    client never sends more than that: a server that waits for the declared body never answers."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head.encode("latin-1") + body)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _length(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2] or b"null")


def _length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def declared_login(size: int) -> str:
    return (
        "POST /api/auth/login HTTP/1.1\r\nHost: aic\r\nContent-Type: application/json\r\n"
        f"X-Forwarded-For: {fake_ip()}\r\nContent-Length: {size}\r\n\r\n"
    )


@pytest.mark.parametrize("service", [GATEWAY, AUTH])
def test_a_body_declared_too_large_is_refused_before_it_is_read(stack: Stack, service: str) -> None:
    # 80 MiB announced, not one byte sent: only a refusal on the header answers at all.
    status, body = raw_request(stack.url(service), declared_login(80 * MB))
    assert status == 413
    assert body == {"detail": body["detail"], "code": "payload_too_large"}


def test_a_streamed_body_is_cut_off_at_the_limit(stack: Stack) -> None:
    sent = 0

    def endless_json() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"username": "'
        while sent < 64 * MB:  # far more than the gateway would ever hold; it stops reading long before
            sent += 64 * 1024
            yield b"a" * 64 * 1024

    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        response = http.post(
            "/api/auth/login",
            content=endless_json(),  # no length: chunked
            headers={"Content-Type": "application/json", "X-Forwarded-For": fake_ip()},
        )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
    assert sent < 64 * MB


def test_a_body_just_under_the_limit_passes_and_uploads_keep_their_own(
    stack: Stack, community: Community
) -> None:
    person = community.register("writer")
    # A long post, every character escaped as JSON allows: well over the default, under the limit.
    escaped = json.dumps({"content": "长" * 2000}, ensure_ascii=True).encode()
    created = community.http.post(
        "/api/posts", content=escaped, headers={**person.headers, "Content-Type": "application/json"}
    )
    assert created.status_code == 201, created.text
    # An image far above the JSON limit still uploads: uploads have the files service's own limit.
    buffer = io.BytesIO()
    Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3)).save(buffer, "PNG")
    assert len(buffer.getvalue()) > 2 * BODY_LIMIT
    uploaded = community.upload(person, buffer.getvalue())
    assert uploaded.status_code == 201, uploaded.text


# --------------------------------------------------------------------------- what each audience sees


class LiveStream:
    """Reads one /api/stream in the background: the payloads of its events, in order."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: list[dict[str, Any]] = []
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            async for line in self.response.aiter_lines():
                if line.startswith("data: ") and (payload := json.loads(line[6:])).get("type"):
                    self.events.append(payload)

    def find(self, type_: str, **data: Any) -> dict[str, Any] | None:
        for event in self.events:
            if event["type"] == type_ and all(event["data"].get(k) == v for k, v in data.items()):
                return event["data"]
        return None

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.response.aclose()


@contextlib.asynccontextmanager
async def live_streams(base_url: str) -> AsyncIterator[Any]:
    """``open(ip, headers=..., params=...)`` opens a stream (asserting 200); all are closed at the end."""
    opened: list[LiveStream] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30.0, read=None)) as http:

        async def open_live(ip: str, **options: Any) -> LiveStream:
            headers = {"X-Forwarded-For": ip, **options.pop("headers", {})}
            response = await http.send(
                http.build_request("GET", "/api/stream", headers=headers, **options), stream=True
            )
            assert response.status_code == 200, (await response.aread()).decode()
            opened.append(LiveStream(response))
            return opened[-1]

        try:
            yield open_live
        finally:
            for stream in opened:
                await stream.close()


async def test_likes_and_deletions_stream_what_the_api_shows_each_audience(
    stack: Stack, community: Community
) -> None:
    author, liker, watcher = (
        community.register("author"),
        community.register("liker"),
        community.register("watcher"),
    )
    async with live_streams(stack.gateway_url) as open_live:
        anonymous = await open_live(fake_ip())
        streams = {
            "anonymous": anonymous,
            "watcher": await open_live(
                watcher.ip, headers={"Authorization": f"Bearer {watcher.access_token}"}
            ),
            "liker": await open_live(liker.ip, headers={"Authorization": f"Bearer {liker.access_token}"}),
            "author": await open_live(author.ip, headers={"Authorization": f"Bearer {author.access_token}"}),
        }
        post = community.http.post("/api/posts", json={"content": "点个赞吧"}, headers=author.headers).json()
        assert community.http.post(f"/api/posts/{post['id']}/like", headers=liker.headers).status_code == 204
        assert community.http.delete(f"/api/posts/{post['id']}", headers=author.headers).status_code == 204
        for stream in streams.values():
            await wait_for(
                lambda s=stream: s.find("post.deleted", post_id=post["id"]), timeout=20, what="post.deleted"
            )

    # The API shows who liked a post to the liker alone (liked_by_me); everyone sees that it was liked.
    for name in ("anonymous", "watcher", "author"):
        assert streams[name].find("post.liked", post_id=post["id"]) == {
            "post_id": post["id"],
            "post_author_id": author.id,
        }, name
    assert streams["liker"].find("post.liked", post_id=post["id"])["user_id"] == liker.id
    # Who deleted a post (its author or a moderator) the API shows nobody.
    for name, stream in streams.items():
        assert stream.find("post.deleted", post_id=post["id"]) == {
            "post_id": post["id"],
            "author_id": author.id,
        }, name


# --------------------------------------------------------------------------- stream tickets


def stream_ticket(http: httpx.Client, account: Account) -> str:
    response = http.post("/api/stream/ticket", headers=account.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"ticket", "expires_in"} and 0 < body["expires_in"] <= 60
    return body["ticket"]


async def test_a_stream_ticket_opens_one_private_stream(stack: Stack, community: Community) -> None:
    person, friend = community.register("ticketed"), community.register("friend")
    ticket = stream_ticket(community.http, person)
    async with live_streams(stack.gateway_url) as open_live:
        mine = await open_live(person.ip, params={"ticket": ticket})
        sent = community.http.post(
            "/api/messages", json={"to": person.username, "content": "只给你看"}, headers=friend.headers
        )
        assert sent.status_code == 201, sent.text
        await wait_for(
            lambda: mine.find("message.sent", message_id=sent.json()["id"]), timeout=20, what="the message"
        )

    # Used once, it is spent; a made-up one is no better.
    with stream_client(stack.gateway_url) as http:
        for spent in (ticket, "made-up-ticket"):
            response = http.get(
                "/api/stream", params={"ticket": spent}, headers={"X-Forwarded-For": fake_ip()}
            )
            assert response.status_code == 401, response.text
            assert response.json() == {"detail": response.json()["detail"], "code": "invalid_ticket"}
        # Only someone signed in gets one.
        anonymous = http.post("/api/stream/ticket", headers={"X-Forwarded-For": fake_ip()})
        assert anonymous.status_code == 401


def test_a_ticket_from_one_replica_opens_a_stream_on_another(
    stack: Stack, community: Community, extra_gateway: ExtraGateway
) -> None:
    if not stack.config.redis_url:
        pytest.skip("replicas share tickets through Redis (AIC_TEST_REDIS_URL)")
    person = community.register("roaming", wait_for_profile=False)
    ticket = stream_ticket(community.http, person)
    with extra_gateway() as other_url, stream_client(other_url) as http:
        request = http.build_request(
            "GET", "/api/stream", params={"ticket": ticket}, headers={"X-Forwarded-For": person.ip}
        )
        response = http.send(request, stream=True)
        try:
            assert response.status_code == 200, response.read().decode()
        finally:
            response.close()


def test_an_access_token_in_the_stream_url_is_refused_and_never_logged(
    stack: Stack, community: Community
) -> None:
    person = community.register("leaky", wait_for_profile=False)
    with stream_client(stack.gateway_url) as http:
        response = http.get(
            "/api/stream",
            params={"access_token": person.access_token},
            headers={"X-Forwarded-For": person.ip},
        )
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": response.json()["detail"], "code": "token_in_query"}
    signature = person.access_token.rsplit(".", 1)[-1]
    assert signature not in stack.log_path(GATEWAY).read_text(errors="replace")
