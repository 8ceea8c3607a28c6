"""The gateway in front of stand-in upstreams (in-process), and with the real auth service."""

from __future__ import annotations

import asyncio
import gzip
import random
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from aic_common.bus import InProcessBus
from aic_common.testing import app_lifespan
from aic_gateway.app import create_app
from aic_gateway.dev import build_dev_app
from aic_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration
SMALL_BODY = "小而可压缩 small and compressible ".encode() * 50
LARGE_BODY = random.Random(5).randbytes(300 * 1024)


def echo_upstream() -> FastAPI:
    """Stands in for a service: reports what reached it."""
    app = FastAPI(openapi_url=None)
    hits = {"count": 0}
    app.state.hits = hits

    @app.api_route("/api/posts/{rest:path}", methods=["GET", "POST", "DELETE"])
    async def echo(request: Request, rest: str) -> JSONResponse:
        hits["count"] += 1
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        response = JSONResponse(
            {
                "path": request.url.path,
                "query": request.url.query,
                "headers": dict(request.headers),
                "size": size,
            }
        )
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    @app.get("/api/feed/home")
    async def slow() -> JSONResponse:
        await asyncio.sleep(5)
        return JSONResponse({})

    @app.get("/api/search")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(5):
                yield f"chunk{i};".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/api/users/{name}")
    async def sized(name: str) -> Response:
        # Either side of the length the proxy reads whole: a small gzipped body, a large plain one.
        if name == "large":
            return Response(LARGE_BODY, media_type="application/octet-stream")
        body = gzip.compress(SMALL_BODY)
        return Response(body, media_type="text/plain", headers={"Content-Encoding": "gzip"})

    @app.get("/openapi.json")
    async def openapi() -> JSONResponse:
        return JSONResponse(
            {
                "openapi": "3.1.0",
                "paths": {"/api/posts/{id}": {"get": {}}, "/health/live": {"get": {}}},
                "components": {"schemas": {"UserPublic": {"type": "object", "title": "social one"}}},
            }
        )

    return app


