"""Accounts and tokens on the real topology (MariaDB, RabbitMQ, one process per service, the gateway in
front): guessing a password is throttled per account whichever way the account is named and whichever
route proves the password; a refresh token rotates once however often it is presented at once; a
deleted account's access token stops working everywhere at once; registration does not tell whether
an email has an account; the signing keys are cached briefly.

Every test speaks from addresses of its own (X-Forwarded-For, which the stack's gateway believes from
127.0.0.1), so no two tests share a rate-limit count.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from aic_common.testing import wait_until
from aic_common.testing.community import PASSWORD, Account, Community, fake_ip, png_bytes
from aic_common.tokens import JWKS_MAX_AGE_SECONDS
from aic_gateway.stack import Stack

pytestmark = pytest.mark.e2e
FAILURES_PER_ACCOUNT = 25  # auth's default, which the stack runs with
NEW_PASSWORD = "a brand new community passphrase"
DELETED_ACCOUNTS_PATH = "/api/auth/internal/deleted-accounts"  # auth's, for the services alone


def login(http: httpx.Client, name: str, password: str) -> httpx.Response:
    # An address of its own each time: the gateway's per-address sign-in limit is not what is tested.
    return http.post(
        "/api/auth/login",
        json={"username": name, "password": password},
        headers={"X-Forwarded-For": fake_ip()},
    )


def assert_locked(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1


# --------------------------------------------------------------------- items 7 and 8: guessing


def test_the_account_lock_holds_whether_the_account_is_named_by_username_or_email(
    community: Community,
) -> None:
    victim = community.register("bob_b", wait_for_profile=False)
    for attempt in range(FAILURES_PER_ACCOUNT):
        assert login(community.http, victim.username, f"guess {attempt}").status_code == 401
    assert_locked(login(community.http, f"{victim.username}@example.com", PASSWORD))
    assert_locked(login(community.http, victim.username.upper(), PASSWORD))


def test_wrong_current_passwords_are_throttled_on_password_change_and_account_deletion(
    community: Community,
) -> None:
    holder = community.register("stolen", wait_for_profile=False)  # someone holding their token
    for attempt in range(FAILURES_PER_ACCOUNT):
        route = "change" if attempt % 2 else "delete"
        if route == "change":
            body = {"current_password": f"guess {attempt}", "new_password": NEW_PASSWORD}
            wrong = community.http.post("/api/auth/me/password", json=body, headers=holder.headers)
        else:
            body = {"password": f"guess {attempt}"}
            wrong = community.http.request("DELETE", "/api/auth/me", json=body, headers=holder.headers)
        assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_password", (attempt, wrong.text)
    # Locked now, even for the right password, by either route and at sign-in.
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert_locked(community.http.post("/api/auth/me/password", json=change, headers=holder.headers))
    delete = {"password": PASSWORD}
    assert_locked(community.http.request("DELETE", "/api/auth/me", json=delete, headers=holder.headers))
    assert_locked(login(community.http, holder.username, PASSWORD))
    assert community.http.get("/api/auth/me", headers=holder.headers).status_code == 200


# --------------------------------------------------------------------- item 9: refresh-token reuse


def test_one_refresh_token_presented_eight_times_at_once_rotates_once(
    community: Community, stack: Stack
) -> None:
    account = community.register("rotator", wait_for_profile=False)

    def refresh(_: int) -> httpx.Response:
        with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
            return http.post(
                "/api/auth/refresh",
                json={"refresh_token": account.refresh_token},
                headers={"X-Forwarded-For": account.ip},
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(refresh, range(8)))
    assert sorted(answer.status_code for answer in answers) == [200] + [401] * 7, [a.text for a in answers]
    minted = next(answer for answer in answers if answer.status_code == 200).json()["refresh_token"]
    # The seven others were reuse: the family is revoked, the token minted in it included.
    again = community.http.post(
        "/api/auth/refresh", json={"refresh_token": minted}, headers={"X-Forwarded-For": account.ip}
    )
    assert again.status_code == 401, again.text


# --------------------------------------------------------------------- item 12: deleted accounts


class LiveStream:
    """A live stream opened with a person's token, read on a thread until the server ends it."""

    def __init__(self, base_url: str, account: Account) -> None:
        self.opened = threading.Event()
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(base_url, account), daemon=True)
        self._thread.start()

    def _read(self, base_url: str, account: Account) -> None:
        try:
            with (
                httpx.Client(base_url=base_url, timeout=httpx.Timeout(30, read=None)) as http,
                http.stream("GET", "/api/stream", headers=account.headers) as response,
            ):
                assert response.status_code == 200, response.read()
                for _ in response.iter_bytes():
                    self.opened.set()
        finally:
            self.ended.set()


