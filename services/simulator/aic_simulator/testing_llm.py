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
A chooser names an option by its action and target; the server answers with that option's id, as the
prompt asks.

A :class:`Profile` makes the server behave as one kind of real server does, as documented, failures
included (``ScriptedLlmServer(profile="deepseek")``; see PROFILES): which ``response_format`` types it
holds the answer to, ignores or refuses with a 400; a thinking model's ``<think>`` block or reasoning
field, cut off where ``max_tokens`` ends; fences and prose around the JSON; options named by their
number; blank answers; 2-5 s latency; bursts of 429 and 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aic_simulator.testing_server import LoopbackServer
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
    text: str = ""  # text: the message content, sent as it is; status: the error's message
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


def status(code: int, *, times: int = 1, retry_after: float | None = None, message: str = "") -> list[Step]:
    """An error answer (the error's message: ``message``, or "scripted <code>")."""
    return [Step("status", status=code, retry_after=retry_after, text=message) for _ in range(times)]


def rate_limited(times: int = 1, retry_after: float | None = 0.2) -> list[Step]:
    return status(429, times=times, retry_after=retry_after)


def server_error(times: int = 1, code: int = 500) -> list[Step]:
    return status(code, times=times)


def _prompt(request: dict[str, Any], role: str) -> str:
    """The last message of ``role`` in a request."""
    messages = [m for m in request.get("messages", []) if m.get("role") == role]
    return str(messages[-1].get("content", "")) if messages else ""


