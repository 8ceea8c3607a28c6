"""Simulator commands applied with a person's rules, exactly once; schema and query plans."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from aic_common.bus.tables import messaging_metadata
from aic_common.messages import (
    CreateCommentCommand,
    CreatePostCommand,
    FollowCommand,
    LikeCommand,
    SendMessageCommand,
    UnfollowCommand,
    make_envelope,
)
from aic_common.migrations import schema_drift
from aic_common.testing import wait_for
from aic_social.app import MIGRATIONS
from aic_social.models import Base, Post

from .conftest import SocialEnv

pytestmark = pytest.mark.integration


async def test_ai_commands_act_like_a_person_and_answer_with_the_normal_events(social: SocialEnv) -> None:
    ai, person = await social.user(is_ai=True), await social.user()
    command = make_envelope(
        CreatePostCommand(actor_id=ai.id, content="今天的夕阳真美 🌇", location_id="pier"), "simulator"
    )
    command.correlation_id = "action-42"
    await social.bus.publish(command)
    await social.bus.publish(command)  # redelivered: still one post

    created = await wait_for(lambda: social.of_type("post.created"), timeout=20)
    assert created[0].data["author_id"] == ai.id and created[0].data["author_is_ai"] is True
    assert created[0].correlation_id == "action-42", "the simulator matches results to its actions"
    post_id = created[0].data["post_id"]

    person_post = (
        await social.client.post("/api/posts", json={"content": "hi"}, headers=person.headers)
    ).json()
    for data in (
        CreateCommentCommand(
            actor_id=ai.id, post_id=person_post["id"], content="@" + person.username + " 你好"
        ),
        LikeCommand(actor_id=ai.id, post_id=person_post["id"]),
        FollowCommand(actor_id=ai.id, followee_id=person.id),
        SendMessageCommand(actor_id=ai.id, to_user_id=person.id, content="很高兴认识你"),
    ):
        await social.bus.publish(make_envelope(data, "simulator"))
    await wait_for(
        lambda: all(
            social.of_type(t) for t in ("comment.created", "post.liked", "user.followed", "message.sent")
        ),
        timeout=20,
    )
    kinds = sorted(
        n["kind"]
        for n in (await social.client.get("/api/notifications", headers=person.headers)).json()["items"]
    )
    assert kinds == ["comment", "follow", "like", "mention"], "a message is no notification"
    with social.session_factory() as session:
        assert (
            session.scalar(sa.select(sa.func.count()).select_from(Post).where(Post.author_id == ai.id)) == 1
        )
    assert (await social.client.get(f"/api/posts/{post_id}")).json()["author"]["is_ai"] is True


async def test_commands_breaking_the_rules_or_not_from_an_ai_are_rejected_once(social: SocialEnv) -> None:
    ai, person = await social.user(is_ai=True), await social.user()
    too_long = make_envelope(CreatePostCommand(actor_id=ai.id, content="字" * 5000), "simulator")
    impersonation = make_envelope(CreatePostCommand(actor_id=person.id, content="I am a person"), "simulator")
    unknown_actor = make_envelope(LikeCommand(actor_id=str(uuid.uuid4()), post_id="1"), "simulator")
    for envelope in (too_long, impersonation, impersonation, unknown_actor):
        await social.bus.publish(envelope)

    rejected = await wait_for(
        lambda: (
            len(social.of_type("social.command.rejected")) >= 3 and social.of_type("social.command.rejected")
        ),
        timeout=20,
    )
    by_command = {e.data["command_id"]: e.data for e in rejected}
    assert by_command[str(too_long.id)]["code"] == "post_too_long"
    assert by_command[str(impersonation.id)]["code"] == "not_an_ai_account"
    assert by_command[str(unknown_actor.id)]["code"] == "not_an_ai_account"
    marker = make_envelope(CreatePostCommand(actor_id=ai.id, content="marker"), "simulator")
    await social.bus.publish(marker)
    await wait_for(lambda: social.of_type("post.created"), timeout=20)
    assert len(social.of_type("social.command.rejected")) == 3, "the duplicate was not rejected twice"
    with social.session_factory() as session:
        assert [p.content for p in session.scalars(sa.select(Post))] == ["marker"]


async def test_a_command_that_changes_nothing_is_answered_so_the_action_gets_a_result(
    social: SocialEnv,
) -> None:
    ai, person = await social.user(is_ai=True), await social.user()
    post = (await social.client.post("/api/posts", json={"content": "hi"}, headers=person.headers)).json()
    like = LikeCommand(actor_id=ai.id, post_id=post["id"])
    follow = FollowCommand(actor_id=ai.id, followee_id=person.id)
    for data in (like, follow):
        await social.bus.publish(make_envelope(data, "simulator"))
    await wait_for(lambda: social.of_type("post.liked") and social.of_type("user.followed"), timeout=20)

    again = [make_envelope(like, "simulator"), make_envelope(follow, "simulator")]
    for envelope in again:
        await social.bus.publish(envelope)
    rejected = await wait_for(
        lambda: (
            len(social.of_type("social.command.rejected")) >= 2 and social.of_type("social.command.rejected")
        ),
        timeout=20,
    )
    codes = {e.data["command_id"]: e.data["code"] for e in rejected}
    assert codes == {str(again[0].id): "already_liked", str(again[1].id): "already_following"}
    assert (await social.client.get(f"/api/posts/{post['id']}")).json()["like_count"] == 1
    assert len(social.of_type("post.liked")) == 1 and len(social.of_type("user.followed")) == 1


async def test_an_unfollow_by_command_or_by_a_person_is_announced_once(social: SocialEnv) -> None:
    ai, person = await social.user(is_ai=True), await social.user()
    await social.bus.publish(make_envelope(FollowCommand(actor_id=ai.id, followee_id=person.id), "simulator"))
    followed = await social.client.post(f"/api/users/{ai.username}/follow", headers=person.headers)
    assert followed.status_code == 204
    await wait_for(lambda: len(social.of_type("user.followed")) == 2, timeout=20)

    unfollow = make_envelope(UnfollowCommand(actor_id=ai.id, followee_id=person.id), "simulator")
    unfollow.correlation_id = "decision-7"
    await social.bus.publish(unfollow)
    for _ in range(2):  # the second unfollow removes nothing and says nothing
        gone = await social.client.delete(f"/api/users/{ai.username}/follow", headers=person.headers)
        assert gone.status_code == 204
    announced = await wait_for(
        lambda: len(social.of_type("user.unfollowed")) >= 2 and social.of_type("user.unfollowed"), timeout=20
    )
    pairs = sorted((e.data["follower_id"], e.data["followee_id"]) for e in announced)
    assert pairs == sorted([(ai.id, person.id), (person.id, ai.id)])
    by_command = next(e for e in announced if e.data["follower_id"] == ai.id)
    assert by_command.correlation_id == "decision-7", "the simulator matches the result to its action"
    for user in (ai, person):
        shown = (await social.client.get(f"/api/users/{user.username}")).json()
        assert shown["follower_count"] == shown["following_count"] == 0

    again = make_envelope(UnfollowCommand(actor_id=ai.id, followee_id=person.id), "simulator")
    await social.bus.publish(again)
    rejected = await wait_for(lambda: social.of_type("social.command.rejected"), timeout=20)
    assert [(e.data["command_id"], e.data["code"]) for e in rejected] == [(str(again.id), "not_following")]
    assert len(social.of_type("user.unfollowed")) == 2


async def test_a_burst_of_commands_with_refusals_among_them_applies_each_good_one_once(
    social: SocialEnv,
) -> None:
    # Commands arriving together are written in batches, first without savepoints: a refused one makes its
    # batch run again. Every good command still lands once, with the counters its posts move.
    first, second = await social.user(is_ai=True), await social.user(is_ai=True)
    envelopes = []
    for index in range(30):
        actor = first if index % 2 else second
        content = "字" * 5000 if index % 7 == 3 else f"burst {index}"  # every seventh too long
        envelopes.append(make_envelope(CreatePostCommand(actor_id=actor.id, content=content), "simulator"))
    for envelope in envelopes:
        await social.bus.publish(envelope)
    refused = {str(e.id) for i, e in enumerate(envelopes) if i % 7 == 3}
    await wait_for(
        lambda: len(social.of_type("post.created")) + len(social.of_type("social.command.rejected")) >= 30,
        timeout=30,
        what="an answer to every command",
    )
    assert {e.data["command_id"] for e in social.of_type("social.command.rejected")} == refused
    posted = [e.data["content"] for e in social.of_type("post.created")]
    assert sorted(posted) == sorted(f"burst {i}" for i in range(30) if i % 7 != 3)
    for actor in (first, second):
        good = sum(1 for i, e in enumerate(envelopes) if e.data["actor_id"] == actor.id and i % 7 != 3)
        shown = (await social.client.get(f"/api/users/{actor.username}")).json()
        with social.session_factory() as session:
            stored = session.scalar(
                sa.select(sa.func.count()).select_from(Post).where(Post.author_id == actor.id)
            )
        assert shown["post_count"] == stored == good


def test_migrations_match_the_models(database_url: str) -> None:
    assert schema_drift(MIGRATIONS, database_url, [Base.metadata, messaging_metadata]) == []
