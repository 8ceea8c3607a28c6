"""Social through the gateway: what a profile tells others, how much a comment thread or an explore
request may cost, how many notifications a like may make, and forged cursors."""

from __future__ import annotations

import base64
import json

import pytest

from aic_common.testing.community import Account, Community, fake_ip

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def person(community: Community) -> Account:
    return community.register("hardsoc")


@pytest.fixture(scope="module")
def other(community: Community) -> Account:
    return community.register("hardsoc")


def anonymous() -> dict[str, str]:
    return {"X-Forwarded-For": fake_ip()}


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# ---------------------------------------------------------------- roles


def test_a_role_is_shown_to_its_owner_and_to_admins_only(
    community: Community, admin: Account, person: Account, other: Account
) -> None:
    def role_seen(path: str, headers: dict[str, str]) -> object:
        response = community.http.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return response.json().get("role")

    profile = f"/api/users/{admin.username}"
    assert role_seen(profile, anonymous()) is None
    assert role_seen(profile, person.headers) is None
    assert role_seen(profile, admin.headers) == "admin", "their own"
    assert role_seen(f"/api/users/{person.username}", person.headers) == "user", "their own"
    assert role_seen(f"/api/users/{person.username}", admin.headers) == "user", "an operator sees it"

    # Every list of people: search, followers, following.
    follow = community.http.post(f"/api/users/{other.username}/follow", headers=admin.headers)
    assert follow.status_code == 204, follow.text
    lists = [
        ("/api/search", {"q": admin.username, "type": "users"}, "users"),
        (f"/api/users/{other.username}/followers", {}, "items"),
        (f"/api/users/{admin.username}/following", {}, "items"),
    ]
    for path, params, key in lists:
        for headers in (anonymous(), person.headers):
            response = community.http.get(path, params=params, headers=headers)
            assert response.status_code == 200, response.text
            people = response.json()[key]
            assert people, (path, response.text)
            assert all(p.get("role") is None for p in people), (path, people)
        by_admin = community.http.get(path, params=params, headers=admin.headers).json()[key]
        assert all(p.get("role") in ("admin", "user") for p in by_admin), (path, by_admin)


# ---------------------------------------------------------------- replies


def test_a_comment_carries_a_few_replies_and_the_rest_come_a_page_at_a_time(
    community: Community, person: Account, other: Account
) -> None:
    post = community.http.post("/api/posts", json={"content": "a thread"}, headers=person.headers).json()
    comments = f"/api/posts/{post['id']}/comments"
    top = community.http.post(comments, json={"content": "top"}, headers=other.headers).json()
    replies = []
    for i in range(12):
        created = community.http.post(
            comments, json={"content": f"reply {i}", "parent_id": top["id"]}, headers=person.headers
        )
        assert created.status_code == 201, created.text
        replies.append(created.json()["id"])

    listed = community.http.get(comments, params={"limit": 1}, headers=anonymous())
    assert listed.status_code == 200, listed.text
    [thread] = listed.json()["items"]
    shown = [r["id"] for r in thread["replies"]]
    assert 0 < len(shown) < len(replies), "a comment carries its first few replies, not all"
    assert shown == replies[: len(shown)]
    assert thread["reply_count"] == len(replies)
    cursor = thread["replies_next_cursor"]
    assert cursor

    # The rest, a page at a time, oldest first, none twice; anyone may read them.
    while cursor:
        page = community.http.get(
            comments, params={"parent_id": top["id"], "cursor": cursor, "limit": 5}, headers=anonymous()
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 5
        shown += [r["id"] for r in body["items"]]
        cursor = body["next_cursor"]
    assert shown == replies

    missing = community.http.get(comments, params={"parent_id": "999999999"}, headers=anonymous())
    assert missing.status_code == 404 and missing.json()["code"] == "comment_not_found"


# ---------------------------------------------------------------- notifications


def test_liking_and_unliking_again_and_again_makes_one_unread_notification(
    community: Community, person: Account, other: Account
) -> None:
    post = community.http.post("/api/posts", json={"content": "like me"}, headers=person.headers).json()
    before = community.http.get("/api/notifications", headers=person.headers).json()["unread_count"]
    for _ in range(5):
        assert community.http.post(f"/api/posts/{post['id']}/like", headers=other.headers).status_code == 204
        assert (
            community.http.delete(f"/api/posts/{post['id']}/like", headers=other.headers).status_code == 204
        )
    for _ in range(3):
        assert (
            community.http.post(f"/api/users/{person.username}/follow", headers=other.headers).status_code
            == 204
        )
        assert (
            community.http.delete(f"/api/users/{person.username}/follow", headers=other.headers).status_code
            == 204
        )
    page = community.http.get("/api/notifications", params={"limit": 50}, headers=person.headers).json()
    assert page["unread_count"] - before == 2
    from_other = [(n["kind"], n["post_id"]) for n in page["items"] if n["actor"]["id"] == other.id]
    assert from_other.count(("like", post["id"])) == 1 and from_other.count(("follow", None)) == 1

    # Once read, a new like is news again.
    assert community.http.post("/api/notifications/read", json={}, headers=person.headers).status_code == 204
    assert community.http.post(f"/api/posts/{post['id']}/like", headers=other.headers).status_code == 204
    assert community.http.get("/api/notifications", headers=person.headers).json()["unread_count"] == 1


# ---------------------------------------------------------------- cursors

BAD_CURSORS = [
    cursor_of({"t": "2026-01-01T00:00:00+00:00", "o": 0}),  # the audit's: an offset time zone (500)
    cursor_of({"g": 1, "o": -1}),
    cursor_of({"g": True, "o": 0}),
    cursor_of({"g": 2**70, "o": 0}),
    cursor_of(2**70),  # beyond any row id (SQLite cannot bind it: 500)
    cursor_of(-1),
    cursor_of(True),
    cursor_of(1.5),
    cursor_of(["2026-01-01T00:00:00+05:00", "x"]),  # an aware time against naive columns
    cursor_of(["2026-01-01T00:00:00", 5]),
    cursor_of(["not a time", "x"]),
    "@@@",
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_forged_cursor_is_refused_on_every_list(
    community: Community, person: Account, other: Account, cursor: str
) -> None:
    post = community.http.post("/api/posts", json={"content": "cursors"}, headers=person.headers).json()
    top = community.http.post(
        f"/api/posts/{post['id']}/comments", json={"content": "c"}, headers=other.headers
    ).json()
    lists: list[tuple[str, dict[str, str]]] = [
        ("/api/feed/explore", {}),
        ("/api/feed/home", {}),
        (f"/api/users/{person.username}/posts", {}),
        (f"/api/users/{person.username}/followers", {}),
        (f"/api/users/{person.username}/following", {}),
        (f"/api/posts/{post['id']}/comments", {}),
        (f"/api/posts/{post['id']}/comments", {"parent_id": top["id"]}),
        ("/api/notifications", {}),
        ("/api/conversations", {}),
        (f"/api/conversations/{other.username}/messages", {}),
    ]
    for path, params in lists:
        response = community.http.get(path, params={**params, "cursor": cursor}, headers=person.headers)
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert response.json()["code"] == "invalid_cursor", (path, response.text)
