"""Guessing passwords and replaying refresh tokens, on SQLite + in-process bus and on MariaDB + RabbitMQ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from aic_auth.settings import AuthSettings

from .conftest import STRONG_PASSWORD, AuthEnv, running_auth

pytestmark = pytest.mark.integration

FAILURES_PER_ACCOUNT = 3


@pytest.fixture
async def auth(settings: AuthSettings) -> AsyncIterator[AuthEnv]:
    """Auth allowing few failures per account, so that reaching the limit takes few argon2 checks."""
    strict = settings.model_copy(update={"login_max_failures_per_account": FAILURES_PER_ACCOUNT})
    async with running_auth(strict) as env:
        yield env


def bearer(token: str, ip: str = "203.0.113.50") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Forwarded-For": ip}


def assert_locked(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1


async def test_the_lock_holds_the_account_whether_named_by_username_or_email(auth: AuthEnv) -> None:
    await auth.register("bob_b")
    for attempt in range(FAILURES_PER_ACCOUNT):
        guess = await auth.login("bob_b", f"guess {attempt}", ip=f"198.51.100.{attempt}")
        assert guess.status_code == 401, guess.text
    assert_locked(await auth.login("bob_b@example.com", ip="198.51.100.200"))
    assert_locked(await auth.login("BOB_B", ip="198.51.100.201"))

    # Failures by email count for the same account as failures by name.
    await auth.register("carol_c")
    await auth.login("carol_c@example.com", "guess by email", ip="198.51.100.10")
    for attempt in range(FAILURES_PER_ACCOUNT - 1):
        await auth.login("carol_c", f"guess {attempt}", ip="198.51.100.11")
    assert_locked(await auth.login("carol_c", ip="198.51.100.12"))


async def test_wrong_current_passwords_on_a_password_change_are_throttled_like_sign_in(
    auth: AuthEnv,
) -> None:
    await auth.register("dave_d")
    token = (await auth.login("dave_d")).json()["access_token"]
    for attempt in range(FAILURES_PER_ACCOUNT):
        wrong = await auth.client.post(
            "/api/auth/me/password",
            json={"current_password": f"guess {attempt}", "new_password": "a brand new passphrase 1"},
            headers=bearer(token, f"198.51.100.{attempt}"),
        )
        assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_password", wrong.text
    right = await auth.client.post(
        "/api/auth/me/password",
        json={"current_password": STRONG_PASSWORD, "new_password": "a brand new passphrase 1"},
        headers=bearer(token, "198.51.100.100"),
    )
    assert_locked(right)
    # One budget of guesses per account, whichever route they come by.
    assert_locked(await auth.login("dave_d", ip="198.51.100.101"))


async def test_wrong_passwords_on_account_deletion_are_throttled_like_sign_in(auth: AuthEnv) -> None:
    await auth.register("erin_e")
    token = (await auth.login("erin_e")).json()["access_token"]
    for attempt in range(FAILURES_PER_ACCOUNT):
        wrong = await auth.client.request(
            "DELETE", "/api/auth/me", json={"password": f"guess {attempt}"}, headers=bearer(token)
        )
        assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_password", wrong.text
    right = await auth.client.request(
        "DELETE", "/api/auth/me", json={"password": STRONG_PASSWORD}, headers=bearer(token)
    )
    assert_locked(right)
    assert (await auth.client.get("/api/auth/me", headers=bearer(token))).status_code == 200

    auth.clock.advance(auth.app.state.auth_service.settings.login_window_seconds + 1)
    deleted = await auth.client.request(
        "DELETE", "/api/auth/me", json={"password": STRONG_PASSWORD}, headers=bearer(token)
    )
    assert deleted.status_code == 204, deleted.text


async def test_a_refresh_token_presented_many_times_at_once_rotates_once(auth: AuthEnv) -> None:
    await auth.register("frank_f")
    for _ in range(3):
        raw = (await auth.login("frank_f")).json()["refresh_token"]
        answers = await asyncio.gather(
            *(auth.client.post("/api/auth/refresh", json={"refresh_token": raw}) for _ in range(8))
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [401] * 7, [answer.text for answer in answers]
        refused = {answer.json()["code"] for answer in answers if answer.status_code == 401}
        assert refused <= {"refresh_token_reused", "invalid_refresh_token"}
        # The others were reuse of a spent token: the family is revoked, the one minted in it included.
        minted = next(answer for answer in answers if answer.status_code == 200).json()["refresh_token"]
        again = await auth.client.post("/api/auth/refresh", json={"refresh_token": minted})
        assert again.status_code == 401, again.text


async def test_registration_does_not_single_out_a_known_email(auth: AuthEnv) -> None:
    assert (await auth.register("grace_g")).status_code == 201
    hasher = auth.app.state.auth_service.hasher
    hashed: list[str] = []
    real_hash = hasher.hash

    def counting_hash(password: str) -> str:
        hashed.append(password)
        return real_hash(password)

    hasher.hash = counting_hash

    async def register(username: str, email: str) -> httpx.Response:
        body = {"username": username, "email": email, "password": STRONG_PASSWORD}
        return await auth.client.post("/api/auth/register", json=body)

    known_email = await register("nobody_yet", "GRACE_G@example.com")
    taken_name = await register("Grace_G", "fresh@example.com")
    assert known_email.status_code == taken_name.status_code == 409
    assert known_email.json() == taken_name.json()
    assert known_email.json()["code"] == "username_or_email_taken"
    assert "email" not in known_email.json()["detail"].replace("username or email", "")
    # Both refusals did the work of an account made: one argon2 hash each.
    assert len(hashed) == 2
