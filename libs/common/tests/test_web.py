from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from prometheus_client import Counter
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from aic_common import web
from aic_common.errors import NotFound
from aic_common.observability import current_request_id, service_var
from aic_common.settings import ServiceSettings
from aic_common.testing import app_lifespan
from aic_common.web import (
    READINESS_TIMEOUT_SECONDS,
    create_service_app,
    database_check,
    run_readiness_checks,
)

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("restore_logging")]


def settings(name: str = "websvc") -> ServiceSettings:
    return ServiceSettings(service_name=name, log_level="INFO", log_json=True)


def posts_router() -> APIRouter:
    router = APIRouter(prefix="/api/posts", tags=["posts"])

    @router.get("/{post_id}")
    async def get_post(post_id: int) -> dict[str, Any]:
        if post_id == 404:
            raise NotFound("No such post")
        return {"id": post_id}

    @router.get("/{post_id}/explode")
    async def explode(post_id: int) -> dict[str, Any]:
        raise RuntimeError(f"unexpected failure for {post_id}")

    return router


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def passing_check() -> None:
    await anyio.lowlevel.checkpoint()


async def failing_check() -> None:
    raise RuntimeError("connection refused\nby peer")


async def hanging_check() -> None:
    await anyio.sleep_forever()


# --- the app ------------------------------------------------------------------------------------------


async def test_app_serves_routers_docs_and_liveness() -> None:
    app = create_service_app(settings(), title="Web Service", routers=[posts_router()], version="1.2.3")
    async with client_for(app) as client:
        assert (await client.get("/api/posts/3")).json() == {"id": 3}
        live = await client.get("/health/live")
        assert (live.status_code, live.json()) == (200, {"status": "ok"})
        assert (await client.get("/docs")).status_code == 200
        openapi = (await client.get("/openapi.json")).json()
    assert openapi["info"] == {"title": "Web Service", "version": "1.2.3"}
    assert "/api/posts/{post_id}" in openapi["paths"]
    # Probes and scrapes are plumbing, not API.
    assert not any(path.startswith(("/health", "/metrics")) for path in openapi["paths"])


async def test_unknown_route_gives_404_in_the_common_error_shape() -> None:
    app = create_service_app(settings(), title="t", routers=[posts_router()])
    async with client_for(app) as client:
        response = await client.get("/api/nothing/here")
        app_error = await client.get("/api/posts/404")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}
    assert response.headers["X-Request-ID"]
    assert app_error.status_code == 404
    assert app_error.json() == {"detail": "No such post", "code": "not_found"}


async def test_unhandled_error_gives_500_with_request_id_logged_and_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = create_service_app(settings(), title="t", routers=[posts_router()])
    async with client_for(app) as client:
        response = await client.get("/api/posts/5/explode")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal error", "code": "internal_error"}
    request_id = response.headers["X-Request-ID"]

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    error_line = next(line for line in lines if line["msg"] == "unhandled error")
    assert error_line["request_id"] == request_id
    assert error_line["service"] == "websvc"
    assert "unexpected failure for 5" in error_line["exc_info"]
    access = next(line for line in lines if line["logger"] == "aic.access")
    assert (access["status"], access["request_id"]) == (500, request_id)
    assert (
        app.state.metrics_registry.get_sample_value(
            "http_requests_total",
            {"method": "GET", "route": "/api/posts/{post_id}/explode", "status": "500"},
        )
        == 1
    )


async def test_metrics_endpoint_counts_route_templates() -> None:
    app = create_service_app(settings(), title="t", routers=[posts_router()])
    async with client_for(app) as client:
        await client.get("/api/posts/1")
        await client.get("/api/posts/2")
        exposition = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/api/posts/{post_id}",status="200"} 2.0' in exposition


async def test_two_apps_in_one_process_have_separate_registries() -> None:
    first = create_service_app(settings("first"), title="first", routers=[posts_router()])
    second = create_service_app(settings("second"), title="second", routers=[posts_router()])
    assert first.state.metrics_registry is not second.state.metrics_registry
    async with client_for(first) as a, client_for(second) as b:
        await a.get("/api/posts/1")
        await b.get("/api/posts/1")
        await b.get("/api/posts/2")
        first_metrics, second_metrics = (await a.get("/metrics")).text, (await b.get("/metrics")).text
    labels = 'method="GET",route="/api/posts/{post_id}",status="200"'
    assert f"http_requests_total{{{labels}}} 1.0" in first_metrics
    assert f"http_requests_total{{{labels}}} 2.0" in second_metrics


async def test_services_can_add_metrics_to_the_app_registry() -> None:
    app = create_service_app(settings(), title="t")
    posts_created = Counter("posts_created_total", "Posts created", registry=app.state.metrics_registry)
    posts_created.inc(3)
    async with client_for(app) as client:
        exposition = (await client.get("/metrics")).text
    assert "posts_created_total 3.0" in exposition


async def test_request_id_and_service_are_bound_inside_endpoints() -> None:
    router = APIRouter()

    @router.get("/whoami")
    async def whoami() -> dict[str, Any]:
        return {"request_id": current_request_id(), "service": service_var.get()}

    app = create_service_app(settings("social"), title="t", routers=[router])
    async with client_for(app) as client:
        response = await client.get("/whoami", headers={"X-Request-ID": "abc-123"})
    assert response.json() == {"request_id": "abc-123", "service": "social"}
    assert response.headers["X-Request-ID"] == "abc-123"


