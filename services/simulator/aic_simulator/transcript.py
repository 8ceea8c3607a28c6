"""What characters said to each other in person, as anyone may read it: the World page's transcript.

Only lines said aloud at a place are public. A line is taken from the action log when its trace says it
was said in a conversation of the "talk" channel: an allow-list, so a direct message (its own actions,
or a goodbye written in private) never shows, whatever its kind, and neither does a line whose channel
the log does not know.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.errors import NotFound
from aic_simulator.models import ActionLog, Agent
from aic_simulator.schemas import TranscriptLine, TranscriptPage

# The kinds of action that say a line in a conversation in person (engine._line).
LINE_ACTIONS = ("talk", "say", "goodbye")
TALK_CHANNEL = "talk"


@dataclass(frozen=True)
class TranscriptQuery:
    """A page of a character's transcript: the id the previous page ended at, and how many lines."""

    cursor: int | None = None
    limit: int = 50


def said_in_person(row: ActionLog) -> bool:
    """Whether the row is a line said aloud in a conversation in person (and so public)."""
    trace = row.trace or {}
    return (
        row.action in LINE_ACTIONS
        and trace.get("channel") == TALK_CHANNEL
        and isinstance(trace.get("conversation"), str)
        and isinstance(trace.get("recipient"), str)
        and bool(row.content)
    )


def line_of(row: ActionLog) -> TranscriptLine:
    trace = row.trace or {}
    return TranscriptLine(
        id=str(row.id),
        decision=row.decision,
        sim_time=row.sim_time,
        conversation_id=str(trace["conversation"]),
        speaker_id=row.agent_id,
        listener_id=str(trace["recipient"]),
        action=row.action,
        text=row.content or "",
        location_id=row.location_id,
    )


def transcript(
    session_factory: sessionmaker[Session], agent_id: str, query: TranscriptQuery
) -> TranscriptPage:
    """The lines a character said in person or heard said to it, newest first, a page at a time. The
    character is found by its id, username or account id, as on its detail."""
    with session_factory() as session:
        agent = session.get(Agent, agent_id) or session.scalar(
            sa.select(Agent).where(sa.or_(Agent.username == agent_id, Agent.user_id == agent_id))
        )
        if agent is None:
            raise NotFound("No such character")
        # The channel and the listener live in the trace (JSON); the kinds narrow the rows first.
        statement = sa.select(ActionLog).where(
            ActionLog.action.in_(LINE_ACTIONS),
            ActionLog.trace["channel"].as_string() == TALK_CHANNEL,
            sa.or_(ActionLog.agent_id == agent.id, ActionLog.trace["recipient"].as_string() == agent.id),
        )
        if query.cursor is not None:
            statement = statement.where(ActionLog.id < query.cursor)
        rows = session.scalars(statement.order_by(ActionLog.id.desc()).limit(query.limit + 1)).all()
    page = rows[: query.limit]
    return TranscriptPage(
        agent_id=agent.id,
        # Checked again row by row: the query is the filter, this is the guarantee.
        items=[line_of(row) for row in page if said_in_person(row)],
        next_cursor=str(page[-1].id) if len(rows) > query.limit else None,
    )
