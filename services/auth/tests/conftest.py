"""A running auth service for each test: embedded (SQLite, in-process bus) and real (MariaDB, RabbitMQ)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from aic_auth.app import create_app
from aic_auth.service import utc_now
from aic_auth.settings import AuthSettings
from aic_common.bus import Bus
from aic_common.messages import Envelope
from aic_common.testing import observed_bus, serving
from aic_common.tokens import generate_rsa_private_key_pem

SERVICE_SECRET = "simulator-secret-0123456789abcdef"
STRONG_PASSWORD = "correct horse battery staple 42"


class FakeClock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class AuthEnv:
    kind: str
    client: httpx.AsyncClient
    app: FastAPI
    clock: FakeClock
    events: list[Envelope] = field(default_factory=list)
    publisher: Bus | None = None

    async def register(self, username: str, password: str = STRONG_PASSWORD, **extra: str) -> httpx.Response:
        body = {
            "username": username,
            "email": f"{username.lower()}@example.com",
            "password": password,
            **extra,
        }
        return await self.client.post("/api/auth/register", json=body)

    async def login(
        self, username: str, password: str = STRONG_PASSWORD, ip: str = "203.0.113.7"
    ) -> httpx.Response:
        return await self.client.post(
            "/api/auth/login",
            json={"username": username, "password": password},
            headers={"X-Forwarded-For": ip},
        )

    async def service_token(self) -> str:
        response = await self.client.post(
            "/api/auth/token", json={"client_id": "simulator", "client_secret": SERVICE_SECRET}
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


def auth_settings(tmp_path: Path, **overrides: object) -> AuthSettings:
    values: dict[str, object] = {
        "env": "test",
        "data_dir": tmp_path,
        "metrics_token": "metrics-token-of-the-test",  # outside dev mode a service needs a real one
        "jwt_private_key": generate_rsa_private_key_pem(),
        "service_clients": {"simulator": SERVICE_SECRET},
        "outbox_poll_seconds": 0.05,
        # The tests speak as the gateway (the in-process client's address) for clients they name.
        "trusted_proxies": ["127.0.0.1"],
    }
    values.update(overrides)
    return AuthSettings(**values)


@pytest.fixture(params=["embedded", "real"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, bus_namespace: str) -> AuthSettings:
    if request.param == "embedded":
        return auth_settings(tmp_path, bus_namespace=bus_namespace)
    return auth_settings(
        tmp_path,
        bus_namespace=bus_namespace,
        database_url=request.getfixturevalue("mysql_url"),
        broker_url=request.getfixturevalue("rabbitmq_url"),
    )


@pytest.fixture
async def auth(settings: AuthSettings) -> AsyncIterator[AuthEnv]:
    async with running_auth(settings) as env:
        yield env


@asynccontextmanager
async def running_auth(settings: AuthSettings) -> AsyncIterator[AuthEnv]:
    clock = FakeClock()
    async with observed_bus(settings, "user.*") as observed:
        app = create_app(settings, shared_bus=observed.shared, clock=clock)
        async with serving(app, "http://auth") as client:
            kind = "embedded" if observed.shared else "real"
            yield AuthEnv(kind, client, app, clock, observed.events, publisher=observed.bus)


@pytest.fixture(params=["embedded", "real"])
def sweeping_settings(request: pytest.FixtureRequest, tmp_path: Path, bus_namespace: str) -> AuthSettings:
    """Settings whose retention sweep runs every 50 ms, embedded or on MariaDB and RabbitMQ."""
    values: dict[str, object] = {"bus_namespace": bus_namespace, "retention_sweep_seconds": 0.05}
    if request.param == "real":
        values |= {
            "database_url": request.getfixturevalue("mysql_url"),
            "broker_url": request.getfixturevalue("rabbitmq_url"),
        }
    return auth_settings(tmp_path, **values)
