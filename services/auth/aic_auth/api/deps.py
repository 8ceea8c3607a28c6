"""Dependencies shared by the auth routes."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request

from aic_auth.service import AuthService


async def get_service(request: Request) -> AuthService:
    return request.app.state.auth_service


Service = Annotated[AuthService, Depends(get_service)]


async def client_ip(request: Request) -> str:
    """The client's address: the peer, or the X-Forwarded-For entry a trusted proxy added."""
    peer = request.client.host if request.client else "unknown"
    trusted: list[str] = request.app.state.auth_service.settings.trusted_proxies
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in trusted:
        # The right-most address is the one our proxy saw; anything left of it the client wrote.
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            return peer
    return peer


ClientIp = Annotated[str, Depends(client_ip)]
