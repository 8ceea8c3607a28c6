"""Auth keeps every deletion for as long as a token of the account can live and lists the recent ones for
the services, so that a process started after a deletion refuses the account's tokens too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from aic_auth.models import DeletedAccount, User
from aic_auth.settings import AuthSettings
from aic_common.db import run_in_thread
from aic_common.deleted_accounts import DELETED_ACCOUNTS_PATH, DeletedAccounts, deleted_accounts_url
from aic_common.testing import wait_for
from aic_common.tokens import MAX_ACCESS_TOKEN_TTL_SECONDS

from .conftest import STRONG_PASSWORD, AuthEnv, running_auth


async def delete(auth: AuthEnv, username: str) -> str:
    """Registers ``username``, deletes the account as its owner would; its id."""
    assert (await auth.register(username)).status_code == 201
    tokens = (await auth.login(username)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    user_id = (await auth.client.get("/api/auth/me", headers=headers)).json()["id"]
    gone = await auth.client.request(
        "DELETE", "/api/auth/me", json={"password": STRONG_PASSWORD}, headers=headers
    )
    assert gone.status_code == 204, gone.text
    return user_id


def tombstones(auth: AuthEnv) -> dict[str, datetime]:
    with auth.app.state.runtime.session_factory() as session:
        rows = session.execute(sa.select(DeletedAccount.user_id, DeletedAccount.deleted_at)).all()
        return {user_id: deleted_at for user_id, deleted_at in rows}


async def listed(auth: AuthEnv) -> list[dict[str, str]]:
    response = await auth.client.get(DELETED_ACCOUNTS_PATH)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.json()["accounts"]


async def test_a_deletion_leaves_a_tombstone_listed_for_the_longest_token_lifetime(auth: AuthEnv) -> None:
    first = await delete(auth, "first_to_go")
    auth.clock.advance(MAX_ACCESS_TOKEN_TTL_SECONDS - 60)
    second = await delete(auth, "second_to_go")
    assert set(tombstones(auth)) == {first, second}

    # Without a token: the services load it before they can verify one (the gateway keeps it in).
    entries = await listed(auth)
    assert [entry["user_id"] for entry in entries] == [first, second]  # oldest first
    deleted_at = datetime.fromisoformat(entries[1]["deleted_at"])
    assert deleted_at.tzinfo is not None
    assert abs(deleted_at - auth.clock.now.replace(tzinfo=UTC)) < timedelta(seconds=1)

    auth.clock.advance(61)  # every token the first account had has expired: it is of no more use
    assert [entry["user_id"] for entry in await listed(auth)] == [second]


async def test_the_tombstone_is_written_in_the_deletions_transaction(auth: AuthEnv) -> None:
    assert (await auth.register("stays_put")).status_code == 201
    service = auth.app.state.auth_service
    with service.session_factory() as session:
        user_id = session.scalar(sa.select(User.id).where(User.username_key == "stays_put"))

    def broken_outbox(*_: object, **__: object) -> None:
        raise RuntimeError("the outbox row could not be written")

    service.outbox.add, original = broken_outbox, service.outbox.add
    try:
        with pytest.raises(RuntimeError, match="outbox"):
            await run_in_thread(
                lambda: service.delete_account(user_id, password=STRONG_PASSWORD, client_ip="203.0.113.9")
            )
    finally:
        service.outbox.add = original
    # Neither happened: the account is there, and no tombstone says otherwise.
    assert service.get_user(user_id).username == "stays_put"
    assert tombstones(auth) == {}


async def test_tombstones_are_swept_once_no_token_of_the_account_can_be_alive(
    sweeping_settings: AuthSettings,
) -> None:
    async with running_auth(sweeping_settings) as auth:
        old = await delete(auth, "long_gone")
        auth.clock.advance(MAX_ACCESS_TOKEN_TTL_SECONDS + 1)
        recent = await delete(auth, "just_gone")
        await wait_for(lambda: set(tombstones(auth)) == {recent}, timeout=20, what="the old tombstone swept")
        assert old not in tombstones(auth)


async def test_a_process_starting_after_the_deletion_loads_it_from_auth(auth: AuthEnv) -> None:
    gone = await delete(auth, "before_start")
    # As a service's verifier does, through auth's own HTTP interface.
    deleted = DeletedAccounts().load_from(
        deleted_accounts_url("http://auth/api/auth/.well-known/jwks.json"), http_client=auth.client
    )
    await deleted.start()
    try:
        assert gone in deleted and "someone else" not in deleted
    finally:
        await deleted.stop()


def test_the_list_is_found_beside_the_jwks() -> None:
    url = deleted_accounts_url("http://auth.aic.svc:8000/api/auth/.well-known/jwks.json")
    assert url == "http://auth.aic.svc:8000/api/auth/internal/deleted-accounts"
    assert httpx.URL(url).path == DELETED_ACCOUNTS_PATH
