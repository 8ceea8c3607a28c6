"""The world as the engine holds it in memory between checkpoints.

The engine reads and changes these objects without touching the database; ``store.flush`` writes
what changed (a checkpoint) in one transaction together with the messages the changes produce.
"""

from __future__ import annotations

import bisect
import functools
import heapq
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from aic_common.messages import SimState
from aic_simulator.reading import ReadingState


@dataclass
class LocationInfo:
    id: str
    name: str
    name_en: str
    kind: str
    x: float
    y: float
    capacity: int
    opens_at: int
    closes_at: int

    def is_open(self, at: datetime) -> bool:
        return self.open_at_minute(at.hour * 60 + at.minute)

    def open_at_minute(self, minute: int) -> bool:
        """Whether it is open ``minute`` minutes after midnight."""
        hour = (minute % (24 * 60)) / 60
        if self.closes_at > 24:  # past midnight (a bar)
            return hour >= self.opens_at or hour < self.closes_at - 24
        return self.opens_at <= hour < self.closes_at


@dataclass
class ItemState:
    id: str
    name: str
    name_en: str
    kind: str
    location_id: str | None
    holder_id: str | None
    effects: dict[str, float]
    dirty: bool = False


EventKind = Literal["gathering", "market", "show", "hazard", "announcement"]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)