# --- readiness ----------------------------------------------------------------------------------------


async def test_ready_when_every_check_passes() -> None:
    app = create_service_app(
        settings(), title="t", readiness_checks={"database": passing_check, "broker": passing_check}
    )
    async with client_for(app) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


async def test_ready_without_checks() -> None:
    app = create_service_app(settings(), title="t")
    assert app.state.readiness_timeout_seconds == READINESS_TIMEOUT_SECONDS == 2.0
    async with client_for(app) as client:
        response = await client.get("/health/ready")
    assert (response.status_code, response.json()) == (200, {"status": "ready", "checks": {}})


async def test_not_ready_names_the_failing_and_the_hanging_check() -> None:
    app = create_service_app(
        settings(),
        title="t",
        readiness_checks={"database": failing_check, "broker": hanging_check, "cache": passing_check},
    )
    app.state.readiness_timeout_seconds = 0.2  # the 2 s default would only slow the test down
    started = time.monotonic()
    async with client_for(app) as client:
        response = await client.get("/health/ready")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_ready"
    checks = body["detail"]["checks"]
    assert checks["database"] == "error: RuntimeError: connection refused by peer"
    assert checks["broker"] == "error: timed out after 0.2s"
    assert checks["cache"] == "ok"
    assert elapsed < 2
    # Liveness does not depend on readiness.
    async with client_for(app) as client:
        assert (await client.get("/health/live")).status_code == 200


async def test_checks_run_concurrently_each_with_its_own_timeout() -> None:
    started = time.monotonic()
    results = await run_readiness_checks({"a": hanging_check, "b": hanging_check, "c": hanging_check}, 0.3)
    assert time.monotonic() - started < 0.8  # 3 x 0.3 s if they ran one after another
    assert results == {name: "error: timed out after 0.3s" for name in "abc"}


async def test_checks_added_after_creation_are_run() -> None:
    app = create_service_app(settings(), title="t")
    app.state.readiness_checks["late"] = failing_check
    async with client_for(app) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["detail"]["checks"] == {"late": "error: RuntimeError: connection refused by peer"}


async def test_lifespan_registers_checks_and_binds_the_service_name() -> None:
    seen: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        seen["startup_service"] = service_var.get()

        async def background() -> None:
            seen["task_service"] = service_var.get()

        task = asyncio.create_task(background())
        app.state.readiness_checks["broker"] = failing_check
        yield
        await task
        seen["shutdown"] = True

    app = create_service_app(settings("simulator"), title="t", lifespan=lifespan)
    async with app_lifespan(app) as manager, client_for(manager.app) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["detail"]["checks"]["broker"].startswith("error: ")
    assert seen == {"startup_service": "simulator", "task_service": "simulator", "shutdown": True}
    assert service_var.get() is None


# --- database_check -----------------------------------------------------------------------------------


async def test_database_check_passes_on_a_working_engine(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'ok.db'}")
    try:
        await database_check(engine)()
    finally:
        engine.dispose()


async def test_database_check_fails_on_a_bad_engine(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    try:
        with pytest.raises(OperationalError):
            await database_check(engine)()
        app = create_service_app(settings(), title="t", readiness_checks={"database": database_check(engine)})
        async with client_for(app) as client:
            response = await client.get("/health/ready")
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert response.json()["code"] == "not_ready"
    assert response.json()["detail"]["checks"]["database"].startswith("error: OperationalError:")


# --- streaming through the whole stack ----------------------------------------------------------------


async def test_streaming_passes_through_the_full_app_unbuffered() -> None:
    first_chunk_sent = anyio.Event()
    router = APIRouter()

    @router.get("/api/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"event: one\n\n"
            # Continue only once the client got the first chunk: a buffering layer would hang here.
            await first_chunk_sent.wait()
            for n in range(3):
                yield f"event: {n}\n\n".encode()

        return StreamingResponse(chunks(), media_type="text/event-stream")

    app = create_service_app(settings(), title="t", routers=[router])
    sent: list[dict[str, Any]] = []
    request_read = False

    async def receive() -> dict[str, Any]:
        nonlocal request_read
        if not request_read:
            request_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_chunk_sent.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/stream",
        "raw_path": b"/api/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"x-request-id", b"stream-1")],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    with anyio.fail_after(5):
        await app(scope, receive, send)

    assert sent[0]["type"] == "http.response.start"
    assert (b"x-request-id", b"stream-1") in sent[0]["headers"]
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert len([m for m in bodies if m.get("more_body")]) >= 4
    assert bodies[0]["body"] == b"event: one\n\n"
    assert bodies[-1].get("more_body", False) is False


async def test_a_service_exempts_its_start_up_heap_from_full_collections_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What start-up builds lives as long as the process: walked by every full collection, it made a
    # pause of 100-130 ms that every request in flight waited out.
    monkeypatch.setattr(web, "_startup_heap_frozen", False)
    before = gc.get_freeze_count()
    first = create_service_app(settings("first"), title="first")
    async with app_lifespan(first):
        frozen = gc.get_freeze_count()
        assert frozen > before
        second = create_service_app(settings("second"), title="second")
        async with app_lifespan(second):
            # (frozen objects whose last reference goes leave the count)
            assert gc.get_freeze_count() <= frozen, "frozen once per process, not once per app"
