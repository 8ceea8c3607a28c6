"""The seeded data set: consistent counters, a heavy-tailed follow graph, sign-in-able users, and a
home feed that MariaDB answers with an index range, on a small set (the full size is a benchmark)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aic_auth.models import User
from aic_common.bus import Outbox
from aic_common.db import create_db_engine, create_session_factory
from aic_common.testing.fixtures import fresh_mysql_database
from aic_social import search
from aic_social.models import Comment, Follow, Like, Post, Profile, SearchTerm
from aic_social.seed import SeedSummary, default_password_hasher, generate, seed
from aic_social.service import TIMELINE_INDEX, Actor, SocialService
from aic_social.settings import SocialSettings

pytestmark = pytest.mark.integration

USERS, POSTS = 200, 3000
PASSWORD = "a-seeded-password-42"


@pytest.fixture
def auth_url(mysql_server_url: str) -> Iterator[str]:
    """A second fresh database, for auth."""
    with fresh_mysql_database(mysql_server_url) as url:
        yield url


@pytest.fixture
def seeded(mysql_url: str, auth_url: str) -> Iterator[tuple[SeedSummary, sa.Engine, sa.Engine]]:
    summary = seed(mysql_url, auth_url, users=USERS, posts=POSTS, seed=11, password=PASSWORD)
    social, auth = create_db_engine(mysql_url), create_db_engine(auth_url)
    try:
        yield summary, social, auth
    finally:
        social.dispose()
        auth.dispose()


def count(connection: sa.Connection, statement: sa.Select[Any]) -> int:
    return connection.scalar(sa.select(sa.func.count()).select_from(statement.subquery())) or 0


def test_the_same_seed_gives_the_same_data() -> None:
    now = datetime(2025, 3, 1, 12)
    first, second = generate(60, 400, seed=3, now=now), generate(60, 400, seed=3, now=now)
    assert [(p.author, p.content, p.created_at) for p in first.posts] == [
        (p.author, p.content, p.created_at) for p in second.posts
    ]
    assert first.follows == second.follows and first.likes == second.likes
    assert [u.id for u in first.users] == [u.id for u in second.users]
    assert [u.id for u in generate(60, 400, seed=4, now=now).users] != [u.id for u in first.users]


def test_counters_match_the_rows_and_the_graph_is_sound(
    seeded: tuple[SeedSummary, sa.Engine, sa.Engine], mysql_url: str, auth_url: str
) -> None:
    summary, social, auth = seeded
    with social.connect() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(Profile)) == USERS == summary.users
        assert c.scalar(sa.select(sa.func.count()).select_from(Post)) == POSTS == summary.posts
        assert c.scalar(sa.select(sa.func.count()).select_from(Follow)) == summary.follows
        assert c.scalar(sa.select(sa.func.count()).select_from(Like)) == summary.likes
        assert c.scalar(sa.select(sa.func.count()).select_from(Comment)) == summary.comments
        assert c.scalar(sa.select(sa.func.count()).select_from(SearchTerm)) == summary.search_terms

        followers = sa.select(sa.func.count()).where(Follow.followee_id == Profile.user_id).scalar_subquery()
        following = sa.select(sa.func.count()).where(Follow.follower_id == Profile.user_id).scalar_subquery()
        written = sa.select(sa.func.count()).where(Post.author_id == Profile.user_id).scalar_subquery()
        wrong_profiles = sa.select(Profile.user_id).where(
            sa.or_(
                Profile.follower_count != followers,
                Profile.following_count != following,
                Profile.post_count != written,
            )
        )
        assert count(c, wrong_profiles) == 0
        likes = sa.select(sa.func.count()).where(Like.post_id == Post.id).scalar_subquery()
        comments = (
            sa.select(sa.func.count())
            .where(Comment.post_id == Post.id, Comment.deleted_at.is_(None))
            .scalar_subquery()
        )
        wrong_posts = sa.select(Post.id).where(
            sa.or_(Post.like_count != likes, Post.comment_count != comments)
        )
        assert count(c, wrong_posts) == 0

        assert count(c, sa.select(Follow).where(Follow.follower_id == Follow.followee_id)) == 0
        orphans = sa.select(Post.id).outerjoin(Profile, Profile.user_id == Post.author_id)
        assert count(c, orphans.where(Profile.user_id.is_(None))) == 0
        liked_by_nobody = sa.select(Like.post_id).outerjoin(Profile, Profile.user_id == Like.user_id)
        assert count(c, liked_by_nobody.where(Profile.user_id.is_(None))) == 0
        parent = sa.orm.aliased(Comment)
        bad_replies = (
            sa.select(Comment.id)
            .join(parent, parent.id == Comment.parent_id)
            .where(
                sa.or_(
                    parent.post_id != Comment.post_id, parent.parent_id.is_not(None), parent.id >= Comment.id
                )
            )
        )
        assert count(c, bad_replies) == 0
        reply = sa.orm.aliased(Comment)
        replies = (
            sa.select(sa.func.count())
            .where(reply.parent_id == Comment.id, reply.deleted_at.is_(None))
            .scalar_subquery()
        )
        assert count(c, sa.select(Comment.id).where(Comment.reply_count != replies)) == 0
        assert c.scalar(sa.select(sa.func.max(Comment.reply_count))) > 0

        # Ids follow time, as the keyset pagination assumes.
        by_id = c.scalars(sa.select(Post.created_at).order_by(Post.id)).all()
        assert by_id == sorted(by_id)

        # The follow graph: most people follow a few dozen accounts, a few are followed by very many.
        following_counts = c.scalars(sa.select(Profile.following_count)).all()
        follower_counts = c.scalars(sa.select(Profile.follower_count)).all()
        assert 20 <= statistics.median(following_counts) <= 80
        assert max(follower_counts) == summary.max_followers > 3 * statistics.median(follower_counts)

        # The search index holds exactly what index_document would write, and finds Chinese.
        some_post = c.execute(sa.select(Post.id, Post.content).where(Post.id == POSTS // 2)).one()
        rows = c.execute(
            sa.select(SearchTerm.term, SearchTerm.weight).where(
                SearchTerm.doc_kind == search.POST, SearchTerm.doc_id == str(some_post.id)
            )
        ).all()
        expected = search.tokenize(some_post.content)
        assert {r.term: pytest.approx(r.weight) for r in rows} == {
            term: pytest.approx(1 + math.log(n)) for term, n in expected.items()
        }
        profiles = {row.user_id: row for row in c.execute(sa.select(Profile))}
    with sa.orm.Session(social) as session:
        found = search.search(session, search.POST, "咖啡", limit=5)
        assert found and all("咖啡" in session.get(Post, int(doc)).content for doc, _ in found)  # type: ignore[union-attr]

    with auth.connect() as c:
        users = {row.id: row for row in c.execute(sa.select(User))}
    assert users.keys() == profiles.keys()
    assert all(users[i].username == p.username and users[i].is_ai == p.is_ai for i, p in profiles.items())
    ai = [u for u in users.values() if u.is_ai]
    assert len(ai) == summary.ai_users == round(USERS * 0.02)
    assert all(u.password_hash is None for u in ai)
    assert sorted(u.username for u in ai) == sorted(summary.ai_usernames)
    person = next(u for u in users.values() if not u.is_ai)
    hasher = default_password_hasher()
    assert hasher.verify(person.password_hash, PASSWORD) and not hasher.verify(person.password_hash, "wrong")
    assert not hasher.needs_rehash(person.password_hash)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in u.display_name) for u in users.values())

    with pytest.raises(RuntimeError, match="already"):
        seed(mysql_url, auth_url, users=10, posts=10, seed=11)


def test_the_home_feed_is_an_index_range_scan(
    seeded: tuple[SeedSummary, sa.Engine, sa.Engine], tmp_path: Path
) -> None:
    """EXPLAIN the very statements SocialService.home_feed sends, for a typical reader and the one
    who follows the most accounts, on the first page and with a cursor."""
    _, social, _ = seeded
    with social.begin() as c:
        c.exec_driver_sql("ANALYZE TABLE posts")
        readers = c.scalars(
            sa.select(Profile.user_id).order_by(Profile.following_count, Profile.user_id)
        ).all()
    service = SocialService(
        settings=SocialSettings(env="test", data_dir=tmp_path, metrics_token="metrics-token-of-the-test"),
        session_factory=create_session_factory(social),
        outbox=Outbox("social"),
    )
    issued: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if "ORDER BY posts.id DESC" in statement:
            issued.append((statement, parameters))

    def feed_page(reader: str, cursor: str | None) -> tuple[list[Post], str | None]:
        sa.event.listen(social, "before_cursor_execute", capture)
        try:
            with service.reading() as session:
                return service.home_feed(session, Actor(reader), cursor=cursor, limit=20)
        finally:
            sa.event.remove(social, "before_cursor_execute", capture)

    for reader in (readers[len(readers) // 2], readers[-1]):
        first, cursor = feed_page(reader, None)
        assert cursor is not None and len(first) == 20
        second, _ = feed_page(reader, cursor)
        with social.connect() as c:
            followees = c.scalars(sa.select(Follow.followee_id).where(Follow.follower_id == reader)).all()
            newest = c.scalars(
                sa.select(Post.id)
                .where(Post.author_id.in_([reader, *followees]))
                .order_by(Post.id.desc())
                .limit(40)
            ).all()
        assert [p.id for p in first + second] == list(newest), "the feed pages through the right posts"

    feed_queries = [(s, p) for s, p in issued if "ORDER BY posts.id DESC" in s]
    assert len(feed_queries) == 4
    with social.connect() as c:
        for statement, parameters in feed_queries:
            plan = c.exec_driver_sql(f"EXPLAIN {statement}", parameters).mappings().all()
            steps = {row["table"]: row for row in plan}
            # The followed authors are read first, then each one's posts from the author index alone
            # ("Using index": no row read), and only the page's rows are then read, by primary key.
            assert (steps["indexed"]["type"], steps["indexed"]["key"]) == ("ref", TIMELINE_INDEX), plan
            assert steps["indexed"]["ref"].startswith("authors.author_id"), plan
            assert "Using index" in steps["indexed"]["Extra"], plan
            assert (steps["posts"]["type"], steps["posts"]["key"]) == ("eq_ref", "PRIMARY"), plan
