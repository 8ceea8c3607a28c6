"""Rate limits on the real topology: login brute force and registration spam stop at the gateway's
limits, guessing one account from many addresses stops at auth's own throttle, and gateway replicas
sharing Redis enforce one budget between them.

Every test speaks from addresses of its own (X-Forwarded-For, which the stack's gateway believes from
127.0.0.1), so no two tests share a count.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable

import httpx
import pytest

from aic_common.testing.community import PASSWORD, Community, fake_ip
from aic_common.testing.fixtures import in_ci
from aic_gateway.stack import Stack

pytestmark = pytest.mark.e2e
# The gateway's and auth's defaults (GatewaySettings, AuthSettings), which the stack runs with.
LOGINS_PER_IP_PER_MINUTE = 20
REGISTRATIONS_PER_IP_PER_MINUTE = 10
FAILURES_PER_ACCOUNT = 25


def login(http: httpx.Client, username: str, password: str, ip: str) -> httpx.Response:
    return http.post(
        "/api/auth/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": ip},
    )


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {"detail": response.json()["detail"], "code": "rate_limited"}
    assert int(response.headers["Retry-After"]) >= 1


def test_login_brute_force_from_one_address_stops_at_the_gateway(community: Community) -> None:
    target = community.register("target", wait_for_profile=False)
    ip = fake_ip()
    for attempt in range(LOGINS_PER_IP_PER_MINUTE):
        guess = login(community.http, target.username, f"guess number {attempt}", ip)
        assert guess.status_code == 401, (attempt, guess.text)
    assert_rate_limited(login(community.http, target.username, "one more guess", ip))
    # Even the right password waits now, from that address ...
    assert_rate_limited(login(community.http, target.username, PASSWORD, ip))
    # ... and only from that one (the account itself is still under auth's own threshold).
    assert login(community.http, target.username, PASSWORD, fake_ip()).status_code == 200


def test_guessing_one_account_from_many_addresses_stops_at_its_throttle(community: Community) -> None:
    victim = community.register("victim", wait_for_profile=False)
    addresses = itertools.cycle([fake_ip() for _ in range(3)])  # each well under the gateway's limit
    for attempt in range(FAILURES_PER_ACCOUNT):
        guess = login(community.http, victim.username, f"guess {attempt}", next(addresses))
        assert guess.status_code == 401, (attempt, guess.text)
        assert guess.json()["code"] == "invalid_credentials"
    # The account refuses even its right password until its window ends, from any address ...
    locked = login(community.http, victim.username, PASSWORD, fake_ip())
    assert_rate_limited(locked)
    assert "sign-in attempts" in locked.json()["detail"]
    # ... while other people sign in as usual.
    other = community.register("bystander", wait_for_profile=False)
    assert login(community.http, other.username, PASSWORD, fake_ip()).status_code == 200


def test_registration_spam_from_one_address_stops_at_the_gateway(community: Community) -> None:
    ip = fake_ip()
    for attempt in range(REGISTRATIONS_PER_IP_PER_MINUTE):
        name = f"spam_{uuid.uuid4().hex[:10]}"
        created = community.http.post(
            "/api/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
            headers={"X-Forwarded-For": ip},
        )
        assert created.status_code == 201, (attempt, created.text)
    name = f"spam_{uuid.uuid4().hex[:10]}"
    refused = community.http.post(
        "/api/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": ip},
    )
    assert_rate_limited(refused)
    # Nobody of that name came to be: the limit held before auth saw the request.
    assert login(community.http, name, PASSWORD, fake_ip()).status_code == 401


# --------------------------------------------------------------------- replicas sharing Redis

SHARED_LOGIN_LIMIT = 6


@pytest.fixture
def redis_backed(stack: Stack) -> None:
    if not stack.config.redis_url:
        message = "AIC_TEST_REDIS_URL is not set: gateway replicas can only share limits through Redis"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def attempts_until_limited(urls: list[str], ip: str, most: int = 3 * SHARED_LOGIN_LIMIT) -> int:
    """Failed logins sent round-robin over ``urls`` until one is refused; how many were let through."""
    clients = [httpx.Client(base_url=url, timeout=30) for url in urls]
    try:
        for attempt, client in zip(range(most), itertools.cycle(clients), strict=False):
            response = login(client, "nobody_by_that_name", "wrong-wrong", ip)
            if response.status_code == 429:
                assert_rate_limited(response)
                return attempt
            assert response.status_code == 401, response.text
        return most
    finally:
        for client in clients:
            client.close()


def test_two_gateway_processes_share_one_budget(
    redis_backed: None, extra_gateway: Callable[..., contextlib.AbstractContextManager[str]]
) -> None:
    limit = {"AIC_RATE_LIMIT_LOGIN_PER_IP": str(SHARED_LOGIN_LIMIT)}
    with extra_gateway(**limit) as first, extra_gateway(**limit) as second:
        alone = attempts_until_limited([first], fake_ip())
        together = attempts_until_limited([first, second], fake_ip())
    assert alone == SHARED_LOGIN_LIMIT
    # Counted per process, the two would let twice as many through.
    assert together == alone
