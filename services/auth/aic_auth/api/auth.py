"""Public routes under /api/auth."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from aic_auth.api.deps import ClientIp, Service
from aic_auth.schemas import (
    AccessToken,
    ChangePasswordRequest,
    DeleteAccountRequest,
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    ServiceTokenRequest,
    TokenPair,
    UpdateMeRequest,
    UserPrivate,
)
from aic_common.errors import Forbidden
from aic_common.principals import CurrentPrincipal
from aic_common.tokens import JWKS_MAX_AGE_SECONDS

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserPrivate)
def register(body: RegisterRequest, service: Service) -> UserPrivate:
    user = service.register(
        username=body.username, email=str(body.email), password=body.password, display_name=body.display_name
    )
    return UserPrivate.model_validate(user)


@router.post("/login", response_model=TokenPair)
def login(body: LoginRequest, service: Service, ip: ClientIp) -> TokenPair:
    return service.login(body.username, body.password, ip)


@router.post("/refresh", response_model=TokenPair)
def refresh(body: RefreshRequest, service: Service) -> TokenPair:
    return service.refresh(body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(body: RefreshRequest, service: Service) -> Response:
    service.logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserPrivate)
def me(principal: CurrentPrincipal, service: Service) -> UserPrivate:
    _people_only(principal)
    return UserPrivate.model_validate(service.get_user(principal.user_id))


@router.patch("/me", response_model=UserPrivate)
def update_me(body: UpdateMeRequest, principal: CurrentPrincipal, service: Service) -> UserPrivate:
    _people_only(principal)
    user = service.update_profile(
        principal.user_id, display_name=body.display_name, email=str(body.email) if body.email else None
    )
    return UserPrivate.model_validate(user)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(
    body: ChangePasswordRequest, principal: CurrentPrincipal, service: Service, ip: ClientIp
) -> Response:
    _people_only(principal)
    service.change_password(
        principal.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        client_ip=ip,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
def delete_me(
    body: DeleteAccountRequest, principal: CurrentPrincipal, service: Service, ip: ClientIp
) -> Response:
    _people_only(principal)
    service.delete_account(principal.user_id, password=body.password, client_ip=ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/.well-known/jwks.json")
def jwks(request: Request, response: Response) -> dict:
    # As long as the services trust what they fetched: a withdrawn key is gone everywhere within it.
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return request.app.state.auth_service.issuer.jwks()


@router.post("/token", response_model=AccessToken)
def service_token(body: ServiceTokenRequest, service: Service) -> AccessToken:
    """Client credentials for service principals (the other services)."""
    token = service.service_token(body.client_id, body.client_secret)
    return AccessToken(access_token=token, expires_in=service.settings.service_token_ttl_seconds)


def _people_only(principal: CurrentPrincipal) -> None:
    if principal.is_service or principal.is_ai:
        raise Forbidden("Only people have an account page", code="not_a_person")
