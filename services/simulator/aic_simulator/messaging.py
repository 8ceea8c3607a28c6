"""What the simulator consumes: the social network as its agents perceive it, and operator control."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import BatchingInbox, Bus, on_control, on_events
from aic_common.bus.rabbit import RabbitBus
from aic_common.db import insert_unless_present, run_in_thread
from aic_common.errors import AppError
from aic_common.messages import (
    CommandRejected,
    CommentCreated,
    Envelope,
    MessageSent,
    PostCreated,
    PostDeleted,
    PostLiked,
    PostReposted,
    SimCommand,
    SimControl,
    UserFollowed,
    UserRegistered,
    UserUnfollowed,
    UserUpdated,
    parse_data,
)
from aic_simulator.models import (
    ActionLog,
    Agent,
    CommandResult,
    KnownFollow,
    KnownPerson,
    Relationship,
    SeenComment,
    SeenLike,
    SeenPost,
    Stimulus,
)
from aic_simulator.people import is_character
from aic_simulator.runner import Simulation
from aic_simulator.service import SimulationService
from aic_simulator.settings import SimulatorSettings
from aic_simulator.store import wall_now

log = logging.getLogger(__name__)
CONTROL_REPLY = "sim.control.reply"


def allowed_control_users(settings: SimulatorSettings, bus: Bus) -> frozenset[str] | None:
    """The broker users whose control messages are obeyed: this service's own and the configured ones.

    None on the in-process bus (dev mode): the whole community is one process, nothing outside it can
    publish a control message, so there is no one to check.
    """
    if not isinstance(bus, RabbitBus):
        return None
    return frozenset({bus.user, *settings.sim_control_broker_users})


def _agents_by_user(session: Session, user_ids: list[str]) -> dict[str, Agent]:
    if not user_ids:
        return {}
    return {
        a.user_id: a
        for a in session.scalars(sa.select(Agent).where(Agent.user_id.in_(user_ids)))
        if a.user_id
    }


def _agents_by_username(session: Session, usernames: list[str]) -> list[Agent]:
    if not usernames:
        return []
    lowered = [u.lower() for u in usernames]
    return list(session.scalars(sa.select(Agent).where(sa.func.lower(Agent.username).in_(lowered))))


def message_text(message: MessageSent) -> str:
    """What a character reads of a message: its text, and a word for its images (a message may be
    images alone), so that it answers the words, or the picture, rather than nothing."""
    if not message.image_ids:
        return message.content
    picture = "[图片]" if len(message.image_ids) == 1 else f"[图片 ×{len(message.image_ids)}]"
    return f"{message.content} {picture}" if message.content.strip() else picture


def _stimulus(
    session: Session,
    agent: Agent,
    kind: str,
    ref_id: str,
    post_id: str | None,
    from_id: str,
    from_name: str,
    content: str,
) -> None:
    session.add(
        Stimulus(
            agent_id=agent.id,
            kind=kind,
            ref_id=ref_id,
            post_id=post_id,
            from_user_id=from_id,
            from_username=from_name,
            content=content[:2000],
            handled=False,
            received_at=wall_now(),
        )
    )


def _insert_like(session: Session, post_id: str, user_id: str) -> None:
    """One row per (post, user) however often the event comes: one statement, no read first."""
    row = {"post_id": post_id, "user_id": user_id, "created_at": wall_now()}
    table = SeenLike.__table__
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sqlite.insert(table).values(row).on_conflict_do_nothing())
    else:
        session.execute(mysql.insert(table).values(row).on_duplicate_key_update(post_id=table.c.post_id))


def remember_person(session: Session, user_id: str, username: str, display_name: str) -> None:
    """A person's display name: characters call people by it."""
    person = session.get(KnownPerson, user_id)
    if person is None:
        session.add(KnownPerson(user_id=user_id, username=username, display_name=display_name or username))
    else:
        person.username, person.display_name = username, display_name or username


def rekey_relationships(session: Session, agent_id: str, user_id: str) -> None:
    """Relationships are keyed by account id: what others hold under the character's agent id (from the
    world file) moves to its new account."""
    for row in session.scalars(sa.select(Relationship).where(Relationship.other == agent_id)):
        if session.get(Relationship, (row.agent_id, user_id)) is None:
            session.add(
                Relationship(
                    agent_id=row.agent_id,
                    other=user_id,
                    affinity=row.affinity,
                    interactions=row.interactions,
                    note=row.note,
                )
            )
        session.delete(row)


