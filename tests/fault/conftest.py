"""Fixtures of the fault tests: a RabbitMQ node of their own to restart, stacks to break on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from aic_common.testing import wait_for
from aic_common.testing.fixtures import S3Endpoint, unavailable
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


@pytest.fixture(scope="session")
def fault_stack(
    private_rabbitmq: RabbitNode,
    mysql_server_url: str,
    moto_s3: S3Endpoint,
    stack_config_factory: Callable[..., StackConfig],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The whole topology on the private RabbitMQ node, shared by the fault tests that break no part of
    it for long (the others start their own): the shared broker keeps no queues of theirs."""
    stack = Stack(
        stack_config_factory(
            mysql_server_url, private_rabbitmq.url, tmp_path_factory.mktemp("fault"), moto_s3
        )
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        stack.drop_databases()


@pytest.fixture
def start_stack(
    private_rabbitmq: RabbitNode,
    mysql_server_url: str,
    stack_config_factory: Callable[..., StackConfig],
    tmp_path: Path,
) -> Iterator[Callable[..., Stack]]:
    """Starts a stack for this test alone on the private RabbitMQ node; stopped, and its databases
    dropped, after the test. ``mysql_url`` reaches the shared server another way (through a proxy to
    cut), S3 is there when ``s3`` is given, ``changes`` override other :class:`StackConfig` fields."""
    started: list[Stack] = []

    def start(*, mysql_url: str | None = None, s3: S3Endpoint | None = None, **changes: Any) -> Stack:
        state_dir = tmp_path / f"stack{len(started)}"
        config = stack_config_factory(
            mysql_url or mysql_server_url, private_rabbitmq.url, state_dir, s3, **changes
        )
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


# ---------------------------------------------------------------- the live stream, as a browser reads it


@dataclass(frozen=True)
class LiveEvent:
    id: str
    type: str
    data: dict[str, Any]


class LiveClient:
    """A live-stream (SSE) client that records every event. When its connection breaks it reconnects,
    with Last-Event-ID, to the next gateway in ``urls``: a browser behind a load balancer does the same.
    """

    def __init__(self, urls: list[str], headers: dict[str, str]) -> None:
        self.urls = urls
        self.headers = headers
        self.events: list[LiveEvent] = []
        self.connections: list[str] = []  # the gateway of each connection that got its first frame
        self.resets = 0
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    @property
    def last_event_id(self) -> str | None:
        return self.events[-1].id if self.events else None

    def ids(self) -> list[str]:
        return [event.id for event in self.events]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        timeout = httpx.Timeout(10.0, read=None)
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as http:
            for attempt in itertools.count():
                url = self.urls[attempt % len(self.urls)]
                headers = dict(self.headers)
                if self.last_event_id:
                    headers["Last-Event-ID"] = self.last_event_id
                with contextlib.suppress(httpx.HTTPError):
                    async with http.stream("GET", f"{url}/api/stream", headers=headers) as response:
                        if response.status_code == 200:
                            await self._read(url, response)
                self.connected = False
                await asyncio.sleep(0.1)  # a browser waits the announced retry; no need here

    async def _read(self, url: str, response: httpx.Response) -> None:
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                continue
            if "retry" in fields and not self.connected:
                self.connected = True
                self.connections.append(url)
            if fields.get("event") == "reset":
                self.resets += 1
            elif "id" in fields and "data" in fields:
                payload = json.loads(fields["data"])
                self.events.append(LiveEvent(fields["id"], payload["type"], payload["data"]))
            fields = {}
