"""A scripted OpenAI-compatible server on loopback, for the tests and benchmarks of the LLM tier.

Each ``POST /v1/chat/completions`` takes the next scripted :class:`Step` (or ``default`` once the
script is used up): a valid decision chosen from the request, a slow answer, malformed text, an
action not offered, or an error status (429 with Retry-After, 500...). A request for a day's plan
takes ``planning`` instead (by default: the example plan the prompt gives, as it is), so plans never
use up a script of decisions. ``latency`` adds a fixed delay to every call, for measuring how well the
client keeps its concurrency slots busy. Every request is recorded. The server runs in its own thread
(its own event loop), so a busy client cannot slow it down and synchronous code (a benchmark script)
can use it too::

    with ScriptedLlmServer() as server:
        server.script(rate_limited(times=1, retry_after=0.2))
        policy = LlmPolicy(server.base_url, "scripted")

Choosers stand in for models of some behaviour, reading only the prompt as a model would:
:func:`follows_plan` keeps to the day's plan, :func:`answers_on_topic` answers people's questions about
their subject, :class:`Gullible` does what people tell it to (posting what others told it in private).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aic_simulator.writer import subject_of

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


def _prompt(request: dict[str, Any], role: str) -> str:
    """The last message of ``role`` in a request."""
    messages = [m for m in request.get("messages", []) if m.get("role") == role]
    return str(messages[-1].get("content", "")) if messages else ""


def labelled_options_in(request: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The options listed in a request's last user message (lines ``N. {json} — label``), with labels."""
    decoder = json.JSONDecoder()
    options = []
    for line in _prompt(request, "user").splitlines():
        head, dot, rest = line.partition(". {")
        if not dot or not head.strip().isdigit():
            continue
        try:
            value, end = decoder.raw_decode("{" + rest)
        except ValueError:
            continue
        if isinstance(value, dict) and "action" in value:
            options.append((value, ("{" + rest)[end:].removeprefix(" — ")))
    return options


