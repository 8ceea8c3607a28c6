"""Every service's cap on request bodies: refused on the declared length before a byte is read, cut off
as soon as a body without one passes the cap, whatever the route does with the body; routes that take
more (uploads) have limits of their own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from aic_common.settings import ServiceSettings
from aic_common.testing import served_on_loopback
from aic_common.web import create_service_app

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("restore_logging")]
LIMIT = 1024
UPLOAD_LIMIT = 8192


class Note(BaseModel):
    text: str


def router() -> APIRouter:
    router = APIRouter()

    @router.post("/json")
    async def parsed(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    async def count(request: Request) -> dict[str, int]:
        return {"length": sum([len(chunk) async for chunk in request.stream()])}

    router.add_api_route("/streamed", count, methods=["POST"])
    router.add_api_route("/upload", count, methods=["POST"])
    router.add_api_route("/own", count, methods=["POST"])

    @router.post("/proxy")
    async def proxy(request: Request) -> JSONResponse:
        # As the gateway's proxy does when the body it forwards breaks: a 502 of its own.
        try:
            async for _ in request.stream():
                pass
        except Exception:
            return JSONResponse({"detail": "broken", "code": "bad_gateway"}, status_code=502)
        return JSONResponse({}, status_code=200)

    return router


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    app = create_service_app(
        ServiceSettings(service_name="limited", max_request_body_bytes=LIMIT),
        title="t",
        routers=[router()],
        body_limits={("POST", "/upload"): UPLOAD_LIMIT, ("POST", "/own"): None},
    )
    async with served_on_loopback(app) as url:
        yield url


def chunks(total: int, size: int = 256) -> Iterator[bytes]:
    yield b'{"text": "'
    for _ in range(total // size):
        yield b"a" * size
    yield b'"}'


def assert_too_large(response: httpx.Response, limit: int = LIMIT) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {
        "detail": f"The request body is larger than the limit of {limit:,} bytes",
        "code": "payload_too_large",
    }
    assert response.headers["connection"] == "close"


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(base_url: str) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    # Only the head: a server that waited for the 80 MiB it was promised would never answer.
    writer.write(
        b"POST /json HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 83886080\r\n\r\n"
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)  # read() ends when the server closes
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["code"] == "payload_too_large"


def post_streamed(url: str, total: int) -> httpx.Response:
    """POST a body of ``total`` bytes without a length (chunked). A blocking client: after the server
    cut it off, it still reads the answer the server sent first (asyncio's transports drop it)."""
    return httpx.post(url, content=chunks(total), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/json", "/streamed", "/proxy"])
async def test_a_body_without_a_length_is_cut_off_at_the_limit(base_url: str, path: str) -> None:
    # Far more than the kernel's buffers: the server answers and closes while the body is on its way.
    assert_too_large(await asyncio.to_thread(post_streamed, base_url + path, 64 * 1024 * 1024))


async def test_bodies_within_their_limits_pass(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers={"Content-Type": "application/json"}) as http:
        fits = b'{"text": "' + b"a" * (LIMIT - 12) + b'"}'
        assert (await http.post("/json", content=fits)).json() == {"length": LIMIT - 12}
        assert (await asyncio.to_thread(post_streamed, f"{base_url}/json", LIMIT - 512)).status_code == 200
        assert_too_large(await http.post("/json", content=fits + b" "))
        # A route with a limit of its own: more than the default, not more than its own.
        assert (await http.post("/upload", content=b"x" * UPLOAD_LIMIT)).json() == {"length": UPLOAD_LIMIT}
        too_large = await asyncio.to_thread(post_streamed, f"{base_url}/upload", 2 * UPLOAD_LIMIT)
        assert_too_large(too_large, UPLOAD_LIMIT)
        # A route that caps its body itself is left alone.
        assert (await http.post("/own", content=b"x" * 50 * LIMIT)).json() == {"length": 50 * LIMIT}
