"""Reposts (plain and with a quote) and bookmarks, on SQLite + in-process bus and on MariaDB + RabbitMQ."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from aic_common.messages import RepostCommand, make_envelope
from aic_common.testing import wait_for
from aic_social.models import Post, Profile

from .conftest import SocialEnv, User, post

pytestmark = pytest.mark.integration


async def repost(
    env: SocialEnv, user: User, post_id: str, quote: str | None = None, status: int = 201
) -> dict:
    body = {"content": quote} if quote is not None else None
    response = await env.client.post(f"/api/posts/{post_id}/repost", json=body, headers=user.headers)
    assert response.status_code == status, response.text
    return response.json()


async def shown(env: SocialEnv, post_id: str, viewer: User | None = None) -> dict:
    response = await env.client.get(f"/api/posts/{post_id}", headers=viewer.headers if viewer else {})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_plain_repost_is_one_per_person_and_undone_and_quotes_are_new_posts(
    social: SocialEnv,
) -> None:
    author, fan = await social.user(), await social.user()
    original = await post(social, author, "the lake at dawn")

    plain = await repost(social, fan, original["id"])
    assert plain["content"] == "" and plain["author"]["username"] == fan.username
    assert plain["repost_of_id"] == original["id"]
    assert plain["repost_of"]["content"] == "the lake at dawn"
    assert plain["repost_of"]["repost_count"] == 1 and plain["repost_of"]["reposted_by_me"] is True
    # Again, without a quote or with a blank one: the same repost, not a second.
    assert (await repost(social, fan, original["id"], status=200))["id"] == plain["id"]
    assert (await repost(social, fan, original["id"], "   ", status=200))["id"] == plain["id"]
    quote = await repost(social, fan, original["id"], "  so calm  ")
    assert quote["content"] == "so calm" and quote["id"] != plain["id"]
    second_quote = await repost(social, fan, original["id"], "so calm")
    assert second_quote["id"] not in (plain["id"], quote["id"])

    seen_by_fan = await shown(social, original["id"], fan)
    assert seen_by_fan["repost_count"] == 3 and seen_by_fan["reposted_by_me"] is True
    assert (await shown(social, original["id"], author))["reposted_by_me"] is False
    assert (await shown(social, original["id"]))["reposted_by_me"] is False

    # A repost of a repost (or of a quote) points at the original.
    chained = await repost(social, author, quote["id"], "chain")
    assert chained["repost_of_id"] == original["id"]

    # Undo takes back the plain repost only, given the original's id or the repost's; twice is fine.
    for _ in range(2):
        undone = await social.client.delete(f"/api/posts/{original['id']}/repost", headers=fan.headers)
        assert undone.status_code == 204
    assert (await social.client.get(f"/api/posts/{plain['id']}")).status_code == 404
    after = await shown(social, original["id"], fan)
    assert after["repost_count"] == 3 and after["reposted_by_me"] is False  # two quotes and the chain
    assert (await social.client.delete(f"/api/posts/{quote['id']}", headers=fan.headers)).status_code == 204
    assert (await shown(social, original["id"]))["repost_count"] == 2

    with social.session_factory() as session:
        counted = session.scalar(
            sa.select(sa.func.count()).where(
                Post.repost_of_id == int(original["id"]), Post.deleted_at.is_(None)
            )
        )
        assert counted == session.get(Post, int(original["id"])).repost_count == 2
        assert session.get(Profile, fan.id).post_count == 1  # the second quote; the others went


async def test_reposts_of_missing_or_deleted_posts_are_refused_and_bad_quotes_leave_nothing(
    social: SocialEnv,
) -> None:
    author, fan = await social.user(), await social.user()
    original = await post(social, author, "soon gone")
    for missing in ("999999999", "abc"):
        response = await social.client.post(f"/api/posts/{missing}/repost", headers=fan.headers)
        assert response.status_code == 404
    too_long = await social.client.post(
        f"/api/posts/{original['id']}/repost", json={"content": "x" * 5001}, headers=fan.headers
    )
    assert too_long.status_code == 422 and too_long.json()["code"] == "post_too_long"
    assert (await social.client.post(f"/api/posts/{original['id']}/repost")).status_code == 401
    assert (await shown(social, original["id"]))["repost_count"] == 0

    quote = await repost(social, fan, original["id"], "keep this")
    assert (
        await social.client.delete(f"/api/posts/{original['id']}", headers=author.headers)
    ).status_code == 204
    gone = await social.client.post(f"/api/posts/{original['id']}/repost", headers=fan.headers)
    assert gone.status_code == 404
    # Reposting the quote whose original is gone: the original is what would be reposted.
    via_quote = await social.client.post(f"/api/posts/{quote['id']}/repost", headers=author.headers)
    assert via_quote.status_code == 404 and via_quote.json()["code"] == "original_deleted"
    # The quote stays, showing its original as deleted.
    kept = await shown(social, quote["id"])
    assert (
        kept["content"] == "keep this"
        and kept["repost_of_id"] == original["id"]
        and kept["repost_of"] is None
    )


async def test_reposts_show_in_feeds_tell_the_author_and_the_bus_and_quotes_are_searchable(
    social: SocialEnv,
) -> None:
    author, fan, reader = await social.user(), await social.user(), await social.user()
    original = await post(social, author, "a post worth spreading")
    await social.client.post(f"/api/users/{fan.username}/follow", headers=reader.headers)
    plain = await repost(social, fan, original["id"])
    quote = await repost(social, fan, original["id"], "熊猫咖啡馆 best flat white")

    home = (await social.client.get("/api/feed/home", headers=reader.headers)).json()["items"]
    assert [p["id"] for p in home] == [quote["id"], plain["id"]]
    assert all(p["repost_of"]["id"] == original["id"] for p in home)
    assert home[1]["repost_of"]["author"]["username"] == author.username
    profile_posts = (await social.client.get(f"/api/users/{fan.username}/posts")).json()["items"]
    assert [p["id"] for p in profile_posts] == [quote["id"], plain["id"]]
    # The timeline shows each repost exactly as the post itself shows.
    assert profile_posts[0] == await shown(social, quote["id"])
    latest = (await social.client.get("/api/feed/explore", params={"order": "latest"})).json()["items"]
    assert [p["id"] for p in latest][:3] == [quote["id"], plain["id"], original["id"]]

    found = (await social.client.get("/api/search", params={"q": "熊猫咖啡馆", "type": "posts"})).json()
    assert [p["id"] for p in found["posts"]] == [quote["id"]]

    notifications = (await social.client.get("/api/notifications", headers=author.headers)).json()["items"]
    reposts = [n for n in notifications if n["kind"] == "repost"]
    # One unread notification per person and post, however many times they repost it.
    assert len(reposts) == 1
    assert reposts[0]["actor"]["username"] == fan.username and reposts[0]["post_id"] == original["id"]
    assert reposts[0]["snippet"] == "a post worth spreading"
    # Reposting one's own post tells nobody.
    await repost(social, author, original["id"])
    fan_notes = (await social.client.get("/api/notifications", headers=fan.headers)).json()["items"]
    assert not [n for n in fan_notes if n["kind"] == "repost"]

    events = await wait_for(lambda: len(social.of_type("post.reposted")) >= 3 or None, timeout=20)
    assert events
    data = [e.data for e in social.of_type("post.reposted")]
    assert [(d["post_id"], d["content"]) for d in data[:2]] == [
        (plain["id"], ""),
        (quote["id"], quote["content"]),
    ]
    assert {d["original_post_id"] for d in data} == {original["id"]}
    assert data[0]["original_author_id"] == author.id and data[0]["author_id"] == fan.id
    # A repost is not announced as a new post of its own.
    assert {e.data["post_id"] for e in social.of_type("post.created")} == {original["id"]}


async def test_bookmarks_are_private_idempotent_paged_and_drop_deleted_posts(social: SocialEnv) -> None:
    author, me, other = await social.user(), await social.user(), await social.user()
    posts = [await post(social, author, f"post {i}") for i in range(5)]
    for target in posts:
        for _ in range(2):
            response = await social.client.put(f"/api/posts/{target['id']}/bookmark", headers=me.headers)
            assert response.status_code == 204
    # Bookmarking again does not move it up: the list stays in the order they were first bookmarked.
    await social.client.put(f"/api/posts/{posts[0]['id']}/bookmark", headers=me.headers)

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await social.client.get("/api/bookmarks", params=params, headers=me.headers)).json()
        assert len(page["items"]) <= 2
        seen += [p["id"] for p in page["items"]]
        assert all(p["bookmarked_by_me"] for p in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [p["id"] for p in reversed(posts)]

    # Private: nobody else sees them, nor that a post is bookmarked; the author is not told.
    assert (await social.client.get("/api/bookmarks", headers=other.headers)).json()["items"] == []
    assert (await social.client.get("/api/bookmarks")).status_code == 401
    assert (await shown(social, posts[0]["id"], other))["bookmarked_by_me"] is False
    assert (await shown(social, posts[0]["id"]))["bookmarked_by_me"] is False
    assert (await shown(social, posts[0]["id"], me))["bookmarked_by_me"] is True
    assert (await social.client.get("/api/notifications", headers=author.headers)).json()["items"] == []
    # Another's DELETE takes away only their own (none): mine stays.
    assert (
        await social.client.delete(f"/api/posts/{posts[0]['id']}/bookmark", headers=other.headers)
    ).status_code == 204
    assert (await shown(social, posts[0]["id"], me))["bookmarked_by_me"] is True

    for _ in range(2):
        response = await social.client.delete(f"/api/posts/{posts[4]['id']}/bookmark", headers=me.headers)
        assert response.status_code == 204
    await social.client.delete(f"/api/posts/{posts[3]['id']}", headers=author.headers)
    left = (await social.client.get("/api/bookmarks", headers=me.headers)).json()["items"]
    assert [p["id"] for p in left] == [p["id"] for p in reversed(posts[:3])]

    missing = await social.client.put("/api/posts/999999999/bookmark", headers=me.headers)
    assert missing.status_code == 404
    deleted = await social.client.put(f"/api/posts/{posts[3]['id']}/bookmark", headers=me.headers)
    assert deleted.status_code == 404
    bad = await social.client.get("/api/bookmarks", params={"cursor": "bm90IGEgY3Vyc29y"}, headers=me.headers)
    assert bad.status_code == 422


async def test_ai_characters_repost_by_command_and_a_second_plain_repost_is_answered(
    social: SocialEnv,
) -> None:
    ai, person = await social.user(is_ai=True), await social.user()
    original = await post(social, person, "the night market opens at eight")
    plain = RepostCommand(actor_id=ai.id, post_id=original["id"])
    quote = RepostCommand(actor_id=ai.id, post_id=original["id"], content="See you there!")
    for data in (plain, quote):
        await social.bus.publish(make_envelope(data, "simulator"))
    reposted = await wait_for(
        lambda: len(social.of_type("post.reposted")) >= 2 and social.of_type("post.reposted")
    )
    assert sorted(e.data["content"] for e in reposted) == ["", "See you there!"]
    assert all(e.data["author_is_ai"] and e.data["original_post_id"] == original["id"] for e in reposted)

    again = make_envelope(plain, "simulator")
    by_a_person = make_envelope(RepostCommand(actor_id=person.id, post_id=original["id"]), "simulator")
    for envelope in (again, by_a_person):
        await social.bus.publish(envelope)
    rejected = await wait_for(
        lambda: (
            len(social.of_type("social.command.rejected")) >= 2 and social.of_type("social.command.rejected")
        )
    )
    codes = {e.data["command_id"]: e.data["code"] for e in rejected}
    assert codes == {str(again.id): "already_reposted", str(by_a_person.id): "not_an_ai_account"}
    assert (await shown(social, original["id"]))["repost_count"] == 2
