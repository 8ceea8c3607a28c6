"""What a decision policy sees and what it answers, whichever tier (LLM or rules) decides.

The engine builds a :class:`Perception` for one agent at one moment; a policy returns a
:class:`Decision` naming one of the perception's ``options``. Every decision is logged with
:class:`DecisionTrace`: which tier decided and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field


class ActionKind(StrEnum):
    browse = "browse"  # read the feed, maybe like or comment on some of it
    post = "post"
    comment = "comment"
    like = "like"
    follow = "follow"
    message = "message"  # start a conversation
    reply = "reply"  # answer a direct message
    move = "move"
    talk = "talk"  # with an agent at the same place
    pick_up = "pick_up"
    use_item = "use_item"
    attend_event = "attend_event"
    rest = "rest"


@dataclass(frozen=True)
class Option:
    """One thing the agent may do now; ``target`` is what it is done to (a post, a person, a place...)."""

    action: ActionKind
    target: str | None = None
    label: str = ""  # a short human description, shown to an LLM and in the decision log


@dataclass(frozen=True)
class FeedItem:
    post_id: str
    author_id: str
    author_name: str
    content: str
    is_mine: bool = False


@dataclass(frozen=True)
class IncomingMessage:
    message_id: str
    sender_id: str
    sender_name: str
    content: str


@dataclass(frozen=True)
class Memory:
    id: int
    content: str
    importance: float
    score: float


@dataclass
class Perception:
    agent_id: str
    name: str
    persona: dict[str, Any]
    sim_time: datetime
    location_id: str
    location_name: str
    energy: float  # 0..1
    sociability: float  # 0..1
    mood: float  # -1..1
    inventory: list[str]
    people_here: list[str]
    active_events: list[str]
    feed: list[FeedItem]
    unread_messages: list[IncomingMessage]
    memories: list[Memory]
    options: list[Option]
    language: str = "zh"  # the persona's writing language


class Decision(BaseModel):
    """The structured answer every policy gives (and the JSON shape an LLM must produce)."""

    action: ActionKind
    target: str | None = Field(default=None, max_length=200)
    content: str | None = Field(
        default=None, max_length=2000, description="text to post, comment, say or reply"
    )
    reason: str = Field(default="", max_length=500)


@dataclass
class DecisionTrace:
    tier: str  # "llm" or "rule"
    latency_ms: float
    memories_used: list[int] = field(default_factory=list)
    options_considered: list[str] = field(default_factory=list)
    tokens: int = 0
    fallback_reason: str | None = None  # why a higher tier did not decide
    detail: dict[str, Any] = field(default_factory=dict)


class Policy(Protocol):
    name: str

    async def decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        """Choose one of ``perception.options``; raise to let the next tier decide."""


def option_allows(perception: Perception, decision: Decision) -> bool:
    """A decision is valid only if it is one of the options offered."""
    return any(
        o.action == decision.action and (o.target is None or o.target == decision.target)
        for o in perception.options
    )
