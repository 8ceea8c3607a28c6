"""The social service's tables.

Ids are auto-increment integers: they order rows by creation, so every list pages by keyset
(``id < cursor``) and stays an index range scan however many rows there are. Counters (likes,
comments, followers, ...) are kept on the rows and changed in the same transaction as the rows they
count, so they cannot drift.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aic_common.db import BigIntId, Timestamp, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class Profile(Base):
    """A projection of auth's users (``user.*`` events) plus what social owns: bio and avatar."""

    __tablename__ = "profiles"

    user_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(32))
    username_key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(64))
    bio: Mapped[str] = mapped_column(sa.String(500), default="")
    avatar_file_id: Mapped[str | None] = mapped_column(sa.String(36))
    role: Mapped[str] = mapped_column(sa.String(16), default="user")
    is_ai: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    post_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    follower_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    following_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class OwnedFile(Base):
    """Which files exist and who owns them, from ``file.*`` events: a post may use only its author's."""

    __tablename__ = "owned_files"

    file_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    content_type: Mapped[str] = mapped_column(sa.String(50))
    deleted: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        # Home feed and profile pages: author_id IN (...) AND deleted_at IS NULL AND id < cursor
        # ORDER BY id DESC, answered from the index alone (no row is read until the page is chosen).
        sa.Index("ix_posts_author_id_deleted_at_id", "author_id", "deleted_at", "id"),
        # Explore: recent posts by time.
        sa.Index("ix_posts_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    author_id: Mapped[str] = mapped_column(sa.String(36))
    content: Mapped[str] = mapped_column(sa.Text)
    image_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    location_id: Mapped[str | None] = mapped_column(sa.String(64))
    like_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    comment_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # A repost points at the original (content is then the optional quote); the original counts its reposts.
    repost_of_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    repost_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    deleted_by: Mapped[str | None] = mapped_column(sa.String(36))


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        sa.Index("ix_comments_post_id_id", "post_id", "id"),
        # A comment's replies, oldest first, without reading deleted ones (SocialService._threads).
        sa.Index("ix_comments_parent_id_deleted_at_id", "parent_id", "deleted_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(sa.BigInteger)
    author_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    # A reply's parent is always a top-level comment: one level of replies.
    parent_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    # A top-level comment's live replies.
    reply_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    content: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp)


class Like(Base):
    __tablename__ = "likes"

    post_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (sa.Index("ix_follows_followee_id_created_at", "followee_id", "created_at"),)

    follower_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    followee_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Conversation(Base):
    """Two accounts' direct messages; ``user_low`` < ``user_high`` so a pair has exactly one row."""

    __tablename__ = "conversations"
    __table_args__ = (sa.UniqueConstraint("user_low", "user_high"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_low: Mapped[str] = mapped_column(sa.String(36))
    user_high: Mapped[str] = mapped_column(sa.String(36))
    last_message_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class ConversationMember(Base):
    """Each participant's view of a conversation: where it sorts in their list and what is unread."""

    __tablename__ = "conversation_members"
    __table_args__ = (
        sa.Index("ix_conversation_members_user_id_last_message_id", "user_id", "last_message_id"),
    )

    conversation_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    other_id: Mapped[str] = mapped_column(sa.String(36))
    last_message_id: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    unread_count: Mapped[int] = mapped_column(sa.Integer, default=0)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (sa.Index("ix_messages_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(sa.BigInteger)
    sender_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    content: Mapped[str] = mapped_column(sa.Text)
    # Files of the sender's, checked like a post's; NULL in rows older than images in messages.
    image_ids: Mapped[list[str] | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Bookmark(Base):
    """A post a user saved for later; private to that user."""

    __tablename__ = "bookmarks"
    __table_args__ = (sa.Index("ix_bookmarks_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_id_id", "user_id", "id"),
        # Whether the recipient has an unread one of this actor's already (SocialService._notify).
        sa.Index("ix_notifications_user_id_actor_id", "user_id", "actor_id"),
        # The retention sweep finds notifications read long ago by it (aic_social.app.retention_rules).
        sa.Index("ix_notifications_read_at", "read_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(sa.String(36))
    kind: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    post_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    comment_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    message_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    read_at: Mapped[datetime | None] = mapped_column(Timestamp)


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (sa.UniqueConstraint("post_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    reporter_id: Mapped[str] = mapped_column(sa.String(36))
    reason: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(36))
    resolution: Mapped[str | None] = mapped_column(sa.String(20))


class SearchTerm(Base):
    """The search index: one row per (term, document). See ``search.py`` for why this works for Chinese."""

    __tablename__ = "search_terms"
    __table_args__ = (sa.Index("ix_search_terms_doc", "doc_kind", "doc_id"),)

    # Binary collation: the terms are normalised already, and "cafe" and "café" must not collide.
    term: Mapped[str] = mapped_column(
        sa.String(40).with_variant(sa.String(40, collation="utf8mb4_bin"), "mysql"), primary_key=True
    )
    doc_kind: Mapped[str] = mapped_column(sa.String(1), primary_key=True)  # "p" post, "u" user
    doc_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    weight: Mapped[float] = mapped_column(sa.Float)


class ExploreRanking(Base):
    """A ranking of the explore feed as of ``ranked_at`` (see ``explore.py``): a cursor names it by id."""

    __tablename__ = "explore_rankings"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # The newest is found, and rankings are let go by the retention sweep, by it.
    ranked_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    post_ids: Mapped[list[int]] = mapped_column(sa.JSON)  # best first
