"""The simulator's tables: the world, the agents and what they remember, the log of their decisions,
what they have perceived of the social network, and the engine's own state (checkpoint and lease)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aic_common.db import BigIntId, Timestamp, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class SimState(Base):
    """The one row that says where the simulation is: the checkpoint a restarted engine resumes from."""

    __tablename__ = "sim_state"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(16))
    sim_time: Mapped[datetime] = mapped_column(Timestamp)
    speed: Mapped[float] = mapped_column(sa.Float)
    seed: Mapped[int] = mapped_column(sa.Integer)
    steps: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    decisions: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class Lease(Base):
    """Leadership: only the holder of an unexpired lease runs the engine."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(100))
    expires_at: Mapped[datetime] = mapped_column(Timestamp)


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(32))
    x: Mapped[float] = mapped_column(sa.Float)
    y: Mapped[float] = mapped_column(sa.Float)
    capacity: Mapped[int] = mapped_column(sa.Integer)
    opens_at: Mapped[int] = mapped_column(sa.Integer)  # hour of day, 0-24
    closes_at: Mapped[int] = mapped_column(sa.Integer)
    description: Mapped[str] = mapped_column(sa.String(500))


class Item(Base):
    __tablename__ = "items"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(32))
    location_id: Mapped[str | None] = mapped_column(sa.String(64))  # where it lies, if nobody has it
    holder_id: Mapped[str | None] = mapped_column(sa.String(64))  # the agent carrying it
    effects: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class GameEvent(Base):
    __tablename__ = "game_events"
    __table_args__ = (sa.Index("ix_game_events_starts_at", "starts_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.String(1000))
    location_id: Mapped[str | None] = mapped_column(sa.String(64))
    starts_at: Mapped[datetime] = mapped_column(Timestamp)
    ends_at: Mapped[datetime] = mapped_column(Timestamp)
    effects: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # gathering, market, show, hazard or announcement (state.EVENT_KINDS): how characters react to it.
    kind: Mapped[str] = mapped_column(sa.String(16), default="gathering", server_default="gathering")
    source: Mapped[str] = mapped_column(sa.String(16))  # "world" (scheduled) or "admin" (injected)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(32), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[str | None] = mapped_column(
        sa.String(36), unique=True
    )  # the social account, once created
    persona: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    home_id: Mapped[str] = mapped_column(sa.String(64))
    location_id: Mapped[str] = mapped_column(sa.String(64))
    energy: Mapped[float] = mapped_column(sa.Float)
    sociability: Mapped[float] = mapped_column(sa.Float)
    mood: Mapped[float] = mapped_column(sa.Float)
    current_action: Mapped[str | None] = mapped_column(sa.String(32))
    current_decision: Mapped[int | None] = mapped_column(sa.BigInteger)
    memory_seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_wake_at: Mapped[datetime] = mapped_column(Timestamp)
    importance_since_reflection: Mapped[float] = mapped_column(sa.Float, default=0.0)
    # The day's plan (a list of blocks, see plans.PlanItem) and the simulated date it is for.
    plan: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON, default=list)
    plan_day: Mapped[str] = mapped_column(sa.String(10), default="", server_default="")
    conversation_id: Mapped[str | None] = mapped_column(sa.String(40))  # the talk in person it is in


class Relationship(Base):
    __tablename__ = "relationships"

    agent_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    other: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # an agent id or a user id
    affinity: Mapped[float] = mapped_column(sa.Float, default=0.0)
    interactions: Mapped[int] = mapped_column(sa.Integer, default=0)
    note: Mapped[str] = mapped_column(sa.String(200), default="")


