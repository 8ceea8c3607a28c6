"""The society report: whether a run's characters behave like people, computed from its log.

Over a window of simulated time (by default the 24 hours before the simulation's clock) it counts the
decisions; the direct messages characters send each other, and whether they send them in their sleep
hours; how varied their texts are, with names and numbers masked or not; posts that contradict the
world they were written in; people's questions answered, fast and on topic; reflections nested in
reflections; and private content made public. Each figure is held to a goal. Operators read it from
``GET /api/sim/report`` and ``aic sim report``; ``make bench`` prints it for the rules and an LLM.

The helpers below are pure (rows in, figures out) so each can be checked on hand-made rows;
:func:`society_report` reads the tables and puts them together.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aic_common.text import tokenize
from aic_simulator.memory import WITH_PEOPLE
from aic_simulator.models import (
    ActionLog,
    Agent,
    GameEvent,
    KnownPerson,
    Location,
    MemoryRecord,
    SimState,
    Stimulus,
)
from aic_simulator.privacy import COMMON_CJK, COMMON_WORDS, find_leak, word_set
from aic_simulator.state import LocationInfo
from aic_simulator.writer import language_of, mask, subject_of

DEFAULT_WINDOW = timedelta(hours=24)
ACTION_KINDS = (
    "browse", "post", "repost", "comment", "like", "follow", "unfollow", "search", "message", "reply",
    "goodbye", "talk", "say", "move", "pick_up", "use_item", "attend_event", "work", "rest", "sleep",
)  # fmt: skip
TEXT_ACTIONS = ("post", "repost", "comment", "message", "reply", "goodbye", "talk", "say")
PUBLIC_ACTIONS = ("post", "repost", "comment")  # a repost's text is its quote
DM_ACTIONS = ("message", "reply", "goodbye")
ANSWER_ACTIONS = ("reply", "goodbye")
ANSWER_WITHIN = timedelta(seconds=30)
REFLECTION_PREFIXES = ("回想起来", "looking back")
# Events everyone in town knows are on, wherever they are: weather, news.
TOWN_WIDE_EVENT_KINDS = frozenset({"hazard", "announcement"})
EXAMPLES = 10


# ---------------------------------------------------------------- texts


def distinct_shares(texts: Sequence[str], names: Iterable[str]) -> dict[str, Any]:
    """How many texts, and the share of them that are distinct as written and once masked as the writer
    masks them (names, quotes and numbers; None when there is no text to judge)."""
    count = len(texts)
    if not count:
        return {"count": 0, "distinct": None, "distinct_masked": None}
    names = sorted(set(names))
    masked = {mask(text, names) for text in set(texts)}
    return {
        "count": count,
        "distinct": round(len(set(texts)) / count, 3),
        "distinct_masked": round(len(masked) / count, 3),
    }


# ---------------------------------------------------------------- the world at a moment


def asleep(persona: Mapping[str, Any], at: datetime) -> bool:
    """Whether ``at`` falls in the persona's sleep hours (daily_rhythm; a sleep hour at or before the
    wake hour is after midnight)."""
    rhythm = persona.get("daily_rhythm") or {}
    wake, sleep = int(rhythm.get("wake", 7)), int(rhythm.get("sleep", 23))
    hour = at.hour
    if sleep <= wake:
        return sleep <= hour < wake
    return hour >= sleep or hour < wake


def night(at: datetime) -> bool:
    return at.hour >= 20 or at.hour < 5


@dataclass(frozen=True)
class Move:
    """Where an agent's action left it: a move at its target, anything else where it was done."""

    at: datetime
    decision: int
    agent_id: str
    location_id: str


def whereabouts(action: str, target: str | None, location_id: str, places: Iterable[str]) -> str:
    return target if action == "move" and target in places else location_id


