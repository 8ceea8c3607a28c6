"""Edge security: who the caller is, whether the route needs a token, rate limits, security headers.

The services verify tokens again (they trust no header); the gateway checks first so that forged or
expired tokens and floods never reach them.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aic_common.client_address import client_address
from aic_common.deleted_accounts import DELETED_ACCOUNTS_PATH
from aic_common.errors import code_for_status
from aic_common.principals import bearer_token, verify_with
from aic_common.tokens import Claims, InvalidToken
from aic_gateway.proxy import upstream_route

log = logging.getLogger(__name__)

# Routes anyone may call without a token (method, path pattern). Everything else under /api needs one.
# The services decide what an anonymous caller may see on these; the gateway only lets them through.
PUBLIC_ROUTES: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = tuple(
    (frozenset(methods.split()), re.compile(pattern))
    for methods, pattern in (
        ("POST", r"/api/auth/(register|login|refresh|logout|token)"),
        ("GET", r"/api/auth/\.well-known/jwks\.json"),
        ("GET HEAD", r"/api/(docs|openapi\.json)(/.*)?"),
        ("GET", r"/api/stream"),
        ("GET HEAD", r"/api/users/suggestions"),  # whom to follow, on the landing page too
        ("GET HEAD", r"/api/users/[^/]+(/posts|/followers|/following)?"),
        ("GET HEAD", r"/api/posts/[^/]+(/comments)?"),
        ("GET HEAD", r"/api/feed/explore"),
        ("GET HEAD", r"/api/search"),
        ("GET", r"/api/link-preview"),
        ("GET HEAD", r"/api/files/[^/]+(/thumbnail)?"),
        ("GET HEAD", r"/api/sim/(status|world|agents(/[^/]+(/transcript)?)?|actions|events)"),
    )
)

# Routes of a service for the other services alone, which the gateway never forwards (auth's list of
# recently deleted accounts, everything under files' internal prefix, such as the uploads the simulator
# makes for its characters): 404 to anyone, as if they were not there.
INTERNAL_ROUTES: frozenset[str] = frozenset({DELETED_ACCOUNTS_PATH})
INTERNAL_PREFIXES: tuple[str, ...] = ("/api/files/internal",)
# Only these services have internal routes: a path is looked at closely only when it goes to one of them.
_WITH_INTERNAL_ROUTES = ("/api/auth/", "/api/files/")


def is_internal(route: str) -> bool:
    """Whether ``route`` (the path as the service will route it, see upstream_route) is internal."""
    route = route.rstrip("/")
    return route in INTERNAL_ROUTES or any(
        route == prefix or route.startswith(prefix + "/") for prefix in INTERNAL_PREFIXES
    )


API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# Vant sets inline styles; scripts come only from our own hashed bundles.
UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)


def is_public(method: str, path: str) -> bool:
    return any(method in methods and pattern.fullmatch(path) for methods, pattern in PUBLIC_ROUTES)


@dataclass(frozen=True)
class Limits:
    per_ip: int
    per_user: int
    login_per_ip: int
    register_per_ip: int
    window_seconds: int


class EdgeMiddleware:
    """Checks every /api request: the token if any (or required), then the rate limits."""

    def __init__(self, app: ASGIApp, *, gateway: object) -> None:
        self.app = app
        self.gateway = gateway  # the app's GatewayState: verifier, limiter, limits, trusted proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        state = self.gateway
        method, path = scope["method"], scope["path"]
        if path.startswith(_WITH_INTERNAL_ROUTES) and is_internal(upstream_route(scope)):
            await _reject(send, 404, f"No API at {path}", "not_found", {})
            return
        ip = client_address(scope, state.trusted_proxies)
        scope.setdefault("state", {})["client_ip"] = ip

        claims: Claims | None = None
        authorization = _header(scope, b"authorization")
        try:
            token = bearer_token(authorization)
            if token is not None:
                claims = await verify_with(state.verifier, token)
        except InvalidToken as exc:
            await _reject(send, 401, exc.detail, "invalid_token", {"WWW-Authenticate": "Bearer"})
            return
        if claims is None and method != "OPTIONS" and not is_public(method, path):
            await _reject(
                send, 401, "Sign in to do this", "not_authenticated", {"WWW-Authenticate": "Bearer"}
            )
            return

        limits: Limits = state.limits
        checks = [(f"ip:{ip}", limits.per_ip)]
        if claims is not None and claims.role != "service":
            checks.append((f"user:{claims.subject}", limits.per_user))
        if method == "POST" and path == "/api/auth/login":
            checks.append((f"login:{ip}", limits.login_per_ip))
        elif method == "POST" and path == "/api/auth/register":
            checks.append((f"register:{ip}", limits.register_per_ip))
        # All of a request's limits in one round trip to the store.
        wait = await state.limiter.hit_all(checks, limits.window_seconds)
        if wait is not None:
            await _reject(
                send,
                429,
                f"Too many requests; try again in {wait} seconds",
                "rate_limited",
                {"Retry-After": str(wait)},
            )
            return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """nosniff, no framing, a CSP per kind of page, HSTS behind TLS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        csp = DOCS_CSP if path.startswith("/api/docs") else API_CSP if path.startswith("/api") else UI_CSP
        https = scope.get("scheme") == "https" or _header(scope, b"x-forwarded-proto") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                upstream = message.get("headers", [])
                headers = [(k, v) for k, v in upstream if k.lower() not in _OWN_HEADERS]
                # A service's own policy knows its content better than ours: the files service lets
                # an image opened as a page show itself, sandboxed, where ours would block it.
                own_csp = next((v for k, v in upstream if k.lower() == b"content-security-policy"), None)
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                    (b"content-security-policy", own_csp or csp.encode()),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                ]
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OWN_HEADERS = frozenset(
    {
        b"x-content-type-options",
        b"x-frame-options",
        b"referrer-policy",
        b"content-security-policy",
        b"permissions-policy",
        b"strict-transport-security",
    }
)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _reject(send: Send, status: int, detail: str, code: str | None, headers: dict[str, str]) -> None:
    body = json.dumps({"detail": detail, "code": code or code_for_status(status)}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
