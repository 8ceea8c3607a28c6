"""A gateway replica SIGKILLed under load: the other keeps serving, and live streams lose nothing.

Two gateway processes stand in front of the same services. Readers spread their requests over both,
and fall over to the other when one fails (as a load balancer would). People follow the live stream
on the replica that dies; when it goes, they reconnect to the survivor with Last-Event-ID and must
receive every event published meanwhile: exactly the events the same people see on streams to the
survivor that were never interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from aic_common.testing import free_port, wait_for, wait_until_serving
from aic_gateway.stack import GATEWAY, GATEWAY_SPEC, READY_PATH, Stack, serve_command

from .conftest import LiveClient, LiveEvent, Person, fake_ip, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PEOPLE = 3
READERS = 4
ROUNDS = 12  # of writing: a post, a comment on it and a private message each
KILL_AFTER_ROUND = 5


@pytest.fixture
def second_gateway(fault_stack: Stack, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Another gateway replica, configured as the stack's own, on a port of its own."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIC_")}
    env.update(fault_stack.env_for(GATEWAY))
    env.update({"AIC_PORT": str(port), "AIC_DATA_DIR": str(tmp_path)})
    log = tmp_path / "gateway-b.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                *serve_command(GATEWAY_SPEC, host="127.0.0.1", port=port, graceful_shutdown_seconds=5),
            ],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}{READY_PATH}", process=process, log_path=log, timeout=60)
        yield url, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class Readers:
    """Readers sending each request to the next gateway in turn, and to the other when that one fails."""

    def __init__(self, gateways: list[str]) -> None:
        self.gateways = gateways
        self.answers: list[tuple[str, int]] = []  # (gateway, status) of every answer
        self.failovers = 0
        self.unserved = 0  # requests no gateway answered
        self._stopping = asyncio.Event()
        self._turn = 0

    async def read(self, http: httpx.AsyncClient, path: str, ip: str) -> None:
        self._turn += 1
        first = self._turn
        for attempt in range(len(self.gateways)):
            gateway = self.gateways[(first + attempt) % len(self.gateways)]
            try:
                response = await http.get(f"{gateway}{path}", headers={"X-Forwarded-For": ip})
            except httpx.TransportError:
                self.failovers += 1
                continue
            self.answers.append((gateway, response.status_code))
            return
        self.unserved += 1

    async def _reader(self) -> None:
        ip = fake_ip()
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            while not self._stopping.is_set():
                for path in ("/api/feed/explore", "/health/ready"):
                    await self.read(http, path, ip)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 0.1)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Readers]:
        tasks = [asyncio.create_task(self._reader()) for _ in range(READERS)]
        try:
            yield self
        finally:
            self._stopping.set()
            await asyncio.gather(*tasks)


def concerning(events: list[LiveEvent], people: list[Person]) -> list[str]:
    """The ids of the events about these people (the stream also carries everyone else's)."""
    ids = {person.user_id for person in people}
    fields = ("author_id", "user_id", "sender_id", "recipient_id", "follower_id")
    return [e.id for e in events if any(e.data.get(field) in ids for field in fields)]


async def test_a_killed_gateway_replica_leaves_the_other_serving_and_streams_resume_without_loss(
    fault_stack: Stack, second_gateway: tuple[str, subprocess.Popen[bytes]]
) -> None:
    survivor, (doomed, doomed_process) = fault_stack.gateway_url, second_gateway
    async with httpx.AsyncClient(base_url=survivor, timeout=20, trust_env=False) as gateway:
        people = [await sign_up(gateway, f"failover{n}") for n in range(PEOPLE)]
        # Each person follows the stream on the doomed replica, falling over to the survivor, and
        # again on the survivor alone: the reference of what they should see.
        moving = [LiveClient([doomed, survivor], {**p.headers}) for p in people]
        staying = [LiveClient([survivor], {**p.headers}) for p in people]
        for client in moving + staying:
            client.start()
        readers = Readers([survivor, doomed])
        try:
            await wait_for(
                lambda: all(c.connected for c in moving + staying), timeout=20, what="every live stream"
            )
            async with readers.running():
                killed_at = 0.0
                for round_ in range(ROUNDS):
                    author, commenter, recipient = (people[(round_ + k) % PEOPLE] for k in range(3))
                    post = await gateway.post(
                        "/api/posts", json={"content": f"第 {round_} 轮:网关还在吗?"}, headers=author.headers
                    )
                    assert post.status_code == 201, post.text
                    comment = await gateway.post(
                        f"/api/posts/{post.json()['id']}/comments",
                        json={"content": "还在!"},
                        headers=commenter.headers,
                    )
                    assert comment.status_code == 201, comment.text
                    message = await gateway.post(
                        "/api/messages",
                        json={"to": recipient.username, "content": f"悄悄话 {round_}"},
                        headers=author.headers,
                    )
                    assert message.status_code == 201, message.text
                    if round_ == KILL_AFTER_ROUND:
                        os.killpg(doomed_process.pid, signal.SIGKILL)
                        doomed_process.wait(timeout=10)
                        killed_at = time.monotonic()
                # The last post closes the run: once every stream has it, each has had its chance
                # at everything published before it.
                closing = await gateway.post(
                    "/api/posts", json={"content": "收工"}, headers=people[0].headers
                )
                assert closing.status_code == 201, closing.text
                closing_id = closing.json()["id"]

                def everyone_has_the_closing_post() -> bool:
                    return all(
                        any(e.type == "post.created" and e.data["post_id"] == closing_id for e in c.events)
                        for c in moving + staying
                    )

                await wait_for(
                    everyone_has_the_closing_post, timeout=30, interval=0.2, what="the closing post"
                )
                resumed_after = time.monotonic() - killed_at
        finally:
            for client in moving + staying:
                await client.stop()

    # The survivor never failed a request; the readers lost none, only switched.
    assert doomed_process.returncode == -signal.SIGKILL
    assert fault_stack.is_running(GATEWAY)
    assert readers.unserved == 0 and readers.failovers > 0
    assert {status for gateway_url, status in readers.answers if gateway_url == survivor} == {200}
    for person, moved, stayed in zip(people, moving, staying, strict=True):
        assert moved.connections[:2] == [doomed, survivor], moved.connections
        assert moved.resets == stayed.resets == 0
        received, reference = concerning(moved.events, people), concerning(stayed.events, people)
        assert len(received) == len(set(received)), f"{person.username} got events twice"
        missing, extra = set(reference) - set(received), set(received) - set(reference)
        assert not missing and not extra, f"{person.username}: missing {missing}, extra {extra}"
        public_posts = [e for e in stayed.events if e.type == "post.created" and e.id in reference]
        assert len(public_posts) == ROUNDS + 1
    print(
        f"\n{len(readers.answers)} reads, {readers.failovers} failed over; "
        f"streams whole {resumed_after:.1f}s after the kill"
    )
