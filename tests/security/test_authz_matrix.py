"""The authorization matrix: for every endpoint that acts on somebody's object, what each role may do.

Roles: ``anonymous`` (no token), ``owner`` (whose objects they are), ``other`` (another person) and
``admin``. Each row names the request, the status each role gets, and (for writes) the owner's object
as the owner sees it: it must change only for the roles listed in ``changes_for`` and stay exactly as
it was after every other role's request, refused or not. Reads of private things say who may see them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from aic_common.testing import wait_until
from aic_common.testing.community import Account, Community, fake_ip
from aic_gateway.stack import Stack

pytestmark = pytest.mark.e2e
ROLES = ("anonymous", "owner", "other", "admin")


class Objects:
    """The owner's things for one test, each made the first time a row asks for it."""

    def __init__(self, stack: Stack, community: Community, people: dict[str, Account]) -> None:
        self.stack, self.community, self.http = stack, community, community.http
        self.owner, self.other, self.admin = people["owner"], people["other"], people["admin"]
        self.correspondent = people["correspondent"]
        self.tag = uuid.uuid4().hex[:10]

    def _created(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 201, response.text
        return response.json()

    @cached_property
    def post_id(self) -> str:
        body = {"content": f"the owner's post {self.tag}"}
        return self._created(self.http.post("/api/posts", json=body, headers=self.owner.headers))["id"]

    @cached_property
    def comment_id(self) -> str:
        body = {"content": "the owner's comment"}
        path = f"/api/posts/{self.post_id}/comments"
        return self._created(self.http.post(path, json=body, headers=self.owner.headers))["id"]

    @cached_property
    def others_comment_id(self) -> str:
        """A comment by the other person under the owner's post."""
        body = {"content": "someone else's comment"}
        path = f"/api/posts/{self.post_id}/comments"
        return self._created(self.http.post(path, json=body, headers=self.other.headers))["id"]

    @cached_property
    def file_id(self) -> str:
        return self._created(self.community.upload(self.owner))["id"]

    @cached_property
    def image_id(self) -> str:
        """An uploaded image that social knows is the owner's (it learns of files from events)."""
        file_id = self.file_id

        def attached() -> bool:
            body = {"content": "with a picture", "image_ids": [file_id]}
            return self.http.post("/api/posts", json=body, headers=self.owner.headers).status_code == 201

        wait_until(attached, timeout=20, interval=0.2, what="social to learn of the upload")
        return file_id

    @cached_property
    def report_id(self) -> str:
        """The other person's report of the owner's post."""
        path = f"/api/posts/{self.post_id}/report"
        return self._created(self.http.post(path, json={"reason": "spam"}, headers=self.other.headers))["id"]

    @cached_property
    def message_id(self) -> str:
        body = {"to": self.correspondent.username, "content": f"a private word {self.tag}"}
        return self._created(self.http.post("/api/messages", json=body, headers=self.owner.headers))["id"]

    @cached_property
    def notification_id(self) -> str:
        """The owner's notification that the correspondent liked the owner's post."""
        liked = self.http.post(f"/api/posts/{self.post_id}/like", headers=self.correspondent.headers)
        assert liked.status_code == 204, liked.text
        for item in self.http.get("/api/notifications", headers=self.owner.headers).json()["items"]:
            if item["kind"] == "like" and item["post_id"] == self.post_id:
                return item["id"]
        raise AssertionError("the like made no notification")

    @cached_property
    def ai_username(self) -> str:
        return f"bot_{self.tag}"


@dataclass(frozen=True)
class Rule:
    name: str
    method: str
    path: Callable[[Objects], str]
    expect: dict[str, int]  # role -> status
    body: Callable[[Objects], Any] | None = None
    # The owner's object as the owner (or, for moderation, an admin) sees it; changes only for these roles.
    state: Callable[[Objects], Any] | None = None
    changes_for: frozenset[str] = frozenset()
    # For reads of private things: whether the response shows the owner's object; only these roles see it.
    shows: Callable[[httpx.Response, Objects], bool] | None = None
    visible_to: frozenset[str] = frozenset()
    # The owner's objects a read is about, made before it.
    setup: Callable[[Objects], Any] | None = None


def everyone(status: int, *, anonymous: int = 401) -> dict[str, int]:
    return {"anonymous": anonymous, "owner": status, "other": status, "admin": status}


def owner_or_admin(allowed: int) -> dict[str, int]:
    return {"anonymous": 401, "owner": allowed, "other": 403, "admin": allowed}


def admin_only(allowed: int) -> dict[str, int]:
    return {"anonymous": 401, "owner": 403, "other": 403, "admin": allowed}


# --------------------------------------------------------------------- what the owner sees


def post_state(o: Objects) -> tuple[int, str | None]:
    response = o.http.get(f"/api/posts/{o.post_id}", headers=o.owner.headers)
    return response.status_code, response.json().get("content")


def comment_ids(o: Objects) -> list[str]:
    page = o.http.get(f"/api/posts/{o.post_id}/comments", headers=o.owner.headers).json()
    return sorted(c["id"] for c in page["items"])


def file_state(o: Objects) -> int:
    return o.http.get(f"/api/files/{o.file_id}", headers=o.owner.headers).status_code


def profile_state(o: Objects) -> tuple[str, str | None]:
    profile = o.http.get(f"/api/users/{o.owner.username}", headers=o.owner.headers).json()
    return profile["bio"], profile["avatar_url"]


def account_state(o: Objects) -> str:
    return o.http.get("/api/auth/me", headers=o.owner.headers).json()["display_name"]


def notification_read(o: Objects) -> bool:
    items = o.http.get("/api/notifications", headers=o.owner.headers).json()["items"]
    return next(item["read"] for item in items if item["id"] == o.notification_id)


def report_state(o: Objects) -> tuple[int, str | None]:
    params = {"open_only": "false", "limit": "100"}
    reports = o.http.get("/api/admin/reports", params=params, headers=o.admin.headers).json()
    resolution = next(r["resolution"] for r in reports["items"] if r["id"] == o.report_id)
    return post_state(o)[0], resolution


def event_titles(o: Objects) -> list[str]:
    events = o.http.get("/api/sim/events", params={"upcoming_hours": 24 * 14}, headers=o.owner.headers)
    return sorted(event["title"] for event in events.json())


def ai_account_exists(o: Objects) -> bool:
    engine = sa.create_engine(o.stack.config.database_url("auth"))
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT COUNT(*) FROM users WHERE username = :name")
            return bool(connection.execute(query, {"name": o.ai_username}).scalar())
    finally:
        engine.dispose()


def lists(key: str, value: Callable[[Objects], str]) -> Callable[[httpx.Response, Objects], bool]:
    """Whether a page's items include one whose ``key`` is ``value(objects)``."""

    def shows(response: httpx.Response, o: Objects) -> bool:
        return any(item[key] == value(o) for item in response.json()["items"])

    return shows


def has_conversation_with_correspondent(response: httpx.Response, o: Objects) -> bool:
    return any(c["with_user"]["username"] == o.correspondent.username for c in response.json()["items"])


RULES = [
    Rule(
        "delete a post",
        "DELETE",
        lambda o: f"/api/posts/{o.post_id}",
        owner_or_admin(204),
        state=post_state,
        changes_for=frozenset({"owner", "admin"}),
    ),
    Rule(
        "edit a post (there is no such route)",
        "PATCH",
        lambda o: f"/api/posts/{o.post_id}",
        everyone(405),
        body=lambda o: {"content": "rewritten"},
        state=post_state,
    ),
    Rule(
        "delete one's own comment",
        "DELETE",
        lambda o: f"/api/comments/{o.comment_id}",
        owner_or_admin(204),
        state=comment_ids,
        changes_for=frozenset({"owner", "admin"}),
    ),
    Rule(
        "delete another's comment under one's own post",
        "DELETE",
        lambda o: f"/api/comments/{o.others_comment_id}",
        everyone(204),  # the post's author, the comment's author (other) and admins may
        state=comment_ids,
        changes_for=frozenset({"owner", "other", "admin"}),
    ),
    Rule(
        "delete a file",
        "DELETE",
        lambda o: f"/api/files/{o.file_id}",
        owner_or_admin(204),
        state=file_state,
        changes_for=frozenset({"owner", "admin"}),
    ),
    Rule(
        "download a file (images are public)",
        "GET",
        lambda o: f"/api/files/{o.file_id}",
        everyone(200, anonymous=200),
    ),
    Rule("read a file's metadata", "GET", lambda o: f"/api/files/{o.file_id}/meta", everyone(200)),
    Rule(
        "take the owner's image as one's avatar",
        "PATCH",
        lambda o: "/api/users/me",
        {"anonymous": 401, "owner": 200, "other": 403, "admin": 403},
        body=lambda o: {"bio": f"bio {o.tag}", "avatar_file_id": o.image_id},
        state=profile_state,
        changes_for=frozenset({"owner"}),
    ),
    Rule(
        "change one's account (only ever one's own)",
        "PATCH",
        lambda o: "/api/auth/me",
        everyone(200),
        body=lambda o: {"display_name": f"renamed {o.tag}"},
        state=account_state,
        changes_for=frozenset({"owner"}),
    ),
    Rule(
        "read a conversation",
        "GET",
        lambda o: f"/api/conversations/{o.correspondent.username}/messages",
        everyone(200),
        shows=lists("id", lambda o: o.message_id),
        visible_to=frozenset({"owner"}),
        setup=lambda o: o.message_id,
    ),
    Rule(
        "list conversations",
        "GET",
        lambda o: "/api/conversations",
        everyone(200),
        shows=has_conversation_with_correspondent,
        visible_to=frozenset({"owner"}),
        setup=lambda o: o.message_id,
    ),
    Rule(
        "read notifications",
        "GET",
        lambda o: "/api/notifications",
        everyone(200),
        shows=lists("id", lambda o: o.notification_id),
        visible_to=frozenset({"owner"}),
        setup=lambda o: o.notification_id,
    ),
    Rule(
        "mark a notification read",
        "POST",
        lambda o: "/api/notifications/read",
        everyone(204),
        body=lambda o: {"ids": [o.notification_id]},
        state=notification_read,
        changes_for=frozenset({"owner"}),
    ),
    Rule("list reports", "GET", lambda o: "/api/admin/reports", admin_only(200), setup=lambda o: o.report_id),
    Rule(
        "resolve a report by removing the post",
        "POST",
        lambda o: f"/api/admin/reports/{o.report_id}/resolve",
        admin_only(200),
        body=lambda o: {"action": "remove_post"},
        state=report_state,
        changes_for=frozenset({"admin"}),
    ),
    Rule(
        "control the simulation",
        "POST",
        lambda o: "/api/sim/control",
        admin_only(200),
        body=lambda o: {"command": "status"},
    ),
    Rule(
        "inject a game event",
        "POST",
        lambda o: "/api/sim/events",
        admin_only(201),
        body=lambda o: {"title": f"event {o.tag}", "duration_minutes": 30},
        state=event_titles,
        changes_for=frozenset({"admin"}),
    ),
    Rule(
        "create an AI account (services only)",
        "POST",
        lambda o: "/api/auth/internal/ai-accounts",
        admin_only(403),
        body=lambda o: {"username": o.ai_username, "display_name": "Bot"},
        state=ai_account_exists,
    ),
]


@pytest.fixture(scope="module")
def people(community: Community, admin: Account) -> dict[str, Account]:
    return {"other": community.register("other"), "correspondent": community.register("corr"), "admin": admin}


@pytest.fixture(scope="module")
def owners(community: Community) -> Callable[[str], Account]:
    """An owner per row, shared by its roles: keeps each account well under the per-person rate limit."""
    made: dict[str, Account] = {}

    def owner_for(rule: str) -> Account:
        if rule not in made:
            made[rule] = community.register("owner")
        return made[rule]

    return owner_for


def headers_of(role: str, objects: Objects) -> dict[str, str]:
    if role == "anonymous":
        return {"X-Forwarded-For": fake_ip()}
    return {"owner": objects.owner, "other": objects.other, "admin": objects.admin}[role].headers


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_authorization(
    stack: Stack,
    community: Community,
    people: dict[str, Account],
    owners: Callable[[str], Account],
    rule: Rule,
    role: str,
) -> None:
    objects = Objects(stack, community, {**people, "owner": owners(rule.name)})
    # Whatever the request names is made first, then the owner's view of it is taken.
    path = rule.path(objects)
    body = rule.body(objects) if rule.body else None
    if rule.setup is not None:
        rule.setup(objects)
    before = rule.state(objects) if rule.state else None
    response = community.http.request(rule.method, path, json=body, headers=headers_of(role, objects))

    assert response.status_code == rule.expect[role], f"{role}: {response.status_code} {response.text}"
    if response.status_code >= 400:
        assert set(response.json()) == {"detail", "code"}, response.text
    if rule.shows is not None and response.status_code == 200:
        assert rule.shows(response, objects) == (role in rule.visible_to), f"{role} sees: {response.text}"
    if rule.state is not None:
        after = rule.state(objects)
        if role in rule.changes_for:
            assert after != before, f"{role}'s request had no effect: {before!r}"
        else:
            assert after == before, f"{role}'s request changed {before!r} into {after!r}"


def test_a_service_may_create_ai_accounts(stack: Stack, community: Community, admin: Account) -> None:
    # The control of the last row: the state it watches does change when the right caller asks.
    secret = stack.secrets.service_clients["social"]
    token = community.http.post("/api/auth/token", json={"client_id": "social", "client_secret": secret})
    assert token.status_code == 200, token.text
    everybody = dict.fromkeys(("owner", "other", "correspondent", "admin"), admin)
    objects = Objects(stack, community, everybody)
    assert not ai_account_exists(objects)
    created = community.http.post(
        "/api/auth/internal/ai-accounts",
        json={"username": objects.ai_username, "display_name": "Bot"},
        headers={"Authorization": f"Bearer {token.json()['access_token']}", "X-Forwarded-For": fake_ip()},
    )
    assert created.status_code == 201, created.text
    assert ai_account_exists(objects)
