"""Helpers for the tests of every service: awaiting conditions, cutting a connection on purpose, reading
what a service's app registers on the bus."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from unittest import mock


async def wait_for(
    condition: Callable[[], Any | Awaitable[Any]],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "",
) -> Any:
    """Await until ``condition()`` is truthy and return its value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition!r}")
        await asyncio.sleep(interval)


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> Any:
    """:func:`wait_for` for synchronous tests: block until ``condition()`` is truthy and return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition!r}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TcpProxy:
    """A loopback TCP proxy that a test can take down and bring back, to simulate an outage."""

    def __init__(self, target_host: str, target_port: int, listen_port: int | None = None) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = listen_port or free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        """Refuse new connections and cut every open one."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._pipes):
            task.cancel()
        self._writers.clear()
        self._pipes.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.transport.abort()
            self._writers.discard(writer)


class ThreadedTcpProxy:
    """A :class:`TcpProxy` on an event loop of its own thread, for callers that block.

    A :class:`~aic_gateway.stack.Stack` starts its processes synchronously (migrations through the
    proxy included), so a proxy on the caller's own loop would never get to forward a byte.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self._proxy = TcpProxy(target_host, target_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)

    @property
    def port(self) -> int:
        return self._proxy.port

    @property
    def is_up(self) -> bool:
        return self._proxy.is_up

    def _call(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def start(self) -> None:
        self._thread.start()
        self._call(self._proxy.start())

    def cut(self) -> None:
        """Refuse new connections and cut every open one (the target went down)."""
        self._call(self._proxy.stop())

    def restore(self) -> None:
        self._call(self._proxy.start())

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._proxy.stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> ThreadedTcpProxy:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def wait_until_serving(url: str, *, process: Any = None, log_path: Any = None, timeout: float = 30.0) -> None:
    """Block until ``url`` answers 200, failing early if ``process`` (a Popen) exits meanwhile."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = Path(log_path).read_text(encoding="utf-8", errors="replace") if log_path else ""
            raise AssertionError(f"{process.args} exited with {process.returncode} before serving:\n{output}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def service_bus_from_environment(factory: str, environment: Mapping[str, str]) -> Any:
    """The bus of the app that ``factory`` (``"package.module:callable"``) builds in a process whose
    ``AIC_*`` settings are exactly those of ``environment``, as a deployment would start it.

    Nothing is started or connected: the bus tells which consumers the app registers (``subscriptions``)
    and what the broker calls their queues. The caller's environment and logging set-up (which building
    an app configures) are as they were afterwards.
    """
    module, name = factory.split(":")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with mock.patch.dict(os.environ):
            for key in [key for key in os.environ if key.startswith("AIC_")]:
                del os.environ[key]
            os.environ.update(environment)
            app = getattr(importlib.import_module(module), name)()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    state = app.state
    return state.runtime.bus if hasattr(state, "runtime") else state.gateway.bus  # the gateway has no runtime


class ObservedBus:
    """A test's own client of the bus a service under test uses, recording the events it sees.

    ``shared`` is the in-process bus to hand to the app in embedded mode (None with RabbitMQ, where
    the app connects by itself); ``bus`` publishes as another service would.
    """

    def __init__(self, bus: Any, shared: Any, events: list[Any]) -> None:
        self.bus, self.shared, self.events = bus, shared, events


@contextlib.asynccontextmanager
async def observed_bus(settings: Any, *patterns: str) -> AsyncIterator[ObservedBus]:
    from aic_common.bus import InProcessBus, on_events
    from aic_common.bus.rabbit import RabbitBus

    events: list[Any] = []

    async def observe(envelope: Any) -> None:
        events.append(envelope)

    broker_url = settings.broker_url.get_secret_value()
    namespace = settings.bus_namespace
    bus: Any
    if broker_url:
        bus = RabbitBus(broker_url, namespace)
    else:  # the app's bus too: it counts deliveries as the app's own would
        bus = InProcessBus(namespace, delivery_limit=settings.bus_delivery_limit)
    bus.subscribe("test.observer", on_events(*(patterns or ("#",))), observe)
    await bus.start()
    try:
        yield ObservedBus(bus, None if broker_url else bus, events)
    finally:
        await bus.stop()
        if isinstance(bus, RabbitBus):
            await bus.delete_topology()


# How long an app's start-up and shutdown may take in a test: a service's start-up on a busy 2-core
# machine (a full test run beside a benchmark) has taken over 5 s, asgi-lifespan's default.
LIFESPAN_TIMEOUT_SECONDS = 60.0


def app_lifespan(app: Any) -> Any:
    """asgi-lifespan's LifespanManager for ``app``, with start-up and shutdown sized for a busy machine."""
    from asgi_lifespan import LifespanManager

    return LifespanManager(
        app, startup_timeout=LIFESPAN_TIMEOUT_SECONDS, shutdown_timeout=LIFESPAN_TIMEOUT_SECONDS
    )


@contextlib.asynccontextmanager
async def serving(
    app: Any, base_url: str, client: tuple[str, int] = ("127.0.0.1", 50000)
) -> AsyncIterator[Any]:
    """The app's lifespan and an HTTP client calling it in-process; its RabbitMQ queues removed after."""
    import httpx

    from aic_common.bus.rabbit import RabbitBus

    try:
        async with app_lifespan(app):
            transport = httpx.ASGITransport(app=app, client=client)
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
                yield http
    finally:
        if isinstance(app.state.runtime.bus, RabbitBus):  # once the app has stopped consuming
            await app.state.runtime.bus.delete_topology()


@contextlib.asynccontextmanager
async def served_on_loopback(app: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port, in this event loop; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
