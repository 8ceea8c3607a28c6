"""FastAPI dependencies that turn the bearer token of a request into a :class:`Principal`.

Every service verifies the token itself with ``app.state.token_verifier`` (a
:class:`~aic_common.tokens.TokenVerifier`, or a :class:`~aic_common.tokens.JwksKeySource`); no service
trusts identity headers a client could send.

A person and an AI character are both role ``"user"`` (``is_ai`` tells them apart); operators are
``"admin"``; other services calling in are ``"service"``.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from aic_common.errors import Forbidden, Unauthorized
from aic_common.tokens import Claims, InvalidToken, Role

# Registered only so that the OpenAPI document shows the bearer scheme; the header is parsed below,
# strictly, because HTTPBearer(auto_error=False) quietly treats a malformed header as no header.
_bearer_scheme = HTTPBearer(auto_error=False, description="An access token from POST /api/auth/login")


class Principal(BaseModel):
    """Who is making the request, as the verified access token says."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    username: str
    role: Role
    is_ai: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_service(self) -> bool:
        return self.role == "service"

    @classmethod
    def from_claims(cls, claims: Claims) -> Principal:
        return cls(user_id=claims.subject, username=claims.username, role=claims.role, is_ai=claims.is_ai)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when there is no header."""
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise InvalidToken("The Authorization header must be 'Bearer <token>'")
    return token


async def verify_token(request: Request, token: str) -> Claims:
    verifier: Any = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        # A deployment mistake, not the client's: fail closed with a 500.
        raise RuntimeError("app.state.token_verifier is not configured")
    return await verify_with(verifier, token)


async def verify_with(verifier: Any, token: str) -> Claims:
    """Verify with a TokenVerifier (sync) or a JwksKeySource (async)."""
    result = verifier.verify(token)
    if inspect.isawaitable(result):
        result = await result
    return result


async def get_optional_principal(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer_scheme),
) -> Principal | None:
    """The caller, or None when the request carries no Authorization header. A bad token is a 401."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    principal = Principal.from_claims(await verify_token(request, token))
    request.state.principal = principal  # for access logs
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


async def get_current_principal(principal: OptionalPrincipal) -> Principal:
    if principal is None:
        raise Unauthorized(
            "Not authenticated: send 'Authorization: Bearer <token>'", code="not_authenticated"
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("This action requires an administrator", code="admin_required")
    return principal


async def require_service(principal: CurrentPrincipal) -> Principal:
    if not principal.is_service:
        raise Forbidden("This endpoint is for internal services only", code="service_required")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
ServicePrincipal = Annotated[Principal, Depends(require_service)]


def verifier_from_settings(settings: Any, http_client: Any = None, *, runtime: Any) -> Any:
    """How a service other than auth verifies tokens: auth's JWKS, fetched and cached, refusing the
    tokens of accounts deleted since they were issued: heard of on ``runtime.bus`` (before it starts),
    and loaded from auth's list of recent deletions while ``runtime`` runs (what it missed before).

    ``http_client`` reaches auth in-process in dev mode; otherwise ``settings.jwks_url`` is fetched, and
    the list from the same host (:func:`~aic_common.deleted_accounts.deleted_accounts_url`).
    """
    from aic_common.deleted_accounts import DeletedAccounts, deleted_accounts_url
    from aic_common.tokens import JwksKeySource

    deleted_accounts = (
        DeletedAccounts()
        .listen(runtime.bus, settings.service_name)
        .load_from(deleted_accounts_url(settings.jwks_url), http_client=http_client)
    )
    runtime.background.append(deleted_accounts)
    return JwksKeySource(
        settings.jwks_url,
        settings.jwt_issuer,
        settings.jwt_audience,
        http_client=http_client,
        deleted_accounts=deleted_accounts,
    )
