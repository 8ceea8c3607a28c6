"""The tokens of a deleted account are refused until the last of them would have expired."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from aic_common.bus import InProcessBus
from aic_common.deleted_accounts import DeletedAccounts
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