class Occupancy:
    """Where every agent was, rebuilt from the log: at time t an agent is where its last action at or
    before t left it, and at home before its first."""

    def __init__(self, homes: Mapping[str, str], moves: Iterable[Move]) -> None:
        self.homes = dict(homes)
        ordered = sorted(moves, key=lambda m: (m.at, m.decision))
        self._times: dict[str, list[datetime]] = defaultdict(list)
        self._places: dict[str, list[str]] = defaultdict(list)
        for move in ordered:
            self._times[move.agent_id].append(move.at)
            self._places[move.agent_id].append(move.location_id)
        self.agents = sorted(set(self.homes) | set(self._times))

    def where(self, agent_id: str, at: datetime, *, before: bool = False) -> str | None:
        """Where it was at ``at`` (after its actions at ``at``; ``before``: before them)."""
        times = self._times.get(agent_id, [])
        index = bisect.bisect_left(times, at) if before else bisect.bisect_right(times, at)
        if index == 0:
            return self.homes.get(agent_id)
        return self._places[agent_id][index - 1]

    def others_at(self, location_id: str, at: datetime, besides: str) -> int:
        """Who else was there when a text written at ``at`` was thought of: the engine decides a tick's
        actions from one snapshot taken before any of them, so moves made at ``at`` itself do not count."""
        return sum(1 for a in self.agents if a != besides and self.where(a, at, before=True) == location_id)


@dataclass(frozen=True)
class EventWindow:
    title: str
    location_id: str | None
    starts_at: datetime
    ends_at: datetime
    kind: str = "gathering"

    def on(self, at: datetime, location_id: str) -> bool:
        here = self.location_id in (None, location_id) or self.kind in TOWN_WIDE_EVENT_KINDS
        return here and self.starts_at <= at < self.ends_at

    @property
    def names(self) -> list[str]:
        """The whole title and each half of a bilingual one ("中文 · English")."""
        halves = [part.strip() for part in self.title.split(" · ")]
        return [name for name in {self.title.strip(), *halves} if _long_enough(name)]


def _long_enough(name: str) -> bool:
    cjk = sum(1 for ch in name if "\u3400" <= ch <= "\u9fff")
    return cjk >= 2 or len(name) >= 4


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


CROWD_WORDS = _any(
    "热闹", "人来人往", "人山人海", "人很多", "好多人", "很多人", "人挤人", "挤满", "满座", "爆满", "排长队",
    "座无虚席", "人潮", "大家都在", r"\bcrowd(?:s|ed)?\b", r"\bfull of people\b", r"\bpacked\b",
    r"\bbustling\b", r"\blively\b", r"\bso many people\b", r"\beveryone(?:'s| is) here\b",
)  # fmt: skip
OPEN_WORDS = _any(
    "营业", "开门", "开着门", "点了一杯", "点了杯", "点单", "服务员", "店员", "刚出炉", "上菜", "现磨",
    "刚买了", "刚买的",
    r"\b(?:is|are|still|now) open\b", r"\bopen (?:now|late|till|until)\b", r"\bserving\b", r"\bordered\b",
    r"\bbarista\b", r"\bbartender\b", r"\bwaiter\b", r"\bjust bought\b", r"\bon the menu\b",
)  # fmt: skip
DAYLIGHT_WORDS = _any(
    "阳光", "太阳", "蓝天", "日光", "烈日", "早上好", "早安", r"\bsunshine\b", r"\bsunny\b", r"\bsunlight\b",
    r"\bsunlit\b", r"\bblue skies?\b", r"\bdaylight\b", r"\bgood morning\b", r"\bthe sun is\b",
)  # fmt: skip


