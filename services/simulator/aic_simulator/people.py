"""People's input in a recorded run: what people (accounts that are no character) did that the characters
took in, kept with the step it came at so that a replay gives it to them again at that step.

The perception consumers (``messaging``) write what people do into ``stimuli`` (their messages, their
comments on a character's post, their mentions), ``seen_comments`` and ``seen_likes``; a refresh
(``store.refresh``) takes the new rows in. In record mode (AIC_LLM_MODE=record) it notes those of people
(:meth:`PeopleInput.note_stimulus`, :meth:`PeopleInput.note_reading`), and the checkpoint writes them
to ``people_input`` with the step (``world.steps``, the ticks done when the refresh ran) and the
person's name. A replay, and a fork up to its checkpoint, find them there (``recording.import_run``
writes them undelivered) and the refresh of the same step writes them where the consumers would have,
before it reads those tables (:meth:`PeopleInput.deliver`): the characters perceive the same, their
prompts are the same, and so are the answers recorded for them. Within one refresh the characters'
rows are taken in before the people's, in every mode (``store.refresh``, ``reading.pull``): a replay
writes the people's rows when the refresh starts, after the characters' rows of the step, and the
recorded run took them in in that order.

A replayed message or comment carries its recorded id negated (:func:`replayed_id`). The network a
replay talks to never had it and numbers its own messages and comments from where it is, so a
recorded id may be one of this run's; a negative id never is. What the characters answer goes out as
usual: a reply to the person is refused where the person has no account, an answer to a comment is
posted under the post where the comment is not there (:func:`for_this_network`); the action log records
the decision either way, so the story is the recorded one.

While recorded input is still to come (a replay, all along; a fork, until it has passed its checkpoint),
what people do meanwhile does not reach the characters: the consumers drop it with a log line
(:meth:`PeopleInput.holds_back`). A replay shows the recorded run; to let people in, fork it.

People's own posts are not part of the recording: a replay is exact until a character reads one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aic_common.db import insert_unless_present, utc_now
from aic_common.messages import CreateCommentCommand, MessageData
from aic_simulator.models import (
    Agent,
    KnownPerson,
    PersonInput,
    SeenComment,
    SeenLike,
    SeenPost,
    Stimulus,
)
from aic_simulator.state import World


def replayed_id(recorded: str) -> str:
    """The id a replayed message, comment or person's post goes by: the recorded one, negated."""
    return f"-{recorded}"


def is_replayed(ref: str | None) -> bool:
    return ref is not None and ref.startswith("-")


def for_this_network(data: MessageData) -> MessageData:
    """A command as the network this run talks to can take it: an answer to a replayed comment (which
    that network never had) is posted under its post."""
    if isinstance(data, CreateCommentCommand) and is_replayed(data.parent_id):
        return data.model_copy(update={"parent_id": None})
    return data


