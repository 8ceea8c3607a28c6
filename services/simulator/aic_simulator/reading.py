"""What the AI characters read on the social network: their home feed, the explore feed ranked the way
the product ranks it, the comments under a post and search; and what each of them has read and liked.

The perception consumers (``messaging``) write what there is to read into ``seen_posts``,
``seen_comments``, ``seen_likes`` and ``known_follows``; :func:`pull` brings the new rows into the
world's :class:`ReadingState` at each refresh. The reading functions then work on memory alone and are
deterministic: thousands of characters call them in a tick.

Only the posts of ``world.feed`` (the recent ones) are followed: their like and comment counts, their
newest comments and who liked them. A post that leaves the feed takes its part of the state with it.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aic_common.ranking import DEFAULT_GRAVITY, DEFAULT_WINDOW_HOURS, explore_score
from aic_common.text import tokenize
from aic_simulator.models import KnownFollow, SeenComment, SeenLike

if TYPE_CHECKING:
    from aic_simulator.state import AgentState, FeedEntry, World

# Comments kept per post: the most a browse reads (the settings' ceiling of ai_browse_comment_limit).
COMMENTS_KEPT = 100
# Posts remembered as read per character; the explore feed leaves out those read this recently.
READS_KEPT = 40
REREAD_AFTER = timedelta(hours=6)
EXPLORE_WINDOW = timedelta(hours=DEFAULT_WINDOW_HOURS)
MAX_QUERY_TERMS = 12  # as the product's search
BATCH = 1000  # rows read per statement when pulling


@dataclass(frozen=True)
class CommentEntry:
    seen_id: int
    comment_id: str
    post_id: str
    author_id: str
    author_username: str
    content: str
    created_at: datetime


@dataclass
class PostActivity:
    """What happened under one post: who liked it, how many comments it has and the newest of them."""

    likers: set[str] = field(default_factory=set)
    comment_count: int = 0
    comments: deque[CommentEntry] = field(default_factory=lambda: deque(maxlen=COMMENTS_KEPT))


@dataclass
class ReadingState:
    activity: dict[str, PostActivity] = field(default_factory=dict)  # post id -> what happened under it
    # agent id -> post id -> simulated time it was read, oldest read first, at most READS_KEPT.
    reads: dict[str, dict[str, datetime]] = field(default_factory=dict)
    tracked: set[str] = field(default_factory=set)  # posts whose comments and likes were read in
    last_comment: int = 0
    last_like: int = 0
    started: bool = False
    follows_seen: set[tuple[str, str]] = field(default_factory=set)  # known_follows at the last pull
    version: int = 0  # changes with every like or comment counted: the explore ranking is cached by it
    _terms: dict[str, Counter[str]] = field(default_factory=dict, repr=False)
    _ranking: tuple[tuple[object, ...], list[FeedEntry]] | None = field(default=None, repr=False)

    def liked(self, user_id: str, post_id: str) -> bool:
        activity = self.activity.get(post_id)
        return activity is not None and user_id in activity.likers

    def activity_of(self, post_id: str) -> PostActivity:
        activity = self.activity.get(post_id)
        if activity is None:
            activity = self.activity[post_id] = PostActivity()
        return activity

    def add_comment(self, comment: CommentEntry) -> None:
        activity = self.activity_of(comment.post_id)
        activity.comment_count += 1
        activity.comments.append(comment)


# ---------------------------------------------------------------- pulling in what was perceived


def pull(session: Session, world: World) -> None:
    """Bring in the comments, likes and unfollows recorded since the last pull, for the posts in the feed.

    Rows are read past the last ids seen; a post new to the feed (its comments may have come first)
    has its earlier rows read by post id. The first pull reads only what the feed's posts need.
    """
    reading = world.reading
    if not reading.started:
        reading.last_comment = session.scalar(sa.select(sa.func.max(SeenComment.id))) or 0
        reading.last_like = session.scalar(sa.select(sa.func.max(SeenLike.id))) or 0
        reading.started = True
    in_feed = {entry.post_id for entry in world.feed}
    gone = reading.tracked - in_feed
    reading.tracked -= gone
    for held in (reading.activity, reading._terms):
        # A copy of the keys (atomic): a reading function may add to them meanwhile, on the event loop.
        for post_id in [p for p in list(held) if p not in in_feed]:
            held.pop(post_id, None)
    new = sorted(in_feed - reading.tracked)
    for chunk in _chunks(new, 500):
        _backfill(session, reading, chunk)
    reading.tracked.update(new)
    changed = bool(gone or new)
    changed |= _new_comments(session, world)
    changed |= _new_likes(session, reading)
    if changed:
        reading.version += 1
    _follows(session, world)


def _backfill(session: Session, reading: ReadingState, post_ids: list[str]) -> None:
    for row in session.execute(
        sa.select(*_COMMENT_COLUMNS)
        .where(SeenComment.post_id.in_(post_ids), SeenComment.id <= reading.last_comment)
        .order_by(SeenComment.id)
    ):
        reading.add_comment(CommentEntry(*row))
    for post_id, user_id in session.execute(
        sa.select(SeenLike.post_id, SeenLike.user_id).where(
            SeenLike.post_id.in_(post_ids), SeenLike.id <= reading.last_like
        )
    ):
        reading.activity_of(post_id).likers.add(user_id)


_COMMENT_COLUMNS = (
    SeenComment.id,
    SeenComment.comment_id,
    SeenComment.post_id,
    SeenComment.author_id,
    SeenComment.author_username,
    SeenComment.content,
    SeenComment.created_at,
)


def _new_comments(session: Session, world: World) -> bool:
    reading = world.reading
    counted = False
    while True:
        rows = session.execute(
            sa.select(*_COMMENT_COLUMNS)
            .where(SeenComment.id > reading.last_comment)
            .order_by(SeenComment.id)
            .limit(BATCH)
        ).all()
        # The characters' first, then the people's, each in the order they came: a replay gives the
        # people's comments after the characters' of the same step (see people.py).
        for row in sorted(rows, key=lambda r: world.agent_by_user(r.author_id) is None):
            reading.last_comment = max(reading.last_comment, row.id)
            if row.post_id in reading.tracked:
                reading.add_comment(CommentEntry(*row))
                counted = True
        if len(rows) < BATCH:
            return counted


def _new_likes(session: Session, reading: ReadingState) -> bool:
    counted = False
    while True:
        rows = session.execute(
            sa.select(SeenLike.id, SeenLike.post_id, SeenLike.user_id)
            .where(SeenLike.id > reading.last_like)
            .order_by(SeenLike.id)
            .limit(BATCH)
        ).all()
        for like_id, post_id, user_id in rows:
            reading.last_like = like_id
            if post_id in reading.tracked:
                reading.activity_of(post_id).likers.add(user_id)
                counted = True
        if len(rows) < BATCH:
            return counted


def _follows(session: Session, world: World) -> None:
    """Follows as known_follows has them: an unfollow deleted its row, so a pair that was there at the last
    pull and is gone now was unfollowed. Pairs the engine added itself and the table does not hold yet
    (a follow on its way) stay."""
    reading = world.reading
    rows = session.execute(sa.select(KnownFollow.follower_id, KnownFollow.followee_id))
    now = {(follower, followee) for follower, followee in rows}
    world.follows -= reading.follows_seen - now
    world.follows |= now
    reading.follows_seen = now


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------- reading


def home_feed(world: World, agent: AgentState, limit: int) -> list[FeedEntry]:
    """The posts of the accounts the agent follows and its own, newest first."""
    me = agent.user_id
    if me is None or limit <= 0:
        return []
    follows = world.follows
    found: list[FeedEntry] = []
    for entry in reversed(world.feed):
        if entry.author_id == me or (me, entry.author_id) in follows:
            found.append(entry)
            if len(found) == limit:
                break
    return found


def explore_feed(
    world: World, agent: AgentState, limit: int, *, gravity: float = DEFAULT_GRAVITY
) -> list[FeedEntry]:
    """The posts of the last EXPLORE_WINDOW ranked as the product's explore feed ranks them, with their age
    in simulated hours, less those the agent read in the last REREAD_AFTER: browsing again shows more."""
    if limit <= 0:
        return []
    read = _recent_reads(world, agent)
    found: list[FeedEntry] = []
    for entry in _ranked(world, gravity):
        if entry.post_id not in read:
            found.append(entry)
            if len(found) == limit:
                break
    return found


def _ranked(world: World, gravity: float) -> list[FeedEntry]:
    """The explore ranking, computed once for every agent that browses at this simulated time."""
    reading, feed = world.reading, world.feed
    key = (
        world.sim_time,
        gravity,
        reading.version,
        id(feed),
        len(feed),
        feed[0].seen_id if feed else 0,
        feed[-1].seen_id if feed else 0,
    )
    if reading._ranking is not None and reading._ranking[0] == key:
        return reading._ranking[1]
    now = world.sim_time
    scored: list[tuple[float, tuple[int, str], FeedEntry]] = []
    for entry in feed:
        age = now - (getattr(entry, "seen_at", None) or now)
        if age > EXPLORE_WINDOW:
            continue
        activity = reading.activity.get(entry.post_id)
        likes, comments = (len(activity.likers), activity.comment_count) if activity else (0, 0)
        score = explore_score(likes, comments, age.total_seconds() / 3600, gravity)
        scored.append((score, _id_order(entry.post_id), entry))
    # As the product: best first, the newer post (higher id) first on a tie.
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    ranking = [entry for _, _, entry in scored]
    reading._ranking = (key, ranking)
    return ranking


def _id_order(post_id: str) -> tuple[int, str]:
    """Post ids are decimal numbers: the longer one is the larger."""
    return len(post_id), post_id


def comments_of(world: World, post_id: str, limit: int) -> list[CommentEntry]:
    """The newest ``limit`` comments under the post, oldest first."""
    activity = world.reading.activity.get(post_id)
    if activity is None or limit <= 0:
        return []
    comments = activity.comments
    return list(comments)[-limit:] if limit < len(comments) else list(comments)


def engagement(world: World, post_id: str) -> tuple[int, int]:
    """(likes, comments) of the post as the characters have seen them."""
    activity = world.reading.activity.get(post_id)
    return (len(activity.likers), activity.comment_count) if activity else (0, 0)


def mark_read(world: World, agent: AgentState, post_ids: Iterable[str]) -> None:
    reads = world.reading.reads.setdefault(agent.id, {})
    for post_id in post_ids:
        reads.pop(post_id, None)  # read again: now the latest
        reads[post_id] = world.sim_time
    _forget_old_reads(reads, world.sim_time)


def read_recently(world: World, agent: AgentState, post_id: str) -> bool:
    return post_id in _recent_reads(world, agent)


def _recent_reads(world: World, agent: AgentState) -> dict[str, datetime]:
    reads = world.reading.reads.get(agent.id)
    if not reads:
        return {}
    _forget_old_reads(reads, world.sim_time)
    return reads


def _forget_old_reads(reads: dict[str, datetime], now: datetime) -> None:
    # Oldest first: the reads to forget are at the front.
    while reads:
        oldest = next(iter(reads))
        if len(reads) <= READS_KEPT and now - reads[oldest] < REREAD_AFTER:
            return
        del reads[oldest]


def has_liked(world: World, user_id: str, post_id: str) -> bool:
    return world.reading.liked(user_id, post_id)


def record_like(world: World, user_id: str, post_id: str) -> None:
    """A like the engine sends: never offered again, and counted at once (its event adds nothing more)."""
    likers = world.reading.activity_of(post_id).likers
    if user_id not in likers:
        likers.add(user_id)
        world.reading.version += 1


def search(world: World, query: str, limit: int) -> list[FeedEntry]:
    """The feed's posts holding every term of ``query``, best first: scored as the product's search does
    (a term's saturating count, rarer terms weighing more), the newer post first on a tie."""
    terms = list(tokenize(query, for_query=True))[:MAX_QUERY_TERMS]
    if not terms or limit <= 0:
        return []
    documents = [(entry, _terms_of(world.reading, entry)) for entry in world.feed]
    frequency = {term: sum(1 for _, counts in documents if term in counts) for term in terms}
    if not all(frequency.values()):
        return []  # some term occurs nowhere: nothing holds them all
    weight = {term: math.log(1 + len(documents) / frequency[term]) for term in terms}
    scored = [
        (sum((1 + math.log(counts[t])) * weight[t] for t in terms), _id_order(entry.post_id), entry)
        for entry, counts in documents
        if all(t in counts for t in terms)
    ]
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    return [entry for _, _, entry in scored[:limit]]


def _terms_of(reading: ReadingState, entry: FeedEntry) -> Counter[str]:
    terms = reading._terms.get(entry.post_id)
    if terms is None:
        terms = reading._terms[entry.post_id] = tokenize(entry.content)
    return terms
