"""Sign-in throttling counts per client address, and only a trusted proxy (the gateway) may name it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import auth_settings, running_auth

pytestmark = pytest.mark.integration


async def test_a_caller_that_is_not_a_trusted_proxy_cannot_name_another_address(tmp_path: Path) -> None:
    # Nobody trusted (the default): the in-process client's X-Forwarded-For is its own claim.
    settings = auth_settings(tmp_path, trusted_proxies=[], login_max_failures_per_ip=3)
    async with running_auth(settings) as auth:
        statuses = [
            (await auth.login(f"ghost{i}", "nope-nope-nope", ip=f"198.51.100.{i}")).status_code
            for i in range(4)
        ]
    assert statuses == [401, 401, 401, 429], "a new address in the header is not a new client"


async def test_the_address_a_trusted_proxy_names_is_the_client(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path, trusted_proxies=["127.0.0.1"], login_max_failures_per_ip=3)
    async with running_auth(settings) as auth:
        rotating = [
            (await auth.login(f"ghost{i}", "nope-nope-nope", ip=f"198.51.100.{i}")).status_code
            for i in range(4)
        ]
        # What the client wrote left of the proxy's own entry does not make it someone else.
        same = [
            (
                await auth.client.post(
                    "/api/auth/login",
                    json={"username": f"phantom{i}", "password": "nope-nope-nope"},
                    headers={"X-Forwarded-For": f"192.0.2.{i}, 203.0.113.50"},
                )
            ).status_code
            for i in range(4)
        ]
    assert rotating == [401] * 4
    assert same == [401, 401, 401, 429]
