"""Every answer the LLM gave, kept, so that a run can be replayed exactly, forked and taken elsewhere.

:class:`RecordingTransport` sits under the LLM tier's HTTP client (``AIC_LLM_MODE``): ``live`` passes
requests through, ``record`` passes them through and stores each exchange in ``llm_answers``, and
``replay`` answers from the store without calling any server; a request the run never made raises
:class:`NotRecorded`, which the tiers turn into a rules decision with the reason "not recorded".
Working at the HTTP layer, it stores what the server said, whatever the client makes of it (retries,
parsing, structured output).

An exchange is found by the hash of its request made canonical (its JSON with sorted keys) and by the
number of times the run sent that very request before (a retry, the same prompt again). Account ids
differ from run to run of the same seed (the accounts are new UUIDs), and so do the social network's
ids of direct messages once people took part (their messages are numbered among the characters', and
a replay's network has not got them: see people.py), so both are hashed as their order of appearance
and a replayed answer names the accounts and messages of this run.

A database holds one run: its answers carry the name of the branch that recorded them (``main``, or the
fork's name, see :func:`fork`). In record mode an exchange the branch already holds is given
again rather than asked anew: a fork replays its parent's answers up to the fork and records what comes
after, and a restarted run that asks again what it asked before its last checkpoint gets the same answer.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, NamedTuple

import httpx
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import Outbox
from aic_common.db import create_db_engine, create_session_factory, run_in_thread, utc_now
from aic_simulator.llm import UNREAD_MESSAGES
from aic_simulator.models import ActionLog, Agent, GameEvent, LlmAnswer, Location, PersonInput, SimState
from aic_simulator.settings import SimulatorSettings
from aic_simulator.tiers import PolicyError
from aic_simulator.world import seed_world

Mode = Literal["live", "record", "replay"]
MAIN_BRANCH = "main"
ACCOUNT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# A direct message's id as a prompt names it: its line among the unread messages ("- [12] ...", under
# the heading of llm.user_prompt) and the target of an option answering it, in the request's JSON text
# (newlines and quotes escaped). A replayed person's message goes by its id negated (people.py).
UNREAD_HEADINGS = tuple(f"{heading}:" for heading in UNREAD_MESSAGES)
UNREAD_LINE = re.compile(r"- \[(-?\d+)\]")
MESSAGE_TARGET = re.compile(r'(\\"action\\": \\"(?:reply|goodbye)\\", \\"target\\": \\")(-?\d+)(?=\\")')
# The message an answer names, if it names an action and target rather than an option's id.
ANSWER_TARGET = re.compile(
    r'(\\*"action\\*"\s*:\s*\\*"(?:reply|goodbye)\\*"\s*,\s*\\*"target\\*"\s*:\s*\\*")(-?\d+)'
)
# The headers a client acts on: the rest (dates, server names, lengths) would only make answers differ.
KEPT_HEADERS = ("content-type", "retry-after", "retry-after-ms")
# What the LLM tier's own client allows a request (LlmPolicy.request_timeout's default).
REQUEST_TIMEOUT_SECONDS = 120.0


class NotRecorded(PolicyError):
    """Replay met a request the recorded run never made."""

    def __init__(self) -> None:
        super().__init__("not recorded")


class Canonical(NamedTuple):
    """A request as its key sees it (JSON, keys sorted, account ids and direct messages' ids numbered by
    first appearance), and those ids in that order."""

    text: str
    accounts: list[str]
    messages: list[str]


def canonical(body: Any) -> Canonical:
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    accounts: dict[str, str] = {}
    text = ACCOUNT_ID.sub(
        lambda m: accounts.setdefault(m.group(0).lower(), f"<account {len(accounts) + 1}>"), text
    )
    messages: dict[str, str] = {}

    def numbered(ref: str) -> str:
        return messages.setdefault(ref, f"<message {len(messages) + 1}>")

    lines = text.split("\\n")  # the prompt's lines, its newlines escaped in the JSON text
    unread = False
    for index, line in enumerate(lines):
        match = UNREAD_LINE.match(line) if unread else None
        if match is not None:
            lines[index] = f"- [{numbered(match.group(1))}]{line[match.end() :]}"
        unread = match is not None or line.endswith(UNREAD_HEADINGS)
    text = MESSAGE_TARGET.sub(lambda m: m.group(1) + numbered(m.group(2)), "\\n".join(lines))
    return Canonical(text, list(accounts), list(messages))


def request_key(body: Any) -> str:
    return hashlib.sha256(canonical(body).text.encode()).hexdigest()


def with_accounts(text: str, recorded: list[str], now: list[str]) -> str:
    """A recorded answer naming this run's accounts where the recorded run's stood in the request."""
    renamed = dict(zip(recorded, now, strict=False))
    return ACCOUNT_ID.sub(lambda m: renamed.get(m.group(0).lower(), m.group(0)), text)


def with_messages(text: str, recorded: list[str], now: list[str]) -> str:
    """A recorded answer replying to this run's message where the recorded run's stood in the request."""
    renamed = dict(zip(recorded, now, strict=False))
    return ANSWER_TARGET.sub(lambda m: m.group(1) + renamed.get(m.group(2), m.group(2)), text)


@dataclass(frozen=True)
class Exchange:
    """One request and what came back, as stored."""

    request: Any
    status: int  # 0: no HTTP answer, ``body`` names the transport error
    headers: dict[str, str]
    body: str


class AnswerStore:
    """The ``llm_answers`` of the branch this database holds."""

    def __init__(self, session_factory: sessionmaker[Session], branch: str | None = None) -> None:
        self.session_factory = session_factory
        self._branch = branch

    @property
    def branch(self) -> str:
        if self._branch is None:
            with self.session_factory() as session:
                self._branch = branch_of(session)
        return self._branch

    def find(self, key: str, occurrence: int) -> Exchange | None:
        with self.session_factory() as session:
            row = session.scalar(
                sa.select(LlmAnswer).where(
                    LlmAnswer.branch == self.branch, LlmAnswer.key == key, LlmAnswer.occurrence == occurrence
                )
            )
            return None if row is None else Exchange(row.request, row.status, dict(row.headers), row.body)

    def add(self, key: str, occurrence: int, exchange: Exchange) -> None:
        row = LlmAnswer(
            branch=self.branch,
            key=key,
            occurrence=occurrence,
            request=exchange.request,
            status=exchange.status,
            headers=exchange.headers,
            body=exchange.body,
            created_at=utc_now(),
        )
        try:
            with self.session_factory.begin() as session:
                session.add(row)
        except IntegrityError:
            pass  # already recorded (an instance that led before this one asked it too): the first stays


def branch_of(session: Session) -> str:
    """The branch whose answers this database holds: the one that recorded last, ``main`` before any."""
    newest = session.scalar(sa.select(LlmAnswer.branch).order_by(LlmAnswer.id.desc()).limit(1))
    return newest or MAIN_BRANCH


class RecordingTransport(httpx.AsyncBaseTransport):
    """An HTTP transport for the LLM tier's client that records or replays what the server answers."""

    def __init__(
        self, mode: Mode, store: AnswerStore | None = None, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if mode != "live" and store is None:
            raise ValueError(f"{mode} needs a store of answers")
        self.mode = mode
        self.store = store
        self.inner = inner or httpx.AsyncHTTPTransport()
        self._sent: Counter[str] = Counter()  # requests sent by key: the next one's occurrence
        self.replayed = 0
        self.recorded = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.mode == "live":
            return await self.inner.handle_async_request(request)
        assert self.store is not None
        body = _json(await request.aread())
        sent = canonical(body)
        key = hashlib.sha256(sent.text.encode()).hexdigest()
        # Counted when sent, not when answered, so that a replay numbers requests as the run did.
        occurrence = self._sent[key]
        self._sent[key] += 1
        stored = await run_in_thread(self.store.find, key, occurrence)
        if stored is not None:
            self.replayed += 1
            return _answer(stored, sent, request)
        if self.mode == "replay":
            raise NotRecorded()
        exchange = await self._ask(request, body)
        await run_in_thread(self.store.add, key, occurrence, exchange)
        self.recorded += 1
        return _answer(exchange, sent, request)

    async def _ask(self, request: httpx.Request, body: Any) -> Exchange:
        """The server's answer, read whole: a transport error is an answer too (``status`` 0)."""
        try:
            response = await self.inner.handle_async_request(request)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            return Exchange(body, 0, {}, type(exc).__name__)
        headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
        return Exchange(body, response.status_code, headers, content.decode("utf-8", errors="replace"))

    async def aclose(self) -> None:
        await self.inner.aclose()


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", errors="replace")  # keyed by its text


def _answer(exchange: Exchange, sent: Canonical, request: httpx.Request) -> httpx.Response:
    """What the client gets: the stored answer (the same whether just recorded or replayed), naming the
    accounts and messages of this run; a stored transport error is raised again, for the client to retry as
    it did."""
    if exchange.status == 0:
        error = getattr(httpx, exchange.body, None)
        if not (isinstance(error, type) and issubclass(error, httpx.TransportError)):
            error = httpx.TransportError
        raise error(f"recorded: {exchange.body}", request=request)
    recorded = canonical(exchange.request)
    body = with_accounts(exchange.body, recorded.accounts, sent.accounts)
    body = with_messages(body, recorded.messages, sent.messages)
    return httpx.Response(
        exchange.status, headers=exchange.headers, content=body.encode("utf-8"), request=request
    )


def recording_client(
    settings: SimulatorSettings,
    session_factory: sessionmaker[Session] | None = None,
    *,
    timeout: float = REQUEST_TIMEOUT_SECONDS,
) -> httpx.AsyncClient | None:
    """The LLM tier's HTTP client for ``AIC_LLM_MODE`` record and replay; None when live (the tier makes
    its own). Without ``session_factory`` it opens the simulator database itself."""
    if settings.llm_mode == "live":
        return None
    if session_factory is None:
        session_factory = create_session_factory(create_db_engine(settings.resolved_database_url()))
    slots = settings.llm_concurrency
    limits = httpx.Limits(max_connections=slots, max_keepalive_connections=slots)
    transport = RecordingTransport(
        settings.llm_mode, AnswerStore(session_factory), httpx.AsyncHTTPTransport(limits=limits)
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout)


# ---------------------------------------------------------------------- runs as files

RUN_FORMAT = "aic-simulation-run"
RUN_VERSION = 2  # 2: people's input ("people"); requests keyed with direct messages' ids numbered
LOG_FIELDS = (
    "decision",
    "step",
    "agent_id",
    "sim_time",
    "ends_at",
    "action",
    "target",
    "content",
    "location_id",
    "tier",
    "fallback_reason",
    "trace",
    "outcome",
    "result",
    "result_detail",
    "command_id",
    "created_at",
)
# An operator's event (the world file's are laid out again from it), with its id: prompts name events by id.
EVENT_FIELDS = (
    "id",
    "key",
    "title",
    "description",
    "location_id",
    "starts_at",
    "ends_at",
    "effects",
    "kind",
    "source",
)


class RunFileError(ValueError):
    """A run that cannot be exported, or a file or database it cannot be imported into."""


def export_run(
    session_factory: sessionmaker[Session],
    world: dict[str, Any],
    start: datetime,
    *,
    until_checkpoint: bool = False,
) -> dict[str, Any]:
    """The run a database holds, as one document: the world it started from (``world``, the world file
    it was seeded with, checked against the database), the events operators added, the seed and start,
    the checkpoint, the action log, the recorded answers and what people did that the characters took in
    (people.py). ``until_checkpoint``: only what the checkpoint holds (the answers and people's input
    recorded before it was written, the log up to its step)."""
    with session_factory() as session:
        _check_world(session, world)
        state = session.get(SimState, 1)
        log = sa.select(ActionLog).order_by(ActionLog.decision)
        answers = sa.select(LlmAnswer).where(LlmAnswer.branch == branch_of(session)).order_by(LlmAnswer.id)
        people = sa.select(PersonInput).order_by(PersonInput.id)
        if until_checkpoint:
            if state is None:
                raise RunFileError("the simulation has no checkpoint yet")
            log = log.where(ActionLog.step <= state.steps)
            answers = answers.where(LlmAnswer.created_at <= state.updated_at)
            people = people.where(PersonInput.created_at <= state.updated_at)
        events = session.scalars(
            sa.select(GameEvent).where(GameEvent.source != "world").order_by(GameEvent.id)
        )
        return {
            "format": RUN_FORMAT,
            "version": RUN_VERSION,
            "branch": branch_of(session),
            "seed": state.seed if state is not None else None,
            "start": start.isoformat(),
            "checkpoint": None if state is None else _checkpoint(state),
            "world": world,
            "events": [_row(event, EVENT_FIELDS) for event in events],
            "log": [_row(row, LOG_FIELDS) for row in session.scalars(log)],
            "answers": [_answer_row(row) for row in session.scalars(answers)],
            "people": [_row(row, PEOPLE_FIELDS) for row in session.scalars(people)],
        }


def import_run(
    document: dict[str, Any],
    session_factory: sessionmaker[Session],
    outbox: Outbox,
    *,
    branch: str | None = None,
) -> None:
    """Load an exported run into an empty, migrated simulator database: the world as it started (seeded
    as the simulator seeds it, the operators' events with their ids), the recorded answers, under
    ``branch`` when given, and people's input, for the run to give it to the characters again at its
    step. The log stays in the document: a replay writes it again. A version 1 document (no people's
    input) has its answers keyed again as this version keys requests."""
    version = document.get("version")
    if document.get("format") != RUN_FORMAT or version not in (1, RUN_VERSION):
        raise RunFileError(f"not a run exported by this version ({RUN_FORMAT} {RUN_VERSION})")
    answers = document["answers"] if version == RUN_VERSION else _keyed_again(document["answers"])
    with session_factory() as session:
        for table in (SimState, Agent, ActionLog, LlmAnswer, PersonInput):
            if session.scalar(sa.select(sa.func.count()).select_from(table)):
                raise RunFileError(f"the database is not empty ({table.__tablename__} has rows)")
    seed_world(session_factory, outbox, document["world"], datetime.fromisoformat(document["start"]))
    with session_factory.begin() as session:
        for event in document["events"]:
            session.add(GameEvent(**_parsed(event), created_at=utc_now()))
        for answer in answers:
            session.add(LlmAnswer(**{**_parsed(answer), "branch": branch or answer["branch"]}))
        now = utc_now()
        for entry in document.get("people", []):
            session.add(PersonInput(**entry, delivered=False, created_at=now))


def _keyed_again(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Version 1 answers keyed as requests are now (direct messages' ids numbered too), each key's
    occurrences counted again in the order they were recorded."""
    sent: Counter[tuple[str, str]] = Counter()
    keyed = []
    for answer in answers:
        key = request_key(answer["request"])
        keyed.append({**answer, "key": key, "occurrence": sent[answer["branch"], key]})
        sent[answer["branch"], key] += 1
    return keyed


def fork(
    source: sessionmaker[Session],
    target: sessionmaker[Session],
    outbox: Outbox,
    world: dict[str, Any],
    start: datetime,
    branch: str | None = None,
) -> dict[str, Any]:
    """A new branch in the empty database ``target`` from the checkpoint of ``source``: its world as it
    started and the answers recorded up to the checkpoint, under the new branch's name. Run in record
    mode, it replays them up to the checkpoint and asks the server from there. Returns the fork's
    document (its log is the parent's up to the checkpoint)."""
    document = export_run(source, world, start, until_checkpoint=True)
    checkpoint = document["checkpoint"]
    name = branch or f"{document['branch']}@{checkpoint['steps']}"
    if name == document["branch"]:
        raise RunFileError(f"the fork needs a name of its own, not {name!r}")
    import_run(document, target, outbox, branch=name)
    return {**document, "branch": name, "parent": document["branch"]}


def replay_settings(document: dict[str, Any], world_file: Path) -> dict[str, str]:
    """The simulator settings under which a loaded run replays (or a fork goes on) as it was recorded."""
    models = sorted(
        {str(a["request"].get("model")) for a in document["answers"] if isinstance(a["request"], dict)}
    )
    settings = {
        "AIC_WORLD_FILE": str(world_file),
        "AIC_SIM_START": document["start"],
        "AIC_LLM_MODE": "replay",
        "AIC_SPEED": "0",  # as fast as it runs: the same seed tells the same story at any speed
        # Nothing is called in a replay, but the LLM tier is on only with a URL.
        "AIC_LLM_BASE_URL": "http://127.0.0.1:9/v1",
    }
    if document.get("seed") is not None:
        settings["AIC_SEED"] = str(document["seed"])
    if len(models) == 1:
        settings["AIC_LLM_MODEL"] = models[0]
    return settings


def _check_world(session: Session, world: dict[str, Any]) -> None:
    """Refuse a world file that is not the one the database was seeded with (it changed since)."""
    agents = {a.id: a for a in session.scalars(sa.select(Agent))}
    characters = {c["id"]: c for c in world["characters"]}
    if set(agents) != set(characters):
        raise RunFileError("the world file's characters are not the database's: it changed since the start")
    for agent_id, character in characters.items():
        persona = {**character["persona"], "language": character.get("language", "zh")}
        if agents[agent_id].persona != persona or agents[agent_id].home_id != character["home_id"]:
            raise RunFileError(f"{agent_id} is not the world file's: it changed since the start")
    locations = set(session.scalars(sa.select(Location.id)))
    if locations != {loc["id"] for loc in world["locations"]}:
        raise RunFileError("the world file's places are not the database's: it changed since the start")


def _checkpoint(state: SimState) -> dict[str, Any]:
    return {
        "state": state.state,
        "sim_time": state.sim_time.isoformat(),
        "steps": state.steps,
        "decisions": state.decisions,
        "written_at": state.updated_at.isoformat(),
    }


def _row(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in fields}
    return {name: _plain(value) for name, value in values.items()}


def _answer_row(row: LlmAnswer) -> dict[str, Any]:
    fields = ("branch", "key", "occurrence", "request", "status", "headers", "body", "created_at")
    return _row(row, fields)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


PEOPLE_FIELDS = ("step", "kind", "key", "data")

_TIMES = frozenset({"sim_time", "ends_at", "starts_at", "created_at"})


def _parsed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: datetime.fromisoformat(v) if k in _TIMES and v else v for k, v in row.items()}


def write_run(document: dict[str, Any], path: Path) -> None:
    """One JSON document, gzipped when the name ends in .gz."""
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def read_run(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    document = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    if not isinstance(document, dict):
        raise RunFileError(f"{path}: not a run")
    return document
