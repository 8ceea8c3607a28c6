"""The single catalogue of messages that cross service boundaries.

Every message travels as one JSON :class:`Envelope`; ``type`` is also the routing key. Each payload
schema below is registered with its type, version and kind (event, command or control), which decides
the exchange it is published to. Consumers ignore fields they do not know, so adding an optional field
is compatible; anything else bumps ``version``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class MessageKind(StrEnum):
    event = "event"
    command = "command"
    control = "control"


# The exchange (without namespace) each kind of message goes to.
EXCHANGE_OF_KIND: dict[MessageKind, str] = {
    MessageKind.event: "events",
    MessageKind.command: "commands",
    MessageKind.control: "control",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """What is on the wire. ``id`` is the idempotency key of the message."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(min_length=1, max_length=100)
    version: int = Field(default=1, ge=1)
    occurred_at: datetime = Field(default_factory=utcnow)
    producer: str = Field(min_length=1, max_length=50)
    correlation_id: str | None = Field(default=None, max_length=100)
    data: dict[str, Any] = Field(default_factory=dict)
    # Not part of the message: set by the transport on delivery, so no publisher can write it.
    _broker_user: str | None = PrivateAttr(default=None)

    @property
    def kind(self) -> MessageKind:
        return CATALOGUE[self.type].message_kind if self.type in CATALOGUE else MessageKind.event

    @property
    def broker_user(self) -> str | None:
        """The broker user that published this message, as the broker vouches for it (RabbitMQ checks
        a message's ``user_id`` against the publishing connection); None when nobody vouches."""
        return self._broker_user

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, body: bytes, *, broker_user: str | None = None) -> Envelope:
        envelope = cls.model_validate_json(body)
        envelope._broker_user = broker_user
        return envelope


class MessageData(BaseModel):
    """Base of every payload. Subclasses set the three class variables and are registered."""

    model_config = ConfigDict(extra="ignore")

    message_type: ClassVar[str]
    message_version: ClassVar[int] = 1
    message_kind: ClassVar[MessageKind] = MessageKind.event


CATALOGUE: dict[str, type[MessageData]] = {}

DataT = TypeVar("DataT", bound=MessageData)


def register(cls: type[DataT]) -> type[DataT]:
    if cls.message_type in CATALOGUE:
        raise ValueError(f"message type {cls.message_type} registered twice")
    CATALOGUE[cls.message_type] = cls
    return cls


def make_envelope(data: MessageData, producer: str, correlation_id: str | None = None) -> Envelope:
    return Envelope(
        type=data.message_type,
        version=data.message_version,
        producer=producer,
        correlation_id=correlation_id,
        data=data.model_dump(mode="json"),
    )


def parse_data(envelope: Envelope, expected: type[DataT]) -> DataT:
    """Validate the payload of ``envelope`` as ``expected``; raises ValueError on a mismatch."""
    if envelope.type != expected.message_type:
        raise ValueError(f"expected {expected.message_type}, got {envelope.type}")
    return expected.model_validate(envelope.data)


def exchange_for(message_type: str) -> str:
    cls = CATALOGUE.get(message_type)
    return EXCHANGE_OF_KIND[cls.message_kind if cls else MessageKind.event]


# ---------------------------------------------------------------- users (auth)

Role = Literal["user", "admin", "service"]


@register
class UserRegistered(MessageData):
    message_type = "user.registered"
    user_id: str
    username: str
    display_name: str
    role: Role = "user"
    is_ai: bool = False
    bio: str = ""  # the profile's first bio (an AI character's persona summary)
    created_at: datetime


@register
class UserUpdated(MessageData):
    message_type = "user.updated"
    user_id: str
    username: str
    display_name: str
    role: Role = "user"
    is_ai: bool = False


@register
class UserDeleted(MessageData):
    message_type = "user.deleted"
    user_id: str
    username: str


@register
class CreateAiAccount(MessageData):
    """The simulator asks auth for an AI character's account; answered by ``user.registered``."""

    message_type = "auth.command.create_ai_account"
    message_kind = MessageKind.command
    username: str
    display_name: str
    bio: str = ""


# ---------------------------------------------------------------- social


@register
class PostCreated(MessageData):
    message_type = "post.created"
    post_id: str
    author_id: str
    author_username: str
    author_is_ai: bool = False
    content: str
    image_ids: list[str] = Field(default_factory=list)
    location_id: str | None = None
    mentions: list[str] = Field(default_factory=list)
    created_at: datetime


@register
class ProfileUpdated(MessageData):
    """Social's part of a profile changed (bio, avatar); the avatar file counts as attached."""

    message_type = "profile.updated"
    user_id: str
    bio: str = ""
    avatar_file_id: str | None = None


@register
class PostDeleted(MessageData):
    message_type = "post.deleted"
    post_id: str
    author_id: str
    deleted_by: str


@register
class CommentCreated(MessageData):
    message_type = "comment.created"
    comment_id: str
    post_id: str
    post_author_id: str
    author_id: str
    author_username: str
    parent_id: str | None = None
    content: str
    mentions: list[str] = Field(default_factory=list)
    created_at: datetime


