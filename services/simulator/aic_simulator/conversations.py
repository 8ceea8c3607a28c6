"""Conversations: one model for direct messages and talk in person.

A conversation has two participants, a topic and turns. Between characters it has a budget of turns,
shaped by their personas, their relationship, their energy and the hour; once it is spent one of them
says goodbye, and the same pair does not start again before a cooldown. With a person the person
decides when it ends: the character answers every message while it is awake. An open conversation
nobody has continued for a while lapses.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from aic_simulator.state import PERSON_CONVERSATION, AgentState, Conversation, World

COOLDOWN = timedelta(hours=4)  # before the same two characters start another conversation
LAPSE = timedelta(hours=3)  # an open conversation nobody continued for this long is over
KEEP_ENDED = timedelta(days=1)  # ended conversations are kept this long for the cooldown
TALK_BUDGET = (3, 8)  # lines said in person (both sides)
DM_BUDGET = (2, 6)  # direct messages between characters (both sides)
RECENT_LINES = 6  # the lines a turn is decided with (kept in memory, not in the database)
OUTGOING_TRAITS = ("活泼", "热情", "健谈", "playful", "outgoing", "chatty", "爱聊")
RESERVED_TRAITS = ("克制", "安静", "内向", "calm", "quiet", "reserved", "concise")


def pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def budget(channel: str, speaker: AgentState, affinity: float, hour: int, rng: random.Random) -> int:
    """How many turns the conversation will take: longer for outgoing characters and friends, shorter
    when tired or late."""
    low, high = TALK_BUDGET if channel == "talk" else DM_BUDGET
    style = " ".join(map(str, [*speaker.persona.get("traits", []), speaker.persona.get("writing_style", "")]))
    turns = low + rng.randint(0, 2)
    turns += 2 if any(t in style for t in OUTGOING_TRAITS) else 0
    turns -= 1 if any(t in style for t in RESERVED_TRAITS) else 0
    turns += 2 if affinity >= 0.5 else (1 if affinity >= 0.3 else 0)
    turns -= 2 if speaker.energy < 0.3 else 0
    turns -= 2 if hour >= 21 or hour < 6 else 0
    return max(low, min(high, turns))


class Conversations:
    """The world's conversations: who is talking with whom, and when a pair may talk again."""

    def __init__(self, world: World) -> None:
        self.world = world

    def open(
        self,
        channel: str,
        opener: AgentState,
        other: str,
        topic: str,
        budget_turns: int,
        at: datetime,
        location_id: str | None = None,
    ) -> Conversation:
        world = self.world
        world.conversation_seq += 1
        with_person = channel == "dm" and other not in world.agents
        conversation = Conversation(
            id=f"{PERSON_CONVERSATION if with_person else 'c'}{world.conversation_seq}",
            channel=channel,
            a=opener.id,
            b=other,
            topic=topic[:200],
            budget=budget_turns,
            started_at=at,
            last_at=at,
            speaker=opener.id,
            location_id=location_id,
        )
        world.conversations[conversation.id] = conversation
        world.latest_conversation[pair_key(opener.id, other)] = conversation.id
        return conversation

    def turn(self, conversation: Conversation, speaker: str, line: str, at: datetime) -> None:
        conversation.turns += 1
        conversation.last_line = line[:500]
        conversation.lines.append((speaker, line[:500]))
        del conversation.lines[:-RECENT_LINES]
        conversation.last_at = at
        conversation.speaker = conversation.other(speaker)
        conversation.dirty = True

    def end(self, conversation: Conversation, at: datetime) -> None:
        if conversation.ended_at is None:
            conversation.ended_at = at
            conversation.speaker = None
            conversation.dirty = True

    def current(self, conversation_id: str | None, at: datetime) -> Conversation | None:
        """The conversation by id if it is still going (a lapsed one is ended here)."""
        conversation = self.world.conversations.get(conversation_id or "")
        if conversation is None or not conversation.open:
            return None
        if at - conversation.last_at > LAPSE:
            self.end(conversation, conversation.last_at)
            return None
        return conversation

    def latest(self, a: str, b: str) -> Conversation | None:
        conversation_id = self.world.latest_conversation.get(pair_key(a, b))
        return self.world.conversations.get(conversation_id or "")

    def between(self, channel: str, a: str, b: str, at: datetime) -> Conversation | None:
        """The open conversation of this channel between the two, if any."""
        latest = self.latest(a, b)
        if latest is None or latest.channel != channel:
            return None
        return self.current(latest.id, at)

    def cooling_down(self, a: str, b: str, at: datetime) -> bool:
        """Whether the two have a conversation open, or had one that ended less than COOLDOWN ago."""
        latest = self.latest(a, b)
        if latest is None or self.current(latest.id, at) is not None:
            return latest is not None
        return latest.ended_at is not None and at - latest.ended_at < COOLDOWN

    def prune(self, at: datetime) -> None:
        """Forget conversations that ended over a day ago (they are in the database and the log)."""
        world = self.world
        for conversation_id, conversation in list(world.conversations.items()):
            if (
                conversation.ended_at is None
                or at - conversation.ended_at <= KEEP_ENDED
                or conversation.dirty
            ):
                continue
            del world.conversations[conversation_id]
            key = pair_key(conversation.a, conversation.b)
            if world.latest_conversation.get(key) == conversation_id:
                del world.latest_conversation[key]
