"""`make dev`'s entry point starts on embedded defaults and answers its health check."""

from __future__ import annotations

import os
import stat
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


def test_dev_server_serves_the_ui_the_docs_and_the_auth_flow(dev_server: str) -> None:
    with httpx.Client(base_url=dev_server, timeout=30) as client:
        health = client.get("/health/live")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert health.headers["x-request-id"]

        page = client.get("/")
        assert page.status_code == 200 and "AI Community" in page.text
        assert client.get("/api/docs").status_code == 200
        assert "/api/auth/login" in client.get("/api/openapi.json").json()["paths"]

        body = {"username": "devuser", "email": "dev@example.com", "password": "dev mode passphrase 1"}
        assert client.post("/api/auth/register", json=body).status_code == 201
        tokens = client.post(
            "/api/auth/login", json={"username": "devuser", "password": body["password"]}
        ).json()
        me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 200 and me.json()["username"] == "devuser"


def test_dev_server_says_where_the_admin_password_is_and_keeps_its_data_private(
    dev_server: str, tmp_path: Path
) -> None:
    log = (tmp_path / "dev.log").read_text(encoding="utf-8")
    line = next(line for line in log.splitlines() if "Admin login:" in line)
    username, where = line.split("Admin login:")[1].strip().split(", the password in ")
    saved = Path(where)
    password = saved.read_text(encoding="utf-8").strip()
    assert password and password not in log, "the log names the file, never the password"
    tokens = httpx.post(f"{dev_server}/api/auth/login", json={"username": username, "password": password})
    assert tokens.status_code == 200
    me = httpx.get(
        f"{dev_server}/api/auth/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert me.json()["role"] == "admin"

    # The data directory is this user's alone, and so is every file that holds a secret in it.
    data_dir = tmp_path / "var"
    assert saved.parent == data_dir.resolve()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    secret_files = [saved, data_dir / "auth.db", data_dir / "auth-jwt-key.pem"]
    assert {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in secret_files} == {
        path.name: oct(0o600) for path in secret_files
    }
    databases = list(data_dir.glob("*.db"))
    assert len(databases) >= 4 and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in databases)