def contradiction(
    text: str,
    at: datetime,
    place: LocationInfo,
    others_here: int,
    events: Sequence[EventWindow],
    names: Iterable[str] = (),
) -> str | None:
    """Why a post written at ``at`` in ``place``, with ``others_here`` other characters there, says
    what the world did not show then; None when it fits. ``names`` (characters, places, event titles)
    are taken out before looking for words, so that "晨光画室" is not daylight nor "Open studio" an
    open door."""
    plain = mask(text, [*names, place.name, place.name_en, *(n for e in events for n in e.names)])
    where = place.name_en or place.name
    if CROWD_WORDS.search(plain) and others_here < 2:
        return f"crowd words with {others_here} other{'s' if others_here != 1 else ''} at {where}"
    if not place.is_open(at) and (found := OPEN_WORDS.search(plain)):
        return f"“{found.group()}” at {where}, closed at {at:%H:%M}"
    if night(at) and (found := DAYLIGHT_WORDS.search(plain)):
        return f"daylight word “{found.group()}” at {at:%H:%M}"
    lowered = text.lower()
    for event in events:
        for name in event.names:
            if name.lower() not in lowered:
                continue
            if not any(e.on(at, place.id) for e in events if name in e.names):
                return f"names “{name}”, which is not on at {where} at {at:%H:%M}"
    return None


# ---------------------------------------------------------------- messages between characters


@dataclass(frozen=True)
class DirectMessage:
    """A message/reply/goodbye one character sent another by direct message."""

    decision: int
    at: datetime
    sender: str  # agent ids
    recipient: str
    conversation: str | None


def ai_message_figures(
    messages: Sequence[DirectMessage],
    decisions: int,
    personas: Mapping[str, Mapping[str, Any]],
    names: Mapping[str, str],
) -> dict[str, Any]:
    """Count, share of decisions, how many were sent while the sender or the recipient slept, the pair
    that wrote most and the conversation that went on longest (display names)."""
    pairs: Counter[tuple[str, str]] = Counter()
    turns: Counter[str] = Counter()
    participants: dict[str, tuple[str, str]] = {}
    sleeping = 0
    for m in messages:
        pair = (min(m.sender, m.recipient), max(m.sender, m.recipient))
        pairs[pair] += 1
        if m.conversation:
            turns[m.conversation] += 1
            participants.setdefault(m.conversation, (m.sender, m.recipient))
        if asleep(personas.get(m.sender, {}), m.at) or asleep(personas.get(m.recipient, {}), m.at):
            sleeping += 1
    busiest = min(pairs.items(), key=lambda item: (-item[1], item[0]), default=None)
    longest = min(turns.items(), key=lambda item: (-item[1], item[0]), default=None)
    return {
        "count": len(messages),
        "share_of_decisions": round(len(messages) / decisions, 3) if decisions else 0.0,
        "in_sleep_hours": sleeping,
        "busiest_pair": (
            {"a": names.get(busiest[0][0]), "b": names.get(busiest[0][1]), "messages": busiest[1]}
            if busiest
            else None
        ),
        "longest_exchange": (
            {
                "a": names.get(participants[longest[0]][0]),
                "b": names.get(participants[longest[0]][1]),
                "turns": longest[1],
                "conversation": longest[0],
            }
            if longest
            else None
        ),
    }


# ---------------------------------------------------------------- questions


QUESTION = _any(
    "[？?吗呢]", "什么", "怎么", "哪", "几", "多少", "推荐",
    r"\b(?:how|what|where|when|which|who|why|any|anyone|anything|recommend|suggest)\b",
)  # fmt: skip
# Characters and words that make a question a question, not what it is about.
QUESTION_CJK = frozenset("吗呢吧什么怎样哪几多少推荐请问知道觉得可以能会")
QUESTION_WORDS = word_set("how what where when which who why any anyone anything recommend suggest tell know")
_QUOTED = re.compile(r"“([^”]*)”|\"([^\"]*)\"|「([^」]*)」|‘([^’]*)’")


def is_question(text: str) -> bool:
    return QUESTION.search(text) is not None


def salient_terms(text: str, ignore: Iterable[str] = ()) -> frozenset[str]:
    """What a text is about: its Chinese two-character terms and longer words, without the everyday ones
    and those that only make it a question, nor any term of ``ignore`` (names)."""
    ignored = set().union(*(tokenize(name) for name in ignore)) if ignore else set()
    terms = set()
    for term in tokenize(text):
        if term in ignored:
            continue
        if "\u3400" <= term[0] <= "\u9fff":
            if len(term) == 2 and not set(term) & (COMMON_CJK | QUESTION_CJK):
                terms.add(term)
        elif len(term) >= 3 and term not in COMMON_WORDS and term not in QUESTION_WORDS and term.isalpha():
            terms.add(term)
    return frozenset(terms)


