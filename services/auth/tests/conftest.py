"""A running auth service for each test: embedded (SQLite, in-process bus) and real (MariaDB, RabbitMQ)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from aic_auth.app import create_app
from aic_auth.service import utc_now
from aic_auth.settings import AuthSettings
from aic_common.bus import Bus, InProcessBus, on_events
from aic_common.bus.rabbit import RabbitBus
from aic_common.messages import Envelope
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
        "jwt_private_key": generate_rsa_private_key_pem(),
        "service_clients": {"simulator": SERVICE_SECRET},
        "outbox_poll_seconds": 0.05,
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


def running_auth(settings: AuthSettings):
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def manager() -> AsyncIterator[AuthEnv]:
        clock = FakeClock()
        events: list[Envelope] = []

        async def observe(envelope: Envelope) -> None:
            events.append(envelope)

        broker_url = settings.broker_url.get_secret_value()
        shared: InProcessBus | None = None
        observer: Bus
        if broker_url:
            observer = RabbitBus(broker_url, settings.bus_namespace)
        else:
            shared = observer = InProcessBus(settings.bus_namespace)
        observer.subscribe("test.observer", on_events("user.*"), observe)
        await observer.start()
        app = create_app(settings, shared_bus=shared, clock=clock)
        try:
            async with LifespanManager(app):
                transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
                async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
                    try:
                        yield AuthEnv(
                            "real" if broker_url else "embedded",
                            client,
                            app,
                            clock,
                            events,
                            publisher=observer,
                        )
                    finally:
                        if broker_url:
                            await app.state.runtime.bus.delete_topology()
        finally:
            if isinstance(observer, RabbitBus):
                await observer.delete_topology()
            await observer.stop()

    return manager()