def test_a_deleted_accounts_token_is_refused_by_every_service_and_its_stream_ends(
    community: Community, stack: Stack
) -> None:
    account = community.register("leaving")
    upload = {"file": ("picture.png", png_bytes(), "image/png")}
    calls = {
        "gateway": lambda http: http.get(f"{stack.gateway_url}/api/feed/home", headers=account.headers),
        "social": lambda http: http.get(f"{stack.url('social')}/api/conversations", headers=account.headers),
        "files": lambda http: http.post(
            f"{stack.url('files')}/api/files", files=upload, headers=account.headers
        ),
        "simulator": lambda http: http.get(
            f"{stack.url('simulator')}/api/sim/status", headers=account.headers
        ),
    }
    with httpx.Client(timeout=30) as http:
        for name, call in calls.items():
            assert call(http).status_code in (200, 201), name
        stream = LiveStream(stack.gateway_url, account)
        assert stream.opened.wait(20), "the live stream did not open"

        deleted = community.http.request(
            "DELETE", "/api/auth/me", json={"password": PASSWORD}, headers=account.headers
        )
        assert deleted.status_code == 204, deleted.text

        for name, call in calls.items():
            wait_until(
                lambda call=call: call(http).status_code == 401,
                timeout=20,
                interval=0.2,
                what=f"{name} to refuse the deleted account's token",
            )
            refused = call(http)
            assert refused.json()["code"] == "invalid_token", (name, refused.text)
        assert stream.ended.wait(20), "the deleted account's live stream is still open"


# --------------------------------------------------------------------- item 13: registration


def test_registration_does_not_tell_whether_an_email_has_an_account(community: Community) -> None:
    owner = community.register("owner", wait_for_profile=False)
    fresh = f"fresh_{uuid.uuid4().hex[:10]}"

    def register(username: str, email: str) -> httpx.Response:
        body = {"username": username, "email": email, "password": PASSWORD}
        return community.http.post("/api/auth/register", json=body, headers={"X-Forwarded-For": fake_ip()})

    known_email = register(fresh, f"{owner.username}@example.com")
    taken_name = register(owner.username, f"{fresh}@example.com")
    assert known_email.status_code == taken_name.status_code == 409
    assert known_email.json() == taken_name.json()
    assert "email is already registered" not in known_email.text


# --------------------------------------------------------------------- item 17: key rotation


def test_the_signing_keys_are_cached_for_minutes_not_an_hour(community: Community) -> None:
    jwks = community.http.get("/api/auth/.well-known/jwks.json")
    assert jwks.status_code == 200
    assert jwks.headers["Cache-Control"] == f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    assert JWKS_MAX_AGE_SECONDS <= 300


# --------------------------------------------------------------------- item 12: a process started later


def test_a_gateway_started_after_a_deletion_refuses_the_deleted_accounts_token(
    community: Community, stack: Stack, extra_gateway: Callable[..., contextlib.AbstractContextManager[str]]
) -> None:
    """A process that missed user.deleted (started after it: a restart, a new replica) loads the recent
    deletions from auth, which keeps them as long as a token can live; the list is for the services
    only: the gateway does not forward it."""
    leaving, staying = community.register("left_early"), community.register("stays")
    deleted = community.http.request(
        "DELETE", "/api/auth/me", json={"password": PASSWORD}, headers=leaving.headers
    )
    assert deleted.status_code == 204, deleted.text

    listed = httpx.get(f"{stack.url('auth')}{DELETED_ACCOUNTS_PATH}", timeout=30)
    assert listed.status_code == 200, listed.text
    assert leaving.id in {entry["user_id"] for entry in listed.json()["accounts"]}
    # Not through the gateway, however the path is spelt (auth decodes %2F into a slash, and the
    # gateway's client to the services drops dot segments).
    spellings = [
        DELETED_ACCOUNTS_PATH,
        DELETED_ACCOUNTS_PATH + "/",
        "/api/auth/internal/deleted%2Daccounts",
        "/api/auth/internal%2Fdeleted-accounts",
    ]
    for path, headers in itertools.product(spellings, ({"X-Forwarded-For": fake_ip()}, staying.headers)):
        through_gateway = community.http.get(path, headers=headers)
        assert through_gateway.status_code == 404, (path, through_gateway.text)
        assert through_gateway.json()["code"] == "not_found"
    gateway = httpx.URL(stack.gateway_url)
    with socket.create_connection((gateway.host, gateway.port), timeout=30) as raw:
        # Sent as written, where an HTTP client would tidy the path up first.
        head = "".join(f"{name}: {value}\r\n" for name, value in staying.headers.items())
        raw.sendall(
            f"GET /api/auth/me/../internal/deleted-accounts HTTP/1.1\r\nHost: gateway\r\n{head}"
            "Connection: close\r\n\r\n".encode()
        )
        assert raw.makefile("rb").readline().split()[1] == b"404"

    # A gateway that never heard the event: it asks auth at start, and refuses the token itself (a
    # stream ticket is the gateway's own route, so no older service behind it refuses for it).
    with extra_gateway() as url, httpx.Client(base_url=url, timeout=30) as http:
        refused = http.post("/api/stream/ticket", headers=leaving.headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "invalid_token" and "deleted" in refused.json()["detail"]
        assert http.post("/api/stream/ticket", headers=staying.headers).status_code == 201
