"""A comment's replies: a few with the comment, the rest a page at a time, on SQLite + in-process bus
and on MariaDB + RabbitMQ."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from aic_common.messages import UserDeleted
from aic_common.migrations import upgrade
from aic_common.testing import wait_for
from aic_social.app import MIGRATIONS
from aic_social.models import Profile
from aic_social.settings import SocialSettings

from .conftest import SocialEnv, comment, post

pytestmark = pytest.mark.integration


async def test_a_comment_carries_its_first_replies_and_the_rest_come_in_pages(social: SocialEnv) -> None:
    author, fan = await social.user(), await social.user()
    target = await post(social, author, "讨论")
    url = f"/api/posts/{target['id']}/comments"
    top = await comment(social, fan, target["id"], "top")
    quiet = await comment(social, fan, target["id"], "no replies")
    replies = [(await comment(social, author, target["id"], f"r{i}", top["id"]))["id"] for i in range(7)]
    gone = await comment(social, fan, target["id"], "deleted", top["id"])
    assert (await social.client.delete(f"/api/comments/{gone['id']}", headers=fan.headers)).status_code == 204

    first = (await social.client.get(url)).json()["items"]
    per_comment = SocialSettings().replies_per_comment
    assert [r["id"] for r in first[0]["replies"]] == replies[:per_comment]
    assert first[0]["reply_count"] == len(replies), "the deleted reply is not counted"
    assert first[1]["replies"] == [] and first[1]["reply_count"] == 0
    assert first[1]["replies_next_cursor"] is None and first[1]["id"] == quiet["id"]

    seen = [r["id"] for r in first[0]["replies"]]
    cursor = first[0]["replies_next_cursor"]
    while cursor:
        page = await social.client.get(url, params={"parent_id": top["id"], "cursor": cursor, "limit": 2})
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 2
        seen += [r["id"] for r in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert seen == replies
    everything = (await social.client.get(url, params={"parent_id": top["id"], "limit": 50})).json()
    assert [r["id"] for r in everything["items"]] == replies and everything["next_cursor"] is None
    assert all(r["parent_id"] == top["id"] and r["replies"] == [] for r in everything["items"])

    # Replies have no replies; a comment that is gone or of another post is not there.
    of_a_reply = await social.client.get(url, params={"parent_id": replies[0]})
    assert of_a_reply.status_code == 200 and of_a_reply.json()["items"] == []
    other = await post(social, author, "another")
    for parent, path in [
        (gone["id"], url),
        ("999999", url),
        (top["id"], f"/api/posts/{other['id']}/comments"),
    ]:
        missing = await social.client.get(path, params={"parent_id": parent})
        assert missing.status_code == 404 and missing.json()["code"] == "comment_not_found", parent
    assert (await social.client.get(url, params={"parent_id": "x1"})).status_code == 422


async def test_reply_counts_follow_deleted_replies_and_departed_authors(social: SocialEnv) -> None:
    author, leaver, friend = await social.user(), await social.user(), await social.user()
    target = await post(social, author, "count me")
    url = f"/api/posts/{target['id']}/comments"
    top = await comment(social, author, target["id"], "top")
    for who in (leaver, leaver, friend, friend):
        await comment(social, who, target["id"], "reply", top["id"])
    mine = await comment(social, friend, target["id"], "mine", top["id"])
    assert (await social.client.get(url)).json()["items"][0]["reply_count"] == 5

    assert (
        await social.client.delete(f"/api/comments/{mine['id']}", headers=friend.headers)
    ).status_code == 204
    await social.publish(UserDeleted(user_id=leaver.id, username=leaver.username), producer="auth")

    def departed() -> bool:
        with social.session_factory() as session:
            return session.get(Profile, leaver.id).deleted

    await wait_for(departed, timeout=20, what="the account deleted")
    [thread] = (await social.client.get(url)).json()["items"]
    assert thread["reply_count"] == 2 and [r["author"]["id"] for r in thread["replies"]] == [friend.id] * 2
    assert thread["replies_next_cursor"] is None


def test_the_migration_counts_the_replies_already_there(database_url: str) -> None:
    upgrade(MIGRATIONS, database_url, "0005")
    engine = sa.create_engine(database_url)
    comments = sa.table(
        "comments",
        *(
            sa.column(c)
            for c in ("id", "post_id", "author_id", "parent_id", "content", "created_at", "deleted_at")
        ),
    )
    now = datetime(2026, 1, 1)
    row = {"post_id": 1, "author_id": "a", "content": "x", "created_at": now, "deleted_at": None}
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(comments),
                [
                    {**row, "id": 1, "parent_id": None},
                    {**row, "id": 2, "parent_id": None},
                    {**row, "id": 3, "parent_id": 1},
                    {**row, "id": 4, "parent_id": 1},
                    {**row, "id": 5, "parent_id": 1, "deleted_at": now},
                ],
            )
        upgrade(MIGRATIONS, database_url)
        with engine.connect() as connection:
            counts = dict(
                connection.execute(sa.text("SELECT id, reply_count FROM comments ORDER BY id")).all()
            )
        assert counts == {1: 2, 2: 0, 3: 0, 4: 0, 5: 0}
    finally:
        engine.dispose()
