"""Loading the world from the database and writing it back: the engine's checkpoints.

A checkpoint writes, in one transaction: changed agents, items and relationships, new and forgotten
memories, new action logs and finished actions, handled stimuli, the engine's clock, and the messages
(commands and events) the changes produce, through the outbox. So a command is published only if the
action that sent it is recorded, and a restarted engine resumes exactly from the last checkpoint.
The transaction also renews the leadership lease, and fails if another instance took it (fencing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import Outbox
from aic_common.db import utc_now as wall_now  # wall-clock time, as opposed to simulated time
from aic_common.messages import MessageData
from aic_common.messages import SimState as RunState  # models.SimState is the checkpoint's row
from aic_simulator.conversations import KEEP_ENDED, pair_key
from aic_simulator.memory import terms_of
from aic_simulator.models import (
    ActionLog,
    Agent,
    GameEvent,
    Item,
    KnownFollow,
    KnownPerson,
    Lease,
    Location,
    MemoryRecord,
    Relationship,
    SeenPost,
    SimState,
)
from aic_simulator.models import Conversation as ConversationRow
from aic_simulator.models import Stimulus as StimulusRow
from aic_simulator.people import PeopleInput, for_this_network
from aic_simulator.reading import pull
from aic_simulator.state import (
    PERSON_CONVERSATION,
    AgentState,
    Conversation,
    EventInfo,
    FeedEntry,
    ItemState,
    LocationInfo,
    MemoryEntry,
    PlanItem,
    Relation,
    Stimulus,
    World,
)

log = logging.getLogger(__name__)
ENGINE_LEASE = "engine"


class LeaseLost(Exception):
    """Another instance leads now: this one must stop acting."""


@dataclass
class Changes:
    """What happened since the last checkpoint."""

    action_logs: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[int, str] = field(default_factory=dict)  # decision number -> outcome
    memories: list[tuple[str, MemoryEntry]] = field(default_factory=list)
    forgotten: list[tuple[str, int]] = field(default_factory=list)
    handled_stimuli: list[int] = field(default_factory=list)
    messages: list[MessageData] = field(default_factory=list)
    correlations: list[str | None] = field(default_factory=list)
    # Decision number -> how its post's picture went; its post was sent with this checkpoint.
    pictures: dict[int, dict[str, Any]] = field(default_factory=dict)

    def command_ids(self) -> list[str]:
        """The social commands sent with these changes, by the id their results will name: those of the
        decisions logged, and the posts that waited for their pictures."""
        ids = [row["command_id"] for row in self.action_logs if row["command_id"]]
        return ids + [f"decision-{decision}" for decision in self.pictures]

    def send(self, data: MessageData, correlation_id: str | None = None) -> None:
        self.messages.append(data)
        self.correlations.append(correlation_id)

    def __bool__(self) -> bool:
        return bool(
            self.action_logs
            or self.outcomes
            or self.memories
            or self.forgotten
            or self.handled_stimuli
            or self.messages
            or self.pictures
        )


class SimStore:
    def __init__(
        self, session_factory: sessionmaker[Session], outbox: Outbox, holder: str, llm_mode: str = "live"
    ) -> None:
        self.session_factory = session_factory
        self.outbox = outbox
        self.holder = holder
        # People's input noted in a recorded run, given again in a replay (AIC_LLM_MODE; people.py).
        self.people = PeopleInput(llm_mode)

    # ------------------------------------------------------------------ leadership

    def try_lead(self, ttl: timedelta) -> bool:
        """Take or renew the engine lease; False while another live instance holds it."""
        now = wall_now()
        with self.session_factory.begin() as session:
            lease = session.get(Lease, ENGINE_LEASE, with_for_update=True)
            if lease is None:
                session.add(Lease(name=ENGINE_LEASE, holder=self.holder, expires_at=now + ttl))
                return True
            if lease.holder == self.holder or lease.expires_at <= now:
                lease.holder, lease.expires_at = self.holder, now + ttl
                return True
            return False

    def release(self) -> None:
        with self.session_factory.begin() as session:
            session.execute(
                sa.update(Lease)
                .where(Lease.name == ENGINE_LEASE, Lease.holder == self.holder)
                .values(expires_at=wall_now() - timedelta(seconds=1))
            )

    def leader(self) -> tuple[str, datetime] | None:
        with self.session_factory() as session:
            lease = session.get(Lease, ENGINE_LEASE)
            return (lease.holder, lease.expires_at) if lease and lease.expires_at > wall_now() else None

    # ------------------------------------------------------------------ loading

    def load(
        self, settings_seed: int, settings_speed: float, default_start: datetime, memory_limit: int
    ) -> World:
        with self.session_factory() as session:
            state = session.get(SimState, 1)
            if state is None:
                state = SimState(
                    id=1,
                    state=RunState.stopped,
                    sim_time=default_start,
                    speed=settings_speed,
                    seed=settings_seed,
                    steps=0,
                    decisions=0,
                    updated_at=wall_now(),
                )
            locations = {
                row.id: LocationInfo(
                    row.id,
                    row.name,
                    row.name_en,
                    row.kind,
                    row.x,
                    row.y,
                    row.capacity,
                    row.opens_at,
                    row.closes_at,
                )
                for row in session.scalars(sa.select(Location))
            }
            items = {
                row.id: ItemState(
                    row.id,
                    row.name,
                    row.name_en,
                    row.kind,
                    row.location_id,
                    row.holder_id,
                    dict(row.effects or {}),
                )
                for row in session.scalars(sa.select(Item))
            }
            events = [
                event_info(e)
                for e in session.scalars(sa.select(GameEvent).order_by(GameEvent.starts_at, GameEvent.id))
            ]
            agents: dict[str, AgentState] = {}
            for row in session.scalars(sa.select(Agent).order_by(Agent.id)):
                agents[row.id] = AgentState(
                    id=row.id,
                    username=row.username,
                    display_name=row.display_name,
                    user_id=row.user_id,
                    persona=dict(row.persona),
                    home_id=row.home_id,
                    location_id=row.location_id,
                    energy=row.energy,
                    sociability=row.sociability,
                    mood=row.mood,
                    current_action=row.current_action,
                    current_decision=row.current_decision,
                    next_wake_at=row.next_wake_at,
                    importance_since_reflection=row.importance_since_reflection,
                    memory_seq=row.memory_seq,
                    plan=[PlanItem(**block) for block in row.plan or []],
                    plan_day=row.plan_day,
                    conversation_id=row.conversation_id,
                )
            accounts = {a.id: a.user_id for a in agents.values() if a.user_id}
            for item in items.values():
                if item.holder_id in agents:
                    agents[item.holder_id].inventory.append(item.id)
            for rel in session.scalars(sa.select(Relationship)):
                if rel.agent_id in agents and rel.other not in accounts:  # keyed by account id only
                    agents[rel.agent_id].relations[rel.other] = Relation(
                        rel.affinity, rel.interactions, rel.note
                    )
            for record in session.scalars(
                sa.select(MemoryRecord).order_by(MemoryRecord.agent_id, MemoryRecord.seq)
            ):
                if record.agent_id in agents:
                    agents[record.agent_id].memories.append(
                        MemoryEntry(
                            record.seq,
                            record.sim_time,
                            record.kind,
                            record.content,
                            record.importance,
                            terms_of(record.content),
                            record.audience,
                        )
                    )
            follows = {(f.follower_id, f.followee_id) for f in session.scalars(sa.select(KnownFollow))}
            since = state.sim_time - KEEP_ENDED
            conversations = [
                conversation_state(row)
                for row in session.scalars(
                    sa.select(ConversationRow)
                    .where(sa.or_(ConversationRow.ended_at.is_(None), ConversationRow.ended_at > since))
                    .order_by(ConversationRow.started_at, ConversationRow.id)
                )
            ]
            # Ids are a prefix ("c" between characters, "p" with a person) and one sequence: its last value.
            last_ids = [
                session.scalar(
                    sa.select(ConversationRow.id)
                    .where(ConversationRow.id.like(f"{prefix}%"))
                    .order_by(sa.func.length(ConversationRow.id).desc(), ConversationRow.id.desc())
                    .limit(1)
                )
                for prefix in ("c", PERSON_CONVERSATION)
            ]
            self.people.start(session)
        world = World(
            sim_time=state.sim_time,
            speed=state.speed,
            state=RunState(state.state),
            seed=state.seed,
            steps=state.steps,
            decisions=state.decisions,
            locations=locations,
            items=items,
            events=events,
            agents=agents,
            follows=follows,
        )
        for conversation in conversations:
            world.conversations[conversation.id] = conversation
            world.latest_conversation[pair_key(conversation.a, conversation.b)] = conversation.id
        world.conversation_seq = max((int(i[1:]) for i in last_ids if i and i[1:].isdigit()), default=0)
        for agent in agents.values():
            world.schedule(agent, agent.next_wake_at)
        self.refresh(world)
        return world

    def refresh(self, world: World) -> bool:
        """Pull in what consumers recorded since: new posts, stimuli, account ids, follows, events.

        People's input recorded for this step is written first, as the consumers would have (a replay);
        what people did is noted as it is taken in (a recorded run): see people.py."""
        changed = False
        if self.people.due_by(world.steps):
            with self.session_factory.begin() as session:
                self.people.deliver(session, world)
        with self.session_factory() as session:
            for post in session.scalars(
                sa.select(SeenPost).where(SeenPost.id > world.last_seen_post).order_by(SeenPost.id).limit(500)
            ):
                world.last_seen_post = post.id
                if not post.deleted:
                    world.feed.append(
                        FeedEntry(
                            post.id,
                            post.post_id,
                            post.author_id,
                            post.author_username,
                            post.content,
                            world.sim_time,
                        )
                    )
            deleted = set(
                session.scalars(
                    sa.select(SeenPost.post_id).where(
                        SeenPost.deleted.is_(True), SeenPost.post_id.in_([f.post_id for f in world.feed])
                    )
                )
            )
            if deleted:
                world.feed = type(world.feed)(
                    (f for f in world.feed if f.post_id not in deleted), maxlen=world.feed.maxlen
                )
            rows = session.scalars(
                sa.select(StimulusRow)
                .where(StimulusRow.id > world.last_stimulus, StimulusRow.handled.is_(False))
                .order_by(StimulusRow.id)
            ).all()
            character_accounts = {a.user_id for a in world.agents.values() if a.user_id} if rows else set()
            # The characters' first, then the people's, each in the order they came (see people.py).
            for row in sorted(rows, key=lambda r: r.from_user_id not in character_accounts):
                world.last_stimulus = max(world.last_stimulus, row.id)
                agent = world.agents.get(row.agent_id)
                if agent is None:
                    continue
                agent.stimuli.append(
                    Stimulus(
                        row.id,
                        row.kind,
                        row.ref_id,
                        row.post_id,
                        row.from_user_id,
                        row.from_username,
                        row.content,
                    )
                )
                # Reactivity: a person addressed this agent, so it acts now rather than at its next wake.
                # Characters addressing each other wait for their turn: answering at once, two of them
                # would reply to each other forever while the clock stands still.
                if row.from_user_id not in character_accounts:
                    self.people.note_stimulus(session, world, row)
                    if agent.next_wake_at > world.sim_time:
                        world.schedule(agent, world.sim_time)
                changed = True
            unlinked = [a for a in world.agents.values() if a.user_id is None]
            if unlinked:
                ids = dict(
                    session.execute(
                        sa.select(Agent.id, Agent.user_id).where(
                            Agent.id.in_([a.id for a in unlinked]), Agent.user_id.is_not(None)
                        )
                    ).all()
                )
                for agent in unlinked:
                    agent.user_id = ids.get(agent.id)
                if ids:
                    world.accounts_changed()
                linked = {agent_id: user_id for agent_id, user_id in ids.items() if user_id}
                for other in world.agents.values():  # what was kept under the agent id moves to the account
                    for agent_id, user_id in linked.items():
                        if agent_id in other.relations and user_id not in other.relations:
                            other.relations[user_id] = other.relations.pop(agent_id)
                            other.relations[user_id].dirty = other.dirty = True
            known_events = {e.id for e in world.events}
            for event in session.scalars(
                sa.select(GameEvent).where(GameEvent.id.not_in(known_events or {-1}))
            ):
                world.events.append(event_info(event))
            self._learn_names(session, world)
            reading = world.reading
            started, after_comment, after_like = reading.started, reading.last_comment, reading.last_like
            pull(session, world)
            if started:  # the first pull skips what came before the engine
                self.people.note_reading(session, world, after_comment, after_like)
        return changed

    def unanswered(self, command_ids: list[str]) -> list[str]:
        """Of these commands (their correlation ids), those the social network's answer has not reached."""
        with self.session_factory() as session:
            return list(
                session.scalars(
                    sa.select(ActionLog.command_id).where(
                        ActionLog.command_id.in_(command_ids), ActionLog.result.is_(None)
                    )
                )
            )

    # ------------------------------------------------------------------ checkpoint

    def flush(self, world: World, changes: Changes, ttl: timedelta) -> None:
        now = wall_now()
        noted = list(self.people.noted)  # a refresh may note more meanwhile: written at the next one
        with self.session_factory.begin() as session:
            renewed = session.execute(
                sa.update(Lease)
                .where(Lease.name == ENGINE_LEASE, Lease.holder == self.holder)
                .values(expires_at=now + ttl)
            )
            if renewed.rowcount != 1:
                raise LeaseLost("another simulator instance holds the engine lease")
            state = session.get(SimState, 1)
            if state is None:
                state = SimState(id=1)
                session.add(state)
            state.state, state.sim_time, state.speed, state.seed = (
                RunState(world.state).value,  # the column is a plain string
                world.sim_time,
                world.speed,
                world.seed,
            )
            state.steps, state.decisions, state.updated_at = world.steps, world.decisions, now
            # Bulk statements (executemany): a checkpoint of thousands of agents is a few round trips.
            dirty = [a for a in world.agents.values() if a.dirty]
            replanned = [a for a in dirty if a.plan_dirty]
            if replanned:  # a plan is written when it changes (once a day), not with every move
                session.execute(
                    sa.update(Agent),
                    [
                        {"id": a.id, "plan": [vars(b) for b in a.plan], "plan_day": a.plan_day}
                        for a in replanned
                    ],
                )
            if dirty:
                session.execute(
                    sa.update(Agent),
                    [
                        {
                            "id": a.id,
                            "location_id": a.location_id,
                            "energy": a.energy,
                            "sociability": a.sociability,
                            "mood": a.mood,
                            "current_action": a.current_action,
                            "current_decision": a.current_decision,
                            "next_wake_at": a.next_wake_at,
                            "importance_since_reflection": a.importance_since_reflection,
                            "memory_seq": a.memory_seq,
                            "conversation_id": a.conversation_id,
                        }
                        for a in dirty
                    ],
                )
            self._write_relations(session, dirty)
            for agent in dirty:
                agent.dirty = agent.plan_dirty = False
            moved = [i for i in world.items.values() if i.dirty]
            if moved:
                session.execute(
                    sa.update(Item),
                    [{"id": i.id, "location_id": i.location_id, "holder_id": i.holder_id} for i in moved],
                )
                for item in moved:
                    item.dirty = False
            if changes.memories:
                session.execute(
                    sa.insert(MemoryRecord),
                    [
                        {
                            "agent_id": agent_id,
                            "seq": m.seq,
                            "sim_time": m.sim_time,
                            "kind": m.kind,
                            "content": m.content,
                            "importance": m.importance,
                            "audience": m.audience,
                        }
                        for agent_id, m in changes.memories
                    ],
                )
            for agent_id, seq in changes.forgotten:
                session.execute(
                    sa.delete(MemoryRecord).where(MemoryRecord.agent_id == agent_id, MemoryRecord.seq == seq)
                )
            if changes.action_logs:
                session.execute(
                    sa.insert(ActionLog), [{**row, "created_at": now} for row in changes.action_logs]
                )
            for decision, outcome in changes.outcomes.items():
                session.execute(
                    sa.update(ActionLog).where(ActionLog.decision == decision).values(outcome=outcome)
                )
            for decision, picture in changes.pictures.items():
                # The post waited for its picture: it carries the command now, the trace how it went.
                row = session.scalar(sa.select(ActionLog).where(ActionLog.decision == decision))
                if row is not None:
                    row.trace = {**(row.trace or {}), "picture": picture}
                    row.command_id = f"decision-{decision}"
            if changes.handled_stimuli:
                session.execute(
                    sa.update(StimulusRow)
                    .where(StimulusRow.id.in_(changes.handled_stimuli))
                    .values(handled=True)
                )
            self._write_conversations(session, world)
            self.people.write(session, noted, now)
            for data, correlation_id in zip(changes.messages, changes.correlations, strict=True):
                self.outbox.add(session, for_this_network(data), correlation_id=correlation_id)
        self.people.written(len(noted))

    def _learn_names(self, session: Session, world: World) -> None:
        """People's display names, for the people the agents hear from or read."""
        wanted = {s.from_user_id for a in world.agents.values() for s in a.stimuli}
        wanted |= {f.author_id for f in list(world.feed)[-50:]}
        wanted -= world.people.keys()
        wanted -= {a.user_id for a in world.agents.values() if a.user_id}
        if wanted:
            for person in session.scalars(sa.select(KnownPerson).where(KnownPerson.user_id.in_(wanted))):
                world.people[person.user_id] = person.display_name

    def _write_conversations(self, session: Session, world: World) -> None:
        changed = [c for c in world.conversations.values() if c.dirty]
        if not changed:
            return
        existing = set(
            session.scalars(
                sa.select(ConversationRow.id).where(ConversationRow.id.in_([c.id for c in changed]))
            )
        )
        rows = [
            {
                "id": c.id,
                "channel": c.channel,
                "a": c.a,
                "b": c.b,
                "topic": c.topic[:200],
                "budget": c.budget,
                "turns": c.turns,
                "speaker": c.speaker,
                "last_line": c.last_line[:500],
                "location_id": c.location_id,
                "started_at": c.started_at,
                "last_at": c.last_at,
                "ended_at": c.ended_at,
            }
            for c in changed
        ]
        new = [row for row in rows if row["id"] not in existing]
        old = [row for row in rows if row["id"] in existing]
        if new:
            session.execute(sa.insert(ConversationRow), new)
        if old:
            session.execute(sa.update(ConversationRow), old)
        for conversation in changed:
            conversation.dirty = False

    def _write_relations(self, session: Session, agents: list[AgentState]) -> None:
        changed = [(a.id, other, rel) for a in agents for other, rel in a.relations.items() if rel.dirty]
        if not changed:
            return
        keys = {(agent_id, other) for agent_id, other, _ in changed}
        existing = {
            (r.agent_id, r.other)
            for r in session.execute(
                sa.select(Relationship.agent_id, Relationship.other).where(
                    Relationship.agent_id.in_({agent_id for agent_id, _ in keys})
                )
            )
        }
        rows = [
            {
                "agent_id": agent_id,
                "other": other,
                "affinity": rel.affinity,
                "interactions": rel.interactions,
                "note": rel.note,
            }
            for agent_id, other, rel in changed
        ]
        new = [row for row in rows if (row["agent_id"], row["other"]) not in existing]
        old = [row for row in rows if (row["agent_id"], row["other"]) in existing]
        if new:
            session.execute(sa.insert(Relationship), new)
        if old:
            session.execute(sa.update(Relationship), old)
        for _, _, rel in changed:
            rel.dirty = False


def event_info(row: GameEvent) -> EventInfo:
    return EventInfo(
        row.id,
        row.title,
        row.description,
        row.location_id,
        row.starts_at,
        row.ends_at,
        dict(row.effects or {}),
        row.kind or "gathering",
    )


def conversation_state(row: ConversationRow) -> Conversation:
    return Conversation(
        id=row.id,
        channel=row.channel,
        a=row.a,
        b=row.b,
        topic=row.topic,
        budget=row.budget,
        started_at=row.started_at,
        last_at=row.last_at,
        turns=row.turns,
        speaker=row.speaker,
        last_line=row.last_line,
        ended_at=row.ended_at,
        location_id=row.location_id,
        dirty=False,
    )
