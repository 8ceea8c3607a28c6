"""A profile picture is one of the person's own uploaded images: on SQLite + in-process bus and on
MariaDB + RabbitMQ."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from aic_common.bus.tables import outbox_table
from aic_social.models import Profile

from .conftest import SocialEnv, User

pytestmark = pytest.mark.integration


async def set_me(env: SocialEnv, user: User, body: dict):
    return await env.client.patch("/api/users/me", json=body, headers=user.headers)


def stored_profile(env: SocialEnv, user: User) -> tuple[str | None, str]:
    with env.session_factory() as session:
        profile = session.get(Profile, user.id)
        assert profile is not None
        return profile.avatar_file_id, profile.bio


def profile_events(env: SocialEnv, user: User) -> int:
    """profile.updated events written for ``user`` (in the outbox, with the change they describe)."""
    with env.session_factory() as session:
        return session.scalar(
            sa.select(sa.func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.message_type == "profile.updated", outbox_table.c.payload.contains(user.id))
        )


async def test_someone_elses_image_is_refused_and_nothing_changes(social: SocialEnv) -> None:
    owner, other = await social.user(), await social.user()
    owners_image, others_image = await social.file_of(owner), await social.file_of(other)
    assert (await set_me(social, other, {"avatar_file_id": others_image, "bio": "before"})).status_code == 200
    events_before = profile_events(social, other)
    assert events_before >= 1

    # The bio in the same request is not saved either: the whole update is refused.
    stolen = await set_me(social, other, {"avatar_file_id": owners_image, "bio": "after"})

    assert stolen.status_code == 403 and stolen.json()["code"] == "image_not_yours"
    assert stored_profile(social, other) == (others_image, "before")
    assert profile_events(social, other) == events_before, "no profile.updated event for a refused update"
    shown = (await social.client.get(f"/api/users/{other.username}")).json()
    assert shown["avatar_url"].endswith(f"{others_image}/thumbnail") and shown["bio"] == "before"


async def test_an_unknown_image_is_refused_and_a_picture_can_be_removed(social: SocialEnv) -> None:
    user = await social.user()
    image = await social.file_of(user)
    assert (await set_me(social, user, {"avatar_file_id": image})).status_code == 200

    unknown = await set_me(social, user, {"avatar_file_id": str(uuid.uuid4())})
    assert unknown.status_code == 422 and unknown.json()["code"] == "image_not_found"
    assert stored_profile(social, user)[0] == image

    removed = await set_me(social, user, {"remove_avatar": True})
    assert removed.status_code == 200 and removed.json()["avatar_url"] is None
    assert stored_profile(social, user)[0] is None
    # Shown as no picture wherever the person appears: on their posts too.
    created = await social.client.post("/api/posts", json={"content": "hi"}, headers=user.headers)
    assert created.json()["author"]["avatar_url"] is None
