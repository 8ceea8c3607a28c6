"""What the social service does. HTTP routes and broker commands call the same functions, inside a
transaction the caller opens, so a person and an AI character go through the same rules."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import Outbox
from aic_common.db import utc_now
from aic_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from aic_common.messages import (
    CommentCreated,
    MessageSent,
    NotificationCreated,
    PostCreated,
    PostDeleted,
    PostLiked,
    PostReposted,
    ProfileUpdated,
    UserFollowed,
    UserUnfollowed,
)
from aic_social import search
from aic_social.explore import ExploreRankings
from aic_social.models import (
    Bookmark,
    Comment,
    Conversation,
    ConversationMember,
    Follow,
    Like,
    Message,
    Notification,
    OwnedFile,
    Post,
    Profile,
    Report,
)
from aic_social.settings import SocialSettings

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{3,32})")
# The index of posts by (author_id, deleted_at, id) that the timelines read (see _post_page).
TIMELINE_INDEX = "ix_posts_author_id_deleted_at_id"
NO_CURSOR = 2**63 - 1  # above every post id
# Posts newer than the kept explore ranking that open its first page (they join the next ranking).
FRESH_ON_EXPLORE = 5


def _post_page(page_ids: sa.Select[tuple[int]]) -> sa.Select[tuple[Any, ...]]:
    """The posts whose ids ``page_ids`` picks, newest first, each with what a reader sees of it: its
    author's public profile (the same names as Profile's) and whether ``:viewer`` liked it.

    One statement in Core, not four ORM queries: on the feeds, the ORM's and the driver's Python per
    statement (~0.6 ms) was most of the request.
    """
    posts, profiles, likes = Post.__table__, Profile.__table__, Like.__table__
    page = page_ids.subquery("page")
    return (
        sa.select(
            posts.c.id,
            posts.c.author_id,
            posts.c.content,
            posts.c.image_ids,
            posts.c.location_id,
            posts.c.like_count,
            posts.c.comment_count,
            posts.c.repost_of_id,
            posts.c.repost_count,
            posts.c.created_at,
            profiles.c.username,
            profiles.c.display_name,
            profiles.c.avatar_file_id,
            profiles.c.is_ai,
            profiles.c.deleted,
            likes.c.post_id.is_not(None).label("liked"),
        )
        .select_from(page)
        .join(posts, posts.c.id == page.c.id)
        .outerjoin(profiles, profiles.c.user_id == posts.c.author_id)
        .outerjoin(likes, sa.and_(likes.c.post_id == posts.c.id, likes.c.user_id == sa.bindparam("viewer")))
        .order_by(posts.c.id.desc())
    )


def _page_of(indexed: sa.Alias, page_ids: sa.Select[Any]) -> sa.Select[tuple[Any, ...]]:
    """``page_ids`` (ids of ``indexed`` posts) cut to :page_size before :before, newest first, as _post_page.

    Left alone, MySQL/MariaDB walk the primary key backwards until LIMIT rows match whenever the authors
    wrote a large share of all posts (the ORDER BY ... LIMIT shortcut, which assumes their posts are
    spread evenly over time). That walk has no bound: quiet authors or an old cursor make it read the
    whole table. The (author_id, deleted_at, id) range reads only their posts, and only the index: no
    row is read before the page is chosen.
    """
    page_ids = page_ids.where(indexed.c.deleted_at.is_(None), indexed.c.id < sa.bindparam("before"))
    for dialect in ("mysql", "mariadb"):
        page_ids = page_ids.with_hint(indexed, f"FORCE INDEX ({TIMELINE_INDEX})", dialect)
    return _post_page(page_ids.order_by(indexed.c.id.desc()).limit(sa.bindparam("page_size")))


def _home_timeline_statement() -> sa.Select[tuple[Any, ...]]:
    """The posts of the people :viewer follows and their own. The authors come from follows inside the
    statement, joined first (STRAIGHT_JOIN): handed over as an IN list of ~50 ids, the optimizer dived
    into the index once per id to estimate rows it was forced to read anyway (MariaDB's CPU per home
    feed 1.35 ms as an IN list, 0.55 ms joined, measured side by side), and it took a statement more.
    Built once: building it costs more than running it."""
    follows, indexed = Follow.__table__, Post.__table__.alias("indexed")
    authors = sa.union_all(
        sa.select(follows.c.followee_id.label("author_id")).where(
            follows.c.follower_id == sa.bindparam("viewer")
        ),
        sa.select(sa.bindparam("viewer", type_=sa.String(36)).label("author_id")),
    ).subquery("authors")
    page_ids = (
        sa.select(indexed.c.id).select_from(authors).join(indexed, indexed.c.author_id == authors.c.author_id)
    )
    for dialect in ("mysql", "mariadb"):
        page_ids = page_ids.prefix_with("STRAIGHT_JOIN", dialect=dialect)
    return _page_of(indexed, page_ids)


def _author_timeline_statement() -> sa.Select[tuple[Any, ...]]:
    """The posts of one author (:author)."""
    indexed = Post.__table__.alias("indexed")
    return _page_of(indexed, sa.select(indexed.c.id).where(indexed.c.author_id == sa.bindparam("author")))


HOME_TIMELINE = _home_timeline_statement()
AUTHOR_TIMELINE = _author_timeline_statement()


@dataclass
class Thread:
    """A top-level comment's first replies, how many it has, and where the rest start (None: shown)."""

    replies: list[Comment]
    reply_count: int
    next_cursor: str | None


@dataclass(frozen=True)
class Actor:
    """Who acts: from a verified token (a person) or from a simulator command (an AI character)."""

    user_id: str
    role: str = "user"
    is_ai: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# ---------------------------------------------------------------- cursors


def encode_cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> object | None:
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise invalid_cursor() from exc


def invalid_cursor() -> InvalidInput:
    return InvalidInput("The cursor is not valid", code="invalid_cursor")


