"""Forged tokens against the gateway and against each service directly: every one a 401 in the common
error shape, never a 5xx; the same construction signed properly passes (the control).

The forgeries claim to be the stack's admin, so a check that is missing anywhere would hand out the
most rights. Each service is called on its own port too: the services trust no gateway (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from aic_common.testing.community import Account, Community
from aic_common.testing.tokens import FORGERY_NAMES, forge, forgeries, good_claims, header
from aic_gateway.stack import GATEWAY, Stack

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Target:
    """One protected endpoint, reached through ``service``'s own port (or the gateway's)."""

    service: str
    method: str
    path: str
    json: dict[str, Any] | None = None


TARGETS = [
    Target(GATEWAY, "GET", "/api/auth/me"),
    Target(GATEWAY, "GET", "/api/feed/home"),
    Target("auth", "GET", "/api/auth/me"),
    Target("social", "GET", "/api/feed/home"),
    Target("files", "GET", "/api/files/{file_id}/meta"),
    Target("simulator", "POST", "/api/sim/control", {"command": "status"}),
]


@pytest.fixture(scope="module")
def kid(community: Community) -> str:
    """The key id the stack's auth service publishes (and signs with)."""
    return community.http.get("/api/auth/.well-known/jwks.json").json()["keys"][0]["kid"]


@pytest.fixture(scope="module")
def matrix(stack: Stack, kid: str, admin: Account) -> dict[str, str]:
    return forgeries(stack.secrets.jwt_private_key, kid, **_admin_claims(admin))


@pytest.fixture(scope="module")
def control_token(stack: Stack, kid: str, admin: Account) -> str:
    """Built exactly as the forgeries are, with nothing wrong: it must pass everywhere."""
    return forge(stack.secrets.jwt_private_key, header(kid), good_claims(**_admin_claims(admin)))


@pytest.fixture(scope="module")
def file_id(community: Community, admin: Account) -> str:
    uploaded = community.upload(admin)
    assert uploaded.status_code == 201, uploaded.text
    return uploaded.json()["id"]


def _admin_claims(admin: Account) -> dict[str, Any]:
    return {"sub": admin.id, "username": admin.username, "role": "admin"}


def _call(stack: Stack, target: Target, token: str, file_id: str, ip: str) -> httpx.Response:
    base = stack.gateway_url if target.service == GATEWAY else stack.url(target.service)
    with httpx.Client(base_url=base, timeout=30) as client:
        return client.request(
            target.method,
            target.path.format(file_id=file_id),
            json=target.json,
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": ip},
        )


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.service}:{t.method}:{t.path}")
def test_the_properly_signed_control_token_passes(
    stack: Stack, target: Target, control_token: str, file_id: str, admin: Account
) -> None:
    response = _call(stack, target, control_token, file_id, admin.ip)
    assert 200 <= response.status_code < 300, response.text


@pytest.mark.parametrize("forgery", FORGERY_NAMES)
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.service}:{t.method}:{t.path}")
def test_a_forgery_is_a_401_in_the_common_shape(
    stack: Stack, target: Target, forgery: str, matrix: dict[str, str], file_id: str, admin: Account
) -> None:
    response = _call(stack, target, matrix[forgery], file_id, admin.ip)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == "invalid_token", body
    assert isinstance(body["detail"], str) and body["detail"]
    assert response.headers["www-authenticate"] == "Bearer"
