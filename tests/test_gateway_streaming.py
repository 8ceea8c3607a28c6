"""A 20 MB upload and download through a gateway process, whose memory stays flat."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aic_common.testing import free_port, wait_until_serving
from aic_gateway.stack import AUTH, Stack

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[1]
MB = 1 << 20


def _serve(module: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the high-water mark: catches a spike between two readings
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture
def streaming_gateway(stack: Stack, tmp_path: Path) -> Iterator[tuple[str, int]]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AIC_")}
    sink_port, gateway_port = free_port(), free_port()
    sink = _serve("tests.support.sink:app", sink_port, base_env, tmp_path / "sink.log")
    gateway_env = {
        **base_env,
        "AIC_ENV": "test",
        "AIC_METRICS_TOKEN": stack.secrets.metrics_token,
        "AIC_DATA_DIR": str(tmp_path),
        "AIC_AUTH_URL": stack.url(AUTH),
        "AIC_FILES_URL": f"http://127.0.0.1:{sink_port}",
        # Room for the 20 MB sent (a stand-in files service takes it): measured here is streaming, not caps.
        "AIC_MAX_UPLOAD_BODY_BYTES": str(32 * MB),
    }
    gateway = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "aic_gateway.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(gateway_port),
        ],
        cwd=REPO,
        env=gateway_env,
        stdout=(tmp_path / "gateway.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_serving(
            f"http://127.0.0.1:{sink_port}/health/ready", process=sink, log_path=tmp_path / "sink.log"
        )
        wait_until_serving(
            f"http://127.0.0.1:{gateway_port}/health/live", process=gateway, log_path=tmp_path / "gateway.log"
        )
        yield f"http://127.0.0.1:{gateway_port}", gateway.pid
    finally:
        for process in (gateway, sink):
            process.terminate()
            process.wait(timeout=20)


def test_20_mb_upload_and_download_stream_through_with_flat_memory(
    stack: Stack, streaming_gateway: tuple[str, int]
) -> None:
    url, pid = streaming_gateway
    password = "streaming passphrase 20mb"
    httpx.post(
        f"{stack.url(AUTH)}/api/auth/register",
        json={"username": "streamer", "email": "s@example.com", "password": password},
    )
    token = httpx.post(
        f"{stack.url(AUTH)}/api/auth/login", json={"username": "streamer", "password": password}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    payload_chunk = os.urandom(MB)

    def body() -> Iterator[bytes]:
        for _ in range(20):
            yield payload_chunk

    with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
        warm = client.post(
            "/api/files", content=b"x" * MB, headers={"Content-Type": "application/octet-stream"}
        )
        assert warm.status_code == 200, warm.text
        client.get("/api/files/1").read()
        baseline = peak_rss_bytes(pid)

        uploaded = client.post(
            "/api/files", content=body(), headers={"Content-Type": "application/octet-stream"}
        )
        assert uploaded.status_code == 200, uploaded.text
        expected = hashlib.sha256(payload_chunk * 20).hexdigest()
        assert uploaded.json() == {"size": 20 * MB, "sha256": expected}

        received = 0
        with client.stream("GET", "/api/files/20") as download:
            assert download.status_code == 200
            for chunk in download.iter_raw():
                received += len(chunk)
        assert received == 20 * MB

    growth = peak_rss_bytes(pid) - baseline
    # Holding either body whole would add 20 MB; streaming keeps the peak within a few buffers.
    assert growth < 8 * MB, f"gateway peak memory grew by {growth / MB:.1f} MB"