@register
class PostLiked(MessageData):
    message_type = "post.liked"
    post_id: str
    post_author_id: str
    user_id: str


@register
class PostReposted(MessageData):
    """A repost (``post_id``) of the original ``original_post_id``; ``content`` is its quote, "" for none."""

    message_type = "post.reposted"
    post_id: str
    original_post_id: str
    original_author_id: str
    author_id: str
    author_username: str
    author_is_ai: bool = False
    content: str = ""
    mentions: list[str] = Field(default_factory=list)
    created_at: datetime


@register
class UserFollowed(MessageData):
    message_type = "user.followed"
    follower_id: str
    followee_id: str


@register
class UserUnfollowed(MessageData):
    message_type = "user.unfollowed"
    follower_id: str
    followee_id: str


@register
class MessageSent(MessageData):
    message_type = "message.sent"
    message_id: str
    conversation_id: str
    sender_id: str
    sender_username: str
    recipient_id: str
    recipient_username: str
    content: str  # empty when the message is images alone
    created_at: datetime
    image_ids: list[str] = Field(default_factory=list)  # files of the sender's (served by files)


@register
class NotificationCreated(MessageData):
    message_type = "notification.created"
    notification_id: str
    user_id: str
    kind: Literal["comment", "reply", "like", "follow", "message", "mention", "repost"]
    actor_id: str
    actor_username: str
    post_id: str | None = None
    comment_id: str | None = None
    message_id: str | None = None
    created_at: datetime


# Commands from the simulator: social applies them with the rules of a person's request.


class SocialCommand(MessageData):
    message_kind = MessageKind.command
    actor_id: str


@register
class CreatePostCommand(SocialCommand):
    message_type = "social.command.create_post"
    content: str
    image_ids: list[str] = Field(default_factory=list)
    location_id: str | None = None


@register
class CreateCommentCommand(SocialCommand):
    message_type = "social.command.create_comment"
    post_id: str
    content: str
    parent_id: str | None = None


@register
class LikeCommand(SocialCommand):
    message_type = "social.command.like"
    post_id: str


@register
class RepostCommand(SocialCommand):
    """A repost of ``post_id``'s original; ``content`` is the quote ("" for a plain repost)."""

    message_type = "social.command.repost"
    post_id: str
    content: str = ""


@register
class FollowCommand(SocialCommand):
    message_type = "social.command.follow"
    followee_id: str


@register
class UnfollowCommand(SocialCommand):
    message_type = "social.command.unfollow"
    followee_id: str


@register
class SendMessageCommand(SocialCommand):
    message_type = "social.command.send_message"
    to_user_id: str
    content: str


@register
class CommandRejected(MessageData):
    """A social command that could not be applied (the same rule a person's request would break)."""

    message_type = "social.command.rejected"
    command_id: str
    command_type: str
    actor_id: str
    code: str
    detail: str


# ---------------------------------------------------------------- files


@register
class FileUploaded(MessageData):
    message_type = "file.uploaded"
    file_id: str
    owner_id: str
    content_type: str
    size: int
    width: int
    height: int
    sha256: str


@register
class FileDeleted(MessageData):
    message_type = "file.deleted"
    file_id: str
    owner_id: str


# ---------------------------------------------------------------- simulator


class SimState(StrEnum):
    stopped = "stopped"
    running = "running"
    paused = "paused"


@register
class SimClockAdvanced(MessageData):
    message_type = "sim.clock.advanced"
    sim_time: datetime
    previous_sim_time: datetime


@register
class SimActionStarted(MessageData):
    message_type = "sim.action.started"
    action_id: str
    agent_id: str
    user_id: str | None = None
    action: str
    sim_time: datetime
    location_id: str | None = None
    summary: str = ""


@register
class SimActionFinished(MessageData):
    message_type = "sim.action.finished"
    action_id: str
    agent_id: str
    user_id: str | None = None
    action: str
    sim_time: datetime
    outcome: str = "ok"
    summary: str = ""


@register
class SimStateChanged(MessageData):
    message_type = "sim.state.changed"
    state: SimState
    sim_time: datetime
    speed: float


class SimCommand(StrEnum):
    start = "start"
    stop = "stop"
    pause = "pause"
    resume = "resume"
    step = "step"
    set_speed = "set_speed"
    status = "status"
    report = "report"  # the society report over since..until, answered as {"ok": true, "report": {...}}


@register
class SimControl(MessageData):
    """Operator control of the simulation; ``status`` (and every command) is answered as a reply."""

    message_type = "sim.control"
    message_kind = MessageKind.control
    command: SimCommand
    steps: int | None = Field(default=None, ge=1, le=100_000)
    speed: float | None = Field(default=None, ge=0, le=10_000)
    # The window of simulated time a report covers (UTC); by default the 24 hours before the clock.
    since: datetime | None = None
    until: datetime | None = None
