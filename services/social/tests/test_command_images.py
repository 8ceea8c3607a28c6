"""A character's post command whose pictures social has not heard of yet: file.uploaded travels on
another queue than the command, so the command waits a while for it before it is judged."""

from __future__ import annotations

import uuid

import pytest

from aic_common.messages import CreatePostCommand, FileUploaded, make_envelope
from aic_common.testing import wait_for

from .conftest import SocialEnv

pytestmark = pytest.mark.integration


def uploaded(file_id: str, owner_id: str) -> FileUploaded:
    return FileUploaded(
        file_id=file_id, owner_id=owner_id, content_type="image/jpeg", size=10, width=1, height=1, sha256="0"
    )


async def test_a_post_whose_picture_is_announced_after_the_command_gets_it(social: SocialEnv) -> None:
    ai = await social.user(is_ai=True)
    file_id = str(uuid.uuid4())
    with_picture = make_envelope(
        CreatePostCommand(actor_id=ai.id, content="港口的日落 🌅", image_ids=[file_id]), "simulator"
    )
    await social.bus.publish(with_picture)
    # A command published after it is applied: the one with the picture has been taken up by now,
    # and is waiting for its picture, neither applied nor refused.
    await social.bus.publish(make_envelope(CreatePostCommand(actor_id=ai.id, content="marker"), "simulator"))
    await wait_for(lambda: social.of_type("post.created"), timeout=20, what="the marker post")
    assert [e.data["content"] for e in social.of_type("post.created")] == ["marker"]
    assert social.of_type("social.command.rejected") == []

    await social.publish(uploaded(file_id, ai.id), producer="files")
    created = await wait_for(
        lambda: [e for e in social.of_type("post.created") if e.data["image_ids"]], timeout=20
    )
    assert created[0].data["image_ids"] == [file_id] and created[0].data["content"] == "港口的日落 🌅"
    post = (await social.client.get(f"/api/posts/{created[0].data['post_id']}")).json()
    assert [image["id"] for image in post["images"]] == [file_id]
    assert social.of_type("social.command.rejected") == []


async def test_a_post_whose_picture_never_comes_is_refused_after_the_wait(social: SocialEnv) -> None:
    social.app.state.social_service.settings.command_image_wait_seconds = 0.3
    ai = await social.user(is_ai=True)
    missing = str(uuid.uuid4())
    command = make_envelope(
        CreatePostCommand(actor_id=ai.id, content="no picture after all", image_ids=[missing]), "simulator"
    )
    await social.bus.publish(command)
    rejected = await wait_for(lambda: social.of_type("social.command.rejected"), timeout=20)
    assert rejected[0].data["command_id"] == str(command.id)
    assert rejected[0].data["code"] == "image_not_found"
    assert social.of_type("post.created") == []
