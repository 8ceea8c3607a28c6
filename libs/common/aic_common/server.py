"""How every process of the project serves HTTP: the one definition of the server's limits.

``python -m aic_common.server package.module:create_app --host ... --port ...`` is the command of every
service (the real-topology runner, docker-compose.yml, the Kubernetes manifests and the images run it,
``aic_gateway.stack.serve_command`` builds it); ``make dev`` calls :func:`serve`. Both run uvicorn with
:func:`uvicorn_options`:

- a request's line and headers must arrive within ``HEADER_TIMEOUT_SECONDS`` of the connection opening
  (or of the first byte of the next request on a kept-alive connection) and stay under
  ``MAX_HEADER_BYTES``; uvicorn has no such limit of its own, so a client sending headers a byte at a
  time (slow-loris) held a connection for as long as it liked. :class:`GuardedHttpProtocol` adds it.
- an idle kept-alive connection is closed after ``KEEP_ALIVE_SECONDS``;
- past ``MAX_CONCURRENCY`` open connections or running requests, uvicorn answers 503 at once.
- uvicorn's own X-Forwarded-For handling is off: the client's address is found by
  :mod:`aic_common.client_address`, from ``AIC_TRUSTED_PROXIES``, and nowhere else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
from collections.abc import Sequence
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Each server outlasts the idle time of the connections of those in front of it, or a client reusing
# a connection at the moment the server closes it loses its request: the gateway's pool to the
# services (aic_gateway.app.UPSTREAM_IDLE_SECONDS, 30 s) and ingress-nginx's (60 s).
KEEP_ALIVE_SECONDS = 75
# Browsers and proxies send a request's head in one go; ten seconds is generous to a slow network.
HEADER_TIMEOUT_SECONDS = 10.0
# A request line and headers larger than this are refused (431): a bearer token and cookies fit many
# times over, and what ingress-nginx accepts (4 buffers of 8 KiB) passes with its own headers added.
MAX_HEADER_BYTES = 64 * 1024
# Open connections (idle ones too) or running requests, counting live streams, per process.
MAX_CONCURRENCY = 1000
# Enough file descriptors for MAX_CONCURRENCY clients plus the process's own connections (the
# gateway's pools to the services, the database, the broker).
OPEN_FILES = 4 * MAX_CONCURRENCY


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with a deadline and a size limit on each request's head."""

    header_timeout_seconds: ClassVar[float] = HEADER_TIMEOUT_SECONDS
    max_header_bytes: ClassVar[int] = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._unfinished_head_bytes = 0
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # From the start: a connection that never sends a byte is held to the deadline too.
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_received()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._head_deadline is None:
            between_requests = self.cycle is None or self.cycle.response_complete
            if between_requests and self.timeout_keep_alive_task is None:
                # Bytes that began no request (blank lines) stopped uvicorn's keep-alive timer.
                self._await_head()
            return
        # The parser keeps an unfinished head (an endless header line too) in memory: count what
        # arrived while the head is still incomplete, so that it holds one read past the limit at most.
        self._unfinished_head_bytes += len(data)
        if self._unfinished_head_bytes > self.max_header_bytes:
            self._refuse_head_too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_deadline is None:  # the next request on a kept-alive connection
            self._await_head()

    def on_headers_complete(self) -> None:
        self._head_received()
        if self._refused:
            return
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_header_bytes:  # a head that came whole in one read
            self._refuse_head_too_large()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def _await_head(self) -> None:
        self._unfinished_head_bytes = 0
        self._head_deadline = self.loop.call_later(self.header_timeout_seconds, self._head_too_slow)

    def _head_received(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_head_too_large(self) -> None:
        """Answer 431 in the error shape and close; nothing more from this connection is read."""
        self._refused = True
        self._head_received()
        reason = "Request Header Fields Too Large"
        body = json.dumps({"detail": reason, "code": "headers_too_large"}).encode()
        head = (
            f"HTTP/1.1 431 {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run``/``uvicorn.Config`` every server of the project gets."""
    return {
        "http": GuardedHttpProtocol,
        "ws": "none",  # nothing speaks WebSocket; the live stream is server-sent events
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "limit_concurrency": MAX_CONCURRENCY,
        "proxy_headers": False,
    }


def serve(
    app: Any,
    *,
    host: str,
    port: int,
    graceful_shutdown_seconds: int,
    factory: bool = False,
    **extra: Any,
) -> None:
    """Serve ``app`` (an ASGI app, or with ``factory`` an import string of a function making one) until
    SIGTERM or SIGINT, then give open requests ``graceful_shutdown_seconds`` to finish."""
    _raise_open_files_limit()
    uvicorn.run(
        app,
        host=host,
        port=port,
        factory=factory,
        # "on": a failing startup ends the process instead of serving without its lifespan.
        lifespan="on",
        timeout_graceful_shutdown=graceful_shutdown_seconds,
        **{**uvicorn_options(), **extra},
    )


def _raise_open_files_limit() -> None:
    # Containers often start with a soft limit of 1024, below what MAX_CONCURRENCY needs.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aic_common.server", description=__doc__.splitlines()[0])
    parser.add_argument("factory", help="package.module:function that returns the ASGI app")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeout-graceful-shutdown", type=int, required=True, metavar="SECONDS")
    args = parser.parse_args(argv)
    serve(
        args.factory,
        factory=True,
        host=args.host,
        port=args.port,
        graceful_shutdown_seconds=args.timeout_graceful_shutdown,
    )


if __name__ == "__main__":
    main()
