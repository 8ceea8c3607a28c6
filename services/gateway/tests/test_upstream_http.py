"""The gateway's transport to the services, over real sockets: bodies each way, keep-alive, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aic_common.testing import free_port, served_on_loopback
from aic_gateway.upstream_http import UpstreamTransport


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(
        {"method": request.method, "query": request.url.query, "size": len(body), "head": body[:20].decode()},
        headers={"Set-Cookie": "a=1", "X-Other": "é".encode().decode("latin-1")},
    )


async def chunked(request: Request) -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        for n in range(50):
            yield f"part {n};".encode() * 500

    return StreamingResponse(parts(), media_type="text/plain")


async def nothing(request: Request) -> Response:
    return Response(status_code=204)


async def slow(request: Request) -> Response:
    await asyncio.sleep(3)
    return Response("late")


@pytest.fixture
async def service() -> AsyncIterator[str]:
    app = Starlette(
        routes=[
            Route("/echo", echo, methods=["GET", "HEAD", "POST"]),
            Route("/chunked", chunked),
            Route("/nothing", nothing, methods=["DELETE"]),
            Route("/slow", slow),
        ]
    )
    async with served_on_loopback(app) as url:
        yield url


def client_for(url: str, **transport_options: object) -> tuple[httpx.AsyncClient, UpstreamTransport]:
    options = {"max_connections": 10, "idle_seconds": 30.0, **transport_options}
    transport = UpstreamTransport(**options)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=url, timeout=2.0), transport


async def test_bodies_both_ways_over_one_kept_alive_connection(service: str) -> None:
    client, transport = client_for(service)
    async with client:
        sized = await client.post("/echo?q=%E5%92%96", content=b"x" * 200_000)
        assert sized.json() == {"method": "POST", "query": "q=%E5%92%96", "size": 200_000, "head": "x" * 20}
        assert sized.headers.get_list("set-cookie") == ["a=1"]
        assert (b"x-other", "é".encode()) in sized.headers.raw, "header bytes pass as they came"

        async def stream() -> AsyncIterator[bytes]:
            for n in range(30):
                yield b"chunk %d " % n

        streamed = await client.post("/echo", content=stream())  # no length: sent chunked
        assert streamed.json()["size"] == sum(len(b"chunk %d " % n) for n in range(30))

        long = await client.get("/chunked")
        assert long.headers["transfer-encoding"] == "chunked"
        assert long.content == b"".join(f"part {n};".encode() * 500 for n in range(50))

        head = await client.head("/echo")
        assert head.status_code == 200 and head.content == b""
        gone = await client.delete("/nothing")
        assert gone.status_code == 204 and gone.content == b""
        again = await client.get("/echo")
        assert again.json()["method"] == "GET"
        connections = [c for idle in transport._idle.values() for c in idle]
        assert len(connections) == 1, "every request after the first reused the same connection"


async def test_a_stream_left_unfinished_gives_its_connection_up(service: str) -> None:
    client, transport = client_for(service, max_connections=1)
    async with client:
        async with client.stream("GET", "/chunked") as response:
            async for _ in response.aiter_raw():
                break
        assert not transport._idle.get(("127.0.0.1", int(service.rsplit(":", 1)[1]))), (
            "not put back half read"
        )
        assert (await client.get("/echo")).status_code == 200, "its slot was freed"


async def test_timeouts_and_a_full_pool_raise_httpx_errors(service: str) -> None:
    client, _ = client_for(service, max_connections=1)
    async with client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/slow", timeout=httpx.Timeout(0.3))
        held = asyncio.create_task(client.get("/slow"))
        await asyncio.sleep(0.2)
        with pytest.raises(httpx.PoolTimeout):
            await client.get("/echo", timeout=httpx.Timeout(2.0, pool=0.2))
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
        assert (await client.get("/echo")).status_code == 200, "a cancelled request frees its slot"

    refused, _ = client_for(f"http://127.0.0.1:{free_port()}")
    async with refused:
        with pytest.raises(httpx.ConnectError):
            await refused.get("/echo")


async def test_a_response_cut_short_malformed_or_informational_is_a_protocol_error() -> None:
    answers = iter(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",  # cut short
            b"NOT HTTP AT ALL\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\nuntil the end",  # no length: the body ends with the connection
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ]
    )

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(next(answers))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    client, _ = client_for(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        async with client:
            with pytest.raises(httpx.RemoteProtocolError, match="mid-response"):
                await client.get("/")
            with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
                await client.get("/")
            assert (await client.get("/")).content == b"until the end"
            with pytest.raises(httpx.RemoteProtocolError, match="informational 100"):
                await client.get("/")
    finally:
        server.close()
        await server.wait_closed()