@dataclass
class EventInfo:
    id: int
    title: str
    description: str
    location_id: str | None
    starts_at: datetime
    ends_at: datetime
    effects: dict[str, float]
    kind: str = "gathering"  # one of EVENT_KINDS: what it draws people to, or drives them from

    def active(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def title_in(self, language: str) -> str:
        """World titles are bilingual ("早市开张 · Market opens"): the half in ``language``."""
        if " · " not in self.title:
            return self.title
        zh, en = self.title.split(" · ", 1)
        return en if language == "en" else zh


PUBLIC = "public"
PERSON_CONVERSATION = "p"  # the prefix of a conversation with a person ("c…" between characters)


@dataclass
class MemoryEntry:
    seq: int
    sim_time: datetime
    kind: str  # observation, conversation, plan, reflection
    content: str
    importance: float
    terms: frozenset[str]
    # Who may hear what it holds: PUBLIC, or "private:<conversation id>" for what was said in private.
    audience: str = PUBLIC


@dataclass
class Relation:
    affinity: float = 0.0
    interactions: int = 0
    note: str = ""
    dirty: bool = False


@dataclass
class Stimulus:
    id: int
    kind: str  # message, comment, mention, follow
    ref_id: str
    post_id: str | None
    from_user_id: str
    from_username: str
    content: str


@dataclass
class PlanItem:
    """One block of a character's day: from ``start`` to ``end`` (minutes after midnight) do ``activity``
    at ``location_id`` (None: wherever it is)."""

    start: int
    end: int
    activity: str  # sleep, work, meal, errand, leisure, event, shelter
    location_id: str | None
    label: str  # how the character would say it, in its language
    reason: str = ""  # why the plan says so (its persona, an event that revised it...)

    def covers(self, minute: int) -> bool:
        return self.start <= minute < self.end


@dataclass
class Conversation:
    """A thread between two participants, in person ("talk") or by direct message ("dm").

    ``turns`` counts the lines said; ``budget`` is how many the conversation will take before someone says
    goodbye; ``speaker`` is whose turn it is (an agent id; None once it has ended)."""

    id: str
    channel: str  # talk, dm
    a: str  # agent id of who opened it
    b: str  # agent id, or for a dm with a person the person's account id
    topic: str
    budget: int
    started_at: datetime
    last_at: datetime
    turns: int = 0
    speaker: str | None = None
    last_line: str = ""
    lines: list[tuple[str, str]] = field(default_factory=list)  # (speaker agent id, line), the latest few
    ended_at: datetime | None = None
    location_id: str | None = None
    dirty: bool = True

    def other(self, me: str) -> str:
        return self.b if me == self.a else self.a

    @property
    def open(self) -> bool:
        return self.ended_at is None


@dataclass
class AgentState:
    id: str
    username: str
    display_name: str
    user_id: str | None
    persona: dict[str, Any]
    home_id: str
    location_id: str
    energy: float
    sociability: float
    mood: float
    current_action: str | None
    current_decision: int | None
    next_wake_at: datetime
    importance_since_reflection: float
    memory_seq: int
    inventory: list[str] = field(default_factory=list)
    memories: list[MemoryEntry] = field(default_factory=list)
    relations: dict[str, Relation] = field(default_factory=dict)
    stimuli: list[Stimulus] = field(default_factory=list)
    plan: list[PlanItem] = field(default_factory=list)
    plan_day: str = ""  # the simulated date (ISO) the plan is for
    plan_dirty: bool = False  # the plan changed since the last checkpoint
    conversation_id: str | None = None  # the talk in person it is in, if any
    dirty: bool = False

    @property
    def language(self) -> str:
        return str(self.persona.get("language", "zh"))

    @functools.cached_property
    def interests(self) -> str:
        """Its interests and topics as one lower-case text (what places and events are matched against)."""
        persona = self.persona
        return " ".join(map(str, [*persona.get("interests", []), *persona.get("topics", [])])).lower()

    @property
    def rhythm(self) -> tuple[int, int]:
        """(wake hour, sleep hour) of the persona; a sleep hour not after the wake hour is past midnight."""
        rhythm = self.persona.get("daily_rhythm") or {}
        return int(rhythm.get("wake", 7)), int(rhythm.get("sleep", 23))

    def awake_at(self, at: datetime) -> bool:
        return is_awake(at.hour, *self.rhythm)


def is_awake(hour: int, wake: int, sleep: int) -> bool:
    if sleep <= wake:  # sleeps after midnight
        return hour >= wake or hour < sleep
    return wake <= hour < sleep


@dataclass
class FeedEntry:
    seen_id: int
    post_id: str
    author_id: str
    author_username: str
    content: str
    seen_at: datetime | None = None  # simulated time it was first perceived (its age in the explore ranking)


@dataclass
class World:
    sim_time: datetime
    speed: float
    state: SimState
    seed: int
    steps: int
    decisions: int
    locations: dict[str, LocationInfo]
    items: dict[str, ItemState]
    events: list[EventInfo]
    agents: dict[str, AgentState]
    feed: deque[FeedEntry] = field(default_factory=lambda: deque(maxlen=300))
    follows: set[tuple[str, str]] = field(default_factory=set)
    people: dict[str, str] = field(default_factory=dict)  # a person's account id -> display name
    reading: ReadingState = field(default_factory=ReadingState)  # comments, likes, what each has read
    last_seen_post: int = 0
    last_stimulus: int = 0
    heap: list[tuple[datetime, str]] = field(default_factory=list)
    conversations: dict[str, Conversation] = field(default_factory=dict)  # open ones and recently ended
    latest_conversation: dict[tuple[str, str], str] = field(default_factory=dict)  # pair -> conversation id
    conversation_seq: int = 0
    # location -> ids of the agents there, kept sorted as they move, so that a perception reads the
    # first few without sorting a crowd (deterministic for a seed: always the lowest ids).
    occupants: dict[str, list[str]] = field(default_factory=dict)
    _by_user: dict[str, AgentState] | None = field(default=None, repr=False)
    _active_key: tuple[datetime, int] | None = field(default=None, repr=False)
    _active: list[EventInfo] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        for agent in self.agents.values():
            self.occupants.setdefault(agent.location_id, []).append(agent.id)
        for ids in self.occupants.values():
            ids.sort()

    def move(self, agent: AgentState, location_id: str) -> None:
        here = self.occupants.get(agent.location_id)
        if here is not None:
            index = bisect.bisect_left(here, agent.id)
            if index < len(here) and here[index] == agent.id:
                del here[index]
        there = self.occupants.setdefault(location_id, [])
        index = bisect.bisect_left(there, agent.id)
        if index == len(there) or there[index] != agent.id:
            there.insert(index, agent.id)
        agent.location_id = location_id
        agent.dirty = True

    def agent_by_user(self, user_id: str) -> AgentState | None:
        # Asked many times a tick: the index is built once and again only after accounts_changed().
        if self._by_user is None:
            self._by_user = {a.user_id: a for a in self.agents.values() if a.user_id}
        return self._by_user.get(user_id)

    def accounts_changed(self) -> None:
        """An agent got its account (store.refresh links them): agent_by_user's index is rebuilt."""
        self._by_user = None

    def schedule(self, agent: AgentState, at: datetime) -> None:
        agent.next_wake_at = at
        heapq.heappush(self.heap, (at, agent.id))

    def next_wake(self) -> datetime | None:
        # Entries go stale when an agent is rescheduled; skip those lazily.
        while self.heap:
            at, agent_id = self.heap[0]
            if self.agents[agent_id].next_wake_at == at:
                return at
            heapq.heappop(self.heap)
        return None

    def pop_due(self, until: datetime) -> list[AgentState]:
        due: list[AgentState] = []
        seen: set[str] = set()
        while self.heap and self.heap[0][0] <= until:
            at, agent_id = heapq.heappop(self.heap)
            agent = self.agents[agent_id]
            if agent.next_wake_at == at and agent_id not in seen:
                seen.add(agent_id)
                due.append(agent)
        return sorted(due, key=lambda a: (a.next_wake_at, a.id))

    def people_at(
        self, location_id: str, *, besides: str | None = None, limit: int | None = None
    ) -> list[AgentState]:
        """The agents at ``location_id`` in id order, ``besides`` left out, the first ``limit`` of them."""
        ids = self.occupants.get(location_id, [])
        # Only the slice that can be returned is read: one more than the limit covers ``besides``.
        window = ids if limit is None else ids[: limit + 1]
        return [self.agents[i] for i in window if i != besides][:limit]

    def active_events(self, location_id: str | None = None) -> list[EventInfo]:
        # Thousands of perceptions a tick ask this at one simulated time: the scan is done once per time.
        key = (self.sim_time, len(self.events))
        if self._active_key != key:
            self._active_key, self._active = key, [e for e in self.events if e.active(self.sim_time)]
        return [e for e in self._active if location_id is None or e.location_id in (None, location_id)]
