"""The benchmark harness keeps working: its load generator, its report, and a quick run of every benchmark.

Nothing here asserts a timing: the numbers depend on the machine; what must hold is that every
benchmark runs to the end and reports its figures next to their references and goals.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from aic_common.testing import free_port, served_on_loopback
from aic_gateway.upstream_http import UpstreamTransport
from bench.loadgen import Call, LoadSpec, percentile, run_load, send
from bench.report import Result, Section, render

REPO = Path(__file__).resolve().parent.parent


async def answer(request: Request) -> PlainTextResponse:
    status = 500 if request.query_params.get("fail") else 200
    return PlainTextResponse("ok", status_code=status)


class Target:
    """GETs a tiny local server; every fifth request asks for a 500."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def __call__(self, index: int, rng: random.Random) -> Call:
        if index % 5 == 4:
            return Call("GET", f"{self.base_url}/?fail=1", "failing")
        return Call("GET", f"{self.base_url}/", "fine")


async def echo(request: Request) -> JSONResponse:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form["file"]
        return JSONResponse({"filename": upload.filename, "size": len(await upload.read())})
    return JSONResponse(
        {"method": request.method, "query": request.url.query, "json": await request.json()},
        status_code=201,
    )


async def chunked(request: Request) -> StreamingResponse:
    async def parts():
        for n in range(3):
            yield f"part {n};".encode()

    return StreamingResponse(parts())


@pytest.fixture
async def tiny_server():
    app = Starlette(
        routes=[Route("/", answer), Route("/echo", echo, methods=["POST"]), Route("/chunked", chunked)]
    )
    async with served_on_loopback(app) as url:
        yield url


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0


async def test_open_loop_sends_the_scheduled_requests_and_counts_errors_by_kind(tiny_server: str) -> None:
    result = await run_load(Target(tiny_server), LoadSpec("open", seconds=1.0, rate=50, warmup_seconds=0.2))

    # 1.2 s at 50/s are 60 requests, of which the 50 scheduled after the warm-up count; every fifth fails.
    assert result.completed + result.errors == 50
    assert result.errors == 10
    assert result.error_kinds == {"status 500": 10}
    assert result.by_kind["failing"].errors == 10 and result.by_kind["failing"].count == 0
    assert result.by_kind["fine"].count == 40
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
    assert result.loadgen_cpu_seconds > 0


async def test_closed_loop_keeps_its_workers_busy_until_the_deadline(tiny_server: str) -> None:
    result = await run_load(Target(tiny_server), LoadSpec("closed", seconds=0.5, concurrency=3))

    assert result.completed > 0
    assert result.errors == result.by_kind["failing"].errors > 0
    assert result.throughput == pytest.approx(result.completed / 0.5)


def test_the_page_puts_each_figure_next_to_its_reference_and_explains_a_missed_goal() -> None:
    section = Section(
        "feed", "Feed", "How it is measured.", note="The database is the limit.", context="The host moves."
    )
    section.results.append(
        Result("Feed", "highest rate", 250.0, "req/s", "saturation", 500.0, "at least 300 req/s", met=False)
    )
    passing = Section("events", "Events", "Raw against end to end.", note="Not shown: the goal is met.")
    passing.results.append(
        Result("Events", "persisted", 80.0, "actions/s", "raw", 100.0, "half of raw", met=True)
    )
    broken = Section("uploads", "Uploads", "", error="RuntimeError: no S3")

    page = render([section, passing, broken], {"cores": "2"}, quick=False, seconds=60, fixes="- a fix")

    assert "| 250 req/s | 500 req/s (saturation) | 0.50 | at least 300 req/s | **missed** |" in page
    assert "| Events | persisted | 80.0 actions/s | 100 actions/s (raw) | 0.80 | half of raw | met |" in page
    assert "The database is the limit." in page and "**Reading these figures.** The host moves." in page
    assert "Not shown" not in page, "a missed goal's note only under a missed goal"
    assert "RuntimeError: no S3" in page
    assert "## Fixes made after measuring" in page


@pytest.mark.timeout(900)
def test_a_quick_run_of_every_benchmark_reports_every_figure(
    mysql_server_url: str, rabbitmq_url: str, tmp_path: Path
) -> None:
    page_path = tmp_path / "benchmarks.md"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(page_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
        env={
            **os.environ,
            "AIC_TEST_MYSQL_URL": mysql_server_url,
            "AIC_TEST_RABBITMQ_URL": rabbitmq_url,
        },
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    page = page_path.read_text(encoding="utf-8")
    for title in (
        "Gateway overhead",
        "Feed",
        "Events",
        "Uploads",
        "Simulation (rule-based)",
        "Simulation (LLM mode)",
    ):
        assert f"## {title}" in page
    assert "The benchmark failed" not in page
    assert page.count("| met |") + page.count("| **missed** |") >= 4  # every goal was judged


async def test_the_load_generator_sends_what_httpx_encodes_over_kept_alive_connections(
    tiny_server: str,
) -> None:
    client = UpstreamTransport(max_connections=4, idle_seconds=60.0)
    try:
        json_call = Call(
            "POST", f"{tiny_server}/echo?q=%E5%92%96", headers={"X-A": "1"}, json={"text": "咖啡"}
        )
        sent = await send(client, json_call, 5.0)
        assert sent.status_code == 201
        assert sent.content.decode() == ('{"method":"POST","query":"q=%E5%92%96","json":{"text":"咖啡"}}')
        upload_call = Call(
            "POST", f"{tiny_server}/echo", files={"file": ("a.jpg", b"x" * 70_000, "image/jpeg")}
        )
        upload = await send(client, upload_call, 5.0)
        assert upload.content == b'{"filename":"a.jpg","size":70000}'
        streamed = await send(client, Call("GET", f"{tiny_server}/chunked"), 5.0)
        assert (streamed.headers["transfer-encoding"], streamed.content) == (
            "chunked",
            b"part 0;part 1;part 2;",
        )
        failed = await send(client, Call("GET", f"{tiny_server}/?fail=1"), 5.0)
        assert (failed.status_code, failed.content) == (500, b"ok")
        assert len(client._idle[("127.0.0.1", int(tiny_server.rsplit(":", 1)[1]))]) == 1, (
            "one kept-alive connection"
        )
        with pytest.raises(httpx.ConnectError):
            await send(client, Call("GET", f"http://127.0.0.1:{free_port()}/"), 5.0)
    finally:
        await client.aclose()