def without_echo(answer: str, question: str) -> str:
    """The answer without what it merely quotes back of the question: echoing is not answering."""
    asked = unicodedata.normalize("NFKC", question).lower()

    def drop(match: re.Match[str]) -> str:
        quoted = next(g for g in match.groups() if g is not None)
        return " " if unicodedata.normalize("NFKC", quoted).lower().strip() in asked else match.group()

    return _QUOTED.sub(drop, answer)


def on_topic(question: str, answer: str, ignore: Iterable[str] = ()) -> bool:
    """Whether the answer takes up what the question is about, not merely quoting it back: the subject
    the writer finds in it (aic_simulator.writer.subject_of), as written or by a salient term of it
    ("哪家咖啡馆" is answered by "拾光咖啡馆"). A question with no subject, about nothing in particular
    ("你好吗?"), is answered by an answer sharing a salient term with it, or by any when it has none."""
    said = without_echo(answer, question)
    subject = subject_of(question, language_of(question))
    if subject is None:
        asked = salient_terms(question, ignore)
        return not asked or bool(asked & salient_terms(said, ignore))
    if subject.lower() in said.lower():
        return True
    return bool(salient_terms(subject, ignore) & salient_terms(said, ignore))


@dataclass(frozen=True)
class Question:
    ref_id: str
    agent_id: str
    content: str
    received_at: datetime


@dataclass(frozen=True)
class Answer:
    target: str
    content: str
    created_at: datetime


def question_figures(
    questions: Sequence[Question], answers: Sequence[Answer], ignore: Iterable[str] = ()
) -> dict[str, Any]:
    """How many questions were answered (a reply or goodbye to the message), how many within 30 s of
    wall time, and how many on topic."""
    by_target: dict[str, list[Answer]] = defaultdict(list)
    for answer in answers:
        by_target[answer.target].append(answer)
    ignore = list(ignore)
    answered = fast = topical = 0
    for question in questions:
        given = sorted(by_target.get(question.ref_id, []), key=lambda a: a.created_at)
        if not given:
            continue
        answered += 1
        if given[0].created_at - question.received_at <= ANSWER_WITHIN:
            fast += 1
        if any(on_topic(question.content, a.content or "", ignore) for a in given):
            topical += 1
    count = len(questions)
    return {
        "count": count,
        "answered": answered,
        "answered_within_30s": fast,
        "on_topic": topical,
        "on_topic_share": round(topical / count, 3) if count else None,
    }


# ---------------------------------------------------------------- memories


def _reflection_body(content: str) -> str:
    text = content.strip()
    lowered = text.lower()
    for prefix in REFLECTION_PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text.lstrip(" :：,，")


def nested_reflections(reflections: Sequence[tuple[int, str, str]], counted: Iterable[int]) -> int:
    """How many of the ``counted`` reflections (ids) hold a reflection: the prefix twice, or the whole
    text of another, shorter reflection of the same agent (two reflections on the same memories share
    parts, which is no nesting). ``reflections``: (id, agent id, content) of every reflection that could
    be nested."""
    counted = set(counted)
    bodies: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for memory_id, agent_id, content in reflections:
        body = _reflection_body(content)
        if len(body) >= 8:
            bodies[agent_id].append((memory_id, body))
    nested = 0
    for memory_id, agent_id, content in reflections:
        if memory_id not in counted:
            continue
        lowered = content.lower()
        twice = sum(lowered.count(prefix) for prefix in REFLECTION_PREFIXES) > 1
        holds_another = any(
            len(body) < len(content) and body in content
            for other, body in bodies[agent_id]
            if other != memory_id
        )
        if twice or holds_another:
            nested += 1
    return nested


