"""Every social endpoint, on SQLite + in-process bus and on MariaDB + RabbitMQ."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from aic_common.testing import wait_for
from aic_social.models import Like, Notification, Post, Profile

from .conftest import SocialEnv, User, post

pytestmark = pytest.mark.integration


async def profile(env: SocialEnv, username: str, viewer: User | None = None) -> dict:
    response = await env.client.get(f"/api/users/{username}", headers=viewer.headers if viewer else {})
    assert response.status_code == 200, response.text
    return response.json()


async def test_profiles_are_projected_from_user_events_and_editable_by_their_owner(social: SocialEnv) -> None:
    lin = await social.user("lin_mei")
    shown = await profile(social, "LIN_MEI")
    assert (
        shown["username"] == "lin_mei"
        and shown["display_name"] == "lin_mei 显示名"
        and shown["is_ai"] is False
    )
    assert shown["post_count"] == shown["follower_count"] == shown["following_count"] == 0

    avatar = await social.file_of(lin)
    updated = await social.client.patch(
        "/api/users/me", json={"bio": "喜欢摄影 📷", "avatar_file_id": avatar}, headers=lin.headers
    )
    assert updated.status_code == 200
    assert updated.json()["bio"] == "喜欢摄影 📷" and updated.json()["avatar_url"].endswith(
        f"{avatar}/thumbnail"
    )
    await wait_for(lambda: social.of_type("profile.updated"), timeout=20)

    other = await social.user()
    stolen = await social.client.patch(
        "/api/users/me", json={"avatar_file_id": avatar}, headers=other.headers
    )
    assert stolen.status_code == 403 and stolen.json()["code"] == "image_not_yours"
    too_long = await social.client.patch("/api/users/me", json={"bio": "x" * 301}, headers=lin.headers)
    assert too_long.status_code == 422 and too_long.json()["code"] == "bio_too_long"
    assert (await social.client.get("/api/users/nobody_here")).status_code == 404
    assert (await social.client.patch("/api/users/me", json={"bio": "x"})).status_code == 401


async def test_an_ai_characters_profile_starts_with_its_persona(social: SocialEnv) -> None:
    await social.user("ai_lin_xiaoyu", is_ai=True, bio="咖啡馆的咖啡师,温柔细腻。" + "长" * 400)
    shown = await profile(social, "ai_lin_xiaoyu")
    assert shown["is_ai"] is True
    assert shown["bio"].startswith("咖啡馆的咖啡师") and len(shown["bio"]) == 300, "cut to the bio limit"


async def test_posts_with_text_and_images_follow_the_rules(social: SocialEnv) -> None:
    author, other = await social.user(), await social.user()
    images = [await social.file_of(author) for _ in range(2)]
    created = await post(social, author, "  雨后的西湖 🌧️ #杭州  ", image_ids=images, location_id="west_lake")
    assert created["content"] == "雨后的西湖 🌧️ #杭州"
    assert [i["id"] for i in created["images"]] == images and created["location_id"] == "west_lake"
    assert created["author"]["username"] == author.username
    fetched = (await social.client.get(f"/api/posts/{created['id']}")).json()
    assert fetched == {**created, "liked_by_me": False}
    assert (await profile(social, author.username))["post_count"] == 1

    cases = [
        ({"content": ""}, 422, "post_empty"),
        ({"content": "   "}, 422, "post_empty"),
        ({"content": "字" * 2001}, 422, "post_too_long"),
        ({"content": "x", "image_ids": ["not-uploaded"]}, 422, "image_not_found"),
        ({"content": "x", "image_ids": [images[0], images[0]]}, 422, "duplicate_image"),
        ({"content": "x", "image_ids": [str(i) for i in range(10)]}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        response = await social.client.post("/api/posts", json=body, headers=author.headers)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    theirs = await social.client.post(
        "/api/posts", json={"content": "x", "image_ids": images[:1]}, headers=other.headers
    )
    assert theirs.status_code == 403 and theirs.json()["code"] == "image_not_yours"
    assert (await social.client.post("/api/posts", json={"content": "anonymous"})).status_code == 401
    with social.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Post)) == 1


async def test_only_the_author_or_an_admin_deletes_a_post_and_its_comments_and_likes_go_too(
    social: SocialEnv,
) -> None:
    author, other = await social.user(), await social.user()
    admin = await social.user(role="admin")
    first = await post(social, author, "first")
    second = await post(social, author, "second")
    await social.client.post(f"/api/posts/{first['id']}/like", headers=other.headers)
    await social.client.post(
        f"/api/posts/{first['id']}/comments", json={"content": "nice"}, headers=other.headers
    )

    refused = await social.client.delete(f"/api/posts/{first['id']}", headers=other.headers)
    assert refused.status_code == 403 and refused.json()["code"] == "not_your_post"
    assert (
        await social.client.delete(f"/api/posts/{first['id']}", headers=author.headers)
    ).status_code == 204
    assert (await social.client.get(f"/api/posts/{first['id']}")).status_code == 404
    assert (await social.client.get(f"/api/posts/{first['id']}/comments")).status_code == 404
    assert (
        await social.client.delete(f"/api/posts/{first['id']}", headers=author.headers)
    ).status_code == 404
    assert (
        await social.client.delete(f"/api/posts/{second['id']}", headers=admin.headers)
    ).status_code == 204
    assert (await profile(social, author.username))["post_count"] == 0
    with social.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Like)) == 0
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(Notification)
                .where(Notification.post_id == int(first["id"]))
            )
            == 0
        )
    deleted = await wait_for(
        lambda: len(social.of_type("post.deleted")) == 2 and social.of_type("post.deleted"), timeout=20
    )
    assert {e.data["deleted_by"] for e in deleted} == {author.id, admin.id}
    assert (await social.client.get("/api/posts/abc")).status_code == 404


async def test_comments_have_one_level_of_replies(social: SocialEnv) -> None:
    author, a, b = await social.user(), await social.user(), await social.user()
    target = await post(social, author, "讨论一下")
    url = f"/api/posts/{target['id']}/comments"
    top = (await social.client.post(url, json={"content": "顶层评论"}, headers=a.headers)).json()
    reply = (
        await social.client.post(url, json={"content": "回复", "parent_id": top["id"]}, headers=b.headers)
    ).json()
    nested = (
        await social.client.post(
            url, json={"content": "回复的回复", "parent_id": reply["id"]}, headers=a.headers
        )
    ).json()
    assert reply["parent_id"] == top["id"] and nested["parent_id"] == top["id"], (
        "replies attach to the thread"
    )
    missing = await social.client.post(url, json={"content": "x", "parent_id": "999999"}, headers=a.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "parent_not_found"

    listed = (await social.client.get(url)).json()
    assert [c["id"] for c in listed["items"]] == [top["id"]]
    assert [r["content"] for r in listed["items"][0]["replies"]] == ["回复", "回复的回复"]
    assert (await social.client.get(f"/api/posts/{target['id']}")).json()["comment_count"] == 3

    assert (await social.client.delete(f"/api/comments/{reply['id']}", headers=a.headers)).status_code == 403
    assert (await social.client.delete(f"/api/comments/{top['id']}", headers=a.headers)).status_code == 204
    assert (await social.client.get(url)).json()["items"] == []
    assert (await social.client.get(f"/api/posts/{target['id']}")).json()["comment_count"] == 0
    created = await wait_for(
        lambda: len(social.of_type("comment.created")) == 3 and social.of_type("comment.created"), timeout=20
    )
    assert created[1].data["parent_id"] == top["id"] and created[1].data["post_author_id"] == author.id


async def test_likes_and_follows_are_idempotent_and_counted(social: SocialEnv) -> None:
    a, b = await social.user(), await social.user()
    target = await post(social, b, "like me")
    for _ in range(3):
        assert (
            await social.client.post(f"/api/posts/{target['id']}/like", headers=a.headers)
        ).status_code == 204
    shown = (await social.client.get(f"/api/posts/{target['id']}", headers=a.headers)).json()
    assert shown["like_count"] == 1 and shown["liked_by_me"] is True
    await social.client.delete(f"/api/posts/{target['id']}/like", headers=a.headers)
    await social.client.delete(f"/api/posts/{target['id']}/like", headers=a.headers)
    assert (await social.client.get(f"/api/posts/{target['id']}")).json()["like_count"] == 0

    selfish = await social.client.post(f"/api/users/{a.username}/follow", headers=a.headers)
    assert selfish.status_code == 422 and selfish.json()["code"] == "self_follow"
    for _ in range(2):
        assert (
            await social.client.post(f"/api/users/{b.username}/follow", headers=a.headers)
        ).status_code == 204
    assert (await profile(social, b.username))["follower_count"] == 1
    seen_by_a = await profile(social, b.username, viewer=a)
    assert seen_by_a["is_following"] is True and seen_by_a["follows_you"] is False
    assert (await profile(social, a.username))["following_count"] == 1
    followers = (await social.client.get(f"/api/users/{b.username}/followers")).json()
    assert [p["username"] for p in followers["items"]] == [a.username]
    await social.client.delete(f"/api/users/{b.username}/follow", headers=a.headers)
    assert (await profile(social, b.username))["follower_count"] == 0
    assert len(await wait_for(lambda: social.of_type("user.followed"), timeout=20)) == 1
    assert len(social.of_type("post.liked")) == 1


async def test_home_feed_pages_neither_skip_nor_repeat_while_new_posts_arrive(social: SocialEnv) -> None:
    me, friend, stranger = await social.user(), await social.user(), await social.user()
    await social.client.post(f"/api/users/{friend.username}/follow", headers=me.headers)
    expected = []
    for i in range(7):
        expected.append((await post(social, friend if i % 2 else me, f"post {i}"))["id"])
        await post(social, stranger, f"not followed {i}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await social.client.get("/api/feed/home", params=params, headers=me.headers)).json()
        seen += [p["id"] for p in page["items"]]
        await post(social, friend, "arrives while paging")  # newer than every cursor: not in this walk
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(expected))
    fresh = (await social.client.get("/api/feed/home", params={"limit": 3}, headers=me.headers)).json()
    assert fresh["items"][0]["content"] == "arrives while paging"
    bad = await social.client.get("/api/feed/home", params={"cursor": "@@@"}, headers=me.headers)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"
    assert (await social.client.get("/api/feed/home")).status_code == 401


async def test_a_timeline_shows_each_post_exactly_as_the_post_itself_shows(social: SocialEnv) -> None:
    """The timelines read posts, authors and likes in one statement of their own; what they show must
    not drift from the single post's view (the other way of presenting a post)."""
    me, friend = await social.user(), await social.user()
    await social.client.post(f"/api/users/{friend.username}/follow", headers=me.headers)
    avatar = await social.file_of(friend)
    await social.client.patch("/api/users/me", json={"avatar_file_id": avatar}, headers=friend.headers)
    liked = await post(social, friend, "liked 咖啡")
    images = [await social.file_of(friend) for _ in range(2)]
    plain = await post(social, friend, "plain", image_ids=images, location_id="west_lake")
    gone = await post(social, friend, "deleted")
    mine = await post(social, me, "mine")
    await social.client.post(f"/api/posts/{liked['id']}/like", headers=me.headers)
    assert (await social.client.delete(f"/api/posts/{gone['id']}", headers=friend.headers)).status_code == 204

    async def single(post_id: str, viewer: User | None) -> dict:
        headers = viewer.headers if viewer else {}
        return (await social.client.get(f"/api/posts/{post_id}", headers=headers)).json()

    home = (await social.client.get("/api/feed/home", headers=me.headers)).json()
    assert [p["id"] for p in home["items"]] == [mine["id"], plain["id"], liked["id"]]
    assert home["items"] == [await single(p["id"], me) for p in home["items"]]
    assert [p["liked_by_me"] for p in home["items"]] == [False, False, True]
    assert [i["id"] for i in home["items"][1]["images"]] == images
    assert home["items"][1]["author"]["avatar_url"].endswith(f"{avatar}/thumbnail")
    for viewer in (me, None):
        headers = viewer.headers if viewer else {}
        theirs = (await social.client.get(f"/api/users/{friend.username}/posts", headers=headers)).json()
        assert theirs == {
            "items": [await single(plain["id"], viewer), await single(liked["id"], viewer)],
            "next_cursor": None,
        }
    assert theirs["items"][1]["liked_by_me"] is False, "nobody is signed in"


