"""An httpx transport that calls an ASGI app in this process, streaming both ways.

Dev mode runs every service in one process; the gateway reaches them through the same proxy code as
over the network, with this transport in place of TCP. Unlike ``httpx.ASGITransport`` it does not
buffer: the request body is fed to the app as it arrives and the response body is handed on chunk by
chunk, so uploads and long responses behave as they do between processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.types import ASGIApp, Message

from aic_common.periodic import wait_until_set

_END = object()


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(
        self, chunks: asyncio.Queue[Any], task: asyncio.Task[None], disconnected: asyncio.Event
    ) -> None:
        self._chunks = chunks
        self._task = task
        self._disconnected = disconnected

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._chunks.get()
            if chunk is _END:
                return
            if isinstance(chunk, BaseException):
                raise httpx.RemoteProtocolError(f"the app failed mid-response: {chunk!r}") from chunk
            yield chunk

    async def aclose(self) -> None:
        # The client went away: tell the app, and stop it if it does not stop by itself.
        self._disconnected.set()
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


# The peer address an app called in-process sees.
IN_PROCESS_CLIENT = ("127.0.0.1", 0)


class InProcessTransport(httpx.AsyncBaseTransport):
    def __init__(
        self, app: ASGIApp, *, client: tuple[str, int] = IN_PROCESS_CLIENT, buffer_chunks: int = 8
    ) -> None:
        self.app = app
        self.client = client
        self.buffer_chunks = buffer_chunks

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        body = request.stream.__aiter__()
        body_done = False
        disconnected = asyncio.Event()
        started = asyncio.Event()
        head: dict[str, Any] = {}
        # Bounded: a slow reader holds the app back instead of letting the response pile up in memory.
        chunks: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.buffer_chunks)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": self.client,
            "server": (request.url.host, request.url.port or 80),
            "extensions": {},
        }

        async def receive() -> Message:
            nonlocal body_done
            if body_done:
                await disconnected.wait()
                return {"type": "http.disconnect"}
            try:
                chunk = await body.__anext__()
            except StopAsyncIteration:
                body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                head["status"] = message["status"]
                head["headers"] = message.get("headers", [])
                started.set()
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    await chunks.put(message["body"])
                if not message.get("more_body", False):
                    await chunks.put(_END)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                if started.is_set():
                    await chunks.put(exc)
                else:
                    head["error"] = exc
                    started.set()
                return
            if not started.is_set():
                head["error"] = RuntimeError("the app returned without a response")
                started.set()

        task = asyncio.create_task(run())
        # httpx's timeouts are the transport's job; here "read" bounds the wait for the response head.
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        if not await wait_until_set(started, read_timeout):
            task.cancel()
            raise httpx.ReadTimeout("the in-process app did not answer in time", request=request)
        if "error" in head:
            raise httpx.RemoteProtocolError(f"in-process app failed: {head['error']!r}", request=request)
        return httpx.Response(
            head["status"],
            headers=head["headers"],
            stream=_ResponseStream(chunks, task, disconnected),
            request=request,
        )
