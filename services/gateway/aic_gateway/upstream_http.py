"""The gateway's HTTP/1.1 transport to a service: pooled keep-alive connections, parsed in C.

httpx's own transport (httpcore with the pure-Python h11 parser, a pool that looks at every
connection on every request) was about 45 % of the gateway's CPU per proxied request. This transport
keeps httpx's client and errors (the proxy sees the same ``httpx`` exceptions and a streamed
``httpx.Response``) and does the wire work with asyncio streams and httptools, uvicorn's parser.

One request at a time per connection. A connection goes back to the pool only when its response was
read to the end and both sides keep it alive; it is let go after ``idle_seconds`` unused, before the
service would close it (see aic_common.server.KEEP_ALIVE_SECONDS).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator

import httptools
import httpx

READ_SIZE = 64 * 1024
# Responses to these never have a body, whatever their headers say (RFC 9110 §6.4.1).
_NO_BODY_STATUSES = frozenset({204, 304})


class _Response:
    """httptools callbacks for one response: its status line, headers and body as they come."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.reason = b""
        self.headers_complete = False
        self.complete = False
        self.keep_alive = False
        self.informational = 0  # the status of a 1xx response, if one came
        self.body: deque[bytes] = deque()
        self.parser: httptools.HttpResponseParser | None = None

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_complete = True
        # Asked now: once the message is complete (often within the same read), the parser says no.
        self.keep_alive = self.parser.should_keep_alive()
        if self.parser.get_status_code() < 200:
            self.informational = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.monotonic()

    def usable(self, idle_seconds: float) -> bool:
        fresh = time.monotonic() - self.idle_since < idle_seconds
        return fresh and not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()

    async def read(self, timeout: float | None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self.reader.read(READ_SIZE)
        except TimeoutError:
            raise httpx.ReadTimeout("the service did not answer in time") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from None

    async def write(self, data: bytes, timeout: float | None) -> None:
        try:
            async with asyncio.timeout(timeout):
                self.writer.write(data)
                await self.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("the service did not take the request in time") from None
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from None


class UpstreamTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("every connection to the service is busy") from None
        connection: _Connection | None = None
        try:
            address = (request.url.host, request.url.port or 80)
            connection = await self._checkout(address, timeouts.get("connect"))
            await self._send(connection, request, timeouts.get("write"))
            parser_state, parser = await self._read_head(connection, request, timeouts.get("read"))
        except BaseException:
            if connection is not None:
                connection.close()
            self._slots.release()
            raise
        stream = _ResponseBody(self, address, connection, parser_state, parser, timeouts.get("read"))
        return httpx.Response(
            parser.get_status_code(),
            headers=parser_state.headers,
            stream=stream,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": parser_state.reason.strip()},
        )

    async def _checkout(self, address: tuple[str, int], connect_timeout: float | None) -> _Connection:
        idle = self._idle.get(address, [])
        while idle:
            connection = idle.pop()
            if connection.usable(self.idle_seconds):
                return connection
            connection.close()
        try:
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_connection(*address, limit=READ_SIZE)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {address[0]}:{address[1]} in time") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return _Connection(reader, writer)

    async def _send(self, connection: _Connection, request: httpx.Request, timeout: float | None) -> None:
        head = [request.method.encode("ascii") + b" " + request.url.raw_path + b" HTTP/1.1\r\n"]
        head += [name + b": " + value + b"\r\n" for name, value in request.headers.raw]
        await connection.write(b"".join(head) + b"\r\n", timeout)
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        if not (chunked or "content-length" in request.headers):
            return  # no body
        async for chunk in request.stream:  # type: ignore[union-attr]
            if chunk:
                await connection.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk, timeout)
        if chunked:
            await connection.write(b"0\r\n\r\n", timeout)

    async def _read_head(
        self, connection: _Connection, request: httpx.Request, timeout: float | None
    ) -> tuple[_Response, httptools.HttpResponseParser]:
        state = _Response()
        parser = state.parser = httptools.HttpResponseParser(state)
        received = False
        while not state.headers_complete:
            data = await connection.read(timeout)
            if not data:
                if received:
                    raise httpx.RemoteProtocolError("The service closed the connection mid-response")
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            received = True
            _feed(parser, data)
        if state.informational:
            # The proxy sends no Expect and asks for no upgrade, so a service has no reason to send one.
            raise httpx.RemoteProtocolError(
                f"The service sent an informational {state.informational} response"
            )
        if request.method == "HEAD" or parser.get_status_code() in _NO_BODY_STATUSES:
            # The parser cannot be told that no body follows; whatever it buffered is not one.
            state.body.clear()
            state.complete = True
        return state, parser

    def _release(self, address: tuple[str, int], connection: _Connection, reusable: bool) -> None:
        if reusable:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(address, []).append(connection)
        else:
            connection.close()
        self._slots.release()

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()


def _feed(parser: httptools.HttpResponseParser, data: bytes) -> None:
    try:
        parser.feed_data(data)
    except httptools.HttpParserError as exc:
        raise httpx.RemoteProtocolError(f"The service sent a malformed response: {exc}") from None


class _ResponseBody(httpx.AsyncByteStream):
    """The body as it arrives; closing it gives the connection back (or drops it when unfinished)."""

    def __init__(
        self,
        transport: UpstreamTransport,
        address: tuple[str, int],
        connection: _Connection,
        state: _Response,
        parser: httptools.HttpResponseParser,
        read_timeout: float | None,
    ) -> None:
        self._transport, self._address, self._connection = transport, address, connection
        self._state, self._parser, self._read_timeout = state, parser, read_timeout
        self._released = False
        names = {name.lower() for name, _ in state.headers}
        framed = b"content-length" in names or b"transfer-encoding" in names
        self._until_close = not (state.complete or framed)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        state = self._state
        while True:
            while state.body:
                yield state.body.popleft()
            if state.complete:
                return
            data = await self._connection.read(self._read_timeout)
            if not data:
                if self._until_close:  # a body without a length ends with the connection
                    state.complete = True
                    continue
                raise httpx.RemoteProtocolError("The service closed the connection mid-response")
            _feed(self._parser, data)

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        state = self._state
        reusable = state.complete and not state.body and not self._until_close and state.keep_alive
        self._transport._release(self._address, self._connection, reusable)
