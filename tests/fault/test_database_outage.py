"""The database gone for 20 seconds under load: 503s in the common error shape, then recovery by itself.

Every service reaches MariaDB through a TCP proxy of this test's own (the shared server must keep
serving everyone else); cutting the proxy refuses new connections and breaks the open ones, as a
stopped server would. Meanwhile people keep reading and writing through the gateway, and an event
arrives that a consumer must apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy.engine import make_url

from aic_common.bus.rabbit import RabbitBus
from aic_common.messages import UserRegistered, make_envelope
from aic_common.testing import ThreadedTcpProxy, wait_for
from aic_common.testing.fixtures import S3Endpoint
from aic_common.testing.rabbitmq_node import RabbitNode
from aic_gateway.stack import GATEWAY, Stack

from .conftest import Person, fake_ip, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

OUTAGE_SECONDS = 20.0  # what the issue asks for: the wait is the fault itself
CLIENT_TIMEOUT = 20.0  # longer than the gateway's upstream timeout (15 s): a hang shows as a timeout here
WORKERS = 4
PACE_SECONDS = 0.2  # per worker: well under the per-user and per-address rate limits


@pytest.fixture
def database_proxy(mysql_server_url: str) -> Iterator[ThreadedTcpProxy]:
    server = make_url(mysql_server_url)
    with ThreadedTcpProxy(server.host or "127.0.0.1", server.port or 3306) as proxy:
        yield proxy


@pytest.fixture
def outage_stack(
    database_proxy: ThreadedTcpProxy,
    mysql_server_url: str,
    moto_s3: S3Endpoint,
    start_stack: Callable[..., Stack],
) -> Stack:
    through_proxy = make_url(mysql_server_url).set(host="127.0.0.1", port=database_proxy.port)
    return start_stack(mysql_url=through_proxy.render_as_string(hide_password=False), s3=moto_s3)


@dataclass
class Outcome:
    phase: str  # before, during or after the outage
    what: str
    status: int | None  # None: no answer at all (a transport error or the client's timeout)
    body: Any
    seconds: float
    error: str = ""


class Load:
    """People reading and writing through the gateway, each at a steady pace, until stopped."""

    def __init__(self, gateway: httpx.AsyncClient, people: list[Person], file_id: str) -> None:
        self.gateway = gateway
        self.people = people
        self.file_id = file_id
        self.phase = "before"
        self.outcomes: list[Outcome] = []
        self._stopping = asyncio.Event()

    def requests(self, person: Person, round_: int) -> list[tuple[str, str, str, dict[str, Any]]]:
        post = {"content": f"停电了吗?第 {round_} 次"}
        return [
            ("explore feed", "GET", "/api/feed/explore", {}),
            ("a profile", "GET", f"/api/users/{person.username}", {}),
            ("a new post", "POST", "/api/posts", {"json": post}),
            ("who am I", "GET", "/api/auth/me", {}),
            ("the characters", "GET", "/api/sim/agents", {}),
            ("a file", "GET", f"/api/files/{self.file_id}", {}),
        ]

    async def _worker(self, person: Person) -> None:
        round_ = 0
        while not self._stopping.is_set():
            round_ += 1
            for what, method, path, options in self.requests(person, round_):
                phase, began = self.phase, time.monotonic()
                try:
                    response = await self.gateway.request(method, path, headers=person.headers, **options)
                    is_json = response.headers.get("content-type", "").startswith("application/json")
                    body = response.json() if is_json else None
                    outcome = Outcome(phase, what, response.status_code, body, time.monotonic() - began)
                except httpx.HTTPError as exc:
                    outcome = Outcome(phase, what, None, None, time.monotonic() - began, repr(exc))
                self.outcomes.append(outcome)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), PACE_SECONDS)

    @contextlib.asynccontextmanager
    async def running(self) -> Any:
        tasks = [asyncio.create_task(self._worker(person)) for person in self.people]
        try:
            yield self
        finally:
            self._stopping.set()
            await asyncio.gather(*tasks)

    def of(self, phase: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.phase == phase]

    def succeeded(self, phase: str) -> set[str]:
        return {o.what for o in self.of(phase) if o.status is not None and o.status < 300}


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 140, 200)).save(buffer, "PNG")
    return buffer.getvalue()


async def readiness(client: httpx.AsyncClient, stack: Stack) -> dict[str, httpx.Response]:
    services = [name for name in stack.names if name != GATEWAY]
    answers = await asyncio.gather(*(client.get(f"{stack.url(name)}/health/ready") for name in services))
    return dict(zip(services, answers, strict=True))


async def test_a_20_second_database_outage_answers_503_and_recovers_by_itself(
    outage_stack: Stack, database_proxy: ThreadedTcpProxy, private_rabbitmq: RabbitNode
) -> None:
    stack = outage_stack
    async with (
        httpx.AsyncClient(base_url=stack.gateway_url, timeout=CLIENT_TIMEOUT) as gateway,
        httpx.AsyncClient(timeout=10) as probe,
    ):
        people = [await sign_up(gateway, f"outage{n}") for n in range(WORKERS)]
        uploaded = await gateway.post(
            "/api/files", files={"file": ("tile.png", png(), "image/png")}, headers=people[0].headers
        )
        assert uploaded.status_code == 201, uploaded.text
        load = Load(gateway, people, uploaded.json()["id"])
        # A newcomer announced while the database is away, as auth would announce one: the consumers
        # must apply it once the database is back, not give up on it.
        newcomer = f"latecomer_{uuid.uuid4().hex[:8]}"
        announcement = make_envelope(
            UserRegistered(
                user_id=str(uuid.uuid4()),
                username=newcomer,
                display_name="迟到的人",
                role="user",
                is_ai=False,
                created_at=datetime.now(UTC),
            ),
            "auth",
        )
        announcer = RabbitBus(private_rabbitmq.url, stack.config.bus_namespace)
        await announcer.start()

        async with load.running():
            await wait_for(lambda: len(load.succeeded("before")) == 6, timeout=30, what="the load to flow")

            load.phase = "during"
            cut_at = time.monotonic()
            database_proxy.cut()
            not_ready = await wait_for(
                lambda: _all_not_ready(probe, stack), timeout=10, interval=0.2, what="readiness to fail"
            )
            await announcer.publish(announcement)
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))

            load.phase = "after"
            database_proxy.restore()
            restored_at = time.monotonic()

            async def ready_again() -> bool:
                return all(r.status_code == 200 for r in (await readiness(probe, stack)).values())

            await wait_for(ready_again, timeout=30, interval=0.2, what="every service ready again")
            ready_after = time.monotonic() - restored_at
            await wait_for(
                lambda: len(load.succeeded("after")) == 6,
                timeout=30,
                interval=0.2,
                what="requests to succeed",
            )
            served_after = time.monotonic() - restored_at

        await announcer.stop()
        newcomer_known = await wait_for(
            lambda: _profile_exists(gateway, newcomer),
            timeout=30,
            interval=0.5,
            what="the event of the outage applied",
        )
        assert newcomer_known

    # Never a 500 (or 502), never a hang, never a connection the gateway dropped: failures during the
    # outage are 503 (or 504) in the common error shape.
    assert not [o for o in load.outcomes if o.status is None], [o for o in load.outcomes if o.status is None][
        :5
    ]
    failures = [o for o in load.outcomes if o.status >= 400]
    assert {o.status for o in failures} <= {503, 504}, [o for o in failures if o.status not in (503, 504)][:5]
    assert all(isinstance(o.body, dict) and {"detail", "code"} <= o.body.keys() for o in failures)
    during = load.of("during")
    assert {o.what for o in during if o.status == 503} >= {"explore feed", "a new post", "who am I"}
    assert max(o.seconds for o in load.outcomes) < CLIENT_TIMEOUT
    for name, answer in not_ready.items():
        assert answer.json()["code"] == "not_ready", (name, answer.text)
        assert answer.json()["detail"]["checks"]["database"].startswith("error"), (name, answer.text)
    # No process died, and none was restarted.
    assert {name: stack.returncode(name) for name in stack.names} == dict.fromkeys(stack.names)
    print(
        f"\n{len(load.outcomes)} requests: {len(during)} during the {OUTAGE_SECONDS:.0f}s outage "
        f"(slowest {max(o.seconds for o in during):.2f}s), ready {ready_after:.1f}s and serving "
        f"{served_after:.1f}s after the database returned"
    )


async def _all_not_ready(probe: httpx.AsyncClient, stack: Stack) -> dict[str, httpx.Response] | None:
    answers = await readiness(probe, stack)
    return answers if all(r.status_code == 503 for r in answers.values()) else None


async def _profile_exists(gateway: httpx.AsyncClient, username: str) -> bool:
    answer = await gateway.get(f"/api/users/{username}", headers={"X-Forwarded-For": fake_ip()})
    return answer.status_code == 200
