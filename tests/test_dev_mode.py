"""`make dev`'s entry point starts on embedded defaults and answers its health check."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aic_common.testing import free_port, wait_until_serving

pytestmark = pytest.mark.e2e


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "AIC_PORT": str(port), "AIC_DATA_DIR": str(tmp_path / "var"), "AIC_ENV": "dev"}
    env.pop("AIC_BROKER_URL", None)
    env.pop("AIC_DATABASE_URL", None)
    log_path = tmp_path / "dev.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "aic_gateway.dev"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/health/live", process=process, log_path=log_path, timeout=60)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_dev_server_answers_health(dev_server: str) -> None:
    response = httpx.get(f"{dev_server}/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]
