"""A service's own access token, for calls to another service's internal routes.

:class:`ServiceTokens` asks auth for a token with the client-credentials grant (``POST /api/auth/token``,
``AIC_SERVICE_CLIENT_ID`` and ``AIC_SERVICE_CLIENT_SECRET``) and keeps it until shortly before it
expires. A call answered 401 (auth's keys rotated, the token refused for any reason) hands the token
back with :meth:`ServiceTokens.invalidate` and the next call gets a fresh one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

TOKEN_PATH = "/api/auth/token"  # noqa: S105 - a path, not a password


class ServiceTokenError(Exception):
    """No token: auth refused the credentials (``status`` 401) or could not be asked (``status`` None)."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ServiceTokens:
    """``http_client`` reaches auth (in-process in dev mode); without one a client of its own is made,
    and closed by :meth:`aclose`."""

    def __init__(
        self,
        auth_base_url: str,
        client_id: str,
        client_secret: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        refresh_margin_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = auth_base_url.rstrip("/") + TOKEN_PATH
        self.client_id = client_id
        self._client_secret = client_secret
        self._http = http_client or httpx.AsyncClient(timeout=timeout_seconds)
        self._owns_http = http_client is None
        self.timeout_seconds = timeout_seconds
        self.refresh_margin_seconds = refresh_margin_seconds
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0  # tokens asked of auth, for tests and logs

    async def token(self) -> str:
        """A token valid for a while yet: the kept one, or a new one from auth (one request at a time:
        callers that find none wait for the one fetch)."""
        token = self._current()
        if token is not None:
            return token
        async with self._lock:
            token = self._current()  # fetched while this caller waited
            if token is None:
                token = await self._fetch()
            return token

    def invalidate(self, token: str | None = None) -> None:
        """Forget the kept token (``token``: only if it is still the kept one, so that a late 401 for an
        old token does not throw away the new one)."""
        if token is None or token == self._token:
            self._token = None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def _current(self) -> str | None:
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        return None

    async def _fetch(self) -> str:
        asked_at = self._clock()
        self.fetches += 1
        try:
            response = await self._http.post(
                self.url,
                json={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self._client_secret,
                },
                timeout=self.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            raise ServiceTokenError(f"auth could not be asked for a service token: {exc!r}") from exc
        if response.status_code != 200:
            code = _error_code(response)
            raise ServiceTokenError(
                f"auth refused a service token for {self.client_id}: {response.status_code} {code}".strip(),
                status=response.status_code,
                code=code,
            )
        try:
            body = response.json()
            token, expires_in = str(body["access_token"]), float(body["expires_in"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceTokenError(
                f"auth answered a service token request with {response.text[:200]!r}"
            ) from exc
        # Renewed a margin before it expires (at most half its life), counted from when it was asked for.
        self._renew_at = asked_at + expires_in - min(self.refresh_margin_seconds, expires_in / 2)
        self._token = token
        return token


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("code", ""))
    except (ValueError, AttributeError):
        return ""
