"""Fixtures of the fault tests: a RabbitMQ node of their own to restart, stacks to break on purpose."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from aic_common.testing import wait_for
from aic_common.testing.fixtures import unavailable
from aic_common.testing.rabbitmq_node import RabbitNode, rabbitmq_commands
from aic_gateway.stack import Stack, StackConfig


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[RabbitNode]:
    """A RabbitMQ node for the fault tests alone: restarting the shared one would break everyone's tests.

    Needs a local RabbitMQ installation: skipped without one (failed with ``CI=true``).
    """
    if rabbitmq_commands() is None:
        unavailable("rabbitmq-server", "install RabbitMQ (the fault tests run a private node of it)")
    # Not pytest's tmp_path: the node runs as the rabbitmq user when we are root, and needs every
    # directory above its own to be traversable.
    with tempfile.TemporaryDirectory(prefix="aic-fault-rabbitmq-") as base:
        Path(base).chmod(0o755)
        with RabbitNode(Path(base)) as node:
            yield node


@pytest.fixture
def start_stack() -> Iterator[Callable[[StackConfig], Stack]]:
    """Starts a stack for this test alone; stopped, and its databases dropped, after the test."""
    started: list[Stack] = []

    def start(config: StackConfig) -> Stack:
        stack = Stack(config)
        started.append(stack)
        stack.start()
        return stack

    yield start
    for stack in reversed(started):
        stack.stop()
        stack.drop_databases()


@pytest.fixture
def stack_database() -> Iterator[Callable[[Stack, str], sa.Engine]]:
    """An engine on one service's database of a stack (disposed after the test), to check its state."""
    engines: list[sa.Engine] = []

    def engine_for(stack: Stack, service: str) -> sa.Engine:
        engine = sa.create_engine(stack.config.database_url(service), pool_pre_ping=True)
        engines.append(engine)
        return engine

    yield engine_for
    for engine in engines:
        engine.dispose()


# ---------------------------------------------------------------- people, through a gateway

PASSWORD = "fault tests passphrase 🌧️"


def fake_ip() -> str:
    """A client address of its own (named in X-Forwarded-For), so rate limits do not mix."""
    value = uuid.uuid4().int
    return f"10.{value % 250}.{(value >> 8) % 250}.{(value >> 16) % 250 + 1}"


@dataclass
class Person:
    username: str
    user_id: str
    token: str
    ip: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Forwarded-For": self.ip}


async def sign_up(gateway: httpx.AsyncClient, prefix: str) -> Person:
    """A new account, signed in, whose profile social already knows."""
    username, ip = f"{prefix}_{uuid.uuid4().hex[:8]}", fake_ip()
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    created = await gateway.post("/api/auth/register", json=body, headers={"X-Forwarded-For": ip})
    assert created.status_code == 201, created.text
    login = await gateway.post(
        "/api/auth/login", json={"username": username, "password": PASSWORD}, headers={"X-Forwarded-For": ip}
    )
    assert login.status_code == 200, login.text
    person = Person(username, created.json()["id"], login.json()["access_token"], ip)

    async def known_to_social() -> bool:
        profile = await gateway.get(f"/api/users/{username}", headers={"X-Forwarded-For": ip})
        return profile.status_code == 200

    await wait_for(known_to_social, timeout=30, interval=0.2, what=f"{username}'s profile in social")
    return person
