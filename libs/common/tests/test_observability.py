from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse

from aic_common.observability import (
    HttpMetrics,
    JsonFormatter,
    RequestContextMiddleware,
    bind_correlation_id,
    bind_service,
    configure_logging,
    correlation_id_var,
    current_correlation_id,
    current_request_id,
    metrics_router,
    route_template,
    sane_id,
    service_var,
)

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("restore_logging")]

log = logging.getLogger("aic.tests.observability")


def make_app(service_name: str = "svc-test") -> tuple[FastAPI, HttpMetrics]:
    metrics = HttpMetrics.create()
    app = FastAPI()
    router = APIRouter(prefix="/api/posts")

    @router.get("/{post_id}")
    async def get_post(post_id: int) -> dict[str, Any]:
        log.info("loading post", extra={"post_id": post_id, "not_json": object()})
        return {"id": post_id, "request_id": current_request_id(), "service": service_var.get()}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(router)
    app.include_router(metrics_router(metrics.registry))
    app.add_middleware(RequestContextMiddleware, service_name=service_name, metrics=metrics)
    return app, metrics


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# --- request ids and JSON logs ------------------------------------------------------------------------


async def test_json_log_line_carries_the_request_id_of_the_response(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json_output=True)
    app, _ = make_app()
    async with client_for(app) as client:
        response = await client.get("/api/posts/7")
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    assert response.json()["request_id"] == request_id

    lines = json_lines(capsys.readouterr().out)
    line = next(line for line in lines if line["msg"] == "loading post")
    assert line["request_id"] == request_id
    assert line["correlation_id"] == request_id  # no X-Correlation-ID sent: defaults to the request id
    assert line["service"] == "svc-test"
    assert line["level"] == "INFO"
    assert line["logger"] == "aic.tests.observability"
    assert line["ts"].endswith("+00:00")
    assert line["post_id"] == 7
    assert "not_json" not in line

    access = next(line for line in lines if line["logger"] == "aic.access")
    assert access["request_id"] == request_id
    assert (access["method"], access["path"], access["status"]) == ("GET", "/api/posts/7", 200)
    assert access["route"] == "/api/posts/{post_id}"
    assert isinstance(access["duration_ms"], float)


async def test_health_and_metrics_requests_are_not_access_logged(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_output=True)
    app, _ = make_app()
    async with client_for(app) as client:
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
    assert [line for line in json_lines(capsys.readouterr().out) if line["logger"] == "aic.access"] == []


async def test_sane_client_ids_are_kept() -> None:
    app, _ = make_app()
    async with client_for(app) as client:
        response = await client.get(
            "/api/posts/1", headers={"X-Request-ID": "req-1.A_b", "X-Correlation-ID": "corr-42"}
        )
    assert response.headers["X-Request-ID"] == "req-1.A_b"
    assert response.json()["request_id"] == "req-1.A_b"


@pytest.mark.parametrize("bad", ["x" * 65, "has space", "<script>", "a/b", "semi;colon", ""])
async def test_bad_client_request_id_is_replaced(bad: str) -> None:
    app, _ = make_app()
    async with client_for(app) as client:
        response = await client.get("/api/posts/1", headers={"X-Request-ID": bad})
    request_id = response.headers["X-Request-ID"]
    assert request_id != bad
    assert sane_id(request_id) == request_id
    assert len(request_id) == 32  # a fresh uuid4 hex
    # Exactly one header, not the client's plus ours.
    assert response.headers.get_list("X-Request-ID") == [request_id]


def test_sane_id() -> None:
    assert sane_id("abc-DEF_1.2") == "abc-DEF_1.2"
    assert sane_id("x" * 64) == "x" * 64
    assert sane_id("x" * 65) is None
    assert sane_id("中文") is None
    assert sane_id(None) is None


def test_context_is_empty_outside_a_request() -> None:
    assert current_request_id() is None
    assert current_correlation_id() is None


def test_bind_correlation_id_restores_the_previous_value() -> None:
    with bind_correlation_id("outer") as outer:
        assert outer == "outer"
        with bind_correlation_id("inner"):
            assert correlation_id_var.get() == "inner"
        assert current_correlation_id() == "outer"
    assert current_correlation_id() is None


def test_json_formatter_includes_exc_info_and_bound_context() -> None:
    formatter = JsonFormatter()
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            self.output = formatter.format(record)

    handler = Collect()
    logger = logging.getLogger("aic.tests.formatter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with bind_service("social"), bind_correlation_id("c-1"):
            try:
                raise ValueError("boom 中文")
            except ValueError:
                logger.exception("failed %s", "here", extra={"attempt": 3})
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    entry = json.loads(handler.output)
    assert entry["msg"] == "failed here"
    assert entry["level"] == "ERROR"
    assert entry["service"] == "social"
    assert entry["correlation_id"] == "c-1"
    assert entry["request_id"] is None
    assert entry["attempt"] == 3
    assert "ValueError: boom 中文" in entry["exc_info"]
    assert "中文" in handler.output  # not \u-escaped


def test_text_output_is_plain_and_carries_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug", json_output=False)
    with bind_correlation_id("corr-9"):
        log.debug("plain line")
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "plain line" in line)
    assert not line.startswith("{")
    assert "DEBUG" in line
    assert "correlation_id=corr-9" in line


def test_configure_logging_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    configure_logging("INFO", json_output=True)
    configure_logging("WARNING", json_output=False)
    configure_logging("INFO", json_output=True)
    # Exactly one handler of ours, however often (and by however many apps) it was configured.
    ours = [h for h in root.handlers if type(h).__module__ == "aic_common.observability"]
    assert len(ours) == 1
    assert root.level == logging.INFO
    log.info("once")
    assert [line["msg"] for line in json_lines(capsys.readouterr().out)].count("once") == 1


