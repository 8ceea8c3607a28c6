"""The server and deployment around the services: whose X-Forwarded-For is believed, how long a
connection may take to send its request's head and how big it may be, on the real processes.

The stack's gateway believes 127.0.0.1 (the tests speak for many clients through it); a gateway that
believes nobody is started with ``extra_gateway``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from aic_common.server import HEADER_TIMEOUT_SECONDS, MAX_HEADER_BYTES
from aic_common.testing.community import fake_ip
from aic_gateway.stack import Stack

from .conftest import ExtraGateway

pytestmark = pytest.mark.e2e

LOGINS_PER_IP_PER_MINUTE = 20  # GatewaySettings.rate_limit_login_per_ip, which the stack runs with
REPO = Path(__file__).resolve().parents[2]


def failed_logins(http: httpx.Client, forwarded_for: list[str]) -> list[int]:
    """A wrong password for a new name per request, each claiming the next X-Forwarded-For."""
    return [
        http.post(
            "/api/auth/login",
            json={"username": f"nobody_{uuid.uuid4().hex[:10]}", "password": "a wrong guess"},
            headers={"X-Forwarded-For": claimed},
        ).status_code
        for claimed in forwarded_for
    ]


def test_with_no_trusted_proxy_a_rotating_forwarded_for_still_gets_the_login_limit(
    extra_gateway: ExtraGateway,
) -> None:
    # The gateway as compose runs it: its port published, nobody in front believed. Its own in-memory
    # limits, so that the count is this test's alone.
    with (
        extra_gateway(AIC_TRUSTED_PROXIES="[]", AIC_REDIS_URL="") as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        statuses = failed_logins(http, [fake_ip() for _ in range(LOGINS_PER_IP_PER_MINUTE + 1)])
    assert statuses == [401] * LOGINS_PER_IP_PER_MINUTE + [429], "a new header is not a new client"


def test_behind_a_trusted_proxy_the_address_it_appended_is_the_client(stack: Stack) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        # Each request from a proxy's new client: none is limited.
        rotating = failed_logins(http, [fake_ip() for _ in range(LOGINS_PER_IP_PER_MINUTE + 1)])
        # One client who writes a new address of its own left of the proxy's entry: still one client.
        client = fake_ip()
        forged = failed_logins(http, [f"{fake_ip()}, {client}" for _ in range(LOGINS_PER_IP_PER_MINUTE + 1)])
    assert rotating == [401] * (LOGINS_PER_IP_PER_MINUTE + 1)
    assert forged == [401] * LOGINS_PER_IP_PER_MINUTE + [429]


async def closed_unanswered(url: str, first_bytes: bytes) -> None:
    """Opens a connection, sends ``first_bytes`` (an unfinished request head) and nothing more, and
    waits for the server to close it without an answer. Fails, rather than hang, if it stays open."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(first_bytes)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=3 * HEADER_TIMEOUT_SECONDS + 10)
        assert answer == b"", (url, answer[:200])
    finally:
        writer.close()


async def test_every_server_closes_a_connection_whose_request_head_never_completes(stack: Stack) -> None:
    slow_loris = b"GET /health/live HTTP/1.1\r\nHost: aic\r\nX-Still-Typing: a"
    connections = [closed_unanswered(stack.url(name), slow_loris) for name in stack.names]
    # One that never sends a byte is held to the same deadline.
    connections.append(closed_unanswered(stack.gateway_url, b""))
    await asyncio.gather(*connections)


def test_a_request_head_past_its_size_limit_is_refused_without_being_kept(stack: Stack) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        answer = http.get("/api/feed/explore", headers={"X-Padding": "a" * (MAX_HEADER_BYTES + 1)})
        assert answer.status_code == 431
        assert answer.json() == {"detail": "Request Header Fields Too Large", "code": "headers_too_large"}
        assert http.get("/health/live").status_code == 200


def test_the_deployments_believe_no_forwarded_for_from_where_anyone_can_connect() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    gateway = compose["services"]["gateway"]["environment"]["AIC_TRUSTED_PROXIES"]
    # Unless the operator names a proxy in .env, the gateway whose port compose publishes trusts nobody.
    assert gateway == "${TRUSTED_PROXIES:-[]}"
    config = (REPO / "deploy/k8s/base/config.env").read_text(encoding="utf-8").splitlines()
    assert not any(line.startswith("FORWARDED_ALLOW_IPS") for line in config), "uvicorn believes no one"
    value = next(line.partition("=")[2] for line in config if line.startswith("AIC_TRUSTED_PROXIES="))
    networks = [ipaddress.ip_network(entry) for entry in json.loads(value)]
    # The pod network, where the ingress controller runs: not every private address there is.
    assert networks and all(network.prefixlen >= 16 for network in networks), networks