def record_result(session: Session, envelope: Envelope) -> None:
    """Social answers a command with its normal events, correlated with the deciding action."""
    correlation = envelope.correlation_id or ""
    if envelope.producer != "social" or not correlation.startswith("decision-"):
        return
    if envelope.type == CommandRejected.message_type:
        result, detail = CommandResult.rejected, str(envelope.data.get("code", ""))
    else:
        result, detail = CommandResult.applied, envelope.type
    session.execute(
        sa.update(ActionLog)
        .where(ActionLog.command_id == correlation)
        .values(result=result, result_detail=detail[:120])
    )


def _control_reply(request: Envelope, data: dict[str, Any]) -> Envelope:
    return Envelope(
        type=CONTROL_REPLY, producer="simulator", correlation_id=request.correlation_id, data=data
    )


def perception_handlers(
    holds_back: Callable[[Session], bool] = lambda session: False,
) -> dict[str, Callable[[Session, Envelope], bool]]:
    """Each records what the event means to the agents; True when an agent was addressed (wake it).

    While recorded people's input is still to come (``holds_back``: people.py), what a person posts,
    comments, likes or writes to a character is not part of the run: it is dropped, with a log line."""

    def kept_out(session: Session, user_id: str, what: str, ref: str) -> bool:
        if holds_back(session) and not is_character(session, user_id):
            log.info("a person's %s (%s) is not part of the replayed run: dropped", what, ref)
            return True
        return False

    def registered(session: Session, envelope: Envelope) -> bool:
        user = parse_data(envelope, UserRegistered)
        if user.is_ai:
            agent = session.scalar(
                sa.select(Agent).where(Agent.username == user.username, Agent.user_id.is_(None))
            )
            if agent is not None:
                agent.user_id = user.user_id
                rekey_relationships(session, agent.id, user.user_id)
            return False
        remember_person(session, user.user_id, user.username, user.display_name)
        return False

    def updated(session: Session, envelope: Envelope) -> bool:
        user = parse_data(envelope, UserUpdated)
        if not user.is_ai:
            remember_person(session, user.user_id, user.username, user.display_name)
        return False

    def post_created(session: Session, envelope: Envelope) -> bool:
        post = parse_data(envelope, PostCreated)
        if kept_out(session, post.author_id, "post", post.post_id):
            return False
        insert_unless_present(
            session,
            SeenPost.__table__,
            {
                "post_id": post.post_id,
                "author_id": post.author_id,
                "author_username": post.author_username,
                "content": post.content,
                "deleted": False,
                "created_at": post.created_at.replace(tzinfo=None),
            },
            key="post_id",
        )
        addressed = False
        for agent in _agents_by_username(session, post.mentions):
            if agent.user_id != post.author_id:
                _stimulus(
                    session,
                    agent,
                    "mention",
                    post.post_id,
                    post.post_id,
                    post.author_id,
                    post.author_username,
                    post.content,
                )
                addressed = True
        return addressed

    def post_deleted(session: Session, envelope: Envelope) -> bool:
        gone = parse_data(envelope, PostDeleted)
        session.execute(sa.update(SeenPost).where(SeenPost.post_id == gone.post_id).values(deleted=True))
        return False

    def comment_created(session: Session, envelope: Envelope) -> bool:
        comment = parse_data(envelope, CommentCreated)
        if kept_out(session, comment.author_id, "comment", comment.comment_id):
            return False
        insert_unless_present(
            session,
            SeenComment.__table__,
            {
                "comment_id": comment.comment_id,
                "post_id": comment.post_id,
                "author_id": comment.author_id,
                "author_username": comment.author_username,
                "content": comment.content,
                "created_at": comment.created_at.replace(tzinfo=None),
            },
            key="comment_id",
        )
        addressed = False
        owner = _agents_by_user(session, [comment.post_author_id]).get(comment.post_author_id)
        if owner is not None and owner.user_id != comment.author_id:
            _stimulus(
                session,
                owner,
                "comment",
                comment.comment_id,
                comment.post_id,
                comment.author_id,
                comment.author_username,
                comment.content,
            )
            addressed = True
        for agent in _agents_by_username(session, comment.mentions):
            if agent.user_id not in (comment.author_id, comment.post_author_id):
                _stimulus(
                    session,
                    agent,
                    "mention",
                    comment.comment_id,
                    comment.post_id,
                    comment.author_id,
                    comment.author_username,
                    comment.content,
                )
                addressed = True
        return addressed

    def message_sent(session: Session, envelope: Envelope) -> bool:
        message = parse_data(envelope, MessageSent)
        if kept_out(session, message.sender_id, "message", message.message_id):
            return False
        recipient = _agents_by_user(session, [message.recipient_id]).get(message.recipient_id)
        if recipient is None or recipient.user_id == message.sender_id:
            return False
        _stimulus(
            session,
            recipient,
            "message",
            message.message_id,
            None,
            message.sender_id,
            message.sender_username,
            message_text(message),
        )
        return True

    def followed(session: Session, envelope: Envelope) -> bool:
        follow = parse_data(envelope, UserFollowed)
        if session.get(KnownFollow, (follow.follower_id, follow.followee_id)) is None:
            session.add(KnownFollow(follower_id=follow.follower_id, followee_id=follow.followee_id))
        return False

    def unfollowed(session: Session, envelope: Envelope) -> bool:
        gone = parse_data(envelope, UserUnfollowed)
        session.execute(
            sa.delete(KnownFollow).where(
                KnownFollow.follower_id == gone.follower_id, KnownFollow.followee_id == gone.followee_id
            )
        )
        return False

    def liked(session: Session, envelope: Envelope) -> bool:
        like = parse_data(envelope, PostLiked)
        if kept_out(session, like.user_id, "like", like.post_id):
            return False
        _insert_like(session, like.post_id, like.user_id)
        return False

    def result_only(session: Session, envelope: Envelope) -> bool:
        return False

    return {
        CommandRejected.message_type: result_only,
        PostLiked.message_type: liked,
        # A character's repost: heard for its result only (a repost is not in the characters' feed).
        PostReposted.message_type: result_only,
        UserRegistered.message_type: registered,
        UserUpdated.message_type: updated,
        PostCreated.message_type: post_created,
        PostDeleted.message_type: post_deleted,
        CommentCreated.message_type: comment_created,
        MessageSent.message_type: message_sent,
        UserFollowed.message_type: followed,
        UserUnfollowed.message_type: unfollowed,
    }