def is_whole_number(value: object, low: int = 0, high: int = NO_CURSOR) -> bool:
    """A JSON integer within [low, high]: not a bool (an int to Python), and no wider than a BIGINT
    (SQLite cannot bind a larger one)."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def id_cursor(cursor: str | None) -> int | None:
    value = decode_cursor(cursor)
    if value is None:
        return None
    if not is_whole_number(value):
        raise invalid_cursor()
    return value


def time_cursor(value: object) -> datetime:
    """A time a cursor carries: naive UTC, as the columns hold it (an offset would not compare)."""
    if not isinstance(value, str):
        raise invalid_cursor()
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise invalid_cursor() from exc
    if at.tzinfo is not None:
        raise invalid_cursor()
    return at


# Row ids in URLs and bodies: ASCII digits only (str.isdigit() also takes "²", which int() refuses).
_ROW_ID = re.compile(r"[0-9]{1,19}")


def is_row_id(value: str) -> bool:
    return _ROW_ID.fullmatch(value) is not None and int(value) <= NO_CURSOR


def parse_id(value: str, what: str = "post") -> int:
    if not is_row_id(value):
        raise NotFound(f"No such {what}")
    return int(value)


def mentions_in(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for name in MENTION.findall(text):
        seen.setdefault(name.lower(), None)
    return list(seen)[:20]


@dataclass
class SocialService:
    settings: SocialSettings
    session_factory: sessionmaker[Session]
    outbox: Outbox
    clock: Clock = utc_now
    explore: ExploreRankings = field(init=False)

    def __post_init__(self) -> None:
        self.explore = ExploreRankings(self.settings, self.session_factory, self.clock)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.session_factory.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.session_factory() as session:
            yield session

    # ------------------------------------------------------------------ profiles (projection)

    def upsert_profile(
        self,
        session: Session,
        *,
        user_id: str,
        username: str,
        display_name: str,
        role: str,
        is_ai: bool,
        created_at: datetime | None = None,
        bio: str = "",
    ) -> Profile:
        """The profile as auth says it is; ``bio`` only starts a new one (people edit theirs here)."""
        now = self.clock()
        profile = session.get(Profile, user_id, with_for_update=True)
        if profile is None:
            profile = Profile(
                user_id=user_id,
                username=username,
                username_key=username.lower(),
                display_name=display_name,
                bio=bio[: self.settings.bio_max_length],
                role=role,
                is_ai=is_ai,
                deleted=False,
                post_count=0,
                follower_count=0,
                following_count=0,
                created_at=created_at or now,
                updated_at=now,
            )
            session.add(profile)
        elif not profile.deleted:
            profile.username, profile.username_key = username, username.lower()
            profile.display_name, profile.role, profile.is_ai = display_name, role, is_ai
            profile.updated_at = now
        session.flush()
        search.index_document(session, search.USER, user_id, f"{username} {profile.display_name}")
        return profile

    def profile_by_username(self, session: Session, username: str) -> Profile:
        profile = session.scalar(sa.select(Profile).where(Profile.username_key == username.lower()))
        if profile is None or profile.deleted:
            raise NotFound(f"No one is called {username}")
        return profile

    def active_profile(self, session: Session, user_id: str) -> Profile:
        profile = session.get(Profile, user_id)
        if profile is None or profile.deleted:
            # The profile projection may lag a moment behind registration.
            raise NotFound("Your profile is not ready yet; try again in a moment", code="profile_not_found")
        return profile

    def update_profile(
        self,
        session: Session,
        actor: Actor,
        *,
        bio: str | None,
        avatar_file_id: str | None,
        remove_avatar: bool,
    ) -> Profile:
        profile = self.active_profile(session, actor.user_id)
        if bio is not None:
            bio = bio.strip()
            if len(bio) > self.settings.bio_max_length:
                raise InvalidInput(
                    f"A bio is at most {self.settings.bio_max_length} characters", code="bio_too_long"
                )
            profile.bio = bio
        if remove_avatar:
            profile.avatar_file_id = None
        elif avatar_file_id is not None:
            self._check_images(session, actor, [avatar_file_id])
            profile.avatar_file_id = avatar_file_id
        profile.updated_at = self.clock()
        self.outbox.add(
            session,
            ProfileUpdated(user_id=profile.user_id, bio=profile.bio, avatar_file_id=profile.avatar_file_id),
        )
        return profile

    # ------------------------------------------------------------------ files (projection)

    def record_file(self, session: Session, *, file_id: str, owner_id: str, content_type: str) -> None:
        if session.get(OwnedFile, file_id) is None:
            session.add(
                OwnedFile(file_id=file_id, owner_id=owner_id, content_type=content_type, deleted=False)
            )

    def forget_file(self, session: Session, file_id: str) -> None:
        owned = session.get(OwnedFile, file_id)
        if owned is not None:
            owned.deleted = True

    def _check_images(
        self, session: Session, actor: Actor, image_ids: list[str], *, most: int | None = None
    ) -> None:
        """The images exist and are the actor's own; at most ``most`` (a post's limit by default)."""
        most = self.settings.max_images_per_post if most is None else most
        if len(image_ids) > most:
            raise InvalidInput(f"At most {most} images", code="too_many_images")
        if len(set(image_ids)) != len(image_ids):
            raise InvalidInput("The same image is attached twice", code="duplicate_image")
        if not image_ids:
            return
        owned = {
            f.file_id: f
            for f in session.scalars(sa.select(OwnedFile).where(OwnedFile.file_id.in_(image_ids)))
        }
        for file_id in image_ids:
            record = owned.get(file_id)
            if record is None or record.deleted:
                raise InvalidInput(f"Image {file_id} does not exist (yet)", code="image_not_found")
            if record.owner_id != actor.user_id:
                raise Forbidden(f"Image {file_id} is not yours", code="image_not_yours")

    # ------------------------------------------------------------------ posts

    def _check_text(self, text: str, limit: int, what: str) -> str:
        text = text.strip()
        if not text:
            raise InvalidInput(f"A {what} cannot be empty", code=f"{what}_empty")
        if len(text) > limit:
            raise InvalidInput(f"A {what} is at most {limit} characters", code=f"{what}_too_long")
        return text

    def create_post(
        self, session: Session, actor: Actor, *, content: str, image_ids: list[str], location_id: str | None
    ) -> tuple[Post, Profile]:
        """The new post and its author's profile, so that the answer need not read the author again."""
        author = self.active_profile(session, actor.user_id)
        content = self._check_text(content, self.settings.post_max_length, "post")
        self._check_images(session, actor, image_ids)
        post, mentioned = self._add_post(
            session, actor, author, content=content, image_ids=list(image_ids), location_id=location_id
        )
        now = post.created_at
        self.outbox.add(
            session,
            PostCreated(
                post_id=str(post.id),
                author_id=actor.user_id,
                author_username=author.username,
                author_is_ai=author.is_ai,
                content=content,
                image_ids=list(image_ids),
                location_id=location_id,
                mentions=mentioned,
                created_at=now,
            ),
        )
        return post, author

    def _add_post(
        self,
        session: Session,
        actor: Actor,
        author: Profile,
        *,
        content: str,
        image_ids: list[str],
        location_id: str | None,
        repost_of_id: int | None = None,
    ) -> tuple[Post, list[str]]:
        """A post (or a repost) written: counted on its author's profile, searchable by its text, and
        those it mentions told. Returns it and the usernames it mentions."""
        post = Post(
            author_id=actor.user_id,
            content=content,
            image_ids=image_ids,
            location_id=location_id,
            like_count=0,
            comment_count=0,
            repost_of_id=repost_of_id,
            repost_count=0,
            created_at=self.clock(),
        )
        session.add(post)
        session.flush()
        # Not synchronized by scanning the session's identity map (the default), which a batch of commands
        # fills with its actors: the author's count is expired instead, read again only if asked for.
        session.execute(
            sa.update(Profile)
            .where(Profile.user_id == actor.user_id)
            .values(post_count=Profile.post_count + 1)
            .execution_options(synchronize_session=False)
        )
        session.expire(author, ["post_count"])
        if content:
            search.index_document(session, search.POST, str(post.id), content, new=True)
        mentioned = self._notify_mentions(session, actor, content, post_id=post.id, comment_id=None)
        return post, mentioned

    def get_post(self, session: Session, post_id: int) -> Post:
        post = session.get(Post, post_id)
        if post is None or post.deleted_at is not None:
            raise NotFound("No such post")
        return post

    def delete_post(self, session: Session, actor: Actor, post_id: int) -> None:
        post = session.get(Post, post_id, with_for_update=True)
        if post is None or post.deleted_at is not None:
            raise NotFound("No such post")
        if post.author_id != actor.user_id and not actor.is_admin:
            raise Forbidden("Only the author or an admin can delete a post", code="not_your_post")
        self._soft_delete_post(session, post, deleted_by=actor.user_id)

    def _soft_delete_post(self, session: Session, post: Post, *, deleted_by: str) -> None:
        """The post, its comments, likes and bookmarks go; every counter follows (a repost's on its
        original too). Reposts of it stay, showing their original as deleted."""
        post.deleted_at, post.deleted_by = self.clock(), deleted_by
        session.execute(
            sa.update(Comment)
            .where(Comment.post_id == post.id, Comment.deleted_at.is_(None))
            .values(deleted_at=post.deleted_at)
        )
        session.execute(sa.delete(Like).where(Like.post_id == post.id))
        session.execute(sa.delete(Bookmark).where(Bookmark.post_id == post.id))
        session.execute(sa.delete(Notification).where(Notification.post_id == post.id))
        if post.repost_of_id is not None:
            self._count_reposts(session, post.repost_of_id, -1)
        session.execute(
            sa.update(Profile)
            .where(Profile.user_id == post.author_id, Profile.post_count > 0)
            .values(post_count=Profile.post_count - 1)
        )
        search.remove_document(session, search.POST, str(post.id))
        self.outbox.add(
            session, PostDeleted(post_id=str(post.id), author_id=post.author_id, deleted_by=deleted_by)
        )

    # ------------------------------------------------------------------ reposts

    def repost(
        self, session: Session, actor: Actor, post_id: int, quote: str | None
    ) -> tuple[Post, Profile, bool]:
        """A repost of ``post_id``'s original (a repost of a repost points at the original), with
        ``quote`` as its text. A plain repost (no quote) is one per person and original: asked again,
        it is the one there is (False: not new). A quote is always a new post.

        The original is locked first: reposts of it are counted one after another, and two plain
        reposts at the same moment do not both find none."""
        author = self.active_profile(session, actor.user_id)
        target = self.get_post(session, post_id)
        original = session.get(Post, target.repost_of_id or target.id, with_for_update=True)
        if original is None or original.deleted_at is not None:
            raise NotFound("The original post was deleted", code="original_deleted")
        quote = (quote or "").strip()
        if quote:
            quote = self._check_text(quote, self.settings.post_max_length, "post")
        else:
            existing = session.scalars(self._plain_reposts(actor.user_id, original.id).limit(1)).first()
            if existing is not None:
                return existing, author, False
        post, mentioned = self._add_post(
            session, actor, author, content=quote, image_ids=[], location_id=None, repost_of_id=original.id
        )
        self._count_reposts(session, original.id, +1)
        if original.author_id != actor.user_id:
            self._notify(session, original.author_id, "repost", actor, post_id=original.id)
        self.outbox.add(
            session,
            PostReposted(
                post_id=str(post.id),
                original_post_id=str(original.id),
                original_author_id=original.author_id,
                author_id=actor.user_id,
                author_username=author.username,
                author_is_ai=author.is_ai,
                content=quote,
                mentions=mentioned,
                created_at=post.created_at,
            ),
        )
        return post, author, True

    def undo_repost(self, session: Session, actor: Actor, post_id: int) -> None:
        """Takes back one's plain repost of ``post_id``'s original, if any (quotes are deleted as posts).
        Works when the original was deleted too: the repost that shows it so can still go."""
        target = session.get(Post, post_id)
        if target is None:
            raise NotFound("No such post")
        original_id = target.repost_of_id or target.id
        for repost in session.scalars(self._plain_reposts(actor.user_id, original_id).with_for_update()):
            self._soft_delete_post(session, repost, deleted_by=actor.user_id)

    @staticmethod
    def _plain_reposts(author_id: str, original_id: int) -> sa.Select[tuple[Post]]:
        return sa.select(Post).where(
            Post.repost_of_id == original_id,
            Post.author_id == author_id,
            Post.content == "",
            Post.deleted_at.is_(None),
        )

    def _count_reposts(self, session: Session, original_id: int, delta: int) -> None:
        session.execute(
            sa.update(Post)
            .where(Post.id == original_id)
            .values(repost_count=sa.case((Post.repost_count + delta > 0, Post.repost_count + delta), else_=0))
            .execution_options(synchronize_session=False)
        )

    # ------------------------------------------------------------------ bookmarks (private)

    def bookmark(self, session: Session, actor: Actor, post_id: int) -> None:
        """Idempotent. Nobody else is told: bookmarks are private."""
        self.active_profile(session, actor.user_id)
        self.get_post(session, post_id)
        if session.get(Bookmark, (actor.user_id, post_id)) is not None:
            return
        try:
            with session.begin_nested():
                session.add(Bookmark(user_id=actor.user_id, post_id=post_id, created_at=self.clock()))
        except IntegrityError:  # the same bookmark, concurrently
            pass

    def unbookmark(self, session: Session, actor: Actor, post_id: int) -> None:
        session.execute(
            sa.delete(Bookmark).where(Bookmark.user_id == actor.user_id, Bookmark.post_id == post_id)
        )

    def bookmarks(
        self, session: Session, actor: Actor, *, cursor: str | None, limit: int
    ) -> tuple[list[Post], str | None]:
        """One's bookmarked posts, the latest bookmarked first; keyset on (bookmark time, post id)."""
        statement = (
            sa.select(Post, Bookmark.created_at)
            .join(Bookmark, Bookmark.post_id == Post.id)
            .where(Bookmark.user_id == actor.user_id, Post.deleted_at.is_(None))
        )
        position = decode_cursor(cursor)
        if position is not None:
            if not (
                isinstance(position, list)
                and len(position) == 2
                and isinstance(position[1], str)
                and is_row_id(position[1])
            ):
                raise invalid_cursor()
            at, before_id = time_cursor(position[0]), int(position[1])
            statement = statement.where(
                sa.or_(
                    Bookmark.created_at < at,
                    sa.and_(Bookmark.created_at == at, Bookmark.post_id < before_id),
                )
            )
        rows = session.execute(
            statement.order_by(Bookmark.created_at.desc(), Bookmark.post_id.desc()).limit(limit + 1)
        ).all()
        next_cursor = None
        if len(rows) > limit:
            last_post, last_at = rows[limit - 1]
            next_cursor = encode_cursor([last_at.isoformat(), str(last_post.id)])
        return [row[0] for row in rows[:limit]], next_cursor

    # ------------------------------------------------------------------ comments

    def create_comment(
        self, session: Session, actor: Actor, *, post_id: int, content: str, parent_id: int | None
    ) -> Comment:
        author = self.active_profile(session, actor.user_id)
        post = session.get(Post, post_id, with_for_update=True)
        if post is None or post.deleted_at is not None:
            raise NotFound("No such post")
        content = self._check_text(content, self.settings.comment_max_length, "comment")
        parent: Comment | None = None
        if parent_id is not None:
            parent = session.get(Comment, parent_id) if parent_id <= NO_CURSOR else None
            if parent is None or parent.post_id != post_id or parent.deleted_at is not None:
                raise NotFound("The comment you reply to does not exist", code="parent_not_found")
            if parent.parent_id is not None:  # one level of replies: answer within the thread
                parent = session.get(Comment, parent.parent_id)
        now = self.clock()
        comment = Comment(
            post_id=post_id,
            author_id=actor.user_id,
            parent_id=parent.id if parent else None,
            content=content,
            created_at=now,
        )
        session.add(comment)
        session.flush()
        post.comment_count += 1
        if parent is not None:
            self._count_replies(session, parent.id, +1)
        if post.author_id != actor.user_id:
            self._notify(session, post.author_id, "comment", actor, post_id=post_id, comment_id=comment.id)
        if parent is not None and parent.author_id not in (actor.user_id, post.author_id):
            self._notify(session, parent.author_id, "reply", actor, post_id=post_id, comment_id=comment.id)
        mentioned = self._notify_mentions(session, actor, content, post_id=post_id, comment_id=comment.id)
        self.outbox.add(
            session,
            CommentCreated(
                comment_id=str(comment.id),
                post_id=str(post_id),
                post_author_id=post.author_id,
                author_id=actor.user_id,
                author_username=author.username,
                parent_id=str(comment.parent_id) if comment.parent_id else None,
                content=content,
                mentions=mentioned,
                created_at=now,
            ),
        )
        return comment

    def delete_comment(self, session: Session, actor: Actor, comment_id: int) -> None:
        comment = session.get(Comment, comment_id, with_for_update=True)
        if comment is None or comment.deleted_at is not None:
            raise NotFound("No such comment")
        post = session.get(Post, comment.post_id, with_for_update=True)
        allowed = (
            actor.user_id == comment.author_id or actor.is_admin or (post and post.author_id == actor.user_id)
        )
        if not allowed:
            raise Forbidden(
                "Only its author, the post's author or an admin can delete a comment", code="not_yours"
            )
        now = self.clock()
        # A top-level comment takes its replies with it.
        doomed = session.scalars(
            sa.select(Comment).where(
                sa.or_(Comment.id == comment_id, Comment.parent_id == comment_id),
                Comment.deleted_at.is_(None),
            )
        ).all()
        for item in doomed:
            item.deleted_at = now
        if post is not None:
            post.comment_count = max(0, post.comment_count - len(doomed))
        if comment.parent_id is not None:
            self._count_replies(session, comment.parent_id, -1)
        session.execute(sa.delete(Notification).where(Notification.comment_id.in_([c.id for c in doomed])))

    def _count_replies(self, session: Session, parent_id: int, delta: int) -> None:
        session.execute(
            sa.update(Comment)
            .where(Comment.id == parent_id)
            .values(
                reply_count=sa.case((Comment.reply_count + delta > 0, Comment.reply_count + delta), else_=0)
            )
            .execution_options(synchronize_session=False)
        )

    def comments_of(
        self, session: Session, post_id: int, *, cursor: str | None, limit: int
    ) -> tuple[list[Comment], dict[int, Thread], str | None]:
        """Top-level comments oldest first, a page at a time, each with its first replies
        (``replies_per_comment``): a comment with hundreds of replies must not make the page huge."""
        after = id_cursor(cursor) or 0
        self.get_post(session, post_id)
        top = session.scalars(
            sa.select(Comment)
            .where(
                Comment.post_id == post_id,
                Comment.parent_id.is_(None),
                Comment.deleted_at.is_(None),
                Comment.id > after,
            )
            .order_by(Comment.id)
            .limit(limit + 1)
        ).all()
        has_more = len(top) > limit
        top = top[:limit]
        next_cursor = encode_cursor(top[-1].id) if has_more else None
        return list(top), self._threads(session, list(top)), next_cursor

    def _threads(self, session: Session, top: list[Comment]) -> dict[int, Thread]:
        """Each comment's first replies, in one statement that reads only those: per comment an index
        range of (parent_id, deleted_at, id) cut by LIMIT. How many there are is kept on the comment
        (reply_count): counting them here would read every reply of the page."""
        threads = {c.id: Thread([], c.reply_count, None) for c in top}
        answered = [c.id for c in top if c.reply_count > 0]
        if not answered:
            return threads
        firsts = [
            sa.select(
                sa.select(Comment.id)
                .where(Comment.parent_id == parent_id, Comment.deleted_at.is_(None))
                .order_by(Comment.id)
                .limit(self.settings.replies_per_comment)
                .subquery()  # a LIMIT per part of a UNION needs a subquery on SQLite
            )
            for parent_id in answered
        ]
        shown = sa.union_all(*firsts).subquery("shown")
        for reply in session.scalars(
            sa.select(Comment).join(shown, shown.c.id == Comment.id).order_by(Comment.id)
        ):
            threads[reply.parent_id].replies.append(reply)  # type: ignore[index]
        for thread in threads.values():
            if thread.reply_count > len(thread.replies) and thread.replies:
                thread.next_cursor = encode_cursor(thread.replies[-1].id)
        return threads

    def replies_of(
        self, session: Session, post_id: int, parent_id: int, *, cursor: str | None, limit: int
    ) -> tuple[list[Comment], str | None]:
        """A comment's replies oldest first, a page at a time (a reply has none)."""
        after = id_cursor(cursor) or 0
        self.get_post(session, post_id)
        parent = session.get(Comment, parent_id)
        if parent is None or parent.post_id != post_id or parent.deleted_at is not None:
            raise NotFound("No such comment", code="comment_not_found")
        replies = session.scalars(
            sa.select(Comment)
            .where(Comment.parent_id == parent_id, Comment.deleted_at.is_(None), Comment.id > after)
            .order_by(Comment.id)
            .limit(limit + 1)
        ).all()
        return list(replies[:limit]), encode_cursor(replies[limit - 1].id) if len(replies) > limit else None

    # ------------------------------------------------------------------ likes

    def like(self, session: Session, actor: Actor, post_id: int) -> bool:
        """Idempotent: liking twice is one like. Returns whether this call added it."""
        self.active_profile(session, actor.user_id)
        post = self.get_post(session, post_id)
        if session.get(Like, (post_id, actor.user_id)) is not None:
            return False
        try:
            with session.begin_nested():
                session.add(Like(post_id=post_id, user_id=actor.user_id, created_at=self.clock()))
        except IntegrityError:  # the same like, concurrently
            return False
        session.execute(sa.update(Post).where(Post.id == post_id).values(like_count=Post.like_count + 1))
        if post.author_id != actor.user_id:
            self._notify(session, post.author_id, "like", actor, post_id=post_id)
        self.outbox.add(
            session, PostLiked(post_id=str(post_id), post_author_id=post.author_id, user_id=actor.user_id)
        )
        return True

    def unlike(self, session: Session, actor: Actor, post_id: int) -> None:
        self.get_post(session, post_id)
        removed = session.execute(
            sa.delete(Like).where(Like.post_id == post_id, Like.user_id == actor.user_id)
        )
        if removed.rowcount:
            session.execute(
                sa.update(Post)
                .where(Post.id == post_id, Post.like_count > 0)
                .values(like_count=Post.like_count - 1)
            )

    # ------------------------------------------------------------------ follows

    def follow(self, session: Session, actor: Actor, followee: Profile) -> bool:
        self.active_profile(session, actor.user_id)
        if followee.user_id == actor.user_id:
            raise InvalidInput("You cannot follow yourself", code="self_follow")
        if session.get(Follow, (actor.user_id, followee.user_id)) is not None:
            return False
        try:
            with session.begin_nested():
                session.add(
                    Follow(follower_id=actor.user_id, followee_id=followee.user_id, created_at=self.clock())
                )
        except IntegrityError:
            return False
        self._count_follow(session, actor.user_id, followee.user_id, +1)
        self._notify(session, followee.user_id, "follow", actor)
        self.outbox.add(session, UserFollowed(follower_id=actor.user_id, followee_id=followee.user_id))
        return True

    def unfollow(self, session: Session, actor: Actor, followee: Profile) -> bool:
        """False when there was no follow to remove."""
        removed = session.execute(
            sa.delete(Follow).where(
                Follow.follower_id == actor.user_id, Follow.followee_id == followee.user_id
            )
        )
        if not removed.rowcount:
            return False
        self._count_follow(session, actor.user_id, followee.user_id, -1)
        self.outbox.add(session, UserUnfollowed(follower_id=actor.user_id, followee_id=followee.user_id))
        return True

    def _count_follow(self, session: Session, follower_id: str, followee_id: str, delta: int) -> None:
        # The two rows in one order (by id): two accounts (un)following each other at the same moment
        # would otherwise each lock one and wait for the other (a deadlock on InnoDB).
        counts = sorted(
            [(follower_id, Profile.following_count), (followee_id, Profile.follower_count)],
            key=lambda count: count[0],
        )
        for user_id, column in counts:
            session.execute(
                sa.update(Profile).where(Profile.user_id == user_id).values({column: column + delta})
            )

    def connections(
        self, session: Session, profile: Profile, *, followers: bool, cursor: str | None, limit: int
    ) -> tuple[list[Profile], str | None]:
        """Followers (or followees), most recent first; keyset on (follow time, user id)."""
        mine, theirs = (
            (Follow.followee_id, Follow.follower_id)
            if followers
            else (Follow.follower_id, Follow.followee_id)
        )
        statement = (
            sa.select(Profile, Follow.created_at)
            .join(Follow, theirs == Profile.user_id)
            .where(mine == profile.user_id, Profile.deleted.is_(False))
        )
        position = decode_cursor(cursor)
        if position is not None:
            if not (isinstance(position, list) and len(position) == 2 and isinstance(position[1], str)):
                raise invalid_cursor()
            at = time_cursor(position[0])
            statement = statement.where(
                sa.or_(Follow.created_at < at, sa.and_(Follow.created_at == at, theirs < position[1]))
            )
        rows = session.execute(
            statement.order_by(Follow.created_at.desc(), theirs.desc()).limit(limit + 1)
        ).all()
        next_cursor = None
        if len(rows) > limit:
            last_profile, last_at = rows[limit - 1]
            next_cursor = encode_cursor([last_at.isoformat(), last_profile.user_id])
        return [row[0] for row in rows[:limit]], next_cursor

    # ------------------------------------------------------------------ feeds

    def home_feed(
        self, session: Session, actor: Actor, *, cursor: str | None, limit: int
    ) -> tuple[list[sa.Row[Any]], str | None]:
        """People you follow and yourself, newest first: rows of _post_page."""
        return self._timeline(session, HOME_TIMELINE, {"viewer": actor.user_id}, cursor=cursor, limit=limit)

    def user_posts(
        self, session: Session, author: Profile, viewer_id: str | None, *, cursor: str | None, limit: int
    ) -> tuple[list[sa.Row[Any]], str | None]:
        parameters = {"author": author.user_id, "viewer": viewer_id}
        return self._timeline(session, AUTHOR_TIMELINE, parameters, cursor=cursor, limit=limit)

    def _timeline(
        self,
        session: Session,
        statement: sa.Select[tuple[Any, ...]],
        parameters: dict[str, Any],
        *,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[sa.Row[Any]], str | None]:
        before = id_cursor(cursor)
        page = {**parameters, "before": NO_CURSOR if before is None else before, "page_size": limit + 1}
        rows = session.execute(statement, page).all()
        return list(rows[:limit]), encode_cursor(rows[limit - 1].id) if len(rows) > limit else None

    def explore_feed(
        self, session: Session, *, cursor: str | None, limit: int
    ) -> tuple[list[Post], str | None]:
        """Recent posts ranked by engagement that decays with age (Hacker-News style), a page of the
        kept ranking (aic_social.explore) at a time.

        The cursor names the ranking the first page came from and how far we are, so later pages page
        through the same order: new posts do not shift it (they show in a later ranking). The first
        page opens with the few posts newer than its ranking (at most FRESH_ON_EXPLORE, one indexed
        read), so a post is seen at once rather than up to a refresh interval later. A post deleted
        since the ranking was made is left out of its page."""
        generation, offset = self._explore_position(cursor)
        ranking = self.explore.current(generation)
        fresh: list[Post] = []
        if cursor is None:
            fresh = list(
                session.scalars(
                    sa.select(Post)
                    .where(Post.created_at > ranking.ranked_at, Post.deleted_at.is_(None))
                    .order_by(Post.created_at.desc(), Post.id.desc())
                    .limit(min(limit, FRESH_ON_EXPLORE))
                )
            )
        end = offset + limit - len(fresh)
        page_ids = ranking.post_ids[offset:end]
        posts = (
            {
                p.id: p
                for p in session.scalars(
                    sa.select(Post).where(Post.id.in_(page_ids), Post.deleted_at.is_(None))
                )
            }
            if page_ids
            else {}
        )
        more = end < len(ranking.post_ids)
        next_cursor = encode_cursor({"g": ranking.generation, "o": end}) if more else None
        ranked = [posts[i] for i in page_ids if i in posts and i not in {p.id for p in fresh}]
        return fresh + ranked, next_cursor

    def latest_feed(
        self, session: Session, *, cursor: str | None, limit: int
    ) -> tuple[list[Post], str | None]:
        """Every post, newest first: explore in the order of time. Keyset on (created_at, id), read
        along the created_at index, so posts arriving meanwhile do not shift the later pages."""
        statement = sa.select(Post).where(Post.deleted_at.is_(None))
        position = decode_cursor(cursor)
        if position is not None:
            if not (
                isinstance(position, list)
                and len(position) == 2
                and isinstance(position[1], str)
                and is_row_id(position[1])
            ):
                raise invalid_cursor()
            at, before_id = time_cursor(position[0]), int(position[1])
            statement = statement.where(
                sa.or_(Post.created_at < at, sa.and_(Post.created_at == at, Post.id < before_id))
            )
        posts = list(
            session.scalars(statement.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit + 1))
        )
        next_cursor = None
        if len(posts) > limit:
            last = posts[limit - 1]
            next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])
        return posts[:limit], next_cursor

    def _explore_position(self, cursor: str | None) -> tuple[int | None, int]:
        """(the ranking, the offset in it) an explore cursor names; (None, 0): the first page."""
        state = decode_cursor(cursor)
        if state is None:
            return None, 0
        if not (
            isinstance(state, dict)
            and set(state) == {"g", "o"}
            and is_whole_number(state["g"], low=1)
            and is_whole_number(state["o"], high=self.settings.explore_ranking_size)
        ):
            raise invalid_cursor()
        return state["g"], state["o"]

    # ------------------------------------------------------------------ messages

    def send_message(
        self, session: Session, actor: Actor, *, to: Profile, content: str, image_ids: Sequence[str] = ()
    ) -> Message:
        """A message of text, images (the sender's own, like a post's) or both; never neither."""
        sender = self.active_profile(session, actor.user_id)
        if to.user_id == actor.user_id:
            raise InvalidInput("You cannot message yourself", code="self_message")
        image_ids = list(image_ids)
        if image_ids and not content.strip():
            content = ""  # images alone
        else:
            content = self._check_text(content, self.settings.message_max_length, "message")
        self._check_images(session, actor, image_ids, most=self.settings.max_images_per_message)
        conversation = self._conversation_between(session, actor.user_id, to.user_id, create=True)
        assert conversation is not None
        now = self.clock()
        message = Message(
            conversation_id=conversation.id,
            sender_id=actor.user_id,
            content=content,
            image_ids=image_ids or None,  # NULL: no images, like the rows from before images
            created_at=now,
        )
        session.add(message)
        session.flush()
        conversation.last_message_id = message.id
        session.execute(
            sa.update(ConversationMember)
            .where(ConversationMember.conversation_id == conversation.id)
            .values(
                last_message_id=message.id,
                unread_count=sa.case(
                    (ConversationMember.user_id == to.user_id, ConversationMember.unread_count + 1),
                    else_=ConversationMember.unread_count,
                ),
            )
        )
        # No notification: the conversation's unread count (and message.sent) tells the recipient,
        # and a message shown in Notifications too was counted twice.
        self.outbox.add(
            session,
            MessageSent(
                message_id=str(message.id),
                conversation_id=str(conversation.id),
                sender_id=actor.user_id,
                sender_username=sender.username,
                recipient_id=to.user_id,
                recipient_username=to.username,
                content=content,
                image_ids=image_ids,
                created_at=now,
            ),
        )
        return message

    def _conversation_between(self, session: Session, a: str, b: str, *, create: bool) -> Conversation | None:
        low, high = sorted((a, b))
        conversation = session.scalar(
            sa.select(Conversation).where(Conversation.user_low == low, Conversation.user_high == high)
        )
        if conversation is not None or not create:
            return conversation
        try:
            with session.begin_nested():
                conversation = Conversation(user_low=low, user_high=high, created_at=self.clock())
                session.add(conversation)
                session.flush()
                session.add_all(
                    [
                        ConversationMember(
                            conversation_id=conversation.id,
                            user_id=low,
                            other_id=high,
                            last_message_id=0,
                            unread_count=0,
                        ),
                        ConversationMember(
                            conversation_id=conversation.id,
                            user_id=high,
                            other_id=low,
                            last_message_id=0,
                            unread_count=0,
                        ),
                    ]
                )
        except IntegrityError:
            # The first messages of a pair crossed: use the other's row. A locking read, because a
            # plain one reads this transaction's snapshot, taken before that row was committed.
            conversation = session.scalar(
                sa.select(Conversation)
                .where(Conversation.user_low == low, Conversation.user_high == high)
                .with_for_update(read=True)
            )
        return conversation

    def conversations(
        self, session: Session, actor: Actor, *, cursor: str | None, limit: int
    ) -> tuple[list[ConversationMember], str | None]:
        before = id_cursor(cursor)
        statement = sa.select(ConversationMember).where(
            ConversationMember.user_id == actor.user_id, ConversationMember.last_message_id > 0
        )
        if before is not None:
            statement = statement.where(ConversationMember.last_message_id < before)
        rows = session.scalars(
            statement.order_by(ConversationMember.last_message_id.desc()).limit(limit + 1)
        ).all()
        return list(rows[:limit]), encode_cursor(rows[limit - 1].last_message_id) if len(
            rows
        ) > limit else None

    def unread_conversations(self, session: Session, actor: Actor) -> int:
        """How many of one's conversations have messages one has not read (the Messages badge)."""
        return (
            session.scalar(
                sa.select(sa.func.count()).where(
                    ConversationMember.user_id == actor.user_id, ConversationMember.unread_count > 0
                )
            )
            or 0
        )

    def history(
        self, session: Session, actor: Actor, other: Profile, *, cursor: str | None, limit: int
    ) -> tuple[list[Message], str | None]:
        """Newest first; reading the first page marks the conversation read."""
        before = id_cursor(cursor)
        conversation = self._conversation_between(session, actor.user_id, other.user_id, create=False)
        if conversation is None:
            return [], None
        statement = sa.select(Message).where(Message.conversation_id == conversation.id)
        if before is not None:
            statement = statement.where(Message.id < before)
        rows = session.scalars(statement.order_by(Message.id.desc()).limit(limit + 1)).all()
        if before is None:
            session.execute(
                sa.update(ConversationMember)
                .where(
                    ConversationMember.conversation_id == conversation.id,
                    ConversationMember.user_id == actor.user_id,
                )
                .values(unread_count=0)
            )
            # Message notifications made before messages stopped making them: read with the chat.
            session.execute(
                sa.update(Notification)
                .where(
                    Notification.user_id == actor.user_id,
                    Notification.kind == "message",
                    Notification.actor_id == other.user_id,
                    Notification.read_at.is_(None),
                )
                .values(read_at=self.clock())
            )
        return list(rows[:limit]), encode_cursor(rows[limit - 1].id) if len(rows) > limit else None

    # ------------------------------------------------------------------ notifications

    def _notify(
        self,
        session: Session,
        user_id: str,
        kind: str,
        actor: Actor,
        *,
        post_id: int | None = None,
        comment_id: int | None = None,
        message_id: int | None = None,
    ) -> None:
        recipient = session.get(Profile, user_id)
        if recipient is None or recipient.deleted:
            return
        if self._unread_notification_exists(
            session, user_id, kind, actor, post_id=post_id, comment_id=comment_id, message_id=message_id
        ):
            return
        actor_profile = session.get(Profile, actor.user_id)
        now = self.clock()
        notification = Notification(
            user_id=user_id,
            kind=kind,
            actor_id=actor.user_id,
            post_id=post_id,
            comment_id=comment_id,
            message_id=message_id,
            created_at=now,
        )
        session.add(notification)
        session.flush()
        self.outbox.add(
            session,
            NotificationCreated(
                notification_id=str(notification.id),
                user_id=user_id,
                kind=kind,
                actor_id=actor.user_id,  # type: ignore[arg-type]
                actor_username=actor_profile.username if actor_profile else "",
                post_id=str(post_id) if post_id else None,
                comment_id=str(comment_id) if comment_id else None,
                message_id=str(message_id) if message_id else None,
                created_at=now,
            ),
        )

    def _unread_notification_exists(
        self,
        session: Session,
        user_id: str,
        kind: str,
        actor: Actor,
        *,
        post_id: int | None,
        comment_id: int | None,
        message_id: int | None,
    ) -> bool:
        """One unread notification per (actor, object, kind): liking and unliking, or following and
        unfollowing, again and again must not flood the recipient (nor their live stream)."""

        def same(column: sa.ColumnElement[Any], value: int | None) -> sa.ColumnElement[bool]:
            return column.is_(None) if value is None else column == value

        found = session.scalar(
            sa.select(Notification.id)
            .where(
                Notification.user_id == user_id,
                Notification.actor_id == actor.user_id,
                Notification.kind == kind,
                same(Notification.post_id, post_id),
                same(Notification.comment_id, comment_id),
                same(Notification.message_id, message_id),
                Notification.read_at.is_(None),
            )
            .limit(1)
        )
        return found is not None

    def _notify_mentions(
        self, session: Session, actor: Actor, text: str, *, post_id: int, comment_id: int | None
    ) -> list[str]:
        names = mentions_in(text)
        if not names:
            return []
        profiles = session.scalars(
            sa.select(Profile).where(Profile.username_key.in_(names), Profile.deleted.is_(False))
        ).all()
        for profile in profiles:
            if profile.user_id != actor.user_id:
                self._notify(
                    session, profile.user_id, "mention", actor, post_id=post_id, comment_id=comment_id
                )
        return [p.username for p in profiles]

    def notifications(
        self, session: Session, actor: Actor, *, cursor: str | None, limit: int
    ) -> tuple[list[Notification], str | None, int]:
        before = id_cursor(cursor)
        # Message notifications made before messages stopped making them are left out: messages
        # have their own unread counts (unread_conversations).
        mine = sa.and_(Notification.user_id == actor.user_id, Notification.kind != "message")
        statement = sa.select(Notification).where(mine)
        if before is not None:
            statement = statement.where(Notification.id < before)
        rows = session.scalars(statement.order_by(Notification.id.desc()).limit(limit + 1)).all()
        unread = session.scalar(sa.select(sa.func.count()).where(mine, Notification.read_at.is_(None))) or 0
        return list(rows[:limit]), encode_cursor(rows[limit - 1].id) if len(rows) > limit else None, unread

    def mark_read(self, session: Session, actor: Actor, ids: list[str] | None) -> None:
        statement = sa.update(Notification).where(
            Notification.user_id == actor.user_id, Notification.read_at.is_(None)
        )
        if ids is not None:
            statement = statement.where(Notification.id.in_([int(i) for i in ids if is_row_id(i)]))
        session.execute(statement.values(read_at=self.clock()))

    # ------------------------------------------------------------------ search

    def search_people(self, session: Session, query: str, *, limit: int) -> list[Profile]:
        """Usernames starting with the query first (people type the start of a name), then the ranked
        index over usernames and display names."""
        pattern = query.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        by_prefix = session.scalars(
            sa.select(Profile)
            .where(Profile.username_key.like(pattern, escape="\\"), Profile.deleted.is_(False))
            .order_by(Profile.follower_count.desc(), Profile.username_key)
            .limit(limit)
        ).all()
        ranked = [doc for doc, _ in search.search(session, search.USER, query, limit=limit)]
        found = {p.user_id: p for p in session.scalars(sa.select(Profile).where(Profile.user_id.in_(ranked)))}
        people = {p.user_id: p for p in by_prefix}
        for user_id in ranked:
            if user_id in found and not found[user_id].deleted:
                people.setdefault(user_id, found[user_id])
        return list(people.values())[:limit]

    def suggestions(self, session: Session, viewer_id: str | None, *, limit: int) -> list[Profile]:
        """Accounts worth following: not the viewer, none they already follow; the town's characters
        first, then the most followed and the most posting (a steady order, so a page does not shuffle)."""
        statement = sa.select(Profile).where(Profile.deleted.is_(False))
        if viewer_id is not None:
            followed = sa.select(Follow.followee_id).where(Follow.follower_id == viewer_id)
            statement = statement.where(Profile.user_id != viewer_id, Profile.user_id.not_in(followed))
        return list(
            session.scalars(
                statement.order_by(
                    Profile.is_ai.desc(),
                    Profile.follower_count.desc(),
                    Profile.post_count.desc(),
                    Profile.username_key,
                ).limit(limit)
            )
        )

    # ------------------------------------------------------------------ moderation

    def report(self, session: Session, actor: Actor, post_id: int, reason: str) -> Report:
        self.active_profile(session, actor.user_id)
        self.get_post(session, post_id)
        existing = session.scalar(
            sa.select(Report).where(Report.post_id == post_id, Report.reporter_id == actor.user_id)
        )
        if existing is not None:
            raise Conflict("You reported this post already", code="already_reported")
        report = Report(post_id=post_id, reporter_id=actor.user_id, reason=reason, created_at=self.clock())
        session.add(report)
        session.flush()
        return report

    def reports(
        self, session: Session, actor: Actor, *, open_only: bool, cursor: str | None, limit: int
    ) -> tuple[list[Report], str | None]:
        self._require_admin(actor)
        before = id_cursor(cursor)
        statement = sa.select(Report)
        if open_only:
            statement = statement.where(Report.resolved_at.is_(None))
        if before is not None:
            statement = statement.where(Report.id < before)
        rows = session.scalars(statement.order_by(Report.id.desc()).limit(limit + 1)).all()
        return list(rows[:limit]), encode_cursor(rows[limit - 1].id) if len(rows) > limit else None

    def resolve_report(self, session: Session, actor: Actor, report_id: int, action: str) -> Report:
        self._require_admin(actor)
        report = session.get(Report, report_id, with_for_update=True)
        if report is None:
            raise NotFound("No such report")
        if action == "remove_post":
            post = session.get(Post, report.post_id, with_for_update=True)
            if post is not None and post.deleted_at is None:
                self._soft_delete_post(session, post, deleted_by=actor.user_id)
        now = self.clock()
        # One decision settles every open report of the same post.
        for open_report in session.scalars(
            sa.select(Report).where(Report.post_id == report.post_id, Report.resolved_at.is_(None))
        ):
            open_report.resolved_at, open_report.resolved_by, open_report.resolution = (
                now,
                actor.user_id,
                action,
            )
        return report

    def _require_admin(self, actor: Actor) -> None:
        if not actor.is_admin:
            raise Forbidden("Only admins can do this", code="admin_required")

    # ------------------------------------------------------------------ account deletion

    def forget_user(self, session: Session, user_id: str) -> None:
        """``user.deleted``: their posts, comments, likes and follows go, counts stay right, and the
        messages others received stay readable under an anonymous name."""
        profile = session.get(Profile, user_id, with_for_update=True)
        if profile is None:
            return
        for post in session.scalars(
            sa.select(Post).where(Post.author_id == user_id, Post.deleted_at.is_(None)).with_for_update()
        ):
            self._soft_delete_post(session, post, deleted_by=user_id)
        # Their comments on others' posts, with the counts on those posts and on the comments they
        # replied to.
        per_post = session.execute(
            sa.select(Comment.post_id, sa.func.count())
            .where(Comment.author_id == user_id, Comment.deleted_at.is_(None))
            .group_by(Comment.post_id)
        ).all()
        per_parent = session.execute(
            sa.select(Comment.parent_id, sa.func.count())
            .where(Comment.author_id == user_id, Comment.deleted_at.is_(None), Comment.parent_id.is_not(None))
            .group_by(Comment.parent_id)
        ).all()
        now = self.clock()
        session.execute(
            sa.update(Comment)
            .where(Comment.author_id == user_id, Comment.deleted_at.is_(None))
            .values(deleted_at=now)
        )
        for post_id, count in per_post:
            session.execute(
                sa.update(Post)
                .where(Post.id == post_id)
                .values(
                    comment_count=sa.case((Post.comment_count > count, Post.comment_count - count), else_=0)
                )
            )
        for parent_id, count in per_parent:
            self._count_replies(session, parent_id, -count)
        for post_id in session.scalars(sa.select(Like.post_id).where(Like.user_id == user_id)).all():
            session.execute(
                sa.update(Post)
                .where(Post.id == post_id, Post.like_count > 0)
                .values(like_count=Post.like_count - 1)
            )
        session.execute(sa.delete(Like).where(Like.user_id == user_id))
        for followee in session.scalars(
            sa.select(Follow.followee_id).where(Follow.follower_id == user_id)
        ).all():
            session.execute(
                sa.update(Profile)
                .where(Profile.user_id == followee)
                .values(follower_count=Profile.follower_count - 1)
            )
        for follower in session.scalars(
            sa.select(Follow.follower_id).where(Follow.followee_id == user_id)
        ).all():
            session.execute(
                sa.update(Profile)
                .where(Profile.user_id == follower)
                .values(following_count=Profile.following_count - 1)
            )
        session.execute(
            sa.delete(Follow).where(sa.or_(Follow.follower_id == user_id, Follow.followee_id == user_id))
        )
        session.execute(
            sa.delete(Notification).where(
                sa.or_(Notification.user_id == user_id, Notification.actor_id == user_id)
            )
        )
        session.execute(sa.delete(Report).where(Report.reporter_id == user_id))
        session.execute(sa.delete(Bookmark).where(Bookmark.user_id == user_id))
        search.remove_document(session, search.USER, user_id)
        tombstone = f"deleted_{user_id.replace('-', '')[:12]}"
        profile.username, profile.username_key = tombstone, tombstone
        profile.display_name, profile.bio, profile.avatar_file_id = "已注销用户 · Deleted user", "", None
        profile.deleted, profile.post_count, profile.follower_count, profile.following_count = True, 0, 0, 0
        profile.updated_at = now