def numbered_options_in(request: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """The options listed in a request's last user message (lines ``oN. {json} — label``): the id the
    answer names, what the option is, and its label."""
    decoder = json.JSONDecoder()
    options = []
    for line in _prompt(request, "user").splitlines():
        head, dot, rest = line.partition(". {")
        if not dot or not _OPTION_ID.fullmatch(head.strip()):
            continue
        try:
            value, end = decoder.raw_decode("{" + rest)
        except ValueError:
            continue
        if isinstance(value, dict) and "action" in value:
            options.append((head.strip(), value, ("{" + rest)[end:].removeprefix(" — ")))
    return options


_OPTION_ID = re.compile(r"o\d+")


def labelled_options_in(request: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The options listed in a request's last user message, with their labels."""
    return [(option, label) for _, option, label in numbered_options_in(request)]


def options_in(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The options listed in a request's last user message, as {"action": ..., "target": ...}."""
    return [option for option, _ in labelled_options_in(request)]


def in_answer_shape(decision: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A chooser's decision (an action and a target, as choosers read the options) as the model answers
    it: the id of the option with that action and target. A decision naming no offered option stays
    as it is, a model answering in a shape of its own."""
    if "action" not in decision or "option" in decision:
        return decision
    for option_id, option, _ in numbered_options_in(request):
        if option["action"] == decision["action"] and option.get("target") == decision.get("target"):
            shaped = {
                "option": option_id,
                "content": decision.get("content"),
                "reason": decision.get("reason", ""),
            }
            if "picture" in decision:  # a post's photo, when the prompt offers one
                shaped["picture"] = decision["picture"]
            return shaped
    return decision


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


# ---------------------------------------------------------------------- server profiles

HONOURS = "honours"  # the server holds the answer to the response_format (constrained decoding)
IGNORES = "ignores"  # the server takes the field and the model answers as it likes


@dataclass(frozen=True)
class Bursts:
    """Windows of ``length`` seconds every ``every`` seconds in which every call is refused, with a
    Retry-After of ``retry_after``: 429 in one window, ``status`` (a 5xx) in the next."""

    every: float = 0.5
    length: float = 0.1
    retry_after: float = 0.15
    status: int = 503


@dataclass(frozen=True)
class Profile:
    """How one kind of OpenAI-compatible server behaves, as its documentation says, failures included.

    ``formats`` says what it does with each ``response_format`` type: HONOURS, IGNORES, or the message
    of the 400 it answers. The model's own manner comes on top: how it writes when nothing holds it to
    JSON (``style``), whether it thinks first (``<think>`` in the content, or the reasoning in a field of
    its own) and for how many tokens, which the answer's ``max_tokens`` counts too (so a small room cuts
    the answer off, ``finish_reason`` "length"); how often it names an option by its number, how often
    it answers blank, how long it takes, and when it is overloaded."""

    name: str
    formats: dict[str, str] = field(default_factory=lambda: {"json_schema": HONOURS, "json_object": HONOURS})
    json_word: bool = False  # json_object wants the word "json" in the messages, or it answers 400
    strict_schema: bool = False  # a json_schema outside strict mode's subset is refused with a 400
    style: Literal["plain", "fenced", "prose"] = "plain"
    thinking: Literal["tags", "field"] | None = None
    reasoning_field: str = "reasoning_content"
    thinking_tokens: tuple[int, int] = (0, 0)
    numeric_ids: float = 0.0  # share of answers not held to a format that name the option by its number
    blank_rate: float = 0.0  # share of json_object answers that come back as spaces (DeepSeek)
    latency: tuple[float, float] = (0.0, 0.0)
    bursts: Bursts | None = None


_LM_STUDIO_REFUSAL = "'response_format.type' must be 'json_schema' or 'text'"
PROFILES: dict[str, Profile] = {
    # Structured outputs in strict mode; JSON mode wants "json" in the messages.
    "openai": Profile("openai", json_word=True, strict_schema=True),
    # JSON Output only: json_schema refused; json_object wants "json" in the prompt and now and then
    # answers blank; without a format the model likes to wrap its JSON in a few words.
    "deepseek": Profile(
        "deepseek",
        formats={"json_schema": "This response_format type is unavailable now", "json_object": HONOURS},
        json_word=True,
        style="prose",
        blank_rate=0.03,
    ),
    # Ollama's /v1: a schema becomes its grammar (format); a thinking model's reasoning comes in the
    # "reasoning" field, and num_predict (max_tokens) counts it.
    "ollama": Profile("ollama", thinking="field", reasoning_field="reasoning", thinking_tokens=(20, 120)),
    # vLLM's guided decoding holds the answer to json_schema (after the reasoning, which its reasoning
    # parser puts apart).
    "vllm": Profile("vllm", thinking="field", reasoning_field="reasoning", thinking_tokens=(30, 250)),
    # llama.cpp's server turns json_schema (and json_object) into a grammar; chatty without one.
    "llamacpp": Profile("llamacpp", style="fenced", numeric_ids=0.3),
    # LM Studio takes json_schema only.
    "lmstudio": Profile("lmstudio", formats={"json_schema": HONOURS, "json_object": _LM_STUDIO_REFUSAL}),
    # A thinking model served as it is: <think>...</think> before the JSON in the content, and the
    # thinking often longer than a decision's room, so the answer is cut off in it.
    "thinking": Profile(
        "thinking",
        formats={"json_schema": IGNORES, "json_object": IGNORES},
        thinking="tags",
        thinking_tokens=(100, 700),
    ),
    # DeepSeek-R1 style: the reasoning in reasoning_content, counted by max_tokens (long reasoning
    # leaves the content empty, cut off), and DeepSeek's formats.
    "reasoning": Profile(
        "reasoning",
        formats={"json_schema": "This response_format type is unavailable now", "json_object": HONOURS},
        json_word=True,
        thinking="field",
        thinking_tokens=(50, 600),
    ),
    # A server that takes response_format and does nothing with it; the model fences its JSON in prose
    # and often names the option by its number.
    "fenced": Profile(
        "fenced", formats={"json_schema": IGNORES, "json_object": IGNORES}, style="fenced", numeric_ids=0.5
    ),
    "slow": Profile("slow", latency=(2.0, 5.0)),
    # Overloaded now and then: bursts of 429 and 503, each with a Retry-After.
    "flaky": Profile("flaky", bursts=Bursts()),
}
PLAIN = Profile("plain")  # takes everything, answers plain JSON: the scripted server's default


def strict_schema_problem(schema: Any, where: str = "()") -> str | None:
    """Why ``schema`` is outside OpenAI's strict mode (every property required, no additional
    properties, none of the keywords it does not support), or None."""
    if not isinstance(schema, dict):
        return None
    unsupported = {"minLength", "maxLength", "pattern", "format", "minItems", "maxItems", "default"} & set(
        schema
    )
    if unsupported:
        return f"In context={where}, '{sorted(unsupported)[0]}' is not permitted."
    properties = schema.get("properties")
    if schema.get("type") == "object" or properties is not None:
        if schema.get("additionalProperties") is not False:
            return f"In context={where}, 'additionalProperties' is required to be supplied and to be false."
        missing = sorted(set(properties or {}) - set(schema.get("required", [])))
        if missing:
            return (
                f"In context={where}, 'required' is required to be supplied and to be an array including "
                f"every key in properties. Missing '{missing[0]}'."
            )
    for key, sub in (properties or {}).items():
        if (problem := strict_schema_problem(sub, f"('properties', '{key}')")) is not None:
            return problem
    return strict_schema_problem(schema.get("items"), "('items',)") if "items" in schema else None


def _mentions_json(body: dict[str, Any]) -> bool:
    return any("json" in str(m.get("content", "")).lower() for m in body.get("messages", []))


def profile_refusal(profile: Profile, body: dict[str, Any]) -> str | None:
    """The message of the 400 ``profile`` answers to ``body`` for its response_format, or None."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return None
    kind = str(response_format.get("type"))
    handling = profile.formats.get(
        kind, HONOURS if kind == "text" else f"unknown response_format type {kind!r}"
    )
    if handling not in (HONOURS, IGNORES):
        return handling
    if kind == "json_object" and profile.json_word and not _mentions_json(body):
        return (
            "Prompt must contain the word 'json' in some form to use 'response_format' of type 'json_object'."
        )
    if kind == "json_schema" and profile.strict_schema:
        spec = response_format.get("json_schema") or {}
        problem = strict_schema_problem(spec.get("schema"))
        if problem is not None:
            return f"Invalid schema for response_format '{spec.get('name')}': {problem}"
    return None


def _thoughts(tokens: int) -> str:
    """A model's reasoning of about ``tokens`` tokens (four characters each), with a decision of its own
    in it that no client may ever take for the answer."""
    decoy = 'Maybe {"option": "o1", "content": "DECOY from my reasoning", "reason": "thinking"}? No. '
    filler = "Let me weigh what is on offer here. "
    text = decoy + filler * (tokens * 4 // len(filler) + 1)
    return text[: max(tokens, 1) * 4]


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


class ScriptedLlmServer(LoopbackServer):
    thread_name = "scripted-llm"

    def __init__(
        self,
        *,
        latency: float = 0.0,
        default: Step | None = None,
        planning: Step | None = None,
        model: str = "scripted",
        host: str = "127.0.0.1",
        profile: Profile | str | None = None,
        seed: int = 7,
    ) -> None:
        self.latency = latency
        # How the server and its model behave (PROFILES); by default it takes everything, plain JSON.
        self.profile = PROFILES[profile] if isinstance(profile, str) else (profile or PLAIN)
        self._rng = random.Random(seed)  # noqa: S311 - a stand-in model's whims
        self._started = time.monotonic()
        self.default = default or answer()
        # Every plan request takes this step (set it to script how plans fail).
        self.planning = planning or answer(plan_answer())
        self.model = model
        self.host = host
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._steps: deque[Step] = deque()
        self._lock = threading.Lock()
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
        self._started = time.monotonic()
        return super().start()

    # ------------------------------------------------------------------ handlers

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        record = RecordedRequest(time.monotonic(), body, dict(request.headers))
        planning = is_plan_request(body)
        # The server's own refusals come before the script: they use up no step.
        refusal = profile_refusal(self.profile, body)
        overloaded = self._overloaded()
        with self._lock:
            step: Step | None = None
            if refusal is None and overloaded is None:
                step = self.planning if planning else self._next_step()
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if refusal is not None:
                record.step, record.status = "refused", 400
                error = {"error": {"message": refusal, "type": "invalid_request_error", "code": 400}}
                return JSONResponse(error, status_code=400)
            if overloaded is not None:
                record.step, record.status = "overloaded", overloaded[0]
                return _error(*overloaded)
            assert step is not None
            record.step = step.kind
            delay = self.latency + step.delay + self._rng.uniform(*self.profile.latency)
            if not await _pause(request, delay):
                record.disconnected = True
                return Response(status_code=499)
            response = self._respond(step, body)
            record.status = response.status_code
            return response
        finally:
            record.finished_at = time.monotonic()
            with self._lock:
                self.in_flight -= 1

    def _overloaded(self) -> tuple[int, float] | None:
        """(status, Retry-After) while the profile's bursts say the server is overloaded."""
        bursts = self.profile.bursts
        if bursts is None:
            return None
        elapsed = time.monotonic() - self._started
        if elapsed % bursts.every >= bursts.length:
            return None
        window = int(elapsed // bursts.every)
        return (429 if window % 2 == 0 else bursts.status), bursts.retry_after

    def _respond(self, step: Step, body: dict[str, Any]) -> Response:
        if step.kind == "status":
            return _error(step.status, step.retry_after, step.text or f"scripted {step.status}")
        if step.kind == "text":
            return self._completion(body, step.text)
        decision = step.decision if step.decision is not None else (step.choose or first_option)(body)
        said = in_answer_shape(decision, body)
        if step.fence:
            text = json.dumps(said, ensure_ascii=False)
            return self._completion(body, f"Sure, here is my choice:\n```json\n{text}\n```\nHope that helps.")
        return self._as_the_model(body, said)

    def _as_the_model(self, body: dict[str, Any], said: dict[str, Any]) -> Response:
        """An answer as the profile's model writes it: held to the format, or in its own manner;
        after its thinking, and cut off where the room for it ends."""
        profile, rng = self.profile, self._rng
        response_format = body.get("response_format") if isinstance(body.get("response_format"), dict) else {}
        kind = str(response_format.get("type", ""))
        held = profile.formats.get(kind) == HONOURS
        if not held and isinstance(said.get("option"), str) and rng.random() < profile.numeric_ids:
            said = {**said, "option": int(said["option"].removeprefix("o"))}
        text = json.dumps(said, ensure_ascii=False)
        if held and kind == "json_object" and rng.random() < profile.blank_rate:
            text = "  "  # DeepSeek's JSON mode: what it cannot give as JSON comes back as spaces
        elif not held and profile.style == "fenced":
            text = f"Here is what I choose:\n```json\n{text}\n```\nHope that helps."
        elif not held and profile.style == "prose":
            text = f"OK. {text} That is my choice."
        thinking = rng.randint(*profile.thinking_tokens) if profile.thinking else 0
        room = body.get("max_tokens") or body.get("max_completion_tokens")
        finish = "stop"
        if isinstance(room, int) and thinking + len(text) // 4 > room:
            finish = "length"
            thinking = min(thinking, room)
            text = text[: max(room - thinking, 0) * 4]
        thought = _thoughts(thinking) if thinking else ""
        reasoning = None
        if profile.thinking == "tags" and thinking:
            closed = finish == "stop" or bool(text)
            text = f"<think>{thought}" + (f"</think>\n{text}" if closed else "")
        elif profile.thinking == "field":
            reasoning = thought
        return self._completion(body, text, reasoning=reasoning, finish=finish, thinking_tokens=thinking)

    def _completion(
        self,
        body: dict[str, Any],
        content: str,
        *,
        reasoning: str | None = None,
        finish: str = "stop",
        thinking_tokens: int = 0,
    ) -> Response:
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        # Roughly four characters a token: enough for the client's accounting to be checked.
        prompt_tokens = max(prompt // 4, 1)
        completion_tokens = max(len(content) // 4, 1) + (thinking_tokens if reasoning is not None else 0)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reasoning is not None:
            message[self.profile.reasoning_field] = reasoning
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.model),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )


def _error(status: int, retry_after: float | None, message: str = "") -> Response:
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    error = {
        "error": {"message": message or f"overloaded ({status})", "type": "server_error", "code": status}
    }
    return JSONResponse(error, status_code=status, headers=headers)


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
