"""The server every process runs: a request's head must arrive in time and within a size, over a real
socket to uvicorn with the project's options (the deadline shortened so the tests are quick)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import pytest
import uvicorn

from aic_common import server
from aic_common.server import GuardedHttpProtocol, serve, uvicorn_options
from aic_common.testing import free_port, wait_for

pytestmark = pytest.mark.unit

# How long a test waits for the server to close a connection: many deadlines, on a busy machine.
CLOSE_WAIT_SECONDS = 15.0


class QuickDeadline(GuardedHttpProtocol):
    header_timeout_seconds: ClassVar[float] = 0.5
    max_header_bytes: ClassVar[int] = 4096


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def guarded_server() -> AsyncIterator[int]:
    port = free_port()
    options = {**uvicorn_options(), "http": QuickDeadline}
    config = uvicorn.Config(
        hello, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **options
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    await wait_for(lambda: running.started, timeout=10)
    try:
        yield port
    finally:
        running.should_exit = True
        await task


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed the connection (bounded: a test fails, never hangs)."""
    return await asyncio.wait_for(reader.read(), timeout=CLOSE_WAIT_SECONDS)


async def test_a_head_that_never_completes_is_cut_off() -> None:
    async with guarded_server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: aic\r\nX-Slow: a")
        await writer.drain()
        assert await closed_by_server(reader) == b""
        writer.close()


async def test_a_connection_that_sends_nothing_is_cut_off() -> None:
    async with guarded_server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_by_server(reader) == b""
        writer.close()


async def test_a_head_trickling_in_is_cut_off_at_its_deadline_however_busy_it_looks() -> None:
    async with guarded_server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: aic\r\n")
        closed = asyncio.create_task(closed_by_server(reader))
        # A header line now and then: each arrives well inside the deadline, the head never ends.
        for number in range(10_000):
            if closed.done():
                break
            writer.write(b"X-Drip-%d: 1\r\n" % number)
            await asyncio.sleep(0.05)  # the pace of the attack, not a wait for the server
        assert await closed == b""
        writer.close()


async def test_the_next_request_on_a_kept_alive_connection_has_its_own_deadline() -> None:
    async with guarded_server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: aic\r\n\r\n")
        answer = await asyncio.wait_for(reader.readuntil(b"ok"), timeout=CLOSE_WAIT_SECONDS)
        assert answer.startswith(b"HTTP/1.1 200")
        writer.write(b"GET / HTTP/1.1\r\nHost: a")
        assert await closed_by_server(reader) == b""
        writer.close()


async def test_blank_lines_between_requests_do_not_hold_the_connection_open() -> None:
    async with guarded_server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: aic\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"ok"), timeout=CLOSE_WAIT_SECONDS)
        writer.write(b"\r\n")
        assert await closed_by_server(reader) == b""
        writer.close()


async def test_a_head_in_pieces_that_completes_in_time_is_served() -> None:
    async with guarded_server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for piece in (b"GET / HT", b"TP/1.1\r\nHo", b"st: aic\r\nConnection: close\r\n", b"\r\n"):
            writer.write(piece)
            await writer.drain()
        answer = await closed_by_server(reader)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")
        writer.close()


async def test_a_head_past_its_size_limit_is_refused_431_in_the_error_shape() -> None:
    async with guarded_server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # One endless header value: the parser would keep every byte of it until the line ends.
        writer.write(b"GET / HTTP/1.1\r\nHost: aic\r\nX-Big: " + b"a" * 8192)
        await writer.drain()
        answer = await closed_by_server(reader)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431")
        assert json.loads(body) == {"detail": "Request Header Fields Too Large", "code": "headers_too_large"}
        writer.close()


async def test_a_whole_head_past_its_size_limit_is_refused_and_one_within_it_served() -> None:
    async with guarded_server() as port:
        answers = []
        for padding in (4096, 3000):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"GET / HTTP/1.1\r\nHost: aic\r\nX-Pad: %s\r\nConnection: close\r\n\r\n" % (b"a" * padding)
            )
            answers.append(await closed_by_server(reader))
            writer.close()
    too_large, within = answers
    assert too_large.startswith(b"HTTP/1.1 431") and b'"code": "headers_too_large"' in too_large
    assert within.startswith(b"HTTP/1.1 200") and within.endswith(b"ok")


def test_every_server_gets_the_same_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append({"app": app, **kwargs}))
    everywhere = "0.0.0.0"  # noqa: S104 - only handed to the fake uvicorn.run
    arguments = ["aic_auth.app:create_app", "--host", everywhere, "--port", "8000"]
    server.main([*arguments, "--timeout-graceful-shutdown", "20"])
    serve(hello, host="127.0.0.1", port=8001, graceful_shutdown_seconds=5, access_log=False)
    command, dev = calls
    assert command["app"] == "aic_auth.app:create_app" and command["factory"] is True
    assert (command["host"], command["port"], command["timeout_graceful_shutdown"]) == (everywhere, 8000, 20)
    for call in calls:
        assert call["http"] is GuardedHttpProtocol
        assert call["timeout_keep_alive"] == server.KEEP_ALIVE_SECONDS
        assert call["limit_concurrency"] == server.MAX_CONCURRENCY
        # The client's address is aic_common.client_address's to find, from AIC_TRUSTED_PROXIES alone.
        assert call["proxy_headers"] is False
        assert call["lifespan"] == "on"
    assert dev["access_log"] is False
