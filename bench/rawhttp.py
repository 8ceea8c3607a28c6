"""A lean HTTP/1.1 client for the load generator: keep-alive connections, nothing else.

The load generator shares the machine's two cores with the system it measures, so every millisecond it
spends is taken from the system (as wrk2 in DeathStarBench is written in C for the same reason). httpx
costs about 1.4 ms of CPU per request here; this client writes the request httpx encodes (so JSON and
multipart bodies are exactly what httpx would send) and reads the response itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx


class HttpError(Exception):
    """The request failed below HTTP: no connection, a broken or cut response. ``kind`` names it."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    content: bytes


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class RawClient:
    """Pooled keep-alive connections per host; one request at a time on each."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def request(
        self, method: str, url: str, *, headers: dict[str, str], json: Any = None, files: Any = None
    ) -> RawResponse:
        encoded = httpx.Request(method, url, headers=headers, json=json, files=files)
        body = encoded.read()
        target = urlsplit(url)
        address = (target.hostname or "127.0.0.1", target.port or 80)
        head = [f"{method} {encoded.url.raw_path.decode('ascii')} HTTP/1.1"]
        head += [f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, v in encoded.headers.raw]
        wire = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        async with asyncio.timeout(self.timeout_seconds):
            connection, reused = await self._connection(address)
            try:
                response = await self._exchange(connection, wire)
            except HttpError as exc:
                connection.close()
                if not (reused and exc.kind == "closed before answering"):
                    raise
                # A kept-alive connection the server had just closed: nothing was processed, send again.
                connection, _ = await self._connection(address, fresh=True)
                try:
                    response = await self._exchange(connection, wire)
                except BaseException:
                    connection.close()
                    raise
            except BaseException:
                connection.close()  # cancelled or timed out mid-exchange: the connection is unusable
                raise
        if response.headers.get("connection", "").lower() == "close":
            connection.close()
        else:
            self._idle.setdefault(address, []).append(connection)
        return response

    async def _connection(self, address: tuple[str, int], fresh: bool = False) -> tuple[_Connection, bool]:
        idle = self._idle.get(address, [])
        while idle and not fresh:
            connection = idle.pop()
            if connection.usable():
                return connection, True
            connection.close()
        try:
            reader, writer = await asyncio.open_connection(*address, limit=1 << 20)
        except OSError as exc:
            raise HttpError("ConnectError", str(exc)) from None
        return _Connection(reader, writer), False

    async def _exchange(self, connection: _Connection, wire: bytes) -> RawResponse:
        reader, writer = connection.reader, connection.writer
        try:
            writer.write(wire)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise HttpError("closed before answering") from None
            raise HttpError("ReadError", "the response head was cut") from None
        except (OSError, asyncio.LimitOverrunError) as exc:
            raise HttpError("ReadError", str(exc)) from None
        lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError("RemoteProtocolError", lines[0][:80]) from None
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        try:
            if headers.get("transfer-encoding", "").lower() == "chunked":
                content = await _read_chunked(reader)
            else:
                content = await reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, OSError, ValueError) as exc:
            raise HttpError("ReadError", f"the response body was cut: {exc}") from None
        return RawResponse(status, headers, content)

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, then the blank line
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
