"""The auth service over HTTP, on SQLite + in-process bus and on MariaDB + RabbitMQ."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from aic_auth.models import User
from aic_common.messages import CreateAiAccount, make_envelope
from aic_common.testing import wait_for
from aic_common.tokens import TokenVerifier

from .conftest import STRONG_PASSWORD, AuthEnv

pytestmark = pytest.mark.integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_login_me_refresh_logout(auth: AuthEnv) -> None:
    created = await auth.register("Lin_Mei", display_name="林美 🌸")
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["username"] == "Lin_Mei" and user["display_name"] == "林美 🌸" and user["is_ai"] is False
    assert "password" not in created.text and "argon2" not in created.text

    tokens = (await auth.login("lin_mei")).json()  # usernames are case-insensitive at sign-in
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    me = await auth.client.get("/api/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    assert me.json()["email"] == "lin_mei@example.com"

    by_email = await auth.login("LIN_MEI@example.com")
    assert by_email.status_code == 200

    rotated = await auth.client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert (await auth.client.get("/api/auth/me", headers=bearer(new["access_token"]))).status_code == 200

    assert (
        await auth.client.post("/api/auth/logout", json={"refresh_token": new["refresh_token"]})
    ).status_code == 204
    after = await auth.client.post("/api/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert after.status_code == 401 and after.json()["code"] == "invalid_refresh_token"


async def test_reusing_a_rotated_refresh_token_revokes_the_family(auth: AuthEnv) -> None:
    await auth.register("rotator")
    first = (await auth.login("rotator")).json()["refresh_token"]
    second = (await auth.client.post("/api/auth/refresh", json={"refresh_token": first})).json()[
        "refresh_token"
    ]

    reuse = await auth.client.post("/api/auth/refresh", json={"refresh_token": first})
    assert reuse.status_code == 401 and reuse.json()["code"] == "refresh_token_reused"
    # The thief's reuse also ends the legitimate holder's session: the whole family is revoked.
    legit = await auth.client.post("/api/auth/refresh", json={"refresh_token": second})
    assert legit.status_code == 401
    # Another sign-in (another family) is unaffected.
    other = (await auth.login("rotator")).json()["refresh_token"]
    assert (await auth.client.post("/api/auth/refresh", json={"refresh_token": other})).status_code == 200


async def test_duplicate_username_and_email_are_refused_case_insensitively(auth: AuthEnv) -> None:
    assert (await auth.register("Taken")).status_code == 201
    again = await auth.client.post(
        "/api/auth/register",
        json={"username": "tAKEN", "email": "new@example.com", "password": STRONG_PASSWORD},
    )
    assert again.status_code == 409 and again.json()["code"] == "username_or_email_taken"
    same_email = await auth.client.post(
        "/api/auth/register",
        json={"username": "other_name", "email": "TAKEN@Example.com", "password": STRONG_PASSWORD},
    )
    assert same_email.status_code == 409 and same_email.json() == again.json()
    with auth.app.state.runtime.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


@pytest.mark.parametrize(
    ("password", "code", "message"),
    [
        ("password123", "password_too_common", "too common"),
        ("iloveyou", "password_too_common", "too common"),
        ("short1!", "password_too_short", "at least 8"),
        ("x" * 129, "password_too_long", "at most 128"),
    ],
)
async def test_weak_passwords_are_refused_with_a_clear_message(
    auth: AuthEnv, password: str, code: str, message: str
) -> None:
    response = await auth.register("weakling", password=password)
    assert response.status_code == 422
    assert response.json()["code"] == code and message in response.json()["detail"]
    with auth.app.state.runtime.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "email": "a@example.com", "password": STRONG_PASSWORD},
        {"username": "has space", "email": "a@example.com", "password": STRONG_PASSWORD},
        {"username": "x" * 33, "email": "a@example.com", "password": STRONG_PASSWORD},
        {"username": "名字", "email": "a@example.com", "password": STRONG_PASSWORD},
        {"username": "valid_name", "email": "not-an-email", "password": STRONG_PASSWORD},
        {
            "username": "valid_name",
            "email": "a@example.com",
            "password": STRONG_PASSWORD,
            "display_name": "a\u202eb",
        },
        {"username": "valid_name", "email": "a@example.com", "password": STRONG_PASSWORD, "role": "admin"},
    ],
)
async def test_invalid_registrations_are_422(auth: AuthEnv, body: dict[str, str]) -> None:
    response = await auth.client.post("/api/auth/register", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"


async def test_stored_hash_is_argon2id_with_the_required_parameters(auth: AuthEnv) -> None:
    await auth.register("hashed")
    with auth.app.state.runtime.session_factory() as session:
        stored = session.scalar(sa.select(User.password_hash).where(User.username_key == "hashed"))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_login_rehashes_when_parameters_change(auth: AuthEnv) -> None:
    from argon2 import PasswordHasher as Argon2

    await auth.register("oldhash")
    weaker = Argon2(time_cost=1, memory_cost=8192, parallelism=1).hash(STRONG_PASSWORD)
    factory = auth.app.state.runtime.session_factory
    with factory.begin() as session:
        session.execute(sa.update(User).where(User.username_key == "oldhash").values(password_hash=weaker))
    assert (await auth.login("oldhash")).status_code == 200
    with factory() as session:
        stored = session.scalar(sa.select(User.password_hash).where(User.username_key == "oldhash"))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_unknown_user_and_wrong_password_get_the_same_answer_after_the_same_work(auth: AuthEnv) -> None:
    await auth.register("someone")
    hasher = auth.app.state.auth_service.hasher
    calls: list[str] = []

    class CountingArgon2:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored)
            return self.inner.verify(stored, password)

    hasher._hasher = CountingArgon2(hasher._hasher)
    wrong = await auth.login("someone", "wrong password entirely")
    unknown = await auth.login("nobody_here", "wrong password entirely")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"detail": "Invalid username or password", "code": "invalid_credentials"}
    )
    # One argon2 verification each: the unknown account is checked against a dummy hash.
    assert len(calls) == 2


async def test_brute_force_is_throttled_and_the_owner_gets_back_in_after_the_window(auth: AuthEnv) -> None:
    await auth.register("victim")
    statuses = [
        (await auth.login("victim", f"guess-number-{i}", ip=f"198.51.100.{i % 200}")).status_code
        for i in range(150)
    ]
    assert statuses.count(401) == 25, "the account allows 25 failures per 15-minute window"
    assert statuses[25:] == [429] * 125
    blocked = await auth.login("victim", ip="192.0.2.1")  # even the right password waits
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    assert blocked.json()["code"] == "rate_limited"

    auth.clock.advance(901)
    assert (await auth.login("victim", ip="192.0.2.1")).status_code == 200


async def test_one_address_guessing_across_accounts_is_throttled(auth: AuthEnv) -> None:
    statuses = [
        (await auth.login(f"ghost{i}", "nope-nope-nope", ip="198.51.100.99")).status_code for i in range(101)
    ]
    assert statuses[:100] == [401] * 100 and statuses[100] == 429
    # Another address is not affected.
    assert (await auth.login("ghost0", "nope-nope-nope", ip="198.51.100.100")).status_code == 401


async def test_ai_accounts_are_created_by_services_only_and_cannot_sign_in(auth: AuthEnv) -> None:
    body = {"username": "ai_xiaoyu", "display_name": "小雨"}
    await auth.register("plainuser")
    person = (await auth.login("plainuser")).json()["access_token"]
    refused = await auth.client.post("/api/auth/internal/ai-accounts", json=body, headers=bearer(person))
    assert refused.status_code == 403 and refused.json()["code"] == "service_required"
    anonymous = await auth.client.post("/api/auth/internal/ai-accounts", json=body)
    assert anonymous.status_code == 401

    service = await auth.service_token()
    created = await auth.client.post("/api/auth/internal/ai-accounts", json=body, headers=bearer(service))
    assert created.status_code == 201 and created.json()["is_ai"] is True
    again = await auth.client.post("/api/auth/internal/ai-accounts", json=body, headers=bearer(service))
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]

    for password in ("", "anything at all 123", STRONG_PASSWORD):
        attempt = await auth.login("ai_xiaoyu", password or "x")
        assert attempt.status_code == 401 and "access_token" not in attempt.text


async def test_ai_account_command_on_the_bus_creates_one_account(auth: AuthEnv) -> None:
    command = make_envelope(
        CreateAiAccount(username="ai_laowang", display_name="老王", bio="退休渔民,爱下象棋"), "simulator"
    )
    assert auth.publisher is not None
    await auth.publisher.publish(command)
    await auth.publisher.publish(command)  # a redelivery must not create a second account

    def registered() -> list:
        return [e for e in auth.events if e.type == "user.registered" and e.data["username"] == "ai_laowang"]

    events = await wait_for(registered, timeout=20)
    assert events[0].data["is_ai"] is True
    assert events[0].data["bio"] == "退休渔民,爱下象棋", "the character's profile starts with its persona"
    with auth.app.state.runtime.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(User).where(User.is_ai.is_(True))) == 1


async def test_user_registered_is_delivered_exactly_once_per_registration(auth: AuthEnv) -> None:
    names = [f"member{i}" for i in range(5)]
    for name in names:
        assert (await auth.register(name)).status_code == 201
    await auth.register(names[0])  # a refused duplicate publishes nothing
    await auth.register("zz_marker")
    await wait_for(lambda: any(e.data.get("username") == "zz_marker" for e in auth.events), timeout=20)
    registered = [e for e in auth.events if e.type == "user.registered"]
    assert sorted(e.data["username"] for e in registered) == [*names, "zz_marker"]
    assert len({e.id for e in registered}) == len(registered)
    assert all(e.producer == "auth" for e in registered)


async def test_update_me_publishes_user_updated(auth: AuthEnv) -> None:
    await auth.register("renamer")
    token = (await auth.login("renamer")).json()["access_token"]
    response = await auth.client.patch("/api/auth/me", json={"display_name": "新名字"}, headers=bearer(token))
    assert response.status_code == 200 and response.json()["display_name"] == "新名字"
    updated = await wait_for(lambda: [e for e in auth.events if e.type == "user.updated"], timeout=20)
    assert updated[0].data["display_name"] == "新名字"


async def test_change_password_ends_other_sessions(auth: AuthEnv) -> None:
    await auth.register("changer")
    tokens = (await auth.login("changer")).json()
    body = {"current_password": "wrong wrong wrong", "new_password": "a brand new passphrase 7"}
    wrong = await auth.client.post("/api/auth/me/password", json=body, headers=bearer(tokens["access_token"]))
    assert wrong.status_code == 403
    body["current_password"] = STRONG_PASSWORD
    ok = await auth.client.post("/api/auth/me/password", json=body, headers=bearer(tokens["access_token"]))
    assert ok.status_code == 204
    assert (
        await auth.client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).status_code == 401
    assert (await auth.login("changer")).status_code == 401
    assert (await auth.login("changer", "a brand new passphrase 7")).status_code == 200


async def test_delete_account_needs_the_password_and_publishes_user_deleted(auth: AuthEnv) -> None:
    created = (await auth.register("leaver")).json()
    tokens = (await auth.login("leaver")).json()
    headers = bearer(tokens["access_token"])
    wrong = await auth.client.request(
        "DELETE", "/api/auth/me", json={"password": "not it at all"}, headers=headers
    )
    assert wrong.status_code == 403
    gone = await auth.client.request(
        "DELETE", "/api/auth/me", json={"password": STRONG_PASSWORD}, headers=headers
    )
    assert gone.status_code == 204
    deleted = await wait_for(lambda: [e for e in auth.events if e.type == "user.deleted"], timeout=20)
    assert deleted[0].data == {"user_id": created["id"], "username": "leaver"}
    assert (await auth.login("leaver")).status_code == 401
    assert (
        await auth.client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).status_code == 401
    # The name is free again.
    assert (await auth.register("leaver")).status_code == 201


async def test_service_client_credentials(auth: AuthEnv) -> None:
    token = await auth.service_token()
    claims = auth.app.state.token_verifier.verify(token)
    assert claims.role == "service" and claims.subject == "service:simulator"
    for client_id, secret in (("simulator", "wrong-secret"), ("unknown", "whatever")):
        response = await auth.client.post(
            "/api/auth/token", json={"client_id": client_id, "client_secret": secret}
        )
        assert response.status_code == 401 and response.json()["code"] == "invalid_client"
    me = await auth.client.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 403


async def test_jwks_verifies_issued_tokens(auth: AuthEnv) -> None:
    await auth.register("jwksuser")
    token = (await auth.login("jwksuser")).json()["access_token"]
    jwks = (await auth.client.get("/api/auth/.well-known/jwks.json")).json()
    verifier = TokenVerifier.from_jwks(jwks, issuer="aic-auth", audience="aic")
    claims = verifier.verify(token)
    assert claims.username == "jwksuser" and claims.role == "user" and claims.is_ai is False


async def test_forged_tokens_are_refused(auth: AuthEnv) -> None:
    from aic_common.tokens import TokenIssuer, generate_rsa_private_key_pem

    other = TokenIssuer(generate_rsa_private_key_pem(), issuer="aic-auth", audience="aic")
    forged = other.issue_access_token(str(uuid.uuid4()), username="admin", role="admin")
    response = await auth.client.get("/api/auth/me", headers=bearer(forged))
    assert response.status_code == 401 and response.json()["code"] == "invalid_token"
