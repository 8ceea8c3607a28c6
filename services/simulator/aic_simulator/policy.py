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
    repost = "repost"  # pass a post it read on, with a quote or none (target: the post)
    comment = "comment"
    like = "like"
    follow = "follow"
    unfollow = "unfollow"
    search = "search"  # look for posts about something (target: the query)
    message = "message"  # open a direct-message conversation
    reply = "reply"  # answer a direct message (target: the message)
    goodbye = "goodbye"  # end a conversation with a last line (target: the message or the partner)
    move = "move"
    talk = "talk"  # open a conversation with an agent at the same place (content: the first line)
    say = "say"  # the next line of a conversation in person (target: the partner)
    pick_up = "pick_up"
    use_item = "use_item"
    attend_event = "attend_event"
    work = "work"  # the plan's job, at its workplace
    rest = "rest"
    sleep = "sleep"  # at home in its sleep hours, until it wakes


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
    author_name: str  # display name
    content: str
    is_mine: bool = False
    comments: tuple[tuple[str, str], ...] = ()  # (author name, text) of the comments it read


@dataclass(frozen=True)
class ConversationView:
    """The conversation the decision is a turn of (a talk in person, or the direct messages answered)."""

    id: str
    channel: str  # talk, dm
    partner: str  # display name
    topic: str
    turns: int
    budget: int  # lines it will take; a rule character says goodbye once they are said
    last_line: str
    with_person: bool  # a person, not a character: they decide when it ends
    first_meeting: bool
    # The conversation so far, oldest first: (who said it, what); its latest lines only.
    lines: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class IncomingMessage:
    message_id: str
    sender_id: str
    sender_name: str  # display name
    content: str
    from_person: bool = True  # a person, not a character
    conversation_id: str | None = None


@dataclass(frozen=True)
class Memory:
    id: int
    content: str
    importance: float
    score: float
    audience: str = "public"  # see state.MemoryEntry
    kind: str = "observation"


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
    awake: bool = True
    place_open: bool = True
    plan: str | None = None  # what the plan says it is doing now, in its language
    plan_activity: str | None = None  # sleep, work, meal, leisure, event, shelter, evening
    plan_location_id: str | None = None
    hazard: str | None = None  # the title of a hazard on that it knows of (it was there, or it is everywhere)
    news: str | None = None  # a hazard or announcement it knows of and has not posted about
    conversation: ConversationView | None = None  # the talk in person it is in, when it is its turn
    strangers: frozenset[str] = frozenset()  # display names of the people here it has never met
    foreigners: frozenset[str] = frozenset()  # display names of the people here who write another language
    affinity: dict[str, float] = field(default_factory=dict)  # how it feels about the people here (-1..1)
    # What was said to it under a post (a comment on its post, a mention), by post: (who, what).
    answering: dict[str, tuple[str, str]] = field(default_factory=dict)
    conversations: dict[str, ConversationView] = field(default_factory=dict)  # dm threads, by message id
    # What the rule writer builds text from (writer.WritingContext), public memories only.
    writing: Any = None
    # What a photo taken now would show (pictures.base.Moment); None when a post may not carry a picture
    # now (no image backend, or the caps on pictures are reached).
    moment: Any = None


class Decision(BaseModel):
    """The structured answer every policy gives (and the JSON shape an LLM must produce)."""

    action: ActionKind
    target: str | None = Field(default=None, max_length=200)
    content: str | None = Field(
        default=None, max_length=2000, description="text to post, comment, message, say, reply or say goodbye"
    )
    reason: str = Field(default="", max_length=500)
    # For a post: what the photo with it shows, in a sentence (the image prompt); None for no picture.
    picture: str | None = Field(default=None, max_length=400)


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
