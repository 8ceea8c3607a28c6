"""A scripted OpenAI-compatible server on loopback, for the tests and benchmarks of the LLM tier.

Each ``POST /v1/chat/completions`` takes the next scripted :class:`Step` (or ``default`` once the
script is used up): a valid decision chosen from the request, a slow answer, malformed text, an
action not offered, or an error status (429 with Retry-After, 500...). ``latency`` adds a fixed delay
to every call, for measuring how well the client keeps its concurrency slots busy. Every request is
recorded. The server runs in its own thread (its own event loop), so a busy client cannot slow it
down and synchronous code (a benchmark script) can use it too::

    with ScriptedLlmServer() as server:
        server.script(rate_limited(times=1, retry_after=0.2))
        policy = LlmPolicy(server.base_url, "scripted")
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Chooser = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    """What the server does for one call."""

    kind: Literal["answer", "text", "status"] = "answer"
    delay: float = 0.0  # seconds to wait before answering (on top of the server's latency)
    choose: Chooser | None = None  # answer: picks the decision from the request (default: first option)
    decision: dict[str, Any] | None = None  # answer: a fixed decision instead
    fence: bool = False  # answer: wrap the JSON in prose and a ```json fence
    text: str = ""  # text: the message content, sent as it is
    status: int = 200  # status: the error status
    retry_after: float | None = None  # status: the Retry-After header, in seconds


def answer(choose: Chooser | None = None, *, delay: float = 0.0, fence: bool = False) -> Step:
    return Step("answer", delay=delay, choose=choose, fence=fence)


def fixed(decision: dict[str, Any], *, delay: float = 0.0) -> Step:
    return Step("answer", delay=delay, decision=decision)


def slow(seconds: float, choose: Chooser | None = None) -> Step:
    return Step("answer", delay=seconds, choose=choose)


def malformed(text: str = '{"action": "rest", "reason": ') -> Step:
    return Step("text", text=text)


def not_offered(action: str = "fly", target: str | None = None) -> Step:
    return fixed({"action": action, "target": target, "content": None, "reason": "scripted"})


def status(code: int, *, times: int = 1, retry_after: float | None = None) -> list[Step]:
    return [Step("status", status=code, retry_after=retry_after) for _ in range(times)]


def rate_limited(times: int = 1, retry_after: float | None = 0.2) -> list[Step]:
    return status(429, times=times, retry_after=retry_after)


def server_error(times: int = 1, code: int = 500) -> list[Step]:
    return status(code, times=times)


def options_in(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The options listed in a request's last user message (lines ``N. {json} — label``)."""
    messages = [m for m in request.get("messages", []) if m.get("role") == "user"]
    if not messages:
        return []
    decoder = json.JSONDecoder()
    options = []
    for line in str(messages[-1].get("content", "")).splitlines():
        head, dot, rest = line.partition(". {")
        if not dot or not head.strip().isdigit():
            continue
        try:
            value, _ = decoder.raw_decode("{" + rest)
        except ValueError:
            continue
        if isinstance(value, dict) and "action" in value:
            options.append(value)
    return options


def choose_action(action: str, content: str = "scripted words") -> Chooser:
    """A chooser taking the first option with ``action`` (or the first option when none has it)."""

    def choose(request: dict[str, Any]) -> dict[str, Any]:
        options = options_in(request)
        picked = next((o for o in options if o["action"] == action), options[0] if options else {})
        return {
            "action": picked.get("action", action),
            "target": picked.get("target"),
            "content": content,
            "reason": "scripted",
        }

    return choose


def first_option(request: dict[str, Any]) -> dict[str, Any]:
    options = options_in(request)
    picked = options[0] if options else {"action": "rest", "target": None}
    return {
        "action": picked["action"],
        "target": picked.get("target"),
        "content": "scripted words",
        "reason": "scripted",
    }


@dataclass
class RecordedRequest:
    received_at: float  # time.monotonic() when the request arrived
    body: dict[str, Any]
    headers: dict[str, str]
    step: str = ""
    status: int = 0
    finished_at: float | None = None
    disconnected: bool = False  # the client went away before the answer (e.g. its timeout)
    extra: dict[str, Any] = field(default_factory=dict)


class ScriptedLlmServer:
    def __init__(
        self,
        *,
        latency: float = 0.0,
        default: Step | None = None,
        model: str = "scripted",
        host: str = "127.0.0.1",
    ) -> None:
        self.latency = latency
        self.default = default or answer()
        self.model = model
        self.host = host
        self.port = 0
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._steps: deque[Step] = deque()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *steps: Step | Iterable[Step]) -> None:
        """Queue steps for the next calls, in order."""
        with self._lock:
            for item in steps:
                self._steps.extend([item] if isinstance(item, Step) else item)

    def pending(self) -> int:
        with self._lock:
            return len(self._steps)

    def reset(self) -> None:
        with self._lock:
            self._steps.clear()
            self.requests.clear()
            self.max_in_flight = self.in_flight

    # ------------------------------------------------------------------ running

    def start(self) -> ScriptedLlmServer:
        # Bound here, before the thread starts, so the port is known and cannot be taken meanwhile.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            backlog=2048,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="scripted-llm", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the scripted LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._server = None
        self._thread = None

    def __enter__(self) -> ScriptedLlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> ScriptedLlmServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # ------------------------------------------------------------------ handlers

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        record = RecordedRequest(time.monotonic(), body, dict(request.headers))
        with self._lock:
            step = self._steps.popleft() if self._steps else self.default
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        record.step = step.kind
        try:
            if not await _pause(request, self.latency + step.delay):
                record.disconnected = True
                return Response(status_code=499)
            response = self._respond(step, body)
            record.status = response.status_code
            return response
        finally:
            record.finished_at = time.monotonic()
            with self._lock:
                self.in_flight -= 1

    def _respond(self, step: Step, body: dict[str, Any]) -> Response:
        if step.kind == "status":
            headers = {} if step.retry_after is None else {"Retry-After": f"{step.retry_after:g}"}
            error = {"error": {"message": f"scripted {step.status}", "type": "scripted", "code": step.status}}
            return JSONResponse(error, status_code=step.status, headers=headers)
        if step.kind == "text":
            return self._completion(body, step.text)
        decision = step.decision if step.decision is not None else (step.choose or first_option)(body)
        text = json.dumps(decision, ensure_ascii=False)
        if step.fence:
            text = f"Sure, here is my choice:\n```json\n{text}\n```\nHope that helps."
        return self._completion(body, text)

    def _completion(self, body: dict[str, Any], content: str) -> Response:
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        # Roughly four characters a token: enough for the client's accounting to be checked.
        prompt_tokens, completion_tokens = max(prompt // 4, 1), max(len(content) // 4, 1)
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.model),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )


async def _pause(request: Request, seconds: float) -> bool:
    """Sleep ``seconds``; False as soon as the client disconnects (so a slow step ends with it)."""
    if seconds <= 0:
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(left, 0.05))
        if await request.is_disconnected():
            return False
    return True