class MemoryRecord(Base):
    __tablename__ = "memories"
    __table_args__ = (sa.Index("ix_memories_agent_id_id", "agent_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(sa.String(64))
    seq: Mapped[int] = mapped_column(sa.Integer)  # per agent, assigned by the engine (ids come at flush)
    sim_time: Mapped[datetime] = mapped_column(Timestamp)
    kind: Mapped[str] = mapped_column(sa.String(16))  # observation, conversation, plan, reflection
    content: Mapped[str] = mapped_column(sa.String(1000))
    importance: Mapped[float] = mapped_column(sa.Float)
    # "public", or "private:<conversation id>": who may hear what this memory holds (memory.visible_to).
    audience: Mapped[str] = mapped_column(sa.String(48), default="public", server_default="public")


class CommandResult(StrEnum):
    """What the social network did with a command a character's action sent."""

    applied = "applied"
    rejected = "rejected"


# Stored as its value in a VARCHAR (no database enum type): a new outcome needs no ALTER TABLE.
COMMAND_RESULT = sa.Enum(
    CommandResult,
    name="command_result",
    native_enum=False,
    length=16,
    values_callable=lambda kinds: [kind.value for kind in kinds],
    validate_strings=True,  # an old-style text ("applied: post.created") is refused, not stored
)


class ActionLog(Base):
    __tablename__ = "action_logs"
    __table_args__ = (
        sa.Index("ix_action_logs_agent_id_id", "agent_id", "id"),
        sa.Index("ix_action_logs_action", "action"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # The engine's decision number: unique, assigned before the row is written, so the engine can
    # refer to the row (to record the outcome) without waiting for its id.
    decision: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    step: Mapped[int] = mapped_column(sa.BigInteger)
    agent_id: Mapped[str] = mapped_column(sa.String(64))
    sim_time: Mapped[datetime] = mapped_column(Timestamp)
    ends_at: Mapped[datetime] = mapped_column(Timestamp)
    action: Mapped[str] = mapped_column(sa.String(32))
    target: Mapped[str | None] = mapped_column(sa.String(200))
    content: Mapped[str | None] = mapped_column(sa.Text)
    location_id: Mapped[str] = mapped_column(sa.String(64))
    tier: Mapped[str] = mapped_column(sa.String(16))
    fallback_reason: Mapped[str | None] = mapped_column(sa.String(500))
    trace: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    outcome: Mapped[str] = mapped_column(sa.String(32), default="started")
    # What the social network did with the command this action sent, learned from its events (None: no
    # answer yet, or no command); the detail is the event it answered with or the code it refused with.
    result: Mapped[CommandResult | None] = mapped_column(COMMAND_RESULT)
    result_detail: Mapped[str | None] = mapped_column(sa.String(120))
    command_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)  # the social command it sent
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class SeenPost(Base):
    """The simulator's own view of recent posts, from ``post.created`` / ``post.deleted``."""

    __tablename__ = "seen_posts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    post_id: Mapped[str] = mapped_column(sa.String(20), unique=True)
    author_id: Mapped[str] = mapped_column(sa.String(36))
    author_username: Mapped[str] = mapped_column(sa.String(32))
    content: Mapped[str] = mapped_column(sa.Text)
    deleted: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)  # for the retention sweep


class Stimulus(Base):
    """Something addressed to an agent that should wake it early: a message, a comment, a mention."""

    __tablename__ = "stimuli"
    __table_args__ = (sa.Index("ix_stimuli_handled_id", "handled", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # message, comment, mention, follow
    ref_id: Mapped[str] = mapped_column(sa.String(40))
    post_id: Mapped[str | None] = mapped_column(sa.String(20))
    from_user_id: Mapped[str] = mapped_column(sa.String(36))
    from_username: Mapped[str] = mapped_column(sa.String(32))
    content: Mapped[str] = mapped_column(sa.Text)
    handled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(Timestamp, index=True)  # for the retention sweep


class Conversation(Base):
    """A thread between two participants, in person ("talk") or by direct message ("dm"); its lines are
    the action log's talk/say/message/reply/goodbye rows that name it."""

    __tablename__ = "conversations"
    __table_args__ = (sa.Index("ix_conversations_ended_at", "ended_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(8))  # talk, dm
    a: Mapped[str] = mapped_column(sa.String(64))  # the agent who opened it
    b: Mapped[str] = mapped_column(sa.String(64))  # an agent id, or a person's account id (dm)
    topic: Mapped[str] = mapped_column(sa.String(200))
    budget: Mapped[int] = mapped_column(sa.Integer)
    turns: Mapped[int] = mapped_column(sa.Integer, default=0)
    speaker: Mapped[str | None] = mapped_column(sa.String(64))
    last_line: Mapped[str] = mapped_column(sa.String(500), default="")
    location_id: Mapped[str | None] = mapped_column(sa.String(64))
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    last_at: Mapped[datetime] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)


class KnownPerson(Base):
    """People's display names, from ``user.registered`` / ``user.updated``: characters address people by
    name, never by username."""

    __tablename__ = "known_people"

    user_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(32))
    display_name: Mapped[str] = mapped_column(sa.String(64))


class KnownFollow(Base):
    """Who follows whom, from ``user.followed``; agents use it to decide whom to follow."""

    __tablename__ = "known_follows"

    follower_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    followee_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)


class SeenComment(Base):
    """Comments as the characters read them under posts, from ``comment.created``."""

    __tablename__ = "seen_comments"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    comment_id: Mapped[str] = mapped_column(sa.String(20), unique=True)
    post_id: Mapped[str] = mapped_column(sa.String(20), index=True)
    author_id: Mapped[str] = mapped_column(sa.String(36))
    author_username: Mapped[str] = mapped_column(sa.String(32))
    content: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)  # for the retention sweep


class SeenLike(Base):
    """Who liked which post, from ``post.liked``: the like counts the characters see, and what each has
    liked already (so it is not offered again)."""

    __tablename__ = "seen_likes"
    __table_args__ = (sa.UniqueConstraint("post_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    post_id: Mapped[str] = mapped_column(sa.String(20))
    user_id: Mapped[str] = mapped_column(sa.String(36))
    # When the simulator heard of it (the event carries no time): the retention sweep's measure.
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class LlmAnswer(Base):
    """One exchange with the LLM server as a recorded run saw it (aic_simulator.recording): the request,
    and the answer a replay gives back in its place. ``key`` is a hash of the canonical request and
    ``occurrence`` counts the times the run sent that very request (a retry is the next occurrence).
    ``status`` 0 means the server gave no HTTP answer; ``body`` then names the transport error."""

    __tablename__ = "llm_answers"
    __table_args__ = (sa.UniqueConstraint("branch", "key", "occurrence"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    branch: Mapped[str] = mapped_column(sa.String(64))  # the run, or the fork of it, that recorded it
    key: Mapped[str] = mapped_column(sa.String(64))
    occurrence: Mapped[int] = mapped_column(sa.Integer)
    request: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[int] = mapped_column(sa.Integer)
    headers: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)  # those a client acts on
    body: Mapped[str] = mapped_column(sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class PersonInput(Base):
    """What a person (an account that is no character) did that the characters took in, in a recorded
    run: a message, comment or mention (``stimulus``), a comment or like under a post (``comment``,
    ``like``), with the step a refresh took it in at and the person's name (aic_simulator.people). A
    replay, or a fork up to its checkpoint, gives it to the characters again at that step: ``delivered``
    is False until then (imported rows); a recorded run's own rows are delivered when written."""

    __tablename__ = "people_input"
    __table_args__ = (sa.Index("ix_people_input_delivered_step", "delivered", "step"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    step: Mapped[int] = mapped_column(sa.BigInteger)  # world.steps (ticks done) when it was taken in
    kind: Mapped[str] = mapped_column(sa.String(16))  # stimulus, comment, like
    key: Mapped[str] = mapped_column(sa.String(160), unique=True)  # what it is: taken in once
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # the row as the consumer wrote it, and names
    delivered: Mapped[bool] = mapped_column(sa.Boolean)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
