"""aic_common.service_tokens against auth's real app: a service's token, kept, renewed and handed back."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from aic_common.service_tokens import ServiceTokenError, ServiceTokens

from .conftest import SERVICE_SECRET, AuthEnv

pytestmark = pytest.mark.integration


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting(auth: AuthEnv) -> list[str]:
    """The paths the tests' client to auth asks for, as they go out."""
    asked: list[str] = []

    async def record(request: httpx.Request) -> None:
        asked.append(request.url.path)

    auth.client.event_hooks["request"].append(record)
    return asked


def tokens_for(auth: AuthEnv, clock: FakeMonotonic, secret: str = SERVICE_SECRET) -> ServiceTokens:
    return ServiceTokens("http://auth", "simulator", secret, http_client=auth.client, clock=clock)


async def test_one_token_is_fetched_for_many_callers_and_kept(auth: AuthEnv) -> None:
    asked, clock = counting(auth), FakeMonotonic()
    tokens = tokens_for(auth, clock)
    got = await asyncio.gather(*(tokens.token() for _ in range(10)))
    assert len(set(got)) == 1 and asked == ["/api/auth/token"], "one fetch for all ten callers"
    claims = auth.app.state.token_verifier.verify(got[0])
    assert claims.role == "service" and claims.subject == "service:simulator"

    clock.now += 60  # well within the token's 15 minutes
    assert await tokens.token() == got[0]
    assert asked == ["/api/auth/token"]


async def test_a_token_is_renewed_shortly_before_it_expires(auth: AuthEnv) -> None:
    asked, clock = counting(auth), FakeMonotonic()
    tokens = tokens_for(auth, clock)
    ttl = auth.app.state.auth_service.settings.service_token_ttl_seconds
    await tokens.token()
    clock.now += ttl - tokens.refresh_margin_seconds - 1
    await tokens.token()
    assert len(asked) == 1, "still kept just before the margin"
    clock.now += 2  # inside the margin: the token has a minute left, but a call may take that long
    await tokens.token()
    assert len(asked) == 2


async def test_an_invalidated_token_is_fetched_again_but_a_stale_401_keeps_the_new_one(
    auth: AuthEnv,
) -> None:
    asked, clock = counting(auth), FakeMonotonic()
    tokens = tokens_for(auth, clock)
    first = await tokens.token()
    tokens.invalidate(first)  # a call with it was answered 401
    second = await tokens.token()
    assert second != first and len(asked) == 2  # each token has an id of its own
    tokens.invalidate(first)  # another call's late 401 for the old token
    assert await tokens.token() == second and len(asked) == 2
    tokens.invalidate()
    await tokens.token()
    assert len(asked) == 3


async def test_refused_credentials_and_an_unreachable_auth_raise(auth: AuthEnv) -> None:
    tokens = tokens_for(auth, FakeMonotonic(), secret="not-the-secret")
    with pytest.raises(ServiceTokenError) as refused:
        await tokens.token()
    assert refused.value.status == 401 and refused.value.code == "invalid_client"

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as down:
        nowhere = ServiceTokens("http://auth", "simulator", SERVICE_SECRET, http_client=down)
        with pytest.raises(ServiceTokenError) as failed:
            await nowhere.token()
        assert failed.value.status is None
        # Nothing is kept from a failure: the next call asks again.
        with pytest.raises(ServiceTokenError):
            await nowhere.token()
        assert nowhere.fetches == 2
