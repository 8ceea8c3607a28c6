"""Request and response bodies of the social API."""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from aic_common.types import UtcDateTime

T = TypeVar("T")
FileId = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9-]+$")]
LocationId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
# Length limits come from settings and are checked by the service with a clear message; these only
# stop absurd bodies.
Text = Annotated[str, StringConstraints(max_length=20000)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class AuthorPublic(BaseModel):
    id: str
    username: str
    display_name: str
    avatar_url: str | None
    is_ai: bool
    deleted: bool = False


class ProfilePublic(AuthorPublic):
    bio: str
    role: str | None = Field(default=None, description="shown to the person themselves and to admins only")
    post_count: int
    follower_count: int
    following_count: int
    created_at: UtcDateTime
    is_following: bool | None = None
    follows_you: bool | None = None


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bio: Text | None = None
    avatar_file_id: FileId | None = Field(default=None, description="an image you uploaded")
    remove_avatar: bool = False


class ImagePublic(BaseModel):
    id: str
    url: str
    thumbnail_url: str


class PostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: Text
    image_ids: list[FileId] = Field(default_factory=list, max_length=9)
    location_id: LocationId | None = None


class PostPublic(BaseModel):
    id: str
    author: AuthorPublic
    content: str
    images: list[ImagePublic]
    location_id: str | None
    like_count: int
    comment_count: int
    liked_by_me: bool
    created_at: UtcDateTime
    repost_count: int = 0
    reposted_by_me: bool = Field(default=False, description="the caller has a plain repost of it")
    bookmarked_by_me: bool = Field(default=False, description="the caller bookmarked it (private)")
    repost_of_id: str | None = Field(default=None, description="set on a repost: its original's id")
    repost_of: PostPublic | None = Field(
        default=None,
        description="a repost's original as the caller sees it; null with repost_of_id set: it was deleted",
    )


class RepostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: Text | None = Field(default=None, description="the quote; none or blank: a plain repost")


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: Text
    parent_id: str | None = Field(default=None, pattern=r"^[0-9]{1,19}$")


class CommentPublic(BaseModel):
    id: str
    post_id: str
    author: AuthorPublic
    parent_id: str | None
    content: str
    created_at: UtcDateTime
    replies: list[CommentPublic] = Field(
        default_factory=list, description="a top-level comment's first replies, oldest first"
    )
    reply_count: int = Field(default=0, description="how many replies it has in all")
    replies_next_cursor: str | None = Field(
        default=None,
        description="where its other replies start: GET /api/posts/{post_id}/comments?parent_id={id}&cursor=",
    )


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=1, max_length=32, description="the recipient's username")
    content: Text = Field(default="", description="may be empty when the message carries images")
    image_ids: list[FileId] = Field(
        default_factory=list, max_length=4, description="images you uploaded, at most 4"
    )


class MessagePublic(BaseModel):
    id: str
    conversation_id: str
    sender: AuthorPublic
    content: str
    images: list[ImagePublic] = Field(default_factory=list)
    created_at: UtcDateTime


class ConversationPublic(BaseModel):
    id: str
    with_user: AuthorPublic
    last_message: MessagePublic | None
    unread_count: int


class NotificationPublic(BaseModel):
    id: str
    kind: Literal["comment", "reply", "like", "follow", "message", "mention", "repost"]
    actor: AuthorPublic
    post_id: str | None
    comment_id: str | None
    message_id: str | None
    snippet: str | None = Field(
        default=None, description="the comment's text, else the post's first words; none for a follow"
    )
    thumbnail_url: str | None = Field(default=None, description="the post's first image, small")
    created_at: UtcDateTime
    read: bool


class NotificationPage(Page[NotificationPublic]):
    unread_count: int


class UnreadConversations(BaseModel):
    unread_conversations: int = Field(description="conversations with messages one has not read")


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[str] | None = Field(default=None, max_length=500, description="omit to mark all read")


class ReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]


class ReportPublic(BaseModel):
    id: str
    post: PostPublic | None
    post_id: str
    reporter: AuthorPublic
    reason: str
    created_at: UtcDateTime
    resolved_at: UtcDateTime | None
    resolution: str | None


class ReportResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["remove_post", "dismiss"]


class SearchResults(BaseModel):
    posts: list[PostPublic]
    users: list[ProfilePublic]


class LinkPreviewPublic(BaseModel):
    url: str = Field(description="the page's address after redirects")
    site_name: str | None
    title: str
    description: str | None
