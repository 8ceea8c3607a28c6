"""What others may see of a person, what a request may cost, how many notifications an action may make,
and cursors nobody issued: on SQLite + in-process bus and on MariaDB + RabbitMQ."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from aic_common.db import utc_now
from aic_common.testing import observed_bus, serving, wait_for
from aic_common.tokens import TokenVerifier
from aic_social.app import create_app
from aic_social.models import Notification
from aic_social.service import SocialService
from aic_social.settings import SocialSettings

from .conftest import ISSUER, SocialEnv, User, comment, post

pytestmark = pytest.mark.integration


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# ---------------------------------------------------------------- roles


async def test_a_role_is_shown_only_to_its_owner_and_to_admins(social: SocialEnv) -> None:
    boss = await social.user(role="admin")
    operator = await social.user(role="admin")
    person, stranger = await social.user(), await social.user()
    await social.client.post(f"/api/users/{person.username}/follow", headers=boss.headers)

    async def roles(path: str, viewer: User | None, key: str | None = None, **params: str) -> list[object]:
        response = await social.client.get(path, params=params, headers=viewer.headers if viewer else {})
        assert response.status_code == 200, response.text
        body = response.json()
        people = body[key] if key else [body]
        assert people, path
        return [p["role"] for p in people]

    profile = f"/api/users/{boss.username}"
    assert await roles(profile, None) == [None]
    assert await roles(profile, person) == [None]
    assert await roles(profile, boss) == ["admin"], "their own"
    assert await roles(profile, operator) == ["admin"], "an operator's"
    assert await roles(f"/api/users/{person.username}", person) == ["user"]
    me = await social.client.patch("/api/users/me", json={"bio": "hi"}, headers=boss.headers)
    assert me.json()["role"] == "admin"

    lists = [
        (f"/api/users/{person.username}/followers", "items", {}),
        (f"/api/users/{boss.username}/following", "items", {}),
        ("/api/search", "users", {"q": boss.username, "type": "users"}),
    ]
    for path, key, params in lists:
        assert await roles(path, None, key, **params) == [None], path
        assert await roles(path, stranger, key, **params) == [None], path
        assert await roles(path, operator, key, **params) != [None], path


# ---------------------------------------------------------------- notifications


async def test_one_unread_notification_per_actor_object_and_kind(social: SocialEnv) -> None:
    author, fan = await social.user(), await social.user()
    target = await post(social, author, "like me")
    for _ in range(5):
        await social.client.post(f"/api/posts/{target['id']}/like", headers=fan.headers)
        await social.client.delete(f"/api/posts/{target['id']}/like", headers=fan.headers)
    for _ in range(3):
        await social.client.post(f"/api/users/{author.username}/follow", headers=fan.headers)
        await social.client.delete(f"/api/users/{author.username}/follow", headers=fan.headers)
    for text in ("one", "two"):  # each comment is news of its own
        await comment(social, fan, target["id"], text)

    page = (await social.client.get("/api/notifications", headers=author.headers)).json()
    assert sorted(n["kind"] for n in page["items"]) == ["comment", "comment", "follow", "like"]
    assert page["unread_count"] == 4

    def announced() -> list[str]:
        return [
            e.data["kind"] for e in social.of_type("notification.created") if e.data["user_id"] == author.id
        ]

    await wait_for(lambda: announced().count("comment") == 2, timeout=20, what="the comments announced")
    assert sorted(announced()) == ["comment", "comment", "follow", "like"], "a repeat is not news either"

    # Read, the next like is news again.
    await social.client.post("/api/notifications/read", json={}, headers=author.headers)
    await social.client.post(f"/api/posts/{target['id']}/like", headers=fan.headers)
    page = (await social.client.get("/api/notifications", headers=author.headers)).json()
    assert page["unread_count"] == 1 and page["items"][0]["kind"] == "like"
    with social.session_factory() as session:
        likes = sa.select(sa.func.count()).where(
            Notification.user_id == author.id, Notification.kind == "like"
        )
        assert session.scalar(likes) == 2


# ---------------------------------------------------------------- cursors

BAD_CURSORS = [
    cursor_of({"t": "2026-01-01T00:00:00+00:00", "o": 0}),  # explore's old shape, with an offset (500)
    cursor_of({"g": 1, "o": -1}),
    cursor_of({"g": 0, "o": 0}),
    cursor_of({"g": True, "o": 0}),
    cursor_of({"g": 1, "o": 10**9}),
    cursor_of({"g": 2**70, "o": 0}),
    cursor_of(2**70),  # beyond a BIGINT: SQLite cannot bind it (500)
    cursor_of(-1),
    cursor_of(True),
    cursor_of(1.5),
    cursor_of("7"),
    cursor_of(["2026-01-01T00:00:00+05:00", "x"]),  # an aware time against naive columns
    cursor_of(["2026-01-01T00:00:00", 5]),
    cursor_of(["not a time", "x"]),
    cursor_of([]),
    "@@@",
]


async def test_a_cursor_nobody_issued_is_refused_on_every_list(social: SocialEnv) -> None:
    me, other = await social.user(), await social.user()
    admin = await social.user(role="admin")
    target = await post(social, me, "cursors")
    top = await comment(social, other, target["id"], "c")
    lists: list[tuple[str, dict[str, str], User]] = [
        ("/api/feed/explore", {}, me),
        ("/api/feed/explore", {"order": "latest"}, me),
        ("/api/feed/home", {}, me),
        (f"/api/users/{me.username}/posts", {}, me),
        (f"/api/users/{me.username}/followers", {}, me),
        (f"/api/users/{me.username}/following", {}, me),
        (f"/api/posts/{target['id']}/comments", {}, me),
        (f"/api/posts/{target['id']}/comments", {"parent_id": top["id"]}, me),
        ("/api/notifications", {}, me),
        ("/api/conversations", {}, me),
        (f"/api/conversations/{other.username}/messages", {}, me),
        ("/api/admin/reports", {}, admin),
    ]
    for cursor in BAD_CURSORS:
        for path, params, viewer in lists:
            response = await social.client.get(
                path, params={**params, "cursor": cursor}, headers=viewer.headers
            )
            assert response.status_code == 422, (path, cursor, response.text)
            assert response.json()["code"] == "invalid_cursor", (path, cursor)


async def test_an_id_beyond_a_bigint_is_not_found(social: SocialEnv) -> None:
    me = await social.user()
    huge = "9" * 19  # 19 digits, and more than a BIGINT holds
    assert (await social.client.get(f"/api/posts/{huge}")).status_code == 404
    target = await post(social, me, "reply to nothing")
    orphan = await social.client.post(
        f"/api/posts/{target['id']}/comments", json={"content": "x", "parent_id": huge}, headers=me.headers
    )
    assert orphan.status_code == 404 and orphan.json()["code"] == "parent_not_found"
    assert (await social.client.delete(f"/api/comments/{huge}", headers=me.headers)).status_code == 404
    read = await social.client.post("/api/notifications/read", json={"ids": [huge]}, headers=me.headers)
    assert read.status_code == 204


# ---------------------------------------------------------------- explore


class MovableClock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def clocked(settings: SocialSettings) -> AsyncIterator[tuple[SocialEnv, MovableClock]]:
    clock = MovableClock()
    async with observed_bus(settings) as observed:
        app = create_app(settings, shared_bus=observed.shared, clock=clock)
        app.state.token_verifier = TokenVerifier.from_issuer(ISSUER)
        async with serving(app, "http://social") as client:
            kind = "embedded" if observed.shared else "real"
            yield SocialEnv(kind, client, app, observed.bus, observed.events), clock


@contextmanager
def statements(env: SocialEnv) -> Iterator[list[str]]:
    """The SQL the service runs meanwhile."""
    seen: list[str] = []
    engine = env.app.state.runtime.engine

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def ranks_the_window(seen: list[str]) -> int:
    """How many statements read the recent posts to rank them (the work explore must not redo per
    request)."""
    return sum(1 for s in seen if "posts.created_at <=" in s.replace("\n", " "))


async def explore(env: SocialEnv, **params: object) -> dict:
    response = await env.client.get("/api/feed/explore", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_explore_ranks_once_per_refresh_interval_not_per_request(clocked) -> None:
    social, clock = clocked
    author, fan = await social.user(), await social.user()
    posts = [(await post(social, author, f"p{i}"))["id"] for i in range(5)]
    await social.client.post(f"/api/posts/{posts[1]}/like", headers=fan.headers)

    with statements(social) as seen:
        first = await explore(social, limit=2)
    assert ranks_the_window(seen) == 1
    assert [p["id"] for p in first["items"]] == [posts[1], posts[4]]

    # Anonymous requests meanwhile read the kept ranking and a page of posts, whatever they ask; a post
    # newer than the ranking opens the first page at once.
    clock.now += timedelta(seconds=1)  # within the refresh interval
    late = await post(social, fan, "posted after the ranking")
    with statements(social) as seen:
        for _ in range(5):
            again = await explore(social, limit=2)
        rest = await explore(social, limit=50, cursor=first["next_cursor"])
    assert ranks_the_window(seen) == 0
    assert again["items"] == [late, *first["items"][:1]]
    assert [p["id"] for p in rest["items"]] == [posts[3], posts[2], posts[0]]
    reads = [s for s in seen if "FROM posts" in s]
    assert all("posts.id IN" in s or "LIMIT" in s for s in reads), "posts are read by ids or a few at most"

    # Once the interval is over, the next request ranks again, and only that one.
    clock.now += timedelta(seconds=social.app.state.social_service.settings.explore_refresh_seconds)
    with statements(social) as seen:
        fresh = [await explore(social, limit=50) for _ in range(3)]
    assert ranks_the_window(seen) == 1
    ids = [p["id"] for p in fresh[0]["items"]]
    assert late["id"] in ids and len(ids) == len(set(ids)) == 6
    assert fresh[0] == fresh[1] == fresh[2]


async def test_replicas_share_the_ranking_and_its_cursors(clocked) -> None:
    social, clock = clocked
    author = await social.user()
    posts = [(await post(social, author, f"p{i}"))["id"] for i in range(5)]
    first = await explore(social, limit=2)
    one: SocialService = social.app.state.social_service
    replica = SocialService(one.settings, one.session_factory, one.outbox, clock)
    with statements(social) as seen, replica.reading() as session:
        page, next_cursor = replica.explore_feed(session, cursor=first["next_cursor"], limit=2)
        again, _ = replica.explore_feed(session, cursor=None, limit=2)
    assert ranks_the_window(seen) == 0, "the replica used the ranking the first one made"
    assert [str(p.id) for p in again] == [p["id"] for p in first["items"]]
    assert [str(p.id) for p in page] == posts[2:0:-1]
    assert next_cursor is not None

    # A deleted post leaves the pages; a cursor whose ranking is gone goes on in the newest one.
    assert (await social.client.delete(f"/api/posts/{posts[4]}", headers=author.headers)).status_code == 204
    assert posts[4] not in [p["id"] for p in (await explore(social, limit=50))["items"]]
    forgotten = await explore(social, limit=2, cursor=cursor_of({"g": 10**12, "o": 2}))
    assert [p["id"] for p in forgotten["items"]] == posts[2:0:-1]


async def test_explore_goes_as_deep_as_the_ranking_size(settings: SocialSettings) -> None:
    settings = SocialSettings(**{**settings.model_dump(), "explore_ranking_size": 3})
    async with observed_bus(settings) as observed:
        app = create_app(settings, shared_bus=observed.shared)
        app.state.token_verifier = TokenVerifier.from_issuer(ISSUER)
        async with serving(app, "http://social") as client:
            social = SocialEnv("", client, app, observed.bus, observed.events)
            author = await social.user()
            posts = [(await post(social, author, f"p{i}"))["id"] for i in range(5)]
            first = await explore(social, limit=2)
            second = await explore(social, limit=2, cursor=first["next_cursor"])
            assert [p["id"] for p in first["items"] + second["items"]] == posts[:1:-1]
            assert second["next_cursor"] is None


async def test_latest_explore_is_newest_first_by_time_and_pages_stably(clocked) -> None:
    social, clock = clocked
    author, fan = await social.user(), await social.user()
    start = clock.now
    older = await post(social, author, "older")
    clock.now = start + timedelta(minutes=2)
    tie_low = await post(social, author, "same moment, lower id")
    tie_high = await post(social, author, "same moment, higher id")
    # A later id written with an earlier time (a clock that lagged) goes by its time, not its id.
    clock.now = start + timedelta(minutes=1)
    lagged = await post(social, fan, "lagged")
    clock.now = start + timedelta(minutes=3)
    newest = await post(social, author, "newest")
    await social.client.post(f"/api/posts/{older['id']}/like", headers=fan.headers)

    first = await explore(social, order="latest", limit=2)
    assert [p["id"] for p in first["items"]] == [newest["id"], tie_high["id"]]
    # A post arriving between pages does not shift the next one.
    clock.now = start + timedelta(minutes=4)
    await post(social, fan, "arrived while reading")
    second = await explore(social, order="latest", limit=2, cursor=first["next_cursor"])
    third = await explore(social, order="latest", limit=2, cursor=second["next_cursor"])
    assert [p["id"] for p in second["items"] + third["items"]] == [tie_low["id"], lagged["id"], older["id"]]
    assert third["next_cursor"] is None

    # Popular is the default and still ranks the liked post first; a deleted post leaves latest.
    assert (await explore(social))["items"][0]["id"] == older["id"]
    assert (
        await social.client.delete(f"/api/posts/{newest['id']}", headers=author.headers)
    ).status_code == 204
    assert newest["id"] not in [p["id"] for p in (await explore(social, order="latest"))["items"]]

    # A cursor of the other order is refused, not misread; so is an id that is no post id.
    popular = await explore(social, limit=1)
    for cursor in (
        popular["next_cursor"],
        cursor_of(["2026-01-01T00:00:00", "9" * 19]),  # beyond a BIGINT
        cursor_of(["2026-01-01T00:00:00", "x"]),
    ):
        refused = await social.client.get("/api/feed/explore", params={"order": "latest", "cursor": cursor})
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_cursor", cursor
    unknown = await social.client.get("/api/feed/explore", params={"order": "random"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "validation_error", unknown.text