# ---------------------------------------------------------------- goals


@dataclass(frozen=True)
class Goal:
    name: str
    target: str
    test: Callable[[float], bool]
    value: Callable[[dict[str, Any]], float | None]

    def judged(self, report: dict[str, Any]) -> dict[str, Any]:
        value = self.value(report)
        return {
            "name": self.name,
            "value": value,
            "target": self.target,
            "met": None if value is None else self.test(value),
        }


GOALS = (
    Goal(
        "AI-to-AI messages share of decisions",
        "<= 0.25",
        lambda v: v <= 0.25,
        lambda r: r["ai_messages"]["share_of_decisions"],
    ),
    Goal(
        "most messages between one pair",
        "<= 24",
        lambda v: v <= 24,
        lambda r: (r["ai_messages"]["busiest_pair"] or {}).get("messages", 0),
    ),
    Goal(
        "AI-to-AI messages in sleep hours",
        "0",
        lambda v: v == 0,
        lambda r: r["ai_messages"]["in_sleep_hours"],
    ),
    Goal("distinct texts", ">= 0.80", lambda v: v >= 0.80, lambda r: r["texts"]["all"]["distinct"]),
    Goal(
        "distinct texts after masking",
        ">= 0.50",
        lambda v: v >= 0.50,
        lambda r: r["texts"]["all"]["distinct_masked"],
    ),
    Goal("posts contradicting the world", "0", lambda v: v == 0, lambda r: r["contradictions"]["count"]),
    Goal("private-content leaks", "0", lambda v: v == 0, lambda r: r["private_leaks"]["count"]),
    Goal("nested reflections", "0", lambda v: v == 0, lambda r: r["nested_reflections"]),
    Goal(
        "questions answered on topic",
        ">= 0.60",
        lambda v: v >= 0.60,
        lambda r: r["questions"]["on_topic_share"],
    ),
)


# ---------------------------------------------------------------- reading the log


@dataclass
class Logged:
    decision: int
    agent_id: str
    sim_time: datetime
    action: str
    target: str | None
    content: str | None
    location_id: str
    created_at: datetime
    trace: dict[str, Any] = field(default_factory=dict)


def naive_utc(moment: datetime | None) -> datetime | None:
    """How the simulator keeps time: naive UTC (a time with a zone is converted, one without is UTC)."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def default_until(session: Session) -> datetime:
    """The simulation's clock (its checkpoint), or the last decision logged when there is none."""
    state = session.get(SimState, 1)
    until = state.sim_time if state else session.scalar(sa.select(sa.func.max(ActionLog.sim_time)))
    return until or datetime(1970, 1, 1)


def _actions(session: Session, since: datetime, until: datetime) -> list[Logged]:
    columns = (
        ActionLog.decision,
        ActionLog.agent_id,
        ActionLog.sim_time,
        ActionLog.action,
        ActionLog.target,
        ActionLog.content,
        ActionLog.location_id,
        ActionLog.created_at,
    )
    in_window = sa.and_(ActionLog.sim_time >= since, ActionLog.sim_time <= until)
    rows = [Logged(*row) for row in session.execute(sa.select(*columns).where(in_window))]
    traces = dict(
        session.execute(
            sa.select(ActionLog.decision, ActionLog.trace).where(
                in_window,
                ActionLog.action.in_((*DM_ACTIONS, "post")),  # posts: their pictures
            )
        ).all()
    )
    for row in rows:
        row.trace = traces.get(row.decision) or {}
    return sorted(rows, key=lambda r: r.decision)