@pytest.fixture
async def dev(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The dev composition (real auth in-process) plus a stand-in social upstream."""
    # Long enough for argon2 on a busy machine, well short of the slow stand-in's 5 s.
    settings = GatewaySettings(
        data_dir=tmp_path,
        upstream_timeout_seconds=2.5,
        rate_limit_login_per_ip=5,
        max_request_body_bytes=8 << 20,  # the streamed body below is 4 MiB
    )
    app, _ = build_dev_app(settings)
    upstream = echo_upstream()
    from aic_gateway.inprocess import InProcessTransport
    from aic_gateway.proxy import Upstream

    app.state.gateway.upstreams["social"] = Upstream(
        "social", httpx.AsyncClient(transport=InProcessTransport(upstream), base_url="http://social")
    )
    app.state.upstream_app = upstream
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app, client=("198.51.100.10", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client, app


async def register_and_login(client: httpx.AsyncClient, name: str = "gwuser") -> str:
    password = "gateway passphrase 99"
    created = await client.post(
        "/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": password}
    )
    assert created.status_code == 201, created.text
    login = await client.post("/api/auth/login", json={"username": name, "password": password})
    assert login.status_code == 200, login.text
    return login.json()["access_token"]


async def test_auth_flow_through_the_gateway(dev) -> None:
    client, _ = dev
    token = await register_and_login(client)
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "gwuser"


async def test_protected_route_needs_a_token_and_a_bad_one_is_refused_at_the_edge(dev) -> None:
    client, app = dev
    hits = app.state.upstream_app.state.hits
    anonymous = await client.post("/api/posts/new", json={})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    forged = await client.get("/api/posts/1", headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_token"
    assert hits["count"] == 0, "refused requests never reach the service"
    public = await client.get("/api/posts/1")
    assert public.status_code == 200 and hits["count"] == 1


async def test_headers_are_forwarded_cleanly(dev) -> None:
    client, _ = dev
    token = await register_and_login(client, "hdruser")
    response = await client.get(
        "/api/posts/7?x=1&y=%E4%B8%AD",
        headers={
            "Authorization": f"Bearer {token}",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "must not pass",
            "X-Forwarded-For": "10.9.9.9",
            "X-Request-ID": "client-chosen-id",
            "Expect": "100-continue",
        },
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["path"] == "/api/posts/7" and seen["query"] == "x=1&y=%E4%B8%AD"
    headers = seen["headers"]
    # Hop-by-hop headers, and those the client's Connection header named, stop at the gateway.
    assert "x-secret-hop" not in headers and "X-Secret-Hop" not in headers.get("connection", "")
    assert "expect" not in headers, "the gateway answers Expect itself: a service never sends a 100"
    # The address the gateway resolved, alone: what the client claimed does not reach the service.
    assert headers["x-forwarded-for"] == "198.51.100.10"
    assert headers["x-request-id"] == response.headers["x-request-id"] == "client-chosen-id"
    assert headers["authorization"] == f"Bearer {token}"
    assert response.headers.get_list("set-cookie") == [
        "a=1; Path=/; SameSite=lax",
        "b=2; Path=/; SameSite=lax",
    ]


async def test_request_and_response_bodies_stream_through(dev) -> None:
    client, _ = dev
    token = await register_and_login(client, "bodyuser")

    async def body() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"x" * 65536

    response = await client.post(
        "/api/posts/upload", content=body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.json()["size"] == 64 * 65536
    streamed = await client.get("/api/search")
    assert streamed.text == "chunk0;chunk1;chunk2;chunk3;chunk4;"


async def test_small_and_large_responses_arrive_whole_with_their_encoding(dev) -> None:
    client, _ = dev
    small = await client.get("/api/users/small")
    assert small.status_code == 200 and small.headers["content-encoding"] == "gzip"
    assert int(small.headers["content-length"]) < len(SMALL_BODY)  # passed on compressed
    assert small.content == SMALL_BODY  # as httpx decodes it

    large = await client.get("/api/users/large")
    assert large.status_code == 200
    assert int(large.headers["content-length"]) == len(LARGE_BODY)
    assert large.content == LARGE_BODY


async def test_slow_upstream_gives_504(dev) -> None:
    client, _ = dev
    token = await register_and_login(client, "slowuser")
    response = await client.get("/api/feed/home", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 504 and response.json()["code"] == "upstream_timeout"


async def test_unreachable_upstream_gives_503_after_retrying(tmp_path: Path) -> None:
    from aic_common.testing import app_lifespan, free_port

    settings = GatewaySettings(
        data_dir=tmp_path, social_url=f"http://127.0.0.1:{free_port()}", upstream_retries=2
    )
    app = create_app(settings, shared_bus=InProcessBus("t"))
    async with (
        app_lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        response = await client.get("/api/posts/1")
    assert response.status_code == 503
    assert response.json()["code"] == "upstream_unavailable" and response.headers["retry-after"] == "5"


async def test_a_kept_alive_connection_closed_unanswered_is_retried_for_idempotent_requests_only(
    tmp_path: Path,
) -> None:
    """The service answers the first request of each connection and closes the connection, unanswered,
    when a second one arrives on it: what a service closing an idle connection just as the gateway
    reuses it looks like."""
    received: list[str] = []

    async def one_answer_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = False
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                received.append(head.split(b"\r\n", 1)[0].decode())
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                if answered:
                    break
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
                    b'{"accounts":[]}'  # what auth lists of its deleted accounts, and a JSON object
                )
                await writer.drain()
                answered = True
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    server = await asyncio.start_server(one_answer_per_connection, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    settings = GatewaySettings(data_dir=tmp_path, social_url=url, auth_url=url, upstream_retries=2)
    app = create_app(settings, shared_bus=InProcessBus("t"))
    try:
        async with (
            app_lifespan(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
        ):
            # At start the gateway loaded auth's list of recently deleted accounts, over a connection
            # to auth that it keeps.
            assert received == ["GET /api/auth/internal/deleted-accounts HTTP/1.1"]
            received.clear()
            for _ in range(3):
                assert (await client.get("/api/posts/1")).status_code == 200
            # Each GET after the first went out on the kept-alive connection, was refused, and went again.
            assert received == ["GET /api/posts/1 HTTP/1.1"] * 5

            received.clear()
            assert (await client.get("/api/auth/.well-known/jwks.json")).status_code == 200
            login = await client.post("/api/auth/login", json={"username": "a", "password": "b"})
            assert login.status_code == 502 and login.json()["code"] == "bad_gateway"
            assert received == [
                "GET /api/auth/.well-known/jwks.json HTTP/1.1",  # on the kept connection: sent again
                "GET /api/auth/.well-known/jwks.json HTTP/1.1",
                "POST /api/auth/login HTTP/1.1",
            ], "the POST went out on the kept-alive connection once, and was not sent again"
    finally:
        server.close()
        await server.wait_closed()


def test_services_keep_idle_connections_open_longer_than_anything_in_front_of_them() -> None:
    from aic_common.server import KEEP_ALIVE_SECONDS, uvicorn_options
    from aic_gateway.app import UPSTREAM_IDLE_SECONDS
    from aic_gateway.stack import GATEWAY_SPEC, SERVICES, serve_command

    ingress_nginx_upstream_keepalive_seconds = 60
    assert max(UPSTREAM_IDLE_SECONDS, ingress_nginx_upstream_keepalive_seconds) < KEEP_ALIVE_SECONDS
    assert uvicorn_options()["timeout_keep_alive"] == KEEP_ALIVE_SECONDS
    for spec in [*SERVICES, GATEWAY_SPEC]:
        command = serve_command(spec, host="127.0.0.1", port=8000, graceful_shutdown_seconds=20)
        assert command[:3] == ["-m", "aic_common.server", spec.factory]


async def test_undeployed_service_answers_503(tmp_path: Path) -> None:
    app = create_app(GatewaySettings(data_dir=tmp_path), shared_bus=InProcessBus("t"))
    async with (
        app_lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        response = await client.get("/api/posts/1")
    assert response.status_code == 503 and response.json()["code"] == "upstream_unavailable"


async def test_unknown_api_paths(dev) -> None:
    client, _ = dev
    assert (await client.get("/api/nothing/here")).status_code == 401  # unknown paths are not public
    token = await register_and_login(client, "lostuser")
    missing = await client.get("/api/nothing/here", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_login_rate_limit_answers_429_with_retry_after(dev) -> None:
    client, _ = dev
    statuses = []
    for _ in range(7):
        response = await client.post(
            "/api/auth/login", json={"username": "nobody", "password": "whatever123"}
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    assert int(response.headers["retry-after"]) >= 1 and response.json()["code"] == "rate_limited"


async def test_security_headers(dev) -> None:
    client, _ = dev
    page = await client.get("/")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    api = await client.get("/api/posts/1")
    assert api.headers["content-security-policy"].startswith("default-src 'none'")
    assert api.headers["x-frame-options"] == "DENY"


async def test_merged_openapi_and_docs_page(dev) -> None:
    client, _ = dev
    document = (await client.get("/api/openapi.json")).json()
    assert "/api/auth/login" in document["paths"] and "/api/posts/{id}" in document["paths"]
    assert "/health/live" not in document["paths"]
    assert "/api/stream" in document["paths"]
    docs = await client.get("/api/docs")
    assert docs.status_code == 200 and "/api/docs/static/swagger-ui-bundle.js" in docs.text
    assert (await client.get("/api/docs/static/swagger-ui-bundle.js")).status_code == 200


async def test_web_ui_is_served_with_caching_and_spa_fallback(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>app</title>", encoding="utf-8")
    (dist / "assets" / "index-abc123.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("no", encoding="utf-8")
    app = create_app(GatewaySettings(data_dir=tmp_path, web_dist_dir=dist), shared_bus=InProcessBus("t"))
    async with (
        app_lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        asset = await client.get("/assets/index-abc123.js")
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        route = await client.get("/profile/someone")
        assert route.status_code == 200 and "<title>app</title>" in route.text
        assert route.headers["cache-control"] == "no-cache"
        escape = await client.get("/..%2Fsecret.txt")
        assert escape.text != "no" and "<title>app</title>" in escape.text


async def test_placeholder_page_until_the_ui_is_built(tmp_path: Path) -> None:
    app = create_app(
        GatewaySettings(data_dir=tmp_path, web_dist_dir=tmp_path / "none"), shared_bus=InProcessBus("t")
    )
    async with (
        app_lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        page = await client.get("/")
    assert page.status_code == 200 and "AI Community" in page.text
