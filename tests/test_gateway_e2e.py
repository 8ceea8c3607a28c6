"""The gateway on the real topology: separate processes, real RabbitMQ and MariaDB."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from aic_common.bus.rabbit import RabbitBus
from aic_common.messages import NotificationCreated, make_envelope
from aic_common.testing import wait_for
from aic_common.tokens import SigningKey, TokenIssuer, generate_rsa_private_key_pem
from aic_gateway.stack import AUTH, Stack

pytestmark = pytest.mark.e2e
PASSWORD = "gateway e2e passphrase 🌙"


def fake_ip() -> str:
    """A client address of its own for each test, so their rate limits do not mix."""
    value = uuid.uuid4().int
    return f"10.{value % 250}.{(value >> 8) % 250}.{(value >> 16) % 250 + 1}"


async def register_and_login(client: httpx.AsyncClient, username: str, ip: str) -> dict:
    headers = {"X-Forwarded-For": ip}
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    created = await client.post("/api/auth/register", json=body, headers=headers)
    assert created.status_code == 201, created.text
    login = await client.post(
        "/api/auth/login", json={"username": username, "password": PASSWORD}, headers=headers
    )
    assert login.status_code == 200, login.text
    return {**created.json(), **login.json()}


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        yield client


async def test_register_login_and_me_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    ip = fake_ip()
    account = await register_and_login(gateway, f"e2e_{uuid.uuid4().hex[:8]}", ip)
    me = await gateway.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {account['access_token']}", "X-Forwarded-For": ip}
    )
    assert me.status_code == 200 and me.json()["id"] == account["id"]
    assert me.headers["x-request-id"]


async def test_forged_and_expired_tokens_are_refused_at_the_edge_and_at_the_service(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    ip = fake_ip()
    account = await register_and_login(gateway, f"forge_{uuid.uuid4().hex[:8]}", ip)
    jwks = (await gateway.get("/api/auth/.well-known/jwks.json")).json()
    kid = jwks["keys"][0]["kid"]
    # Right kid, wrong key: the signature cannot verify.
    forger_key = generate_rsa_private_key_pem()
    forger = TokenIssuer(forger_key, issuer="aic-auth", audience="aic")
    forger.signing_key = SigningKey.from_pem(forger_key, kid=kid)
    forged = forger.issue_access_token(account["id"], username="x", role="admin")
    # Signed with the stack's real key, but an hour ago: long expired.
    an_hour_ago = TokenIssuer(
        stack.secrets.jwt_private_key, issuer="aic-auth", audience="aic", clock=lambda: time.time() - 3600
    )
    expired = an_hour_ago.issue_access_token(account["id"], username="x", role="user")

    for token in (forged, expired):
        at_edge = await gateway.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": ip}
        )
        assert at_edge.status_code == 401 and at_edge.json()["code"] == "invalid_token"
        async with httpx.AsyncClient() as direct_client:
            direct = await direct_client.get(
                f"{stack.url(AUTH)}/api/auth/me", headers={"Authorization": f"Bearer {token}"}
            )
        assert direct.status_code == 401 and direct.json()["code"] == "invalid_token"


async def test_rate_limits_answer_429_with_retry_after(gateway: httpx.AsyncClient) -> None:
    ip = fake_ip()
    statuses = []
    for _ in range(25):
        response = await gateway.post(
            "/api/auth/login",
            json={"username": "nobody_at_all", "password": "wrong-wrong"},
            headers={"X-Forwarded-For": ip},
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json() == {"detail": response.json()["detail"], "code": "rate_limited"}
    # Another client is not limited by this one.
    other = await gateway.post(
        "/api/auth/login",
        json={"username": "nobody_at_all", "password": "wrong-wrong"},
        headers={"X-Forwarded-For": fake_ip()},
    )
    assert other.status_code == 401


async def test_a_killed_upstream_gives_503_and_recovers_when_it_returns(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    ip = fake_ip()
    username = f"crash_{uuid.uuid4().hex[:8]}"
    await register_and_login(gateway, username, ip)
    stack.kill(AUTH)
    try:
        down = await gateway.post(
            "/api/auth/login",
            json={"username": username, "password": PASSWORD},
            headers={"X-Forwarded-For": ip},
        )
        assert down.status_code in (502, 503)
        assert down.json()["code"] in ("upstream_unavailable", "bad_gateway")
        assert (await gateway.get("/health/live")).status_code == 200, "the gateway itself stays up"
    finally:
        stack.restart(AUTH)  # from this thread: children are tied to the thread that starts them
    back = await gateway.post(
        "/api/auth/login", json={"username": username, "password": PASSWORD}, headers={"X-Forwarded-For": ip}
    )
    assert back.status_code == 200


async def test_live_stream_delivers_public_events_and_only_the_users_own_private_ones(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    ip = fake_ip()
    alice = await register_and_login(gateway, f"alice_{uuid.uuid4().hex[:6]}", ip)
    bob = await register_and_login(gateway, f"bob_{uuid.uuid4().hex[:6]}", ip)
    received: list[dict] = []

    async def listen() -> None:
        headers = {"Authorization": f"Bearer {alice['access_token']}", "X-Forwarded-For": ip}
        timeout = httpx.Timeout(30, read=None)  # a live stream is idle between events
        async with (
            httpx.AsyncClient(base_url=stack.gateway_url, timeout=timeout) as client,
            client.stream("GET", "/api/stream", headers=headers) as response,
        ):
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    received.append(json.loads(line[5:]))

    listener = asyncio.create_task(listen())
    publisher = RabbitBus(stack.config.broker_url, stack.config.bus_namespace)
    await publisher.start()
    try:
        await wait_for(_subscribed(stack), timeout=20, what="the stream to be connected")
        # A public event from another service: auth announces a new member.
        newcomer = await register_and_login(gateway, f"carol_{uuid.uuid4().hex[:6]}", ip)

        def notification(user_id: str, marker: str) -> NotificationCreated:
            return NotificationCreated(
                notification_id=marker,
                user_id=user_id,
                kind="follow",
                actor_id=newcomer["id"],
                actor_username=newcomer["username"],
                created_at="2026-01-01T00:00:00Z",
            )

        await publisher.publish(make_envelope(notification(bob["id"], "for-bob"), "social"))
        await publisher.publish(make_envelope(notification(alice["id"], "for-alice"), "social"))
        await wait_for(
            lambda: any(e["data"].get("notification_id") == "for-alice" for e in received),
            timeout=20,
            what="alice's own notification",
        )
        types = [e["type"] for e in received]
        assert "user.registered" in types
        assert any(e["data"].get("username") == newcomer["username"] for e in received)
        assert not any(e["data"].get("notification_id") == "for-bob" for e in received)
    finally:
        listener.cancel()
        await publisher.stop()


def _subscribed(stack: Stack):
    async def check() -> bool:
        async with httpx.AsyncClient() as client:
            metrics = (
                await client.get(f"{stack.gateway_url}/metrics", headers=stack.secrets.metrics_authorization)
            ).text
        return any(
            line.startswith("aic_stream_subscribers") and not line.endswith(" 0.0")
            for line in metrics.splitlines()
        )

    return check
