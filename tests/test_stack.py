"""The real topology: every service its own process on MySQL and RabbitMQ, surviving a crash of one."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from aic_common.settings import PLACEHOLDER_SECRETS
from aic_common.testing import wait_until
from aic_gateway.stack import AUTH, GATEWAY, Stack

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery 电池"


def _register_and_login(auth_url: str, username: str) -> str:
    registered = httpx.post(
        f"{auth_url}/api/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    return _login(auth_url, username)


def _login(auth_url: str, username: str) -> str:
    response = httpx.post(
        f"{auth_url}/api/auth/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_every_service_is_ready(stack: Stack) -> None:
    assert stack.names[-1] == GATEWAY
    for name in stack.names:
        response = httpx.get(f"{stack.url(name)}/health/ready", timeout=10)
        assert response.status_code == 200, (name, response.text)
        assert stack.log_path(name).exists()
    assert stack.gateway_url == stack.url(GATEWAY)


def test_auth_registers_logs_in_and_knows_the_user(stack: Stack) -> None:
    auth_url = stack.url(AUTH)
    username = f"u{uuid.uuid4().hex[:10]}"
    token = _register_and_login(auth_url, username)
    me = httpx.get(f"{auth_url}/api/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == username


def test_bootstrap_admin_can_log_in(stack: Stack) -> None:
    password = stack.secrets.admin_password
    assert password.lower() not in PLACEHOLDER_SECRETS and len(password) >= 16
    response = httpx.post(
        f"{stack.url(AUTH)}/api/auth/login",
        json={"username": stack.config.admin_username, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    me = httpx.get(
        f"{stack.url(AUTH)}/api/auth/me",
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
        timeout=10,
    )
    assert me.json()["role"] == "admin"

    # Created at auth's first start, before the other services consumed anything: the migration step
    # declared social's queue first, so social heard of the admin too (looked up by its current name:
    # other tests may rename it).
    def admin_profile() -> httpx.Response | None:
        response = httpx.get(f"{stack.url('social')}/api/users/{me.json()['username']}", timeout=10)
        return response if response.status_code == 200 else None

    profile = wait_until(admin_profile, timeout=30, interval=0.5, what="the admin's social profile")
    assert profile.json()["id"] == me.json()["id"]


def test_auth_survives_a_crash_with_its_data(stack: Stack) -> None:
    auth_url = stack.url(AUTH)
    username = f"k{uuid.uuid4().hex[:10]}"
    _register_and_login(auth_url, username)

    pid = stack.pid(AUTH)
    stack.kill(AUTH)
    assert not _pid_alive(pid)
    assert not stack.is_running(AUTH)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{auth_url}/health/live", timeout=2)

    stack.restart(AUTH)
    assert stack.url(AUTH) == auth_url  # same port: the gateway's upstream URL stays right
    assert stack.pid(AUTH) != pid
    assert httpx.get(f"{auth_url}/health/ready", timeout=10).status_code == 200
    token = _login(auth_url, username)
    me = httpx.get(f"{auth_url}/api/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.json()["username"] == username


def test_services_get_real_secrets_and_their_own_databases(stack: Stack) -> None:
    auth_env = stack.env_for(AUTH)
    assert auth_env["AIC_ENV"] == "test"  # placeholder secrets are refused by the settings
    assert auth_env["AIC_JWT_PRIVATE_KEY"].startswith("-----BEGIN PRIVATE KEY-----")
    for name in stack.names:
        env = stack.env_for(name)
        assert env["AIC_MIGRATE_ON_START"] == "false"
        assert env["AIC_JWKS_URL"] == f"{stack.url(AUTH)}/api/auth/.well-known/jwks.json"
        if name != GATEWAY:
            assert env["AIC_DATABASE_URL"].endswith(f"/{stack.config.database_name(name)}")
        if "AIC_SERVICE_CLIENT_SECRET" in env:
            secret = env["AIC_SERVICE_CLIENT_SECRET"]
            assert secret.lower() not in PLACEHOLDER_SECRETS and len(secret) >= 16
            assert stack.secrets.service_clients[env["AIC_SERVICE_CLIENT_ID"]] == secret
    for secret in stack.secrets.service_clients.values():
        assert secret.lower() not in PLACEHOLDER_SECRETS and len(secret) >= 16
    gateway_env = stack.env_for(GATEWAY)
    assert "AIC_DATABASE_URL" not in gateway_env
    for name in stack.names[:-1]:
        assert gateway_env[f"AIC_{name.upper()}_URL"] == stack.url(name)
