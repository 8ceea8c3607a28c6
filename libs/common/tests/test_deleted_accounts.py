"""The tokens of a deleted account are refused until the last of them would have expired."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from aic_common.bus import InProcessBus
from aic_common.deleted_accounts import DELETED_ACCOUNTS_PATH, DeletedAccounts, deleted_accounts_url
from aic_common.messages import Envelope, UserDeleted, make_envelope
from aic_common.testing import wait_for
from aic_common.tokens import (
    MAX_ACCESS_TOKEN_TTL_SECONDS,
    InvalidToken,
    JwksKeySource,
    TokenIssuer,
    generate_rsa_private_key_pem,
)

pytestmark = pytest.mark.unit

ISSUER, AUDIENCE = "aic-auth", "aic"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def deleted(user_id: str, occurred_at: datetime | None = None) -> Envelope:
    envelope = make_envelope(UserDeleted(user_id=user_id, username="gone"), producer="auth")
    return envelope.model_copy(update={"occurred_at": occurred_at}) if occurred_at else envelope


def test_an_account_is_remembered_for_the_longest_token_lifetime_after_its_deletion() -> None:
    clock = FakeClock()
    accounts = DeletedAccounts(clock=clock)
    accounts.add("u-1", deleted_at=clock.now - 100)  # heard of 100 s after the deletion
    assert "u-1" in accounts and "u-2" not in accounts
    clock.now += MAX_ACCESS_TOKEN_TTL_SECONDS - 101
    assert "u-1" in accounts
    clock.now += 1  # every token issued before the deletion has expired now
    assert "u-1" not in accounts
    assert len(accounts) == 0


def test_a_deletion_heard_of_too_late_or_dated_ahead_is_bounded_by_now() -> None:
    clock = FakeClock()
    accounts = DeletedAccounts(clock=clock)
    accounts.add("late", deleted_at=clock.now - MAX_ACCESS_TOKEN_TTL_SECONDS - 1)
    assert "late" not in accounts and len(accounts) == 0
    accounts.add("ahead", deleted_at=clock.now + 10 * MAX_ACCESS_TOKEN_TTL_SECONDS)  # a skewed clock
    clock.now += MAX_ACCESS_TOKEN_TTL_SECONDS
    assert "ahead" not in accounts


def test_listeners_hear_of_each_deletion_and_one_failing_does_not_stop_the_others() -> None:
    accounts = DeletedAccounts()
    heard: list[str] = []

    def broken(_: str) -> None:
        raise RuntimeError("boom")

    accounts.on_deleted(broken)
    accounts.on_deleted(heard.append)
    accounts.add("u-1", deleted_at=datetime.now(UTC).timestamp())
    assert heard == ["u-1"] and "u-1" in accounts


async def test_a_verifier_listening_on_the_bus_refuses_the_tokens_of_a_deleted_account() -> None:
    issuer = TokenIssuer(generate_rsa_private_key_pem(), issuer=ISSUER, audience=AUDIENCE)
    jwks = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(200, json=issuer.jwks())))
    bus = InProcessBus(f"t{uuid.uuid4().hex[:8]}")
    deleted_accounts = DeletedAccounts().listen(bus, "social")
    source = JwksKeySource(
        "http://auth/jwks", ISSUER, AUDIENCE, http_client=jwks, deleted_accounts=deleted_accounts
    )
    doomed = issuer.issue_access_token("u-doomed", username="doomed", role="user")
    other = issuer.issue_access_token("u-other", username="other", role="user")
    assert (await source.verify(doomed)).subject == "u-doomed"

    await bus.start()
    try:
        await bus.publish(deleted("not an id of anyone here").model_copy(update={"data": {"junk": 1}}))
        await bus.publish(deleted("u-doomed"))
        await wait_for(lambda: "u-doomed" in deleted_accounts, timeout=5, what="the deletion heard of")
    finally:
        await bus.stop()
    with pytest.raises(InvalidToken, match="deleted"):
        await source.verify(doomed)
    assert (await source.verify(other)).subject == "u-other"


def test_the_issuer_never_signs_a_token_longer_than_the_deletions_are_remembered() -> None:
    pem, too_long = generate_rsa_private_key_pem(), MAX_ACCESS_TOKEN_TTL_SECONDS + 1
    with pytest.raises(ValueError, match="access_ttl_seconds"):
        TokenIssuer(pem, issuer=ISSUER, audience=AUDIENCE, access_ttl_seconds=too_long)
    issuer = TokenIssuer(pem, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValueError, match="ttl_seconds"):
        issuer.issue_access_token("u", username="u", role="user", ttl_seconds=too_long)
    assert DeletedAccounts().remember_seconds == MAX_ACCESS_TOKEN_TTL_SECONDS


# --------------------------------------------------------------------- auth's list, loaded at start


def auth_listing(*entries: tuple[str, datetime]) -> httpx.AsyncClient:
    """A client to an auth that lists ``entries`` (user id, deletion time) at its deletions route."""
    accounts = [{"user_id": user_id, "deleted_at": at.isoformat()} for user_id, at in entries]

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == DELETED_ACCOUNTS_PATH
        return httpx.Response(200, json={"accounts": accounts})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_a_process_loads_the_deletions_it_missed_when_it_starts_and_hears_the_rest_on_the_bus() -> None:
    issuer = TokenIssuer(generate_rsa_private_key_pem(), issuer=ISSUER, audience=AUDIENCE)
    jwks = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(200, json=issuer.jwks())))
    now = datetime.now(UTC)
    auth = auth_listing(
        ("u-missed", now - timedelta(minutes=5)),
        ("u-long-ago", now - timedelta(seconds=MAX_ACCESS_TOKEN_TTL_SECONDS + 5)),  # its tokens are dead
    )
    bus = InProcessBus(f"t{uuid.uuid4().hex[:8]}")
    deleted_accounts = (
        DeletedAccounts()
        .listen(bus, "files")
        .load_from(deleted_accounts_url("http://auth:8000/api/auth/.well-known/jwks.json"), http_client=auth)
    )
    told: list[str] = []
    deleted_accounts.on_deleted(told.append)
    source = JwksKeySource(
        "http://auth/jwks", ISSUER, AUDIENCE, http_client=jwks, deleted_accounts=deleted_accounts
    )
    missed = issuer.issue_access_token("u-missed", username="missed", role="user")
    later = issuer.issue_access_token("u-later", username="later", role="user")
    assert (await source.verify(missed)).subject == "u-missed"  # not started: nothing loaded yet

    await deleted_accounts.start()
    await bus.start()
    try:
        with pytest.raises(InvalidToken, match="deleted"):
            await source.verify(missed)
        assert "u-long-ago" not in deleted_accounts
        assert (await source.verify(later)).subject == "u-later"
        await bus.publish(deleted("u-missed"))  # heard of twice: the listeners are told once
        await bus.publish(deleted("u-later"))
        await wait_for(lambda: "u-later" in deleted_accounts, timeout=5, what="the deletion heard of")
        with pytest.raises(InvalidToken, match="deleted"):
            await source.verify(later)
        assert told == ["u-missed", "u-later"]
    finally:
        await bus.stop()
        await deleted_accounts.stop()


async def test_a_failed_load_does_not_stop_the_start_and_is_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = iter([httpx.ConnectError("auth is not up yet"), httpx.Response(500), None])

    def flaky_auth(request: httpx.Request) -> httpx.Response:
        answer = next(answers, None)
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            return answer
        entry = {"user_id": "u-gone", "deleted_at": datetime.now(UTC).isoformat()}
        return httpx.Response(200, json={"accounts": [entry]})

    client = httpx.AsyncClient(transport=httpx.MockTransport(flaky_auth))
    deleted_accounts = DeletedAccounts(retry_seconds=0.01).load_from(
        "http://auth/api/auth/internal/deleted-accounts", http_client=client
    )
    await deleted_accounts.start()  # auth away: started all the same
    try:
        assert "u-gone" not in deleted_accounts
        await wait_for(lambda: "u-gone" in deleted_accounts, timeout=5, what="the load tried again")
    finally:
        await deleted_accounts.stop()
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "deleted accounts" in r.message]
    assert len(warnings) == 1, [r.message for r in caplog.records]  # once per outage, not per attempt


async def test_the_list_is_loaded_again_so_a_deletion_missed_on_the_bus_is_known_soon() -> None:
    entries: list[tuple[str, datetime]] = []

    def auth(request: httpx.Request) -> httpx.Response:
        accounts = [{"user_id": user_id, "deleted_at": at.isoformat()} for user_id, at in entries]
        return httpx.Response(200, json={"accounts": accounts})

    client = httpx.AsyncClient(transport=httpx.MockTransport(auth))
    deleted_accounts = DeletedAccounts(reload_seconds=0.05, retry_seconds=0.01).load_from(
        "http://auth/api/auth/internal/deleted-accounts", http_client=client
    )
    await deleted_accounts.start()
    try:
        entries.append(("u-while-cut-off", datetime.now(UTC)))  # its event never reached this process
        await wait_for(lambda: "u-while-cut-off" in deleted_accounts, timeout=5, what="the list reloaded")
    finally:
        await deleted_accounts.stop()


@pytest.mark.parametrize(
    "body", [b"not json", b'{"accounts": [{"user_id": 7}]}', b'{"keys": []}', b'{"accounts": "u-1"}']
)
async def test_an_answer_that_is_not_a_list_of_deletions_is_a_failed_load(body: bytes) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body)))
    deleted_accounts = DeletedAccounts().load_from("http://auth/x", http_client=client)
    with pytest.raises(ValueError, match="not a list of deleted accounts"):
        await deleted_accounts.load()
    await deleted_accounts.start()  # and never fatal to the start
    await deleted_accounts.stop()
    assert len(deleted_accounts) == 0
