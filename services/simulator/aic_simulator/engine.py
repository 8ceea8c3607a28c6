"""The discrete-event engine: a clock, a heap of agent wake-ups, perceive → decide → act.

One step (a tick): the clock moves to the next wake-up, never further than ``max_time_jump``; every
agent due by then finishes its previous action and decides its next one (concurrently, so LLM calls
overlap), and the decisions are applied in a fixed order (by wake-up time, then agent id), which keeps
rule-based runs reproducible. Actions take simulated time; the agent sleeps until its action ends or
until someone addresses it (a message, a comment, a mention), whichever comes first. ``speed`` paces
simulated time against wall time; 0 runs as fast as it can.

A policy that works on several decisions at once (an LLM with ``concurrency`` slots) need not hold the
clock for a tick's last few answers: a tick ends once no more than ``concurrency`` of its decisions
are still on their way, and those agents are *thinking* while the next tick starts, so that its
decisions fill the slots the stragglers leave free. A straggler is applied in the next tick, at that
tick's time, before the next tick's own decisions (the lag is one tick at most: a tick waits for every
decision of the ticks before it). A thinking agent has no action and a wake-up in the past, which is
what a checkpoint writes: a restarted engine lets it decide again. Rules answer at once and have no
slots, so each of their ticks waits for all its decisions, as it always did.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aic_common.db import run_in_thread
from aic_common.messages import (
    CreateCommentCommand,
    CreatePostCommand,
    FollowCommand,
    LikeCommand,
    SendMessageCommand,
    SimActionFinished,
    SimActionStarted,
    SimClockAdvanced,
    SimState,
    SimStateChanged,
)
from aic_simulator.memory import forget_beyond, reflect, remember, retrieve, terms_of
from aic_simulator.metrics import DecisionCounts
from aic_simulator.policy import (
    ActionKind,
    Decision,
    DecisionTrace,
    FeedItem,
    IncomingMessage,
    Option,
    Perception,
    Policy,
    option_allows,
)
from aic_simulator.settings import SimulatorSettings
from aic_simulator.state import AgentState, Relation, World
from aic_simulator.store import Changes, SimStore

log = logging.getLogger(__name__)

# Simulated minutes each action takes.
DURATION_MINUTES: dict[ActionKind, int] = {
    ActionKind.browse: 15,
    ActionKind.post: 10,
    ActionKind.comment: 5,
    ActionKind.like: 2,
    ActionKind.follow: 2,
    ActionKind.message: 5,
    ActionKind.reply: 3,
    ActionKind.talk: 20,
    ActionKind.pick_up: 3,
    ActionKind.use_item: 15,
    ActionKind.attend_event: 60,
    ActionKind.rest: 90,
}
# The tier name of the LLM policy (LlmPolicy.name); its latency is reported apart from the rules'.
LLM_TIER = "llm"
SOCIAL_ACTIONS = {
    ActionKind.post,
    ActionKind.comment,
    ActionKind.like,
    ActionKind.follow,
    ActionKind.message,
    ActionKind.reply,
}


@dataclass
class Thinking:
    """A decision on its way; its agent does nothing else until it is applied."""

    agent: AgentState
    perception: Perception
    task: asyncio.Task[tuple[Decision, DecisionTrace]]
    tick: int  # the tick that asked
    last_stimulus: int  # the newest stimulus the world knew of when it asked


@dataclass
class StepReport:
    step: int
    sim_time: datetime
    decisions: int


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class Engine:
    def __init__(
        self,
        settings: SimulatorSettings,
        store: SimStore,
        policy: Policy,
        world: World,
        *,
        decision_counts: DecisionCounts | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.policy = policy
        self.world = world
        self.ttl = timedelta(seconds=settings.lease_ttl_seconds)
        self.decision_latencies: list[float] = []
        self.llm_latencies: list[float] = []  # every LLM call a decision waited for, answered or not
        self.tier_counts: dict[str, int] = {}
        self.fallbacks = 0
        # Decisions by tier and fallbacks by reason for the metrics; the simulation's, so that they outlive
        # this engine.
        self.decision_counts = decision_counts if decision_counts is not None else DecisionCounts()
        # Wall time (time.time()) the clock last moved; loading the world counts as a move.
        self.clock_advanced_at = time.time()
        self.actions_wall: list[float] = []  # wall times of recent actions, for actions per minute
        self.pending = Changes()
        # Decisions a tick may leave on their way (the policy's slots: an LLM's concurrency, rules none).
        self.overlap: int = getattr(policy, "concurrency", 0)
        self.thinking: dict[str, Thinking] = {}  # by agent id, in the order they were asked
        self._open_places: list[Any] | None = None  # places open at the current simulated time
        # Called after each checkpoint (the app wakes its outbox relay, tests count steps).
        self.on_flush: Callable[[], Awaitable[None] | None] | None = None

    # ------------------------------------------------------------------ one tick

    async def step(self, *, refresh: bool = True, checkpoint: bool = True) -> StepReport:
        """One tick. ``refresh`` pulls in what consumers recorded; ``checkpoint`` writes the state.

        A running engine refreshes and checkpoints on a wall-clock rhythm rather than every tick;
        what a tick changes waits in ``self.pending`` until then."""
        world = self.world
        changes = self.pending
        if refresh:
            await run_in_thread(self.store.refresh, world)
        previous = world.sim_time
        next_wake = world.next_wake()
        limit = previous + timedelta(seconds=self.settings.max_time_jump_seconds)
        target = limit if next_wake is None else min(max(next_wake, previous), limit)
        if target > previous:
            world.sim_time = target
            self.clock_advanced_at = time.time()
            self._open_places = None
            if self.settings.publish_action_events:
                changes.send(SimClockAdvanced(sim_time=target, previous_sim_time=previous))
        # A thinking agent is never asked twice; its decision schedules it when it is applied.
        due = [agent for agent in world.pop_due(world.sim_time) if agent.id not in self.thinking]
        for agent in due:
            self._finish(agent, changes)
        tick = world.steps + 1
        # Everyone due is perceived before anyone decides: the tasks start at the first await below.
        for agent in due:
            perception = self.perceive(agent)
            task = asyncio.create_task(self._decide(perception), name=f"decide-{agent.id}")
            self.thinking[agent.id] = Thinking(agent, perception, task, tick, world.last_stimulus)
        await self._await_decisions(tick)
        self._apply_arrived(tick, changes)
        world.steps += 1
        if checkpoint:
            await self.checkpoint()
        return StepReport(world.steps, world.sim_time, len(due))

    async def _await_decisions(self, tick: int) -> None:
        """Until every decision of the earlier ticks has arrived and at most ``overlap`` are on their way."""
        while True:
            waiting = [t for t in self.thinking.values() if not t.task.done()]
            if len(waiting) <= self.overlap and all(t.tick == tick for t in waiting):
                return
            await asyncio.wait([t.task for t in waiting], return_when=asyncio.FIRST_COMPLETED)

    def _apply_arrived(self, step: int, changes: Changes) -> None:
        """Apply the decisions that have arrived, in the order they were asked, and forget them."""
        world = self.world
        for agent_id, thinking in list(self.thinking.items()):
            if not thinking.task.done():
                continue
            del self.thinking[agent_id]
            try:
                decision, trace = thinking.task.result()
            except Exception:
                world.schedule(thinking.agent, world.sim_time)  # it decides again in the next tick
                raise
            self._apply(thinking.agent, thinking.perception, decision, trace, changes, step)
            if self._addressed_while_thinking(thinking):
                world.schedule(thinking.agent, world.sim_time)

    def _addressed_while_thinking(self, thinking: Thinking) -> bool:
        """Whether a person wrote to the agent after it perceived: the refresh that brought it in could
        not wake an agent already awake, so it acts on it now, as it would have (see ``store.refresh``)."""
        new = [s for s in thinking.agent.stimuli if s.id > thinking.last_stimulus]
        if not new:
            return False
        characters = {a.user_id for a in self.world.agents.values() if a.user_id}
        return any(s.from_user_id not in characters for s in new)

    async def settle(self) -> None:
        """Wait for every decision on its way and apply it now, in the last tick (before a pause, after
        stepping): a simulation that is not running has nothing on its way."""
        if self.thinking:
            await asyncio.wait([t.task for t in self.thinking.values()])
        self._apply_arrived(self.world.steps, self.pending)

    async def cancel_decisions(self) -> None:
        """Drop the decisions on their way (the engine stops or failed); their agents decide again."""
        thinking, self.thinking = self.thinking, {}
        for entry in thinking.values():
            entry.task.cancel()
            self.world.schedule(entry.agent, self.world.sim_time)
        # Let them end (an LLM call abandoned frees its slot) before the engine is dropped.
        await asyncio.gather(*(entry.task for entry in thinking.values()), return_exceptions=True)

    async def checkpoint(self) -> None:
        """Write the state and everything pending in one transaction."""
        changes, self.pending = self.pending, Changes()
        try:
            await run_in_thread(self.store.flush, self.world, changes, self.ttl)
        except Exception:
            self.pending = _merge(changes, self.pending)  # nothing was written: keep it for the next try
            raise
        if self.on_flush is not None:
            result = self.on_flush()
            if asyncio.iscoroutine(result):
                await result

    async def _decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        decision, trace = await self.policy.decide(perception)
        if not option_allows(perception, decision):  # the last tier is rules, which only picks options
            raise RuntimeError(f"policy chose an action that was not offered: {decision.action}")
        self.decision_latencies.append(trace.latency_ms)
        del self.decision_latencies[:-500]
        self.llm_latencies.extend(llm_latencies_of(trace))
        del self.llm_latencies[:-500]
        self.tier_counts[trace.tier] = self.tier_counts.get(trace.tier, 0) + 1
        if trace.fallback_reason:
            self.fallbacks += 1
        self.decision_counts.record(trace)
        return decision, trace

    # ------------------------------------------------------------------ perceiving

    def perceive(self, agent: AgentState) -> Perception:
        world = self.world
        location = world.locations[agent.location_id]
        here = world.people_at(agent.location_id, besides=agent.id, limit=5)
        events = world.active_events(agent.location_id)
        feed = self._feed_for(agent)
        unread = [
            IncomingMessage(s.ref_id, s.from_user_id, s.from_username, s.content)
            for s in agent.stimuli
            if s.kind == "message"
        ]
        query = " ".join([location.name, *(e.title for e in events), *(m.content for m in unread)])
        memories = retrieve(agent, world.sim_time, query, k=5)
        return Perception(
            agent_id=agent.id,
            name=agent.display_name,
            persona=agent.persona,
            sim_time=world.sim_time,
            location_id=location.id,
            location_name=location.name if agent.language != "en" else location.name_en,
            energy=agent.energy,
            sociability=agent.sociability,
            mood=agent.mood,
            inventory=[world.items[i].name for i in agent.inventory],
            people_here=[a.display_name for a in here],
            active_events=[e.title for e in events],
            feed=feed,
            unread_messages=unread,
            memories=memories,
            options=self._options(agent, here, events, feed, unread),
            language=agent.language,
        )

    def _feed_for(self, agent: AgentState) -> list[FeedItem]:
        limit = self.settings.ai_browse_comment_limit
        return [
            FeedItem(f.post_id, f.author_id, f.author_username, f.content[:280], f.author_id == agent.user_id)
            for f in itertools.islice(reversed(self.world.feed), limit)
        ]

    def _options(
        self,
        agent: AgentState,
        here: list[AgentState],
        events: list[Any],
        feed: list[FeedItem],
        unread: list[IncomingMessage],
    ) -> list[Option]:
        world = self.world
        options: list[Option] = [Option(ActionKind.rest, None, "rest")]
        linked = agent.user_id is not None  # social actions need the account
        if linked:
            for message in unread[:3]:
                options.append(Option(ActionKind.reply, message.message_id, f"reply:{message.sender_name}"))
            for stimulus in agent.stimuli:
                if stimulus.kind in ("comment", "mention") and stimulus.post_id:
                    options.append(
                        Option(ActionKind.comment, stimulus.post_id, f"answer:{stimulus.from_username}")
                    )
                    break
            if feed:
                options.append(Option(ActionKind.browse, None, "browse the feed"))
            if agent.energy > 0.15:
                options.append(Option(ActionKind.post, None, "write a post"))
            others = [f for f in feed if not f.is_mine][:3]
            for item in others:
                options.append(Option(ActionKind.like, item.post_id, f"like {item.author_name}'s post"))
                options.append(
                    Option(ActionKind.comment, item.post_id, f"comment on {item.author_name}'s post")
                )
            for item in others:
                if (agent.user_id, item.author_id) not in world.follows:
                    options.append(Option(ActionKind.follow, item.author_id, f"follow {item.author_name}"))
                    break
            friends = sorted(
                ((rel.affinity, other) for other, rel in agent.relations.items() if rel.affinity >= 0.5),
                reverse=True,
            )
            for _, other in friends[:1]:
                friend = world.agents.get(other)
                if friend is not None and friend.user_id:
                    options.append(
                        Option(ActionKind.message, friend.user_id, f"message:{friend.display_name}")
                    )
        for person in here[:3]:
            options.append(Option(ActionKind.talk, person.id, f"talk with {person.display_name}"))
        for event in events[:1]:
            options.append(Option(ActionKind.attend_event, str(event.id), f"join {event.title}"))
        for item_id in agent.inventory[:2]:
            options.append(Option(ActionKind.use_item, item_id, f"use {world.items[item_id].name_en}"))
        for item in world.items.values():
            if item.location_id == agent.location_id and item.holder_id is None:
                options.append(Option(ActionKind.pick_up, item.id, f"pick up {item.name_en}"))
                break
        if agent.location_id != agent.home_id:
            options.append(Option(ActionKind.move, agent.home_id, "home"))
        for location_id in self._places_to_go(agent):
            options.append(
                Option(ActionKind.move, location_id, f"go to {world.locations[location_id].name_en}")
            )
        return options

    def _places_to_go(self, agent: AgentState) -> list[str]:
        world = self.world
        if self._open_places is None:
            self._open_places = [
                loc for loc in world.locations.values() if loc.kind != "home" and loc.is_open(world.sim_time)
            ]
        open_now = [loc for loc in self._open_places if loc.id != agent.location_id]
        with_events = {e.location_id for e in world.active_events() if e.location_id}
        ranked = sorted(
            open_now,
            key=lambda loc: (loc.id not in with_events, self._distance(agent.location_id, loc.id), loc.id),
        )
        return [loc.id for loc in ranked[:3]]

    def _distance(self, a: str, b: str) -> float:
        la, lb = self.world.locations[a], self.world.locations[b]
        return math.hypot(la.x - lb.x, la.y - lb.y)

    # ------------------------------------------------------------------ acting

    def _finish(self, agent: AgentState, changes: Changes) -> None:
        if agent.current_decision is None:
            return
        changes.outcomes[agent.current_decision] = "finished"
        if self.settings.publish_action_events:
            changes.send(
                SimActionFinished(
                    action_id=str(agent.current_decision),
                    agent_id=agent.id,
                    user_id=agent.user_id,
                    action=agent.current_action or "",
                    sim_time=self.world.sim_time,
                )
            )
        agent.current_action, agent.current_decision = None, None
        agent.dirty = True

    def _apply(
        self,
        agent: AgentState,
        perception: Perception,
        decision: Decision,
        trace: DecisionTrace,
        changes: Changes,
        step: int,
    ) -> None:
        world = self.world
        world.decisions += 1
        number = world.decisions
        now = world.sim_time
        minutes = DURATION_MINUTES.get(decision.action, 15)
        # The social command carries this as its correlation id, so its result events can be matched.
        command_id = f"decision-{number}" if decision.action in SOCIAL_ACTIONS else None
        summary = self._act(agent, decision, changes, correlation=f"decision-{number}")
        if decision.action == ActionKind.move and decision.target in world.locations:
            minutes = 10 + int(self._distance(perception.location_id, decision.target) / 3)
        # Needs drift: effort tires, company satisfies sociability, solitude builds it up.
        social = decision.action in (
            ActionKind.talk,
            ActionKind.attend_event,
            ActionKind.reply,
            ActionKind.message,
        )
        agent.energy = clamp(
            agent.energy + (0.35 if decision.action == ActionKind.rest else -0.03 * minutes / 15), 0, 1
        )
        agent.sociability = clamp(agent.sociability + (-0.15 if social else 0.04), 0, 1)
        for event in world.active_events(agent.location_id):
            agent.mood = clamp(agent.mood + 0.1 * event.effects.get("mood", 0), -1, 1)
        # Wake on a whole simulated minute: agents share ticks, so a tick decides for many at once.
        ends_at = (now + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
        agent.current_action, agent.current_decision = decision.action.value, number
        agent.dirty = True
        world.schedule(agent, ends_at)
        changes.action_logs.append(
            {
                "decision": number,
                "step": step,
                "agent_id": agent.id,
                "sim_time": now,
                "ends_at": ends_at,
                "action": decision.action.value,
                "target": decision.target,
                "content": decision.content,
                "location_id": agent.location_id,
                "tier": trace.tier,
                "fallback_reason": trace.fallback_reason,
                "trace": {
                    "reason": decision.reason,
                    "latency_ms": round(trace.latency_ms, 2),
                    "tokens": trace.tokens,
                    "memories_used": trace.memories_used,
                    "options_considered": trace.options_considered,
                    **({"detail": trace.detail} if trace.detail else {}),
                },
                "outcome": "started",
                "command_id": command_id,
            }
        )
        if self.settings.publish_action_events:
            changes.send(
                SimActionStarted(
                    action_id=str(number),
                    agent_id=agent.id,
                    user_id=agent.user_id,
                    action=decision.action.value,
                    sim_time=now,
                    location_id=agent.location_id,
                    summary=summary[:200],
                )
            )
        self.actions_wall.append(time.monotonic())
        del self.actions_wall[:-1000]
        if reflection := reflect(agent, now, self.settings.reflection_threshold):
            changes.memories.append((agent.id, reflection))
        for seq in forget_beyond(agent, now, self.settings.memory_limit):
            changes.forgotten.append((agent.id, seq))

    def _memory(
        self, agent: AgentState, changes: Changes, kind: str, content: str, importance: float
    ) -> None:
        changes.memories.append((agent.id, remember(agent, self.world.sim_time, kind, content, importance)))

    def _act(self, agent: AgentState, decision: Decision, changes: Changes, *, correlation: str) -> str:
        """Carry out the decision; returns a one-line summary for the activity stream."""
        world = self.world
        zh = agent.language != "en"
        target = decision.target
        text = (decision.content or "").strip()
        match decision.action:
            case ActionKind.post:
                changes.send(
                    CreatePostCommand(
                        actor_id=agent.user_id or "", content=text or "…", location_id=agent.location_id
                    ),
                    correlation,
                )
                self._memory(
                    agent, changes, "observation", ("我发了一条动态:" if zh else "I posted: ") + text, 4
                )
                return text
            case ActionKind.comment:
                stimulus = next(
                    (s for s in agent.stimuli if s.post_id == target and s.kind in ("comment", "mention")),
                    None,
                )
                parent = stimulus.ref_id if stimulus and stimulus.kind == "comment" else None
                changes.send(
                    CreateCommentCommand(
                        actor_id=agent.user_id or "",
                        post_id=target or "",
                        content=text or "👍",
                        parent_id=parent,
                    ),
                    correlation,
                )
                if stimulus:
                    self._handled(agent, stimulus.id, changes)
                self._memory(
                    agent, changes, "observation", ("我评论了:" if zh else "I commented: ") + text, 3
                )
                return text
            case ActionKind.like:
                changes.send(LikeCommand(actor_id=agent.user_id or "", post_id=target or ""), correlation)
                return f"liked {target}"
            case ActionKind.follow:
                changes.send(
                    FollowCommand(actor_id=agent.user_id or "", followee_id=target or ""), correlation
                )
                world.follows.add((agent.user_id or "", target or ""))
                return f"followed {target}"
            case ActionKind.reply | ActionKind.message:
                stimulus = next(
                    (s for s in agent.stimuli if s.ref_id == target and s.kind == "message"), None
                )
                to_user = stimulus.from_user_id if stimulus else target
                changes.send(
                    SendMessageCommand(
                        actor_id=agent.user_id or "", to_user_id=to_user or "", content=text or "🙂"
                    ),
                    correlation,
                )
                if stimulus:
                    self._handled(agent, stimulus.id, changes)
                    self._memory(
                        agent,
                        changes,
                        "conversation",
                        _said(stimulus.from_username, stimulus.content[:80], text[:80], zh),
                        6,
                    )
                    relation = agent.relations.setdefault(stimulus.from_user_id, Relation())
                    relation.affinity, relation.interactions = (
                        min(1.0, relation.affinity + 0.05),
                        relation.interactions + 1,
                    )
                    relation.dirty = True
                # The summary is streamed to everyone; what was written in private stays out of it.
                return "sent a message"
            case ActionKind.move:
                destination = world.locations.get(target or "")
                if destination is not None:
                    world.move(agent, destination.id)
                    self._memory(
                        agent,
                        changes,
                        "observation",
                        ("我来到了" if zh else "I went to ")
                        + (destination.name if zh else destination.name_en),
                        2,
                    )
                return f"→ {target}"
            case ActionKind.talk:
                other = world.agents.get(target or "")
                if other is not None:
                    topic = text or ("聊天" if zh else "a chat")
                    for me, them in ((agent, other), (other, agent)):
                        self._memory(
                            me,
                            changes,
                            "conversation",
                            (
                                f"和{them.display_name}聊了天:{topic}"
                                if me.language != "en"
                                else f"Talked with {them.display_name}: {topic}"
                            ),
                            5,
                        )
                        relation = me.relations.setdefault(them.id, Relation())
                        relation.affinity, relation.interactions = (
                            min(1.0, relation.affinity + 0.08),
                            relation.interactions + 1,
                        )
                        relation.dirty = True
                        me.dirty = True
                return f"talked with {target}"
            case ActionKind.pick_up:
                item = world.items.get(target or "")
                if item is not None and item.holder_id is None and item.location_id == agent.location_id:
                    item.holder_id, item.location_id, item.dirty = agent.id, None, True
                    agent.inventory.append(item.id)
                    self._memory(
                        agent,
                        changes,
                        "observation",
                        ("我捡到了" if zh else "I picked up ") + (item.name if zh else item.name_en),
                        3,
                    )
                return f"picked up {target}"
            case ActionKind.use_item:
                item = world.items.get(target or "")
                if item is not None and item.holder_id == agent.id:
                    agent.energy = clamp(agent.energy + item.effects.get("energy", 0), 0, 1)
                    agent.mood = clamp(agent.mood + item.effects.get("mood", 0), -1, 1)
                    agent.sociability = clamp(agent.sociability + item.effects.get("sociability", 0), 0, 1)
                return f"used {target}"
            case ActionKind.attend_event:
                event = next((e for e in world.events if str(e.id) == target), None)
                if event is not None:
                    agent.mood = clamp(agent.mood + event.effects.get("mood", 0), -1, 1)
                    self._memory(
                        agent, changes, "observation", ("我参加了" if zh else "I joined ") + event.title, 6
                    )
                return f"joined event {target}"
            case ActionKind.browse:
                seen = self._feed_for(agent)
                if seen:
                    lines = "; ".join(f"{f.author_name}: {f.content[:40]}" for f in seen[:3])
                    self._memory(
                        agent, changes, "observation", ("我刷到了:" if zh else "I read: ") + lines, 2
                    )
                liked = self._react(agent, seen, changes, correlation)
                return f"read {len(seen)} posts, liked {liked}"
            case ActionKind.rest:
                return "rested"
        return decision.action.value

    def _react(self, agent: AgentState, seen: list[FeedItem], changes: Changes, correlation: str) -> int:
        """While browsing, like (at most two) posts that touch what the persona cares about."""
        if agent.user_id is None:
            return 0
        interests = terms_of(
            " ".join(map(str, agent.persona.get("interests", []) + agent.persona.get("topics", [])))
        )
        liked = 0
        for item in seen:
            if liked == 2 or item.is_mine or not (terms_of(item.content) & interests):
                continue
            changes.send(LikeCommand(actor_id=agent.user_id, post_id=item.post_id), correlation)
            liked += 1
        return liked

    def _handled(self, agent: AgentState, stimulus_id: int, changes: Changes) -> None:
        agent.stimuli = [s for s in agent.stimuli if s.id != stimulus_id]
        changes.handled_stimuli.append(stimulus_id)

    # ------------------------------------------------------------------ state changes

    def state_event(self) -> SimStateChanged:
        return SimStateChanged(
            state=SimState(self.world.state), sim_time=self.world.sim_time, speed=self.world.speed
        )

    def actions_per_minute(self) -> float:
        cutoff = time.monotonic() - 60
        return float(sum(1 for t in self.actions_wall if t >= cutoff))


def llm_latencies_of(trace: DecisionTrace) -> list[float]:
    """How long the LLM tier took in one decision: its answer, and any attempt that fell through."""
    spent = [
        float(failed["latency_ms"])
        for failed in trace.detail.get("fallbacks", [])
        if failed.get("tier") == LLM_TIER and "latency_ms" in failed
    ]
    if trace.tier == LLM_TIER:
        # Behind TieredPolicy, latency_ms is the whole decision; the tier's own time is kept apart.
        spent.append(float(trace.detail.get("tier_latency_ms", trace.latency_ms)))
    return spent


def _said(who: str, what: str, reply: str, zh: bool) -> str:
    if zh:
        return f"{who}对我说“{what}”,我回复了“{reply}”"
    return f"{who} said “{what}”; I replied “{reply}”"


def _merge(first: Changes, then: Changes) -> Changes:
    merged = Changes()
    for name in ("action_logs", "memories", "forgotten", "handled_stimuli", "messages", "correlations"):
        getattr(merged, name).extend(getattr(first, name) + getattr(then, name))
    merged.outcomes = {**first.outcomes, **then.outcomes}
    return merged
