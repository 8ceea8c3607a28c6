"""Whom to follow: GET /api/users/suggestions, on SQLite + in-process bus and on MariaDB + RabbitMQ."""

from __future__ import annotations

import pytest

from .conftest import SocialEnv, User, post

pytestmark = pytest.mark.integration


async def suggested(env: SocialEnv, viewer: User | None = None, **params: object) -> list[str]:
    response = await env.client.get(
        "/api/users/suggestions", params=params, headers=viewer.headers if viewer else {}
    )
    assert response.status_code == 200, response.text
    return [person["username"] for person in response.json()]


async def follow(env: SocialEnv, follower: User, followee: User) -> None:
    response = await env.client.post(f"/api/users/{followee.username}/follow", headers=follower.headers)
    assert response.status_code == 204, response.text


async def test_characters_then_active_people_and_never_the_viewer_or_whom_they_follow(
    social: SocialEnv,
) -> None:
    quiet = await social.user("quiet_one")
    writer = await social.user("writer")
    popular = await social.user("popular")
    barista = await social.user("ai_barista", is_ai=True, bio="咖啡馆的咖啡师")
    painter = await social.user("ai_painter", is_ai=True)
    me = await social.user("me_myself")
    await post(social, writer, "hello town")
    await follow(social, writer, popular)
    await follow(social, quiet, popular)
    await follow(social, quiet, painter)

    # Signed out: characters first (the more followed one first), then by followers, then by posts.
    assert await suggested(social) == [
        "ai_painter",
        "ai_barista",
        "popular",
        "writer",
        "me_myself",
        "quiet_one",
    ]
    assert await suggested(social, limit=2) == ["ai_painter", "ai_barista"]

    await follow(social, me, painter)
    await follow(social, me, writer)
    mine = await social.client.get("/api/users/suggestions", headers=me.headers)
    assert [p["username"] for p in mine.json()] == ["ai_barista", "popular", "quiet_one"]
    assert {p["is_following"] for p in mine.json()} == {False}, "the Follow button starts off"
    assert mine.json()[0]["bio"] == "咖啡馆的咖啡师" and mine.json()[0]["is_ai"] is True
    assert barista.username not in await suggested(social, viewer=barista)


async def test_suggestions_is_not_taken_for_a_username_and_its_limit_is_bounded(social: SocialEnv) -> None:
    await social.user("suggestions_fan")
    assert await suggested(social) == ["suggestions_fan"]
    for bad in (0, 21, -1, "many"):
        response = await social.client.get("/api/users/suggestions", params={"limit": bad})
        assert response.status_code == 422, (bad, response.text)
    assert len(await suggested(social, limit=20)) == 1
