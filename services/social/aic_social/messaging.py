"""What the social service consumes: the user and file projections, and the simulator's commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aic_common.bus import BatchingInbox, Bus, apply_once, on_commands, on_events
from aic_common.db import run_in_thread
from aic_common.errors import AppError, Conflict, Forbidden
from aic_common.messages import (
    CommandRejected,
    CreateCommentCommand,
    CreatePostCommand,
    Envelope,
    FileDeleted,
    FileUploaded,
    FollowCommand,
    LikeCommand,
    RepostCommand,
    SendMessageCommand,
    SocialCommand,
    UnfollowCommand,
    UserDeleted,
    UserRegistered,
    UserUpdated,
    parse_data,
)
from aic_common.observability import bind_correlation_id
from aic_social.models import OwnedFile, Profile
from aic_social.service import Actor, SocialService, parse_id

log = logging.getLogger(__name__)


def _projection_handlers(service: SocialService) -> dict[str, Callable[[Session, Envelope], None]]:
    def registered(session: Session, envelope: Envelope) -> None:
        user = parse_data(envelope, UserRegistered)
        service.upsert_profile(
            session,
            user_id=user.user_id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            is_ai=user.is_ai,
            created_at=user.created_at.replace(tzinfo=None),
            bio=user.bio,
        )

    def updated(session: Session, envelope: Envelope) -> None:
        user = parse_data(envelope, UserUpdated)
        service.upsert_profile(
            session,
            user_id=user.user_id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            is_ai=user.is_ai,
        )

    def deleted(session: Session, envelope: Envelope) -> None:
        service.forget_user(session, parse_data(envelope, UserDeleted).user_id)

    def file_uploaded(session: Session, envelope: Envelope) -> None:
        file = parse_data(envelope, FileUploaded)
        service.record_file(
            session, file_id=file.file_id, owner_id=file.owner_id, content_type=file.content_type
        )

    def file_deleted(session: Session, envelope: Envelope) -> None:
        service.forget_file(session, parse_data(envelope, FileDeleted).file_id)

    return {
        UserRegistered.message_type: registered,
        UserUpdated.message_type: updated,
        UserDeleted.message_type: deleted,
        FileUploaded.message_type: file_uploaded,
        FileDeleted.message_type: file_deleted,
    }


def _command_handlers(service: SocialService) -> dict[str, Callable[[Session, SocialCommand, Actor], None]]:
    def create_post(session: Session, command: SocialCommand, actor: Actor) -> None:
        assert isinstance(command, CreatePostCommand)
        service.create_post(
            session,
            actor,
            content=command.content,
            image_ids=command.image_ids,
            location_id=command.location_id,
        )

    def comment(session: Session, command: SocialCommand, actor: Actor) -> None:
        assert isinstance(command, CreateCommentCommand)
        service.create_comment(
            session,
            actor,
            post_id=parse_id(command.post_id),
            content=command.content,
            parent_id=parse_id(command.parent_id, "comment") if command.parent_id else None,
        )

    def like(session: Session, command: SocialCommand, actor: Actor) -> None:
        assert isinstance(command, LikeCommand)
        # A command that changes nothing still needs an answer, or the simulator waits for one forever.
        if not service.like(session, actor, parse_id(command.post_id)):
            raise Conflict("The post is liked already", code="already_liked")

    def repost(session: Session, command: SocialCommand, actor: Actor) -> None:
        assert isinstance(command, RepostCommand)
        _, _, created = service.repost(session, actor, parse_id(command.post_id), command.content)
        if not created:  # a plain repost there already: answered, as a like twice is
            raise Conflict("The post is reposted already", code="already_reposted")

    def follow(session: Session, command: SocialCommand, actor: Actor) -> None:
        assert isinstance(command, FollowCommand)
        followee = session.get(Profile, command.followee_id)
        if followee is None or followee.deleted:
            raise AppError("No such account to follow", code="not_found", status_code=404)
        if not service.follow(session, actor, followee):
            raise Conflict("The account is followed already", code="already_following")

    def unfollow(session: Session, command: SocialCommand, actor: Actor) -> None:
        assert isinstance(command, UnfollowCommand)
        followee = session.get(Profile, command.followee_id)
        if followee is None:
            raise AppError("No such account to unfollow", code="not_found", status_code=404)
        if not service.unfollow(session, actor, followee):
            raise Conflict("The account is not followed", code="not_following")

    def send_message(session: Session, command: SocialCommand, actor: Actor) -> None:
        assert isinstance(command, SendMessageCommand)
        recipient = session.get(Profile, command.to_user_id)
        if recipient is None or recipient.deleted:
            raise AppError("No such account to message", code="not_found", status_code=404)
        service.send_message(session, actor, to=recipient, content=command.content)

    return {
        CreatePostCommand.message_type: create_post,
        CreateCommentCommand.message_type: comment,
        LikeCommand.message_type: like,
        RepostCommand.message_type: repost,
        FollowCommand.message_type: follow,
        UnfollowCommand.message_type: unfollow,
        SendMessageCommand.message_type: send_message,
    }


COMMAND_TYPES: dict[str, type[SocialCommand]] = {
    cls.message_type: cls
    for cls in (
        CreatePostCommand,
        CreateCommentCommand,
        LikeCommand,
        RepostCommand,
        FollowCommand,
        UnfollowCommand,
        SendMessageCommand,
    )
}


# The simulator sends commands in bursts (a checkpoint's worth at a time): up to this many are held
# unacknowledged and committed together.
COMMAND_BATCH = 100


def register_consumers(bus: Bus, service: SocialService) -> None:
    projections = _projection_handlers(service)
    commands = _command_handlers(service)
    factory = service.session_factory

    async def on_projection(envelope: Envelope) -> None:
        handler = projections.get(envelope.type)
        if handler is None:
            return
        with bind_correlation_id(envelope.correlation_id or str(envelope.id)):
            await run_in_thread(apply_once, factory, "social.projections", envelope, handler)

    def apply_command(session: Session, envelope: Envelope) -> None:
        command = COMMAND_TYPES[envelope.type].model_validate(envelope.data)
        profile = session.get(Profile, command.actor_id)
        # Commands come from the simulator and may act only for AI characters.
        if profile is None or profile.deleted or not profile.is_ai:
            raise Forbidden("Commands may act only for AI characters", code="not_an_ai_account")
        commands[envelope.type](
            session, command, Actor(user_id=profile.user_id, role=profile.role, is_ai=True)
        )

    def refuse_command(session: Session, envelope: Envelope, error: Exception) -> bool:
        """A broken rule, not a broken system: the command's work is rolled back already (the inbox's
        savepoint); the refusal is recorded once, with the message's claim, so the simulator learns it."""
        if not isinstance(error, AppError):
            return False
        log.info("command %s %s refused: %s", envelope.type, envelope.id, error.detail)
        service.outbox.add(
            session,
            CommandRejected(
                command_id=str(envelope.id),
                command_type=envelope.type,
                actor_id=str(envelope.data.get("actor_id", "")),
                code=error.code,
                detail=str(error.detail),
            ),
        )
        return True

    def load_actors(session: Session, envelopes: list[Envelope]) -> list[Profile]:
        """The batch's actors in one statement: each command's lookup then finds its actor loaded."""
        actor_ids = {e.data["actor_id"] for e in envelopes if isinstance(e.data.get("actor_id"), str)}
        return (
            list(session.scalars(sa.select(Profile).where(Profile.user_id.in_(actor_ids))))
            if actor_ids
            else []
        )

    command_inbox = BatchingInbox(
        factory, "social.commands", max_batch=COMMAND_BATCH, recover=refuse_command, prepare=load_actors
    )

    def images_known(image_ids: list[str]) -> bool:
        with factory() as session:
            known = session.scalar(
                sa.select(sa.func.count()).select_from(OwnedFile).where(OwnedFile.file_id.in_(image_ids))
            )
        return (known or 0) >= len(image_ids)

    async def wait_for_images(envelope: Envelope) -> None:
        """A post's images are uploaded just before the post is sent, and file.uploaded comes on another
        queue than the command: give the files' events a while to arrive (polling, backing off) before
        the post is judged. After the wait it goes on, and a missing image refuses it (image_not_found)."""
        image_ids = envelope.data.get("image_ids")
        if envelope.type != CreatePostCommand.message_type or not isinstance(image_ids, list):
            return
        wanted = list({i for i in image_ids if isinstance(i, str) and 0 < len(i) <= 36})
        # One the rules refuse anyway is not waited for.
        if not wanted or len(image_ids) > service.settings.max_images_per_post:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + service.settings.command_image_wait_seconds
        pause = 0.05
        while not await run_in_thread(images_known, wanted):
            left = deadline - loop.time()
            if left <= 0:
                log.info("command %s: its images are still unknown; it goes on", envelope.id)
                return
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)

    async def on_command(envelope: Envelope) -> None:
        if envelope.type not in COMMAND_TYPES:
            log.warning("unknown command %s dropped", envelope.type)
            return
        await wait_for_images(envelope)
        await command_inbox.apply_once(envelope, apply_command)

    bus.subscribe("social.projections", on_events("user.*", "file.*"), on_projection)
    bus.subscribe("social.commands", on_commands("social.command.*"), on_command, prefetch=COMMAND_BATCH)
