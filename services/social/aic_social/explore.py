"""The explore feed's ranking: made at most once per refresh interval, kept in the database.

Ranking means reading every post of the window (``explore_window_hours``) and scoring it with
:func:`aic_common.ranking.explore_score`, whose decay with age reorders posts as time passes, so no
index can hold the order. Made per request, it let any anonymous client have the database read and sort
every recent post at will. Instead a ranking is made when the newest is ``explore_refresh_seconds``
old, by the first request to find it so (one thread per process at a time; the others show the one
before meanwhile), cut to the best ``explore_ranking_size`` posts and stored: a request reads one row
and a page of posts. Replicas share the rankings, so a cursor, which names the ranking it pages
through, goes on at any replica; two replicas that find the newest stale at the same moment each make
one, at most one each per interval. A ranking is deleted ``explore_ranking_retention_minutes`` after it
was made (the retention sweep); a cursor of one that went goes on in the newest.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.db import run_transaction
from aic_common.ranking import explore_score
from aic_social.models import ExploreRanking, Post
from aic_social.settings import SocialSettings


@dataclass(frozen=True)
class Ranking:
    generation: int
    post_ids: list[int]  # best first
    ranked_at: datetime


def _ranking(row: ExploreRanking) -> Ranking:
    return Ranking(row.id, list(row.post_ids), row.ranked_at)


class ExploreRankings:
    def __init__(
        self, settings: SocialSettings, session_factory: sessionmaker[Session], clock: Callable[[], datetime]
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.clock = clock
        self._making = threading.Lock()

    def current(self, generation: int | None = None) -> Ranking:
        """The ranking ``generation`` names while it is kept, else the newest, made anew if it is stale.

        Read in sessions of its own, each a fresh snapshot: after waiting for another thread to make
        one, a snapshot taken before would not see it."""
        with self.session_factory() as session:
            if generation is not None:
                kept = session.get(ExploreRanking, generation)
                if kept is not None:
                    return _ranking(kept)
            newest = self._newest(session)
        if newest is not None and not self._stale(newest):
            return newest
        # Only with none to show does a request wait for another thread's.
        if not self._making.acquire(blocking=newest is None):
            assert newest is not None
            return newest
        try:
            with self.session_factory() as session:
                newest = self._newest(session)
            if newest is not None and not self._stale(newest):
                return newest
            return run_transaction(self.session_factory, self._make)
        finally:
            self._making.release()

    def _newest(self, session: Session) -> Ranking | None:
        row = session.scalars(
            sa.select(ExploreRanking)
            .order_by(ExploreRanking.ranked_at.desc(), ExploreRanking.id.desc())
            .limit(1)
        ).first()
        return _ranking(row) if row is not None else None

    def _stale(self, ranking: Ranking) -> bool:
        # One made "in the future" (a replica whose clock runs ahead) counts as fresh: otherwise a
        # replica whose clock lags would rank again on every request.
        return self.clock() - ranking.ranked_at >= timedelta(seconds=self.settings.explore_refresh_seconds)

    def _make(self, session: Session) -> Ranking:
        now = self.clock()
        window_start = now - timedelta(hours=self.settings.explore_window_hours)
        candidates = session.execute(
            sa.select(Post.id, Post.like_count, Post.comment_count, Post.repost_count, Post.created_at).where(
                Post.created_at > window_start,
                Post.created_at <= now,
                Post.deleted_at.is_(None),
                # A plain repost adds nothing to read: its original is ranked (its reposts counting).
                sa.or_(Post.repost_of_id.is_(None), Post.content != ""),
            )
        ).all()
        gravity = self.settings.explore_gravity

        def rank(row: sa.Row) -> tuple[float, int]:
            age_hours = (now - row.created_at).total_seconds() / 3600
            # A repost is engagement that spreads a post, weighed like a comment.
            engagement = row.comment_count + row.repost_count
            return explore_score(row.like_count, engagement, age_hours, gravity), row.id

        best = heapq.nlargest(self.settings.explore_ranking_size, candidates, key=rank)
        row = ExploreRanking(ranked_at=now, post_ids=[r.id for r in best])
        session.add(row)
        session.flush()
        return _ranking(row)