def _positions_before(session: Session, since: datetime, places: set[str]) -> list[Move]:
    """Where each agent's last action before the window left it."""
    last = (
        sa.select(sa.func.max(ActionLog.decision).label("decision"))
        .where(ActionLog.sim_time < since)
        .group_by(ActionLog.agent_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(
            ActionLog.decision,
            ActionLog.agent_id,
            ActionLog.sim_time,
            ActionLog.action,
            ActionLog.target,
            ActionLog.location_id,
        ).join(last, ActionLog.decision == last.c.decision)
    )
    return [
        Move(at, decision, agent_id, whereabouts(action, target, location, places))
        for decision, agent_id, at, action, target, location in rows
    ]


def _wall_window(
    session: Session, since: datetime, until: datetime
) -> tuple[datetime | None, datetime | None]:
    """The wall-clock span the simulated window took, from the log (stimuli carry wall time only): from
    the first decision in it to the first after it (None: open)."""

    def first_created(condition: Any) -> datetime | None:
        return session.scalar(
            sa.select(ActionLog.created_at).where(condition).order_by(ActionLog.decision).limit(1)
        )

    start = first_created(ActionLog.sim_time >= since)
    end = first_created(ActionLog.sim_time > until)
    return start, end


def _dm_recipient(row: Logged, by_user: Mapping[str, str], sender_of: Mapping[str, str]) -> str | None:
    """The agent a direct message went to; None when it went to a person. Logs written before the trace
    named the recipient: a message's target is the account, a reply's is the message answered."""
    recipient = row.trace.get("recipient")
    if recipient is None:
        recipient = row.target if row.action == "message" else sender_of.get(row.target or "")
    return by_user.get(str(recipient)) if recipient is not None else None


@dataclass
class Run:
    """What the report reads once: the characters, the world, the window's log and people's messages."""

    since: datetime
    until: datetime
    display: dict[str, str]  # agent id -> display name
    personas: dict[str, dict[str, Any]]
    homes: dict[str, str]
    by_user: dict[str, str]  # account id -> agent id
    places: dict[str, LocationInfo]
    events: list[EventWindow]
    rows: list[Logged]  # the window's decisions, in order
    messages: list[Any]  # every message stimulus (ref_id, agent_id, from_user_id, ..., received_at)
    persons: set[str]  # names of characters and people: who is addressed or named
    names: set[str]  # those and the places' and events' names

    def from_people(self) -> list[Any]:
        return [s for s in self.messages if s.from_user_id not in self.by_user]


def _read(session: Session, since: datetime, until: datetime) -> Run:
    columns = (Agent.id, Agent.username, Agent.display_name, Agent.user_id, Agent.persona, Agent.home_id)
    agents = list(session.execute(sa.select(*columns)))
    places = {
        row.id: LocationInfo(
            row.id, row.name, row.name_en, row.kind, row.x, row.y, row.capacity, row.opens_at, row.closes_at
        )
        for row in session.scalars(sa.select(Location))
    }
    events = [
        EventWindow(e.title, e.location_id, e.starts_at, e.ends_at, getattr(e, "kind", None) or "gathering")
        for e in session.scalars(sa.select(GameEvent).where(GameEvent.starts_at <= until))
    ]
    messages = list(
        session.execute(
            sa.select(
                Stimulus.ref_id,
                Stimulus.agent_id,
                Stimulus.from_user_id,
                Stimulus.from_username,
                Stimulus.content,
                Stimulus.received_at,
            ).where(Stimulus.kind == "message")
        )
    )
    by_user = {a.user_id: a.id for a in agents if a.user_id}
    people = {s.from_username for s in messages if s.from_user_id not in by_user}
    people |= set(session.scalars(sa.select(KnownPerson.display_name)))  # characters call people by name
    persons = {*(a.display_name for a in agents), *(a.username for a in agents), *people}
    return Run(
        since=since,
        until=until,
        display={a.id: a.display_name for a in agents},
        personas={a.id: a.persona or {} for a in agents},
        homes={a.id: a.home_id for a in agents},
        by_user=by_user,
        places=places,
        events=events,
        rows=_actions(session, since, until),
        messages=messages,
        persons=persons,
        names={
            *persons,
            *(p.name for p in places.values()),
            *(p.name_en for p in places.values()),
            *(name for e in events for name in e.names),
        },
    )


def society_report(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """The report over simulated time ``since``..``until`` (both included; naive UTC)."""
    until = until or default_until(session)
    since = since or until - DEFAULT_WINDOW
    run = _read(session, since, until)
    report: dict[str, Any] = {
        "window": {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "sim_hours": round((until - since).total_seconds() / 3600, 2),
        },
        "decisions": len(run.rows),
        "decisions_by_kind": dict.fromkeys(ACTION_KINDS, 0) | Counter(r.action for r in run.rows),
        "ai_messages": ai_message_figures(_direct_messages(run), len(run.rows), run.personas, run.display),
        "texts": _texts(run),
        "contradictions": _contradictions(session, run),
        "questions": _questions(session, run),
        "nested_reflections": _nested(session, run),
        "private_leaks": _leaks(session, run),
        "pictures": _pictures(run),
    }
    report["goals"] = [goal.judged(report) for goal in GOALS]
    return report


def _direct_messages(run: Run) -> list[DirectMessage]:
    """The window's direct messages from one character to another."""
    sender_of = {s.ref_id: s.from_user_id for s in run.messages}
    messages = []
    for row in run.rows:
        if row.action not in DM_ACTIONS or row.trace.get("channel", "dm") != "dm":
            continue
        recipient = _dm_recipient(row, run.by_user, sender_of)
        if recipient is not None and recipient != row.agent_id:
            conversation = row.trace.get("conversation")
            messages.append(
                DirectMessage(
                    row.decision, row.sim_time, row.agent_id, recipient, conversation and str(conversation)
                )
            )
    return messages


def _pictures(run: Run) -> dict[str, Any]:
    """Posts with pictures: how many, of what, how they went, and how many were taken somewhere other
    than where their post was written (a prompt that does not name the post's place)."""
    posts = [row for row in run.rows if row.action == "post"]
    pictures = [row.trace["picture"] for row in posts if isinstance(row.trace.get("picture"), dict)]
    attached = [p for p in pictures if p.get("status") == "attached"]
    elsewhere = sum(
        1
        for row in posts
        if isinstance(picture := row.trace.get("picture"), dict)
        and row.location_id in run.places
        and run.places[row.location_id].name_en not in str(picture.get("prompt", ""))
    )
    made_ms = sorted(float(p["generate_ms"]) for p in attached if "generate_ms" in p)
    return {
        "posts": len(posts),
        "asked": len(pictures),
        "attached": len(attached),
        "share": round(len(attached) / len(posts), 3) if posts else 0.0,
        "failed": dict(Counter(str(p.get("reason")) for p in pictures if p.get("status") == "failed")),
        "waiting": sum(1 for p in pictures if p.get("status") == "making"),
        "subjects": dict(Counter(str(p.get("subject")) for p in attached)),
        "distinct_prompts": round(len({p.get("prompt") for p in attached}) / len(attached), 3)
        if attached
        else 0.0,
        "elsewhere": elsewhere,
        "median_generate_ms": round(made_ms[len(made_ms) // 2], 1) if made_ms else None,
    }


def _texts(run: Run) -> dict[str, Any]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for row in run.rows:
        if row.action in TEXT_ACTIONS and row.content and row.content.strip():
            by_kind[row.action].append(row.content.strip())
    every = [text for kind in TEXT_ACTIONS for text in by_kind.get(kind, [])]
    return {
        "all": distinct_shares(every, run.names),
        "by_kind": {kind: distinct_shares(texts, run.names) for kind, texts in by_kind.items()},
    }


def _contradictions(session: Session, run: Run) -> dict[str, Any]:
    """Posts against the world they were written in, with everyone where the log puts them."""
    moves = _positions_before(session, run.since, set(run.places))
    moves += [
        Move(r.sim_time, r.decision, r.agent_id, whereabouts(r.action, r.target, r.location_id, run.places))
        for r in run.rows
    ]
    occupancy = Occupancy(run.homes, moves)
    found = []
    for row in run.rows:
        if row.action != "post" or not row.content:
            continue
        place = run.places.get(occupancy.where(row.agent_id, row.sim_time) or row.location_id)
        if place is None:
            continue
        others = occupancy.others_at(place.id, row.sim_time, besides=row.agent_id)
        if why := contradiction(row.content, row.sim_time, place, others, run.events, run.names):
            found.append(
                {
                    "decision": row.decision,
                    "sim_time": row.sim_time.isoformat(),
                    "agent": run.display.get(row.agent_id, row.agent_id),
                    "content": row.content[:200],
                    "why": why,
                }
            )
    return {"count": len(found), "examples": found[:EXAMPLES]}


def _questions(session: Session, run: Run) -> dict[str, Any]:
    """People's questions received in the wall-clock span of the window, and the answers they got."""
    wall_start, wall_end = _wall_window(session, run.since, run.until)
    questions = [
        Question(s.ref_id, s.agent_id, s.content, s.received_at)
        for s in run.from_people()
        if is_question(s.content)
        and (wall_start is None or s.received_at >= wall_start)
        and (wall_end is None or s.received_at < wall_end)
    ]
    answers = [
        Answer(target, content or "", created_at)
        for target, content, created_at in session.execute(
            sa.select(ActionLog.target, ActionLog.content, ActionLog.created_at).where(
                ActionLog.action.in_(ANSWER_ACTIONS), ActionLog.target.in_([q.ref_id for q in questions])
            )
        )
    ]
    return question_figures(questions, answers, run.persons)


def _nested(session: Session, run: Run) -> int:
    """Nested reflections made in the window (any earlier reflection may be the one nested)."""
    reflections = list(
        session.execute(
            sa.select(
                MemoryRecord.id, MemoryRecord.agent_id, MemoryRecord.content, MemoryRecord.sim_time
            ).where(MemoryRecord.kind == "reflection", MemoryRecord.sim_time <= run.until)
        )
    )
    return nested_reflections(
        [(r.id, r.agent_id, r.content) for r in reflections],
        [r.id for r in reflections if r.sim_time >= run.since],
    )


def _leaks(session: Session, run: Run) -> dict[str, Any]:
    """Public texts that carry what people told their author in private (people's messages) or what it
    holds from private conversations with people (memories), known before it wrote them. Characters'
    messages to each other are built from what is public and are not counted; nor is what someone had
    posted before (a person quoting a post back in private makes no secret of it)."""
    public_rows = [r for r in run.rows if r.action in PUBLIC_ACTIONS and r.content]
    authors = {r.agent_id for r in public_rows}
    if not authors:
        return {"count": 0, "examples": []}
    received: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for s in run.from_people():
        if s.agent_id in authors:
            received[s.agent_id].append((s.received_at, s.content))
    held: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for agent_id, at, content in session.execute(
        sa.select(MemoryRecord.agent_id, MemoryRecord.sim_time, MemoryRecord.content).where(
            MemoryRecord.agent_id.in_(authors),
            MemoryRecord.audience.like(f"{WITH_PEOPLE}%"),
            MemoryRecord.sim_time <= run.until,
        )
    ):
        held[agent_id].append((at, content))
    names = list(run.names)
    published: list[str] = []  # what anyone has posted before: public, wherever it came from
    examples = []
    count = 0
    for row in public_rows:
        private = [text for at, text in received[row.agent_id] if at <= row.created_at]
        private += [text for at, text in held[row.agent_id] if at <= row.sim_time]
        catchphrases = run.personas.get(row.agent_id, {}).get("catchphrases") or []
        known = [*names, *catchphrases, *published]
        published.append(row.content or "")
        if not private or not (why := find_leak(row.content or "", private, public=known)):
            continue
        count += 1
        if len(examples) < EXAMPLES:
            examples.append(
                {"decision": row.decision, "agent": run.display.get(row.agent_id, row.agent_id), "why": why}
            )
    return {"count": count, "examples": examples}
