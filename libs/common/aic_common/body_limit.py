"""A cap on the size of request bodies, enforced before and while they arrive.

A body whose Content-Length is over the cap is refused with 413 before a byte of it is read; one sent
without a length (chunked) is cut off with 413 as soon as it passes the cap, so a client cannot make a
process hold or parse megabytes it never meant to accept. Routes that stream and cap their own bodies
(uploads) get a limit of their own, or none.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aic_common.errors import error_response

# (method, path) -> the largest body that route takes; None: the route caps its body itself.
RouteBodyLimits = Mapping[tuple[str, str], int | None]


class RequestBodyTooLarge(HTTPException):
    """Raised to the app reading the body once it passes the cap (the error handlers answer 413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_detail(max_bytes))


def too_large_detail(max_bytes: int) -> str:
    return f"The request body is larger than the limit of {max_bytes:,} bytes"


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, route_max_bytes: RouteBodyLimits | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.route_max_bytes = dict(route_max_bytes or {})

    def limit_for(self, method: str, path: str) -> int | None:
        return self.route_max_bytes.get((method, path), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(limit, scope, receive, send)
            return

        received = 0
        exceeded = False
        response_started = False

        async def capped_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise RequestBodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded:
                # Whatever the app made of the cut-off body (a proxy's 502, a parser's 400) is not the
                # client's answer: the 413 is.
                if not response_started:
                    response_started = True
                    await _refuse(limit, scope, receive, send)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
            # The cut-off body broke whatever was reading it; the client still gets its 413 below.
        if exceeded and not response_started:
            await _refuse(limit, scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    # Connection: close, so the server reads no more of the body than it has.
    response = error_response(413, too_large_detail(limit), "payload_too_large", {"Connection": "close"})
    await response(scope, receive, send)
