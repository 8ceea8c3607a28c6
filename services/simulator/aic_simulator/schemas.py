"""Request and response bodies of the simulator API."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aic_common.messages import SimCommand
from aic_common.types import UtcDateTime
from aic_simulator.state import EventKind


class ControlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: SimCommand
    steps: int | None = Field(default=None, ge=1, le=10_000)
    speed: float | None = Field(default=None, ge=0, le=100_000)


class AgentSummary(BaseModel):
    id: str
    username: str
    display_name: str
    user_id: str | None
    location_id: str
    current_action: str | None
    energy: float
    sociability: float
    mood: float
    summary: str
    summary_en: str


class LocationView(BaseModel):
    id: str
    name: str
    name_en: str
    kind: str
    x: float
    y: float
    capacity: int
    open_now: bool
    description: str = ""
    agents: list[AgentSummary]


class GameEventView(BaseModel):
    id: str
    title: str
    description: str
    location_id: str | None
    starts_at: UtcDateTime
    ends_at: UtcDateTime
    kind: EventKind = "gathering"
    source: str
    active: bool


class WorldMapView(BaseModel):
    """The world file's optional drawing aids: paths between places and water, in the places' 0-100
    coordinates (points as [x, y])."""

    paths: list[tuple[str, str]] = []
    water: list[list[tuple[float, float]]] = []


class WorldView(BaseModel):
    sim_time: UtcDateTime | None
    locations: list[LocationView]
    events: list[GameEventView]
    # Null when the world file has no map section: the web UI then derives paths itself.
    map: WorldMapView | None = None


class MemoryView(BaseModel):
    seq: int
    sim_time: UtcDateTime
    kind: str
    content: str
    importance: float


class ActionResult(StrEnum):
    """What the social network did with the command an action sent, as the action log shows it and
    filters by it (stored as models.CommandResult until an answer comes: pending)."""

    applied = "applied"
    rejected = "rejected"
    pending = "pending"  # sent, no answer yet


class TargetKind(StrEnum):
    """What an action's target is, by kind of action: the console names it instead of showing its id."""

    place = "place"  # move, work
    person = "person"  # a character or a person: talk, say, message, reply, goodbye, follow, unfollow
    post = "post"  # like, comment: named by its author
    event = "event"  # attend_event
    item = "item"  # pick_up, use_item
    query = "query"  # search: the words searched for


class FallbackView(BaseModel):
    """A tier that did not decide, and the kind of its reason (metrics.fallback_kind)."""

    tier: str
    kind: str


class ActionView(BaseModel):
    id: str
    decision: int
    step: int
    agent_id: str
    sim_time: UtcDateTime
    ends_at: UtcDateTime
    action: str
    target: str | None
    content: str | None
    location_id: str
    tier: str
    fallback_reason: str | None
    trace: dict[str, Any]
    outcome: str
    # What social did with the command the action sent: applied or rejected, pending until its answer
    # comes, None when the action sent none; the detail is the event it answered with or the code it
    # refused with. ``result`` is the two as one text ("applied: post.created"), as the log shows it.
    result: str | None = None
    result_kind: ActionResult | None = None
    result_detail: str | None = None
    # The target as people know it: a display name (a place's or an item's Chinese name, a post's
    # author), with the English name where it has one; the name is None when the simulator does not
    # know it (the kind is still given). None without a target.
    target_kind: TargetKind | None = None
    target_name: str | None = None
    target_name_en: str | None = None
    # Operators only: the code of a reason the rules wrote (rules.Why), None for an LLM's own words; and
    # the tiers above the deciding one that failed, with the kind of each failure.
    reason_code: str | None = None
    fallbacks: list[FallbackView] = Field(default_factory=list)


class AgentDetail(AgentSummary):
    persona: dict[str, Any]
    home_id: str
    inventory: list[str]
    relationships: list[dict[str, Any]]
    memories: list[MemoryView]
    recent_actions: list[ActionView]


class ActionPage(BaseModel):
    items: list[ActionView]
    next_cursor: str | None


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)
    location_id: str | None = Field(default=None, max_length=64)
    starts_in_minutes: int = Field(default=0, ge=0, le=60 * 24 * 30)
    duration_minutes: int = Field(default=120, ge=1, le=60 * 24 * 7)
    # What characters make of it: gatherings, markets and shows draw people by interest; a hazard sends
    # them home and gets talked about; an announcement spreads through posts.
    kind: EventKind = "gathering"
    effects: dict[str, float] = Field(default_factory=dict, max_length=5)


class TranscriptLine(BaseModel):
    """A line said aloud in a conversation in person: who said it to whom, where and when."""

    id: str
    decision: int
    sim_time: UtcDateTime
    conversation_id: str
    speaker_id: str  # agent ids: conversations in person are between characters only
    listener_id: str
    action: str  # talk (it opened the conversation), say, goodbye (it closed it)
    text: str
    location_id: str


class TranscriptPage(BaseModel):
    agent_id: str
    items: list[TranscriptLine]
    next_cursor: str | None
