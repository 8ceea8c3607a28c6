"""Images in direct messages: the sender's own uploaded images, at most 4, with or without text; a
refusal writes nothing (no message, no conversation, no event)."""

from __future__ import annotations

import sqlalchemy as sa

from aic_common.testing import wait_for
from aic_social.models import Conversation, Message

from .conftest import SocialEnv


def _counts(env: SocialEnv) -> tuple[int, int]:
    with env.session_factory() as session:
        return (
            session.scalar(sa.select(sa.func.count()).select_from(Message)) or 0,
            session.scalar(sa.select(sa.func.count()).select_from(Conversation)) or 0,
        )


async def test_a_message_may_carry_the_senders_own_images(social: SocialEnv) -> None:
    sender, recipient = await social.user(), await social.user()
    images = [await social.file_of(sender) for _ in range(4)]
    sent = await social.client.post(
        "/api/messages", json={"to": recipient.username, "image_ids": images[:2]}, headers=sender.headers
    )
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["content"] == ""
    assert [i["id"] for i in body["images"]] == images[:2]
    assert body["images"][0]["url"] == f"/api/files/{images[0]}"
    assert body["images"][0]["thumbnail_url"] == f"/api/files/{images[0]}/thumbnail"
    both = await social.client.post(
        "/api/messages",
        json={"to": recipient.username, "content": "看这张", "image_ids": images},
        headers=sender.headers,
    )
    assert both.status_code == 201 and both.json()["content"] == "看这张" and len(both.json()["images"]) == 4

    history = await social.client.get(
        f"/api/conversations/{sender.username}/messages", headers=recipient.headers
    )
    by_content = {m["content"]: m for m in history.json()["items"]}
    assert [i["id"] for i in by_content[""]["images"]] == images[:2]
    listed = (await social.client.get("/api/conversations", headers=recipient.headers)).json()["items"]
    assert [i["id"] for i in listed[0]["last_message"]["images"]] == images

    # The event carries them, for whoever reads messages (the characters).
    def both_events() -> list | None:
        found = [e for e in social.of_type("message.sent") if e.data["sender_id"] == sender.id]
        return found if len(found) == 2 else None

    events = await wait_for(both_events, timeout=20, what="both message.sent events")
    assert sorted(tuple(e.data["image_ids"]) for e in events) == sorted([tuple(images[:2]), tuple(images)])


async def test_text_only_messages_have_no_images(social: SocialEnv) -> None:
    sender, recipient = await social.user(), await social.user()
    sent = await social.client.post(
        "/api/messages", json={"to": recipient.username, "content": "hi"}, headers=sender.headers
    )
    assert sent.status_code == 201 and sent.json()["images"] == []
    with social.session_factory() as session:
        assert session.get(Message, int(sent.json()["id"])).image_ids is None


async def test_refused_images_write_nothing(social: SocialEnv) -> None:
    sender, recipient, stranger = await social.user(), await social.user(), await social.user()
    mine = [await social.file_of(sender) for _ in range(5)]
    theirs = await social.file_of(stranger)
    before = _counts(social)
    for body, status, code in [
        ({"image_ids": [theirs]}, 403, "image_not_yours"),
        ({"content": "with text", "image_ids": [mine[0], theirs]}, 403, "image_not_yours"),
        ({"image_ids": mine}, 422, "validation_error"),  # five: more than 4
        ({"image_ids": ["never-uploaded"]}, 422, "image_not_found"),
        ({"image_ids": [mine[0], mine[0]]}, 422, "duplicate_image"),
        ({"content": "   ", "image_ids": []}, 422, "message_empty"),
        ({}, 422, "message_empty"),
    ]:
        refused = await social.client.post(
            "/api/messages", json={"to": recipient.username, **body}, headers=sender.headers
        )
        assert (refused.status_code, refused.json()["code"]) == (status, code), body
    assert _counts(social) == before
    assert not [e for e in social.of_type("message.sent") if e.data["sender_id"] == sender.id]
    assert (await social.client.get("/api/conversations", headers=recipient.headers)).json()["items"] == []
