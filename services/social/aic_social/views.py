"""Turning rows into the API's shapes, loading what they refer to in one query per kind (no N+1)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.responses import Response

from aic_social.models import (
    Comment,
    ConversationMember,
    Follow,
    Like,
    Message,
    Notification,
    Post,
    Profile,
    Report,
)
from aic_social.schemas import (
    AuthorPublic,
    CommentPublic,
    ConversationPublic,
    ImagePublic,
    MessagePublic,
    NotificationPublic,
    Page,
    PostPublic,
    ProfilePublic,
    ReportPublic,
)
from aic_social.settings import SocialSettings

UNKNOWN = AuthorPublic(
    id="", username="unknown", display_name="Unknown", avatar_url=None, is_ai=False, deleted=True
)


class Presenter:
    def __init__(self, session: Session, settings: SocialSettings, viewer_id: str | None) -> None:
        self.session = session
        self.files = settings.files_url_prefix
        self.viewer_id = viewer_id
        self._profiles: dict[str, Profile] = {}

    def _load_profiles(self, user_ids: Iterable[str]) -> None:
        missing = {u for u in user_ids if u and u not in self._profiles}
        if missing:
            for profile in self.session.scalars(sa.select(Profile).where(Profile.user_id.in_(missing))):
                self._profiles[profile.user_id] = profile

    def image(self, file_id: str) -> ImagePublic:
        return ImagePublic(
            id=file_id, url=f"{self.files}/{file_id}", thumbnail_url=f"{self.files}/{file_id}/thumbnail"
        )

    def author(self, user_id: str) -> AuthorPublic:
        self._load_profiles([user_id])
        return self._author(user_id, self._profiles.get(user_id))

    def _author(self, user_id: str, profile: Profile | sa.Row[Any] | None) -> AuthorPublic:
        """``profile``: a Profile, or a row with its public columns (None in them: no profile)."""
        if profile is None or profile.username is None:
            return UNKNOWN.model_copy(update={"id": user_id})
        return AuthorPublic(
            id=user_id,
            username=profile.username,
            display_name=profile.display_name,
            avatar_url=self.image(profile.avatar_file_id).thumbnail_url if profile.avatar_file_id else None,
            is_ai=profile.is_ai,
            deleted=profile.deleted,
        )

    def profile(self, profile: Profile) -> ProfilePublic:
        self._profiles[profile.user_id] = profile
        following = follows_you = None
        if self.viewer_id and self.viewer_id != profile.user_id:
            following = self.session.get(Follow, (self.viewer_id, profile.user_id)) is not None
            follows_you = self.session.get(Follow, (profile.user_id, self.viewer_id)) is not None
        return ProfilePublic(
            **self.author(profile.user_id).model_dump(),
            bio=profile.bio,
            role=profile.role,
            post_count=profile.post_count,
            follower_count=profile.follower_count,
            following_count=profile.following_count,
            created_at=profile.created_at,
            is_following=following,
            follows_you=follows_you,
        )

    def profiles(self, profiles: list[Profile]) -> list[ProfilePublic]:
        return [self.profile(p) for p in profiles]

    def posts(self, posts: list[Post]) -> list[PostPublic]:
        self._load_profiles(p.author_id for p in posts)
        liked: set[int] = set()
        if self.viewer_id and posts:
            liked = set(
                self.session.scalars(
                    sa.select(Like.post_id).where(
                        Like.user_id == self.viewer_id, Like.post_id.in_([p.id for p in posts])
                    )
                )
            )
        return [self._post(post, self.author(post.author_id), post.id in liked) for post in posts]

    def timeline(self, rows: list[sa.Row[Any]]) -> list[PostPublic]:
        """Rows of the service's timeline statements, which carry their author and the viewer's like."""
        return [self._post(row, self._author(row.author_id, row), bool(row.liked)) for row in rows]

    def _post(self, post: Post | sa.Row[Any], author: AuthorPublic, liked: bool) -> PostPublic:
        """``post``: a Post, or a row with its columns."""
        return PostPublic(
            id=str(post.id),
            author=author,
            content=post.content,
            images=[self.image(i) for i in post.image_ids or []],
            location_id=post.location_id,
            like_count=post.like_count,
            comment_count=post.comment_count,
            liked_by_me=liked,
            created_at=post.created_at,
        )

    def post(self, post: Post) -> PostPublic:
        return self.posts([post])[0]

    def comment(self, comment: Comment, replies: list[Comment] | None = None) -> CommentPublic:
        self._load_profiles([comment.author_id, *(r.author_id for r in replies or [])])
        return CommentPublic(
            id=str(comment.id),
            post_id=str(comment.post_id),
            author=self.author(comment.author_id),
            parent_id=str(comment.parent_id) if comment.parent_id else None,
            content=comment.content,
            created_at=comment.created_at,
            replies=[self.comment(r) for r in replies or []],
        )

    def comments(self, top: list[Comment], replies: dict[int, list[Comment]]) -> list[CommentPublic]:
        self._load_profiles([c.author_id for c in top] + [r.author_id for rs in replies.values() for r in rs])
        return [self.comment(c, replies.get(c.id, [])) for c in top]

    def message(self, message: Message) -> MessagePublic:
        return MessagePublic(
            id=str(message.id),
            conversation_id=str(message.conversation_id),
            sender=self.author(message.sender_id),
            content=message.content,
            created_at=message.created_at,
        )

    def messages(self, messages: list[Message]) -> list[MessagePublic]:
        self._load_profiles(m.sender_id for m in messages)
        return [self.message(m) for m in messages]

    def conversations(self, members: list[ConversationMember]) -> list[ConversationPublic]:
        self._load_profiles(m.other_id for m in members)
        last = {
            m.id: m
            for m in self.session.scalars(
                sa.select(Message).where(
                    Message.id.in_([m.last_message_id for m in members if m.last_message_id])
                )
            )
        }
        self._load_profiles(m.sender_id for m in last.values())
        return [
            ConversationPublic(
                id=str(member.conversation_id),
                with_user=self.author(member.other_id),
                last_message=self.message(last[member.last_message_id])
                if member.last_message_id in last
                else None,
                unread_count=member.unread_count,
            )
            for member in members
        ]

    def notifications(self, notifications: list[Notification]) -> list[NotificationPublic]:
        self._load_profiles(n.actor_id for n in notifications)
        return [
            NotificationPublic(
                id=str(n.id),
                kind=n.kind,  # type: ignore[arg-type]
                actor=self.author(n.actor_id),
                post_id=str(n.post_id) if n.post_id else None,
                comment_id=str(n.comment_id) if n.comment_id else None,
                message_id=str(n.message_id) if n.message_id else None,
                created_at=n.created_at,
                read=n.read_at is not None,
            )
            for n in notifications
        ]

    def reports(self, reports: list[Report]) -> list[ReportPublic]:
        posts = {
            p.id: p
            for p in self.session.scalars(sa.select(Post).where(Post.id.in_([r.post_id for r in reports])))
        }
        self._load_profiles([r.reporter_id for r in reports] + [p.author_id for p in posts.values()])
        return [
            ReportPublic(
                id=str(r.id),
                post=self.post(posts[r.post_id]) if r.post_id in posts else None,
                post_id=str(r.post_id),
                reporter=self.author(r.reporter_id),
                reason=r.reason,
                created_at=r.created_at,
                resolved_at=r.resolved_at,
                resolution=r.resolution,
            )
            for r in reports
        ]


def post_page_response(items: list[PostPublic], next_cursor: str | None) -> Response:
    """A page of posts as JSON, serialized once. A route that returns a Response is not validated and
    serialized again against its response_model, which still documents it (a tenth of a feed's CPU)."""
    body = Page[PostPublic](items=items, next_cursor=next_cursor).model_dump_json()
    return Response(body, media_type="application/json")