# What the characters perceive comes in bursts (a batch of commands' results): committed together.
PERCEPTION_BATCH = 100


def register_consumers(bus: Bus, session_factory: sessionmaker[Session], simulation: Simulation) -> None:
    handlers = perception_handlers(simulation.store.people.holds_back)
    inbox = BatchingInbox(session_factory, "simulator.perception", max_batch=PERCEPTION_BATCH)

    async def on_event(envelope: Envelope) -> None:
        handler = handlers.get(envelope.type)
        if handler is None:
            return
        addressed: list[bool] = []

        def apply(session: Session, env: Envelope) -> None:
            record_result(session, env)
            addressed.append(handler(session, env))

        await inbox.apply_once(envelope, apply)
        correlation = envelope.correlation_id or ""
        if addressed and envelope.producer == "social" and correlation.startswith("decision-"):
            simulation.result_arrived()  # lockstep: a command answered
        if any(addressed):
            simulation.poke()

    allowed_users = allowed_control_users(simulation.settings, bus)
    service = SimulationService(session_factory, simulation.settings.sim_start)

    async def on_control_message(envelope: Envelope) -> Envelope | None:
        if not simulation.is_leader:
            return None  # a standby stays silent: the leader answers
        if allowed_users is not None and envelope.broker_user not in allowed_users:
            log.warning(
                "refused control message %s (%s) from broker user %r: only %s may control the simulation",
                envelope.id,
                envelope.data.get("command"),
                envelope.broker_user,
                ", ".join(sorted(allowed_users)),
            )
            return _control_reply(
                envelope,
                {
                    "ok": False,
                    "code": "control_not_allowed",
                    "detail": "This broker user may not control the simulation",
                },
            )
        try:
            command = parse_data(envelope, SimControl)
            if command.command == SimCommand.report:
                report = await run_in_thread(service.report, command.since, command.until)
                return _control_reply(envelope, {"ok": True, "report": report})
            status = await simulation.control(command.command, steps=command.steps, speed=command.speed)
            data = {"ok": True, "status": status}
        except AppError as error:
            data = {"ok": False, "code": error.code, "detail": error.detail}
        except ValueError as error:
            data = {"ok": False, "code": "validation_error", "detail": str(error)}
        return _control_reply(envelope, data)

    bus.subscribe(
        "simulator.perception",
        on_events(
            "user.registered",
            "user.updated",
            "post.created",
            "post.deleted",
            "comment.created",
            "message.sent",
            "post.liked",
            "post.reposted",
            "user.followed",
            "user.unfollowed",
            # Heard only for the result of the character's action it answers.
            "social.command.rejected",
        ),
        on_event,
        prefetch=PERCEPTION_BATCH,
    )
    # Every instance hears control messages on a queue of its own; only the leader answers.
    bus.subscribe(
        "simulator.control", on_control(SimControl.message_type), on_control_message, exclusive=True
    )
