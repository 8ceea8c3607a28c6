"""The FastAPI principal dependencies over a tiny app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aic_common.errors import install_error_handlers
from aic_common.principals import (
    AdminPrincipal,
    CurrentPrincipal,
    OptionalPrincipal,
    Principal,
    ServicePrincipal,
    bearer_token,
)
from aic_common.tokens import (
    InvalidToken,
    JwksKeySource,
    TokenIssuer,
    TokenVerifier,
    generate_rsa_private_key_pem,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer(generate_rsa_private_key_pem(), issuer="aic-auth", audience="aic")


def make_app(verifier: Any) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    if verifier is not None:
        app.state.token_verifier = verifier

    @app.get("/optional")
    async def optional(principal: OptionalPrincipal) -> dict[str, Any]:
        return {"principal": principal.model_dump() if principal else None}

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> Principal:
        return principal

    @app.get("/admin")
    async def admin(principal: AdminPrincipal) -> dict[str, str]:
        return {"admin": principal.username}

    @app.get("/internal")
    async def internal(principal: ServicePrincipal) -> dict[str, str]:
        return {"service": principal.username}

    return app


@pytest.fixture(scope="module")
def client(issuer: TokenIssuer) -> TestClient:
    return TestClient(make_app(TokenVerifier.from_issuer(issuer)))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def user_token(issuer: TokenIssuer) -> str:
    return issuer.issue_access_token("u1", username="xiaohong", role="user")


@pytest.fixture(scope="module")
def ai_token(issuer: TokenIssuer) -> str:
    return issuer.issue_access_token("u2", username="ai_lin", role="user", is_ai=True)


@pytest.fixture(scope="module")
def admin_token(issuer: TokenIssuer) -> str:
    return issuer.issue_access_token("u0", username="admin", role="admin")


@pytest.fixture(scope="module")
def service_token(issuer: TokenIssuer) -> str:
    return issuer.issue_access_token("svc-simulator", username="simulator", role="service")


def test_missing_header_is_401_not_authenticated(client: TestClient) -> None:
    for path in ("/me", "/admin", "/internal"):
        response = client.get(path)
        assert response.status_code == 401
        body = response.json()
        assert set(body) == {"detail", "code"}
        assert body["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_optional_principal(client: TestClient, user_token: str) -> None:
    assert client.get("/optional").json() == {"principal": None}
    response = client.get("/optional", headers=auth(user_token))
    assert response.json()["principal"] == {
        "user_id": "u1",
        "username": "xiaohong",
        "role": "user",
        "is_ai": False,
    }


@pytest.mark.parametrize("path", ["/optional", "/me"])
@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a.b.c extra", "Token abc"],
)
def test_bad_credentials_are_401_invalid_token(client: TestClient, path: str, authorization: str) -> None:
    # Even where a token is optional: a client that sends a bad one must learn it, not be anonymous.
    response = client.get(path, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert response.headers["www-authenticate"] == "Bearer"


def test_tampered_token_is_401(client: TestClient, user_token: str) -> None:
    head, payload, sig = user_token.split(".")
    response = client.get("/me", headers=auth(f"{head}.{payload}.{sig[:-4]}AAAA"))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_person_and_ai_character_are_users(client: TestClient, user_token: str, ai_token: str) -> None:
    person = client.get("/me", headers=auth(user_token)).json()
    ai = client.get("/me", headers=auth(ai_token)).json()
    assert (person["role"], person["is_ai"]) == ("user", False)
    assert (ai["role"], ai["is_ai"], ai["username"]) == ("user", True, "ai_lin")


def test_scheme_is_case_insensitive(client: TestClient, user_token: str) -> None:
    assert client.get("/me", headers={"Authorization": f"bearer {user_token}"}).status_code == 200


def test_user_on_admin_route_is_403(client: TestClient, user_token: str, ai_token: str) -> None:
    for token in (user_token, ai_token):
        response = client.get("/admin", headers=auth(token))
        assert response.status_code == 403
        assert response.json()["code"] == "admin_required"


def test_admin_route(client: TestClient, admin_token: str) -> None:
    response = client.get("/admin", headers=auth(admin_token))
    assert response.status_code == 200
    assert response.json() == {"admin": "admin"}


def test_service_route(client: TestClient, service_token: str, user_token: str, admin_token: str) -> None:
    response = client.get("/internal", headers=auth(service_token))
    assert response.status_code == 200
    assert response.json() == {"service": "simulator"}
    for token in (user_token, admin_token):
        response = client.get("/internal", headers=auth(token))
        assert response.status_code == 403
        assert response.json()["code"] == "service_required"
    # A service is not an admin either.
    assert client.get("/admin", headers=auth(service_token)).json()["code"] == "admin_required"


def test_principal_properties() -> None:
    assert Principal(user_id="1", username="a", role="admin").is_admin
    assert Principal(user_id="1", username="a", role="service").is_service
    user = Principal(user_id="1", username="a", role="user", is_ai=True)
    assert not user.is_admin and not user.is_service


def test_bearer_token_parsing() -> None:
    assert bearer_token(None) is None
    assert bearer_token("  ") is None
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    with pytest.raises(InvalidToken):
        bearer_token("Basic abc")


def test_jwks_key_source_as_verifier(issuer: TokenIssuer, admin_token: str) -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=issuer.jwks())

    source = JwksKeySource(
        "http://auth/jwks",
        "aic-auth",
        "aic",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(serve)),
    )
    with TestClient(make_app(source)) as client:
        assert client.get("/admin", headers=auth(admin_token)).json() == {"admin": "admin"}
        assert client.get("/admin", headers=auth("x.y.z")).status_code == 401


def test_missing_verifier_fails_closed(user_token: str) -> None:
    client = TestClient(make_app(None), raise_server_exceptions=False)
    response = client.get("/me", headers=auth(user_token))
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    # No token, no verification needed: still the plain 401.
    assert client.get("/me").status_code == 401