async def test_explore_ranks_engagement_and_pages_stably(social: SocialEnv) -> None:
    a, b = await social.user(), await social.user()
    quiet = await post(social, a, "quiet")
    popular = await post(social, a, "popular")
    for fan in [await social.user() for _ in range(3)]:
        await social.client.post(f"/api/posts/{popular['id']}/like", headers=fan.headers)
    await post(social, b, "newest but unliked")
    first = (await social.client.get("/api/feed/explore", params={"limit": 2})).json()
    assert first["items"][0]["id"] == popular["id"]
    await post(social, b, "posted between pages")
    second = (
        await social.client.get("/api/feed/explore", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    ids = [p["id"] for p in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 3 and quiet["id"] in ids
    assert second["next_cursor"] is None


async def test_direct_messages_conversations_and_unread_counts(social: SocialEnv) -> None:
    a, b, c = await social.user(), await social.user(), await social.user()
    ai = await social.user(is_ai=True)
    for text in ("你好!", "在吗?"):
        sent = await social.client.post(
            "/api/messages", json={"to": b.username, "content": text}, headers=a.headers
        )
        assert sent.status_code == 201
    await social.client.post("/api/messages", json={"to": ai.username, "content": "hi AI"}, headers=a.headers)

    b_list = (await social.client.get("/api/conversations", headers=b.headers)).json()["items"]
    assert (
        len(b_list) == 1
        and b_list[0]["with_user"]["username"] == a.username
        and b_list[0]["unread_count"] == 2
    )
    history = (await social.client.get(f"/api/conversations/{a.username}/messages", headers=b.headers)).json()
    assert [m["content"] for m in history["items"]] == ["在吗?", "你好!"]
    assert (await social.client.get("/api/conversations", headers=b.headers)).json()["items"][0][
        "unread_count"
    ] == 0
    a_list = (await social.client.get("/api/conversations", headers=a.headers)).json()["items"]
    assert [x["with_user"]["username"] for x in a_list] == [ai.username, b.username]

    # C asking for "the conversation with A" gets C's own (empty) one, never A and B's.
    snoop = (await social.client.get(f"/api/conversations/{a.username}/messages", headers=c.headers)).json()
    assert snoop["items"] == []
    assert (await social.client.get(f"/api/conversations/{b.username}/messages")).status_code == 401
    selfie = await social.client.post(
        "/api/messages", json={"to": a.username, "content": "me"}, headers=a.headers
    )
    assert selfie.status_code == 422
    ghost = await social.client.post(
        "/api/messages", json={"to": "nobody_x", "content": "?"}, headers=a.headers
    )
    assert ghost.status_code == 404

    to_ai = await wait_for(
        lambda: [e for e in social.of_type("message.sent") if e.data["recipient_id"] == ai.id], timeout=20
    )
    assert to_ai[0].data["content"] == "hi AI" and to_ai[0].data["sender_username"] == a.username


async def test_notifications_for_comment_reply_like_follow_and_mention(social: SocialEnv) -> None:
    author, fan, friend = await social.user(), await social.user(), await social.user()
    image = await social.file_of(author)
    target = await post(social, author, "hello " + "word " * 40, image_ids=[image])
    top = (
        await social.client.post(
            f"/api/posts/{target['id']}/comments", json={"content": "hey"}, headers=friend.headers
        )
    ).json()
    await social.client.post(
        f"/api/posts/{target['id']}/comments",
        json={"content": "reply", "parent_id": top["id"]},
        headers=fan.headers,
    )
    await social.client.post(f"/api/posts/{target['id']}/like", headers=fan.headers)
    await social.client.post(f"/api/users/{author.username}/follow", headers=fan.headers)
    # A direct message raises the conversation's unread count, not a notification: it is not
    # counted twice (once in Messages, once in Notifications).
    await social.client.post(
        "/api/messages", json={"to": author.username, "content": "hi"}, headers=fan.headers
    )
    await post(social, fan, f"shout out to @{author.username} and @nobody_known")
    await social.client.post(
        f"/api/posts/{target['id']}/like", headers=author.headers
    )  # own like: no notification

    page = (await social.client.get("/api/notifications", headers=author.headers)).json()
    kinds = sorted(n["kind"] for n in page["items"])
    assert kinds == ["comment", "comment", "follow", "like", "mention"]
    assert page["unread_count"] == 5
    # What each is about, to show without opening it: the comment's text, the post's first words
    # and its first image's thumbnail.
    by_kind = {n["kind"]: n for n in page["items"]}
    assert {n["snippet"] for n in page["items"] if n["kind"] == "comment"} == {"hey", "reply"}
    assert by_kind["like"]["snippet"].startswith("hello word") and by_kind["like"]["snippet"].endswith("…")
    assert len(by_kind["like"]["snippet"]) <= 81
    assert by_kind["like"]["thumbnail_url"] == target["images"][0]["thumbnail_url"]
    assert by_kind["mention"]["snippet"] == f"shout out to @{author.username} and @nobody_known"
    assert by_kind["mention"]["thumbnail_url"] is None
    assert by_kind["follow"]["snippet"] is None and by_kind["follow"]["thumbnail_url"] is None
    friend_page = (await social.client.get("/api/notifications", headers=friend.headers)).json()
    assert [n["kind"] for n in friend_page["items"]] == ["reply"]

    first_id = page["items"][0]["id"]
    await social.client.post("/api/notifications/read", json={"ids": [first_id]}, headers=author.headers)
    assert (await social.client.get("/api/notifications", headers=author.headers)).json()["unread_count"] == 4
    # Someone else's notification ids do nothing to mine, and mine are not theirs to mark.
    await social.client.post(
        "/api/notifications/read", json={"ids": [page["items"][1]["id"]]}, headers=friend.headers
    )
    assert (await social.client.get("/api/notifications", headers=author.headers)).json()["unread_count"] == 4
    await social.client.post("/api/notifications/read", json={}, headers=author.headers)
    assert (await social.client.get("/api/notifications", headers=author.headers)).json()["unread_count"] == 0

    live = await wait_for(
        lambda: (
            len([e for e in social.of_type("notification.created") if e.data["user_id"] == author.id]) == 5
            and social.of_type("notification.created")
        ),
        timeout=20,
    )
    assert {e.data["kind"] for e in live if e.data["user_id"] == author.id} == {
        "comment",
        "follow",
        "like",
        "mention",
    }


async def test_unread_conversations_count_rises_with_messages_and_clears_when_read(social: SocialEnv) -> None:
    me, a, b = await social.user(), await social.user(), await social.user()

    async def unread() -> int:
        response = await social.client.get("/api/conversations/unread", headers=me.headers)
        assert response.status_code == 200
        return response.json()["unread_conversations"]

    assert await unread() == 0
    for sender, text in ((a, "1"), (a, "2"), (b, "3")):
        await social.client.post(
            "/api/messages", json={"to": me.username, "content": text}, headers=sender.headers
        )
    assert await unread() == 2, "conversations, not messages"
    await social.client.post("/api/messages", json={"to": a.username, "content": "mine"}, headers=me.headers)
    assert await unread() == 2, "one's own message reads nothing"
    await social.client.get(f"/api/conversations/{a.username}/messages", headers=me.headers)
    assert await unread() == 1
    assert (await social.client.get("/api/conversations/unread", headers=a.headers)).json() == {
        "unread_conversations": 1
    }
    assert (await social.client.get("/api/conversations/unread")).status_code == 401


async def test_search_finds_chinese_and_english_ranked(social: SocialEnv) -> None:
    a = await social.user("coffee_lover")
    await social.user("coffee_shop_owner")
    strong = await post(social, a, "咖啡馆的咖啡真好喝,咖啡馆也很安静")
    weak = await post(social, a, "今天路过一家咖啡馆")
    await post(social, a, "Morning coffee at the café ☕ with friends")
    await post(social, a, "图书馆很安静")

    found = (await social.client.get("/api/search", params={"q": "咖啡馆", "type": "posts"})).json()["posts"]
    assert [p["id"] for p in found] == [strong["id"], weak["id"]]
    english = (await social.client.get("/api/search", params={"q": "COFFEE friends"})).json()
    assert [p["content"] for p in english["posts"]] == ["Morning coffee at the café ☕ with friends"]
    assert (
        (await social.client.get("/api/search", params={"q": "café"}))
        .json()["posts"][0]["content"]
        .startswith("Morning")
    )
    people = (await social.client.get("/api/search", params={"q": "coffee", "type": "users"})).json()["users"]
    assert {u["username"] for u in people} == {"coffee_lover", "coffee_shop_owner"}
    assert (await social.client.get("/api/search", params={"q": "安静"})).json()["posts"].__len__() == 2
    assert (await social.client.get("/api/search", params={"q": "不存在的词"})).json() == {
        "posts": [],
        "users": [],
    }
    assert (await social.client.get("/api/search", params={"q": ""})).status_code == 422


async def test_reports_are_seen_and_resolved_by_admins_only(social: SocialEnv) -> None:
    author, reporter, admin = await social.user(), await social.user(), await social.user(role="admin")
    bad = await post(social, author, "spam spam")
    url = f"/api/posts/{bad['id']}/report"
    assert (
        await social.client.post(url, json={"reason": "spam"}, headers=reporter.headers)
    ).status_code == 201
    again = await social.client.post(url, json={"reason": "spam"}, headers=reporter.headers)
    assert again.status_code == 409
    assert (await social.client.get("/api/admin/reports", headers=reporter.headers)).status_code == 403
    reports = (await social.client.get("/api/admin/reports", headers=admin.headers)).json()["items"]
    assert len(reports) == 1 and reports[0]["post"]["id"] == bad["id"] and reports[0]["reason"] == "spam"
    resolve = f"/api/admin/reports/{reports[0]['id']}/resolve"
    assert (
        await social.client.post(resolve, json={"action": "remove_post"}, headers=reporter.headers)
    ).status_code == 403
    done = await social.client.post(resolve, json={"action": "remove_post"}, headers=admin.headers)
    assert done.status_code == 200 and done.json()["resolution"] == "remove_post"
    assert (await social.client.get(f"/api/posts/{bad['id']}")).status_code == 404
    assert (await social.client.get("/api/admin/reports", headers=admin.headers)).json()["items"] == []


async def test_user_deleted_removes_their_content_and_keeps_counts_right(social: SocialEnv) -> None:
    from aic_common.messages import UserDeleted

    leaver, friend = await social.user(), await social.user()
    friends_post = await post(social, friend, "friend's post")
    await post(social, leaver, "leaver's post")
    await social.client.post(f"/api/posts/{friends_post['id']}/like", headers=leaver.headers)
    await social.client.post(
        f"/api/posts/{friends_post['id']}/comments", json={"content": "bye"}, headers=leaver.headers
    )
    await social.client.post(f"/api/users/{friend.username}/follow", headers=leaver.headers)
    await social.client.post(f"/api/users/{leaver.username}/follow", headers=friend.headers)
    await social.client.post(
        "/api/messages", json={"to": friend.username, "content": "keep me"}, headers=leaver.headers
    )

    await social.publish(UserDeleted(user_id=leaver.id, username=leaver.username), producer="auth")

    def gone() -> bool:
        with social.session_factory() as session:
            return session.get(Profile, leaver.id).deleted

    await wait_for(gone, timeout=20)
    shown = (await social.client.get(f"/api/posts/{friends_post['id']}")).json()
    assert shown["like_count"] == 0 and shown["comment_count"] == 0
    friend_profile = await profile(social, friend.username)
    assert friend_profile["follower_count"] == 0 and friend_profile["following_count"] == 0
    assert (await social.client.get(f"/api/users/{leaver.username}")).status_code == 404
    history = (await social.client.get("/api/conversations", headers=friend.headers)).json()["items"]
    assert history[0]["last_message"]["content"] == "keep me" and history[0]["with_user"]["deleted"] is True
    assert (await social.client.get(f"/api/posts/{friends_post['id']}/comments")).json()["items"] == []
