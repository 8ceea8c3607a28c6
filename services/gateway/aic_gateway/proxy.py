"""The reverse proxy: forwards a request to the service that owns its path, streaming both ways.

Large bodies are never held whole: the request streams from the client into the upstream call and
a response streams back; only a response that declares a small length (an API answer) is read whole
first, which spares it the streaming machinery. Connections to each upstream are pooled and kept
alive. Only idempotent requests without a body are retried: when the connection could not be made
(nothing was sent), and when a kept-alive connection was closed before any answer came (RFC 9110
§9.2.2 lets a proxy send an idempotent request again). Failures answer in the common error shape: 503
when the service cannot be reached, 504 when it is too slow, 502 when it broke the response.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse
from starlette.types import Scope

from aic_common.errors import error_response
from aic_common.observability import current_correlation_id, current_request_id

log = logging.getLogger(__name__)

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded. Headers are handled as the
# bytes they arrive as (ASGI lower-cases their names): decoding and encoding each one cost more than
# anything else the gateway does to a request.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-connection",
    }
)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Responses that declare at most this many bytes are read whole and sent in one piece.
BUFFERED_RESPONSE_MAX_BYTES = 256 * 1024
# Set by the gateway itself, or (Expect: 100-continue) answered by it already; what a client sends
# under these names is dropped.
SET_BY_GATEWAY = frozenset(
    {
        b"host",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-request-id",
        b"x-correlation-id",
        b"expect",
    }
)


@dataclass
class Upstream:
    name: str
    client: httpx.AsyncClient

    async def aclose(self) -> None:
        await self.client.aclose()


def _connection_listed(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    # Headers named in Connection are hop-by-hop too.
    names: set[bytes] = set()
    for key, value in headers:
        if key == b"connection":
            names.update(part.strip().lower() for part in value.split(b","))
    return names


def forwarded_request_headers(request: Request, client_ip: str) -> list[tuple[bytes, bytes]]:
    raw: list[tuple[bytes, bytes]] = request.scope["headers"]
    dropped = HOP_BY_HOP | SET_BY_GATEWAY | _connection_listed(raw)
    headers = [(k, v) for k, v in raw if k not in dropped]
    # The address the edge resolved (aic_common.client_address), alone: what the client wrote in its
    # own X-Forwarded-For would otherwise reach a service that trusts the gateway.
    if client_ip:
        headers.append((b"x-forwarded-for", client_ip.encode("latin-1")))
    headers.append((b"x-forwarded-proto", request.scope.get("scheme", "http").encode("latin-1")))
    if host := next((v for k, v in raw if k == b"host"), None):
        headers.append((b"x-forwarded-host", host))
    if request_id := current_request_id():
        headers.append((b"x-request-id", request_id.encode("latin-1")))
    if correlation_id := current_correlation_id():
        headers.append((b"x-correlation-id", correlation_id.encode("latin-1")))
    return headers


def forwarded_response_headers(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    raw = [(k.lower(), v) for k, v in response.headers.raw]
    # The upstream's request id is ours already (we sent it); the gateway's middleware sets it once.
    dropped = HOP_BY_HOP | _connection_listed(raw) | {b"x-request-id"}
    return [(k, v) for k, v in raw if k not in dropped]


# What may stay as the client sent it in a forwarded path and query: RFC 3986's reserved and unreserved
# characters and existing percent-escapes. Anything else (controls, spaces, raw non-ASCII bytes) is
# percent-encoded, so the service decodes exactly what the client meant.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


def _forwarded_path(scope: Scope) -> str:
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    return quote(raw_path, safe=_PATH_SAFE)


def upstream_target(request: Request) -> httpx.URL:
    """The path and query to ask the upstream for: the client's own bytes, still percent-encoded.

    Never the decoded path: an encoded ``%2F`` or ``%1F`` must reach the service as sent, not as a
    slash (another route) or a control character (an invalid URL).
    """
    target = _forwarded_path(request.scope)
    if query := request.scope.get("query_string", b""):
        target += "?" + quote(query, safe=_QUERY_SAFE)
    return httpx.URL(raw_path=target.encode("ascii"))


_ANY_UPSTREAM = httpx.URL("http://upstream")


def upstream_route(scope: Scope) -> str:
    """The path the service routes a forwarded request on: as the proxy's client sends it (httpx removes
    dot segments) and as the service's server decodes it (``%2F`` is a slash there). What the gateway
    refuses to forward is looked for here, not in the path as the client wrote it."""
    return _ANY_UPSTREAM.copy_with(raw_path=_forwarded_path(scope).encode("ascii")).path


def _has_body(request: Request) -> bool:
    return ("content-length" in request.headers and request.headers["content-length"] != "0") or (
        "transfer-encoding" in request.headers
    )


class ReverseProxy:
    def __init__(self, *, retries: int = 2, retry_backoff_seconds: float = 0.1) -> None:
        self.retries = retries
        self.retry_backoff_seconds = retry_backoff_seconds

    async def forward(
        self, request: Request, upstream: Upstream, *, client_ip: str, timeout: httpx.Timeout
    ) -> Response:
        method = request.method
        body = request.stream() if _has_body(request) else None
        upstream_request = upstream.client.build_request(
            method,
            upstream_target(request),
            # As bytes: a header may carry any octet a client sent (obs-text), which str headers refuse.
            headers=forwarded_request_headers(request, client_ip),
            content=body,
            timeout=timeout,
        )
        attempts = 1 + (self.retries if method in IDEMPOTENT and body is None else 0)
        for attempt in range(1, attempts + 1):
            try:
                response = await upstream.client.send(upstream_request, stream=True)
                break
            except httpx.ConnectError as exc:
                # Nothing reached the service, so trying again cannot apply anything twice.
                if attempt < attempts:
                    await asyncio.sleep(self.retry_backoff_seconds * attempt)
                    continue
                log.warning("upstream %s unreachable: %s", upstream.name, exc)
                detail = f"The {upstream.name} service is unavailable; try again shortly"
                return error_response(503, detail, "upstream_unavailable", {"Retry-After": "5"})
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                # Closed without an answer: most often a kept-alive connection the service was closing
                # as the request went out. The pool has let that connection go; try a fresh one at once.
                if attempt < attempts:
                    log.info(
                        "upstream %s closed the connection unanswered (%r); sending again", upstream.name, exc
                    )
                    continue
                log.warning("upstream %s failed: %r", upstream.name, exc)
                return error_response(
                    502, f"The {upstream.name} service gave a broken response", "bad_gateway"
                )
            except httpx.TimeoutException as exc:
                log.warning("upstream %s timed out: %r", upstream.name, exc)
                return error_response(
                    504, f"The {upstream.name} service did not answer in time", "upstream_timeout"
                )
            except httpx.HTTPError as exc:
                log.warning("upstream %s failed: %r", upstream.name, exc)
                return error_response(
                    502, f"The {upstream.name} service gave a broken response", "bad_gateway"
                )
        proxied: Response
        if _declared_length(response) <= BUFFERED_RESPONSE_MAX_BYTES:
            try:
                # Raw bytes: a compressed body passes through as compressed, like a streamed one.
                body = b"".join([chunk async for chunk in response.aiter_raw()])
            except httpx.HTTPError as exc:
                log.warning("upstream %s broke mid-response: %r", upstream.name, exc)
                return error_response(
                    502, f"The {upstream.name} service gave a broken response", "bad_gateway"
                )
            finally:
                await response.aclose()
            proxied = Response(body, status_code=response.status_code)
        else:
            proxied = StreamingResponse(
                _relay(response, upstream.name),
                status_code=response.status_code,
                background=BackgroundTask(response.aclose),
            )
        # Set raw: repeated headers (Set-Cookie) survive, and nothing is added or reordered.
        proxied.raw_headers = forwarded_response_headers(response)
        return proxied


def _declared_length(response: httpx.Response) -> float:
    """The Content-Length the upstream declared; infinite when it declared none (a stream) or nonsense."""
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else math.inf


async def _relay(response: httpx.Response, name: str):
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        # Headers are gone already; all we can do is cut the stream so the client sees it broke.
        log.warning("upstream %s broke mid-response: %r", name, exc)
        raise