def test_httpx_request_lines_are_left_out_at_info_but_its_warnings_are_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    httpx_log = logging.getLogger("httpx")
    configure_logging("INFO", json_output=True)
    httpx_log.info("HTTP Request: GET http://social/api/feed/home")
    httpx_log.warning("a connection broke")
    assert [line["msg"] for line in json_lines(capsys.readouterr().out)] == ["a connection broke"]
    configure_logging("DEBUG", json_output=True)
    httpx_log.info("HTTP Request: GET http://social/api/feed/home")
    assert len(json_lines(capsys.readouterr().out)) == 1, "asked for everything, one gets everything"
    configure_logging("INFO", json_output=True)


def test_configure_logging_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("LOUD", json_output=True)


# --- metrics ------------------------------------------------------------------------------------------


async def test_metrics_count_requests_under_the_route_template() -> None:
    app, metrics = make_app()
    async with client_for(app) as client:
        for post_id in (1, 2, 3):
            assert (await client.get(f"/api/posts/{post_id}")).status_code == 200
        assert (await client.get("/no/such/thing")).status_code == 404
        exposition = (await client.get("/metrics")).text

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert sample("http_requests_total", method="GET", route="/api/posts/{post_id}", status="200") == 3
    assert sample("http_requests_total", method="GET", route="/api/posts/1", status="200") is None
    assert sample("http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert sample("http_request_duration_seconds_count", method="GET", route="/api/posts/{post_id}") == 3
    assert 'route="/api/posts/{post_id}"' in exposition
    assert "/api/posts/1" not in exposition


async def test_metrics_endpoint_uses_the_text_exposition_format() -> None:
    app, _ = make_app()
    async with client_for(app) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE http_requests_total counter" in response.text


async def test_unknown_methods_do_not_create_new_label_values() -> None:
    app, metrics = make_app()
    async with client_for(app) as client:
        await client.request("BREW", "/api/posts/1")
    assert (
        metrics.registry.get_sample_value(
            "http_requests_total", {"method": "OTHER", "route": "/api/posts/{post_id}", "status": "405"}
        )
        == 1
    )


def test_route_template_of_unmatched_and_mounted_requests() -> None:
    assert route_template({"type": "http", "root_path": ""}) == "unmatched"
    # A mount (FastAPI records no route for it) is known by its prefix only.
    assert route_template({"type": "http", "root_path": "/static"}, "") == "/static/{path}"


async def test_nested_routers_and_mounted_apps_report_full_templates() -> None:
    metrics = HttpMetrics.create()
    outer = FastAPI()
    inner = FastAPI()
    posts = APIRouter(prefix="/posts")

    @posts.get("/{post_id}")
    async def get_post(post_id: int) -> dict[str, int]:
        return {"id": post_id}

    api = APIRouter(prefix="/api")
    api.include_router(posts)
    outer.include_router(api, prefix="/v1")
    inner.include_router(posts)
    outer.mount("/inner", inner)
    outer.add_middleware(RequestContextMiddleware, service_name="outer", metrics=metrics)
    async with client_for(outer) as client:
        assert (await client.get("/v1/api/posts/5")).status_code == 200
        assert (await client.get("/inner/posts/6")).status_code == 200
    routes = {
        sample.labels["route"]
        for family in metrics.registry.collect()
        if family.name == "http_requests"
        for sample in family.samples
        if sample.name == "http_requests_total"
    }
    assert routes == {"/v1/api/posts/{post_id}", "/inner/posts/{post_id}"}


# --- streaming ----------------------------------------------------------------------------------------


async def stream_through(app: Any, path: str) -> list[dict[str, Any]]:
    """Call ``app`` at the ASGI level and record what it sends (httpx's ASGITransport would buffer)."""
    sent: list[dict[str, Any]] = []
    first_chunk_sent = anyio.Event()
    app.state.first_chunk_sent = first_chunk_sent
    request_read = False

    async def receive() -> dict[str, Any]:
        nonlocal request_read
        if not request_read:
            request_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()  # the client stays connected
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
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    # If a middleware buffered the body, the generator would wait for the first chunk forever.
    with anyio.fail_after(5):
        await app(scope, receive, send)
    return sent


def add_streaming_route(app: FastAPI) -> None:
    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            # Only continue once the first chunk has reached the client: proves it was not held back.
            await app.state.first_chunk_sent.wait()
            for n in range(3):
                yield f"chunk {n}\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")


def assert_streamed(sent: list[dict[str, Any]]) -> None:
    start = sent[0]
    assert start["type"] == "http.response.start"
    assert start["status"] == 200
    assert any(name == b"x-request-id" for name, _ in start["headers"])
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    incremental = [m for m in bodies if m.get("more_body")]
    assert len(incremental) >= 4
    assert incremental[0]["body"] == b"first\n"
    assert bodies[-1].get("more_body", False) is False
    assert b"".join(m.get("body", b"") for m in bodies) == b"first\nchunk 0\nchunk 1\nchunk 2\n"


async def test_streaming_response_passes_through_unbuffered() -> None:
    app, metrics = make_app()
    add_streaming_route(app)
    assert_streamed(await stream_through(app, "/stream"))
    assert (
        metrics.registry.get_sample_value(
            "http_requests_total", {"method": "GET", "route": "/stream", "status": "200"}
        )
        == 1
    )