class PeopleInput:
    """What people did, noted as the characters take it in (record mode) and given to them again at the
    same step (a replay, a fork up to its checkpoint). One per store: refreshes append to :attr:`noted`,
    checkpoints write what it held when they began and cut that much off (``store.flush``)."""

    def __init__(self, mode: str) -> None:
        self.recording = mode == "record"
        self.replay = mode == "replay"
        self.noted: list[dict[str, Any]] = []  # since the last checkpoint, in the order taken in
        self._due: int | None = None  # the step of the next recorded input to deliver; None: none left

    def holds_back(self, session: Session) -> bool:
        """Whether what people do live is kept from the characters: recorded input is still to come (the
        database says, for whichever instance hears it)."""
        if self.replay:
            return True
        waiting = sa.select(PersonInput.id).where(PersonInput.delivered.is_(False)).limit(1)
        return session.scalar(waiting) is not None

    def start(self, session: Session) -> None:
        """Find the recorded input still to deliver (the engine loads the world)."""
        self._due = session.scalar(
            sa.select(sa.func.min(PersonInput.step)).where(PersonInput.delivered.is_(False))
        )

    # ------------------------------------------------------------------ replaying

    def due_by(self, step: int) -> bool:
        return self._due is not None and self._due <= step

    def deliver(self, session: Session, world: World) -> None:
        """Write the recorded input due by this step where the consumers would have."""
        if not self.due_by(world.steps):
            return
        rows = session.scalars(
            sa.select(PersonInput)
            .where(PersonInput.delivered.is_(False), PersonInput.step <= world.steps)
            .order_by(PersonInput.id)
        ).all()
        for row in rows:
            data = row.data
            _remember(session, data["person"])
            _WRITERS[row.kind](session, data)
            row.delivered = True
        session.flush()
        self.start(session)

    # ------------------------------------------------------------------ recording

    def note_stimulus(self, session: Session, world: World, row: Stimulus) -> None:
        if not self.recording or is_replayed(row.ref_id):
            return  # a replayed one is in the record already
        post_id = row.post_id and self._post_ref(session, world, row.post_id)
        self._note(
            session,
            world,
            "stimulus",
            f"stimulus:{row.agent_id}:{row.kind}:{row.ref_id}",
            row.from_user_id,
            {
                "agent_id": row.agent_id,
                "kind": row.kind,
                "ref_id": row.ref_id,
                "post_id": post_id,
                "from_user_id": row.from_user_id,
                "from_username": row.from_username,
                "content": row.content,
            },
        )

    def note_reading(self, session: Session, world: World, after_comment: int, after_like: int) -> None:
        """People's comments and likes under the characters' posts that ``reading.pull`` took in past
        these ids (the characters read those; people's own posts are not replayed, nor what is under
        them)."""
        if not self.recording:
            return
        comments = session.scalars(
            sa.select(SeenComment)
            .where(SeenComment.id > after_comment, SeenComment.id <= world.reading.last_comment)
            .order_by(SeenComment.id)
        )
        for comment in comments:
            by_a_person = world.agent_by_user(comment.author_id) is None
            if (
                by_a_person
                and not is_replayed(comment.comment_id)
                and self._kept(session, world, comment.post_id)
            ):
                data = {
                    "comment_id": comment.comment_id,
                    "post_id": comment.post_id,
                    "author_id": comment.author_id,
                    "author_username": comment.author_username,
                    "content": comment.content,
                }
                self._note(
                    session, world, "comment", f"comment:{comment.comment_id}", comment.author_id, data
                )
        likes = session.scalars(
            sa.select(SeenLike)
            .where(SeenLike.id > after_like, SeenLike.id <= world.reading.last_like)
            .order_by(SeenLike.id)
        )
        for like in likes:
            if world.agent_by_user(like.user_id) is None and self._kept(session, world, like.post_id):
                data = {"post_id": like.post_id, "user_id": like.user_id}
                self._note(session, world, "like", f"like:{like.post_id}:{like.user_id}", like.user_id, data)

    def _kept(self, session: Session, world: World, post_id: str) -> bool:
        """Whether what is under the post is part of the recording: it is not a person's post."""
        return self._post_ref(session, world, post_id) == post_id

    def _post_ref(self, session: Session, world: World, post_id: str) -> str:
        """The post as a replay names it: a character's by its id (the replay's network has it under
        the same id), a person's negated (it has not, and may have another post under that id)."""
        author = session.scalar(sa.select(SeenPost.author_id).where(SeenPost.post_id == post_id))
        persons = author is not None and world.agent_by_user(author) is None
        return replayed_id(post_id) if persons else post_id

    def _note(
        self, session: Session, world: World, kind: str, key: str, user_id: str, data: dict[str, Any]
    ) -> None:
        known = session.get(KnownPerson, user_id)
        person = None
        if known is not None:  # the name the characters call the person by
            person = {"user_id": user_id, "username": known.username, "display_name": known.display_name}
        self.noted.append({"step": world.steps, "kind": kind, "key": key, "data": {**data, "person": person}})

    def write(self, session: Session, noted: list[dict[str, Any]], checkpoint_at: datetime) -> None:
        """Into ``people_input`` with the checkpoint written at ``checkpoint_at`` (``noted``: a copy of
        :attr:`noted` taken before it), each once; :meth:`written` then forgets them. They carry the
        checkpoint's time: a fork takes what was written with its checkpoint (recording.export_run)."""
        if not noted:
            return
        keys = [entry["key"] for entry in noted]
        known = set(session.scalars(sa.select(PersonInput.key).where(PersonInput.key.in_(keys))))
        for entry in noted:
            if entry["key"] not in known:
                known.add(entry["key"])
                session.add(PersonInput(**entry, delivered=True, created_at=checkpoint_at))

    def written(self, count: int) -> None:
        del self.noted[:count]  # a refresh may have noted more meanwhile: those stay


# ---------------------------------------------------------------------- where the consumers write


def _remember(session: Session, person: dict[str, str] | None) -> None:
    if person is None:
        return
    row = session.get(KnownPerson, person["user_id"])
    if row is None:
        session.add(KnownPerson(**person))
    else:
        row.username, row.display_name = person["username"], person["display_name"]


def _stimulus(session: Session, data: dict[str, Any]) -> None:
    session.add(
        Stimulus(
            agent_id=data["agent_id"],
            kind=data["kind"],
            ref_id=replayed_id(data["ref_id"]),
            post_id=data["post_id"],
            from_user_id=data["from_user_id"],
            from_username=data["from_username"],
            content=data["content"],
            handled=False,
            received_at=utc_now(),
        )
    )


def _comment(session: Session, data: dict[str, Any]) -> None:
    row = {k: data[k] for k in ("post_id", "author_id", "author_username", "content")}
    row |= {"comment_id": replayed_id(data["comment_id"]), "created_at": utc_now()}
    insert_unless_present(session, SeenComment.__table__, row, key="comment_id")


def _like(session: Session, data: dict[str, Any]) -> None:
    liked = sa.select(SeenLike.id).where(
        SeenLike.post_id == data["post_id"], SeenLike.user_id == data["user_id"]
    )
    if session.scalar(liked) is None:
        session.add(SeenLike(post_id=data["post_id"], user_id=data["user_id"], created_at=utc_now()))


_WRITERS: dict[str, Callable[[Session, dict[str, Any]], None]] = {
    "stimulus": _stimulus,
    "comment": _comment,
    "like": _like,
}


def is_character(session: Session, user_id: str) -> bool:
    """Whether the account is a character's (the consumers ask it of what they hear while replaying)."""
    return session.scalar(sa.select(Agent.id).where(Agent.user_id == user_id).limit(1)) is not None