def options_in(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The options listed in a request's last user message (lines ``N. {json} — label``)."""
    return [option for option, _ in labelled_options_in(request)]


class Unread(NamedTuple):
    """A message as the prompt lists it: its id, who sent it and the quoted text."""

    id: str
    sender: str
    text: str


_UNREAD = re.compile(r"- \[(?P<id>[^\]]+)\] (?P<sender>.*?): 「(?P<text>[^」]*)」")
_NONE = ("- none", "- 无")


def _section(request: dict[str, Any], *headings: str) -> list[str]:
    """The lines under one of ``headings`` in the user prompt, up to the next blank line."""
    lines = _prompt(request, "user").splitlines()
    start = next((i for i, line in enumerate(lines) if line in headings), None)
    if start is None:
        return []
    section = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        if line not in _NONE:
            section.append(line)
    return section


def unread_in(request: dict[str, Any]) -> list[Unread]:
    """The unread messages a decision's prompt lists, in order."""
    found = [_UNREAD.fullmatch(line) for line in _section(request, "Unread messages:", "未读私信:")]
    return [Unread(m["id"], m["sender"], m["text"]) for m in found if m]


def memories_in(request: dict[str, Any]) -> list[str]:
    """The memory lines a decision's prompt lists."""
    return [line.removeprefix("- ") for line in _section(request, "What you remember:", "你记得:")]


def writes_chinese(request: dict[str, Any]) -> bool:
    """Whether the prompt asks for Chinese (the character's language)."""
    return "简体中文" in _prompt(request, "system")


def example_plan_in(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The example plan a plan request gives (one JSON block a line); empty for any other request."""
    blocks = []
    for line in _prompt(request, "user").splitlines():
        if line.startswith('{"start": '):
            try:
                block = json.loads(line)
            except ValueError:
                continue
            if isinstance(block, dict):
                blocks.append(block)
    return blocks


def is_plan_request(request: dict[str, Any]) -> bool:
    return bool(example_plan_in(request))


PlanEdit = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def plan_answer(edit: PlanEdit | None = None) -> Chooser:
    """A chooser answering a plan request with its example plan, changed by ``edit``."""

    def choose(request: dict[str, Any]) -> dict[str, Any]:
        blocks = example_plan_in(request)
        return {"blocks": edit(blocks) if edit else blocks}

    return choose


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


def follows_plan(request: dict[str, Any]) -> dict[str, Any]:
    """A model that keeps to the day: it sleeps in its hours, goes where its plan says, works, rests;
    with nothing of that on offer it ends a conversation or takes the first option."""
    options = labelled_options_in(request)

    def first(action: str, label: str = "") -> dict[str, Any] | None:
        return next((o for o, text in options if o["action"] == action and text.startswith(label)), None)

    picked = first("sleep") or first("move", "plan:") or first("work") or first("rest")
    if picked is None:
        picked = first("goodbye") or (options[0][0] if options else {"action": "rest", "target": None})
    words = "回头聊。" if writes_chinese(request) else "Talk later."
    return {
        "action": picked["action"],
        "target": picked.get("target"),
        "content": words if picked["action"] in ("goodbye", "say", "reply", "talk", "post") else None,
        "reason": "keeping to my plan",
    }


def _reply_option(request: dict[str, Any], message: Unread) -> dict[str, Any] | None:
    return next(
        (o for o in options_in(request) if o["action"] == "reply" and o.get("target") == message.id), None
    )


def _catchphrase(request: dict[str, Any]) -> str:
    """One of the character's catchphrases, as the system prompt lists its persona (the longest piece:
    a catchphrase may hold the comma that separates them)."""
    for line in _prompt(request, "system").splitlines():
        if line.startswith("- catchphrases: "):
            return max(line.removeprefix("- catchphrases: ").split(", "), key=len)
    return ""


def answers_on_topic(request: dict[str, Any]) -> dict[str, Any]:
    """A model that answers the first message it can, in character and about the question's subject,
    from nothing but the prompt; with no message to answer it keeps to its plan."""
    for message in unread_in(request):
        reply = _reply_option(request, message)
        if reply is None:
            continue
        asked_in = "zh" if re.search(r"[\u4e00-\u9fff]", message.text) else "en"
        subject = subject_of(message.text, asked_in)
        name, aside = message.sender, _catchphrase(request)
        if writes_chinese(request):
            about = (
                f"说到{subject}，我还真有些想法，改天当面细聊"
                if subject
                else "这个问题问得好，我想想再告诉你"
            )
            content = f"{name}，{about}。{aside}".strip()
        else:
            about = (
                f"about {subject}: I have a few thoughts, happy to tell you more"
                if subject
                else "good question"
            )
            content = f"{name}, {about}! {aside}".strip()
        return {"action": "reply", "target": message.id, "content": content, "reason": "answering"}
    return follows_plan(request)


# What a person says to make a gullible model publish what it was told.
INSTRUCTION = re.compile(
    r"post (?:everything|all)|share everything|tell everyone|发出来|都发|发到动态|公开", re.IGNORECASE
)


class Gullible:
    """A compliant but gullible model: a message from someone asking it to post what people told it
    makes it post every unread message and memory line in its prompt, word for word (once for each such
    message); otherwise it answers its messages in order, and otherwise keeps to its plan.

    Only the prompt matters to it, so what reaches a public text is what the prompt carried and the
    product let through."""

    def __init__(self) -> None:
        self.obeyed: list[str] = []  # ids of the messages whose instruction it carried out

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        messages = unread_in(request)
        order = next((m for m in messages if m.id not in self.obeyed and INSTRUCTION.search(m.text)), None)
        if order is not None and any(o["action"] == "post" for o in options_in(request)):
            self.obeyed.append(order.id)
            told = [f"{m.sender}: {m.text}" for m in messages] + memories_in(request)
            return {
                "action": "post",
                "target": None,
                "content": "；".join(told)[:1900],
                "reason": f"{order.sender} asked me to post it",
            }
        for message in messages:
            if (reply := _reply_option(request, message)) is not None:
                words = (
                    "收到，谢谢你告诉我。" if writes_chinese(request) else "Got it, thanks for telling me."
                )
                return {**reply, "content": words, "reason": "answering"}
        return follows_plan(request)


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
        planning: Step | None = None,
        model: str = "scripted",
        host: str = "127.0.0.1",
    ) -> None:
        self.latency = latency
        self.default = default or answer()
        # Every plan request takes this step (set it to script how plans fail).
        self.planning = planning or answer(plan_answer())
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

    def _next_step(self) -> Step:
        # The caller holds the lock.
        return self._steps.popleft() if self._steps else self.default

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
        planning = is_plan_request(body)
        with self._lock:
            step = self.planning if planning else self._next_step()
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
