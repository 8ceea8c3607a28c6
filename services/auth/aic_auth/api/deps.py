"""Dependencies shared by the auth routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aic_auth.service import AuthService
from aic_common.client_address import client_address


async def get_service(request: Request) -> AuthService:
    return request.app.state.auth_service


Service = Annotated[AuthService, Depends(get_service)]


async def client_ip(request: Request) -> str:
    """The client's address: the peer, or what the gateway (a trusted proxy) says it is."""
    return client_address(request.scope, request.app.state.auth_service.settings.trusted_proxies)


ClientIp = Annotated[str, Depends(client_ip)]
