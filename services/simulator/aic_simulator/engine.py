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

A day's plan written by the LLM is on its way in the same manner: an agent waking into a new day asks
for its plan and decides in the first tick after the plan has arrived, so that the other agents'
decisions keep the slots busy meanwhile. Without slots (rules, or an LLM run recorded or replayed one
call at a time) a tick waits for its plans and its agents decide in it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aic_common.db import run_in_thread
from aic_common.messages import (
    CreateCommentCommand,
    CreatePostCommand,
    FollowCommand,
    LikeCommand,
    RepostCommand,
    SendMessageCommand,
    SimActionFinished,
    SimActionStarted,
    SimClockAdvanced,
    SimState,
    SimStateChanged,
    UnfollowCommand,
)
from aic_simulator.conversations import Conversations, budget
from aic_simulator.memory import (
    forget_beyond,
    private_audience,
    reflect,
    remember,
    retrieve,
    secrets,
    terms_of,
)
from aic_simulator.metrics import DecisionCounts
from aic_simulator.pictures.base import Moment, PictureRequest
from aic_simulator.pictures.prompts import (
    DEFAULT_STYLE,
    framed,
    image_prompt,
    subject_of_description,
    weather_of,
)
from aic_simulator.pictures.studio import PictureJob, PictureStudio
from aic_simulator.plans import (
    PlanRequest,
    current,
    event_appeal,
    join_event,
    mentioned_events,
    place_affinity,
    plan_day,
    shelter,
)
from aic_simulator.policy import (
    ActionKind,
    ConversationView,
    Decision,
    DecisionTrace,
    FeedItem,
    IncomingMessage,
    Option,
    Perception,
    Policy,
    option_allows,
)
from aic_simulator.privacy import find_leak
from aic_simulator.reading import (
    comments_of,
    explore_feed,
    has_liked,
    home_feed,
    mark_read,
    read_recently,
    record_like,
    search,
)
from aic_simulator.rules import conversation_topic, write_content
from aic_simulator.settings import SimulatorSettings
from aic_simulator.state import PUBLIC, AgentState, Conversation, EventInfo, PlanItem, Relation, World
from aic_simulator.store import Changes, SimStore
from aic_simulator.writer import EventView, Scene, Speaker, WritingContext, subject_of

log = logging.getLogger(__name__)

# Simulated minutes each action takes.
DURATION_MINUTES: dict[ActionKind, int] = {
    ActionKind.browse: 15,
    ActionKind.post: 10,
    ActionKind.repost: 10,  # it reads the post again and writes its quote, as long as a post
    ActionKind.comment: 5,
    ActionKind.like: 2,
    ActionKind.follow: 2,
    ActionKind.message: 5,
    ActionKind.reply: 3,
    ActionKind.talk: 3,  # a line said in person; the conversation goes on turn by turn
    ActionKind.say: 3,
    ActionKind.goodbye: 3,
    ActionKind.unfollow: 2,
    ActionKind.search: 10,
    ActionKind.pick_up: 3,
    ActionKind.use_item: 15,
    ActionKind.attend_event: 60,
    ActionKind.work: 60,
    ActionKind.rest: 90,
}
# How long a character who has said its line waits for the other's before it goes on with its day.
LISTEN_TIMEOUT = timedelta(minutes=20)
NEWS_KINDS = ("hazard", "announcement")  # events people pass on, rather than go to
CONVERSING = frozenset(
    {ActionKind.talk, ActionKind.say, ActionKind.goodbye, ActionKind.reply, ActionKind.message}
)
# Posts a character passes on in a simulated day, at most: a repost is a rare, chosen thing.
REPOSTS_PER_DAY = 2
# The tier name of the LLM policy (LlmPolicy.name); its latency is reported apart from the rules'.
LLM_TIER = "llm"


@dataclass
class Thinking:
    """A decision, or a day's plan, on its way; its agent does nothing else until it is applied."""

    agent: AgentState
    perception: Perception | None  # None: the task writes the agent's plan for the day
    task: asyncio.Task[Any]
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
        studio: PictureStudio | None = None,
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
        self.talks = Conversations(world)
        # What each agent did lately that its words may mention (kept in memory only: a restart forgets).
        self._recent_reads: dict[str, list[FeedItem]] = {}
        self._item_used: dict[str, str] = {}
        self._talked_with: dict[str, list[str]] = {}
        self._posted_about: set[tuple[str, int]] = set()  # (agent, event) it has posted about
        self._known_news: dict[str, set[int]] = {}  # hazards and announcements each agent knows of
        self._reposted: dict[str, set[str]] = {}  # posts each agent has passed on
        self._reposts_on: dict[str, tuple[date, int]] = {}  # each agent's reposts on a simulated day
        self._news_day: date | None = None  # the simulated day the two above were last pruned
        self._public_names: list[str] | None = None  # characters' and places' names, for the privacy guard
        # Pictures with posts (None: posts are text only); the caps count per simulated hour, and per
        # character and day its posts and those with a picture.
        self.studio = studio
        self._pictures_in_hour: tuple[datetime | None, int] = (None, 0)
        self._posts_on: dict[str, tuple[date, int, int]] = {}
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
        due = await self._plan_days(due, changes, tick)
        for agent in due:
            self._prepare(agent, changes)
        self.talks.prune(world.sim_time)
        self._forget_past_news()
        # Everyone due is perceived before anyone decides: the tasks start at the first await below.
        for agent in due:
            perception = self.perceive(agent)
            task = asyncio.create_task(self._decide(perception), name=f"decide-{agent.id}")
            self.thinking[agent.id] = Thinking(agent, perception, task, tick, world.last_stimulus)
        await self._await_decisions(tick)
        self._apply_arrived(tick, changes)
        await self._deliver_pictures(changes)
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
                result = thinking.task.result()
            except Exception:
                world.schedule(thinking.agent, world.sim_time)  # it decides again in the next tick
                raise
            if thinking.perception is None:  # its day is planned: it decides in the next tick
                self._adopt_plan(thinking.agent, *result, changes)
                world.schedule(thinking.agent, world.sim_time)
                continue
            decision, trace = result
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
        # Pictures from a server may take minutes: those not ready go out with a step after it resumes.
        await self._deliver_pictures(self.pending)

    async def cancel_decisions(self) -> None:
        """Drop the decisions on their way (the engine stops or failed); their agents decide again."""
        thinking, self.thinking = self.thinking, {}
        for entry in thinking.values():
            entry.task.cancel()
            self.world.schedule(entry.agent, self.world.sim_time)
        # Let them end (an LLM call abandoned frees its slot) before the engine is dropped.
        await asyncio.gather(*(entry.task for entry in thinking.values()), return_exceptions=True)
        if self.studio is not None:
            await self.studio.cancel()  # their posts were never sent: the next leader knows nothing of them

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

    # ------------------------------------------------------------------ the day, before deciding

    async def _plan_days(self, agents: list[AgentState], changes: Changes, tick: int) -> list[AgentState]:
        """A new day's plan for each agent waking into one: the policy's (an LLM writes it in one call)
        where it has one, the rule plan otherwise. Returns the agents that decide in this tick: with
        slots, those whose plan is on its way decide once it has arrived (see the module's docstring)."""
        world = self.world
        today = world.sim_time.date()
        new_day = [a for a in agents if a.plan_day != today.isoformat()]
        if not new_day:
            return agents
        requests = [
            PlanRequest(
                a,
                today,
                world.locations,
                world.events,
                plan_day(a, today, world.locations, world.events, world.seed),
            )
            for a in new_day
        ]
        planner = getattr(self.policy, "plan_for", None)
        if planner is None or not getattr(self.policy, "writes_plans", True):
            for request in requests:
                self._adopt_plan(request.agent, request.rule_plan, today, changes)
            return agents
        if not self.overlap:
            plans = await asyncio.gather(*(self._written_plan(planner, r) for r in requests))
            for request, (plan, day) in zip(requests, plans, strict=True):
                self._adopt_plan(request.agent, plan, day, changes)
            return agents
        for request in requests:
            agent = request.agent
            task = asyncio.create_task(self._written_plan(planner, request), name=f"plan-{agent.id}")
            self.thinking[agent.id] = Thinking(agent, None, task, tick, world.last_stimulus)
        return [a for a in agents if a.id not in self.thinking]

    @staticmethod
    async def _written_plan(
        planner: Callable[[PlanRequest], Awaitable[list[PlanItem] | None]], request: PlanRequest
    ) -> tuple[list[PlanItem], date]:
        """The plan the policy wrote, or the rule plan, and the day it is for."""
        return (await planner(request) or request.rule_plan), request.day

    def _adopt_plan(self, agent: AgentState, plan: list[PlanItem], day: date, changes: Changes) -> None:
        agent.plan, agent.plan_day, agent.dirty, agent.plan_dirty = (
            plan,
            day.isoformat(),
            True,
            True,
        )
        blocks = [i.label for i in agent.plan if i.activity in ("work", "event", "leisure")][:4]
        zh = agent.language != "en"
        self._memory(agent, changes, "plan", ("今天的计划:" if zh else "Today's plan: ") + "; ".join(blocks))

    def _prepare(self, agent: AgentState, changes: Changes) -> None:
        """Bring the agent's day up to date before it perceives (its plan is today's): a hazard's revision,
        messages of conversations that have ended (read, not answered), a talk whose partner has gone."""
        world = self.world
        now = world.sim_time
        zh = agent.language != "en"
        for event in world.active_events(agent.location_id):
            if event.kind in NEWS_KINDS:  # it knows now, wherever it goes next
                self._known_news.setdefault(agent.id, set()).add(event.id)
        hazard = self._hazard_at(agent.location_id)
        if hazard is not None and not any(i.reason == f"hazard {hazard.id}" for i in agent.plan):
            agent.plan, agent.dirty, agent.plan_dirty = shelter(agent, agent.plan, hazard, now), True, True
            title = hazard.title_in(agent.language)
            self._memory(
                agent,
                changes,
                "plan",
                (f"{title},我改了计划,先回家" if zh else f"{title}: I changed my plans and headed home"),
            )
        for stimulus in list(agent.stimuli):
            if stimulus.kind != "message":
                continue
            sender = world.agent_by_user(stimulus.from_user_id)
            if sender is not None and self.talks.between("dm", agent.id, sender.id, now) is None:
                self._handled(agent, stimulus.id, changes)  # its conversation is over: read, not answered
        if agent.conversation_id is not None:
            talk = self.talks.current(agent.conversation_id, now)
            partner = world.agents.get(talk.other(agent.id)) if talk else None
            if talk is None or partner is None or partner.location_id != agent.location_id:
                self._leave_talk(agent, talk, changes)

    def _forget_past_news(self) -> None:
        """Once a simulated day: who knew of and posted about events that are over is of no more use."""
        today = self.world.sim_time.date()
        if self._news_day == today:
            return
        self._news_day = today
        current = {e.id for e in self.world.events if e.ends_at > self.world.sim_time}
        self._posted_about = {(a, e) for a, e in self._posted_about if e in current}
        in_feed = {entry.post_id for entry in self.world.feed}  # a post gone from the feed is not offered
        for done in self._reposted.values():
            done &= in_feed
        for agent_id, known in list(self._known_news.items()):
            known &= current
            if not known:
                del self._known_news[agent_id]

    def _hazard_at(self, location_id: str) -> EventInfo | None:
        return next((e for e in self.world.active_events(location_id) if e.kind == "hazard"), None)

    def _news(self, agent: AgentState) -> list[EventInfo]:
        """Hazards and announcements on now that the agent has come to know of."""
        known = self._known_news.get(agent.id)
        if not known:
            return []
        now = self.world.sim_time
        return [e for e in self.world.events if e.id in known and e.active(now)]

    # ------------------------------------------------------------------ perceiving

    def perceive(self, agent: AgentState) -> Perception:
        world = self.world
        now = world.sim_time
        location = world.locations[agent.location_id]
        here = world.people_at(agent.location_id, besides=agent.id, limit=5)
        events = world.active_events(agent.location_id)
        # In its sleep hours it only goes home and sleeps: nothing to read or recall.
        awake = agent.awake_at(now) or agent.conversation_id is not None
        feed = self._feed_for(agent) if awake else []
        unread = [self._incoming(agent, s) for s in agent.stimuli if s.kind == "message"]
        query = " ".join([location.name, *(e.title for e in events), *(m.content for m in unread)])
        memories = retrieve(agent, now, query, k=5) if awake else []
        # Each thread answered may recall what was said in it, and only there.
        for message in unread[:3]:
            if message.conversation_id:
                audience = private_audience(message.conversation_id)
                private = [m for m in retrieve(agent, now, message.content, k=2, audience=audience)]
                memories += [m for m in private if m.id not in {k.id for k in memories}]
        item = current(agent.plan, now)
        talk = self.talks.current(agent.conversation_id, now)
        turn = self._talk_view(agent, talk) if talk is not None and talk.speaker == agent.id else None
        news = self._news(agent)
        hazard = next((e for e in news if e.kind == "hazard"), None)
        unposted = next((e for e in news if (agent.id, e.id) not in self._posted_about), None)
        perception = Perception(
            agent_id=agent.id,
            name=agent.display_name,
            persona=agent.persona,
            sim_time=now,
            location_id=location.id,
            location_name=location.name if agent.language != "en" else location.name_en,
            energy=agent.energy,
            sociability=agent.sociability,
            mood=agent.mood,
            inventory=[world.items[i].name for i in agent.inventory],
            people_here=[a.display_name for a in here],
            active_events=[e.title_in(agent.language) for e in events],
            feed=feed,
            unread_messages=unread,
            memories=memories,
            options=[],
            language=agent.language,
            awake=agent.awake_at(now),
            place_open=location.kind == "home" or location.is_open(now),
            plan=item.label if item else None,
            plan_activity=item.activity if item else None,
            plan_location_id=item.location_id if item else None,
            hazard=hazard.title_in(agent.language) if hazard else None,
            news=unposted.title_in(agent.language) if unposted else None,
            conversation=turn,
            strangers=frozenset(
                a.display_name for a in here if is_stranger(agent.relations.get(self._key_of(a)))
            ),
            foreigners=frozenset(a.display_name for a in here if a.language != agent.language),
            affinity={
                a.display_name: relation.affinity
                for a in here
                if (relation := agent.relations.get(self._key_of(a))) is not None
            },
            answering={
                s.post_id: (self._display_name(s.from_user_id), s.content)
                for s in agent.stimuli
                if s.kind in ("comment", "mention") and s.post_id
            },
            conversations={m.message_id: v for m in unread if (v := self._dm_view(agent, m)) is not None},
        )
        perception.options = self._options(agent, perception, here, events, feed, unread)
        perception.writing = self._writing(agent, perception, here, events) if awake else None
        if awake and self._may_picture(agent):
            doing = item.activity if item and item.location_id in (None, agent.location_id) else None
            perception.moment = self._moment(agent, here, events, doing)
        return perception

    # ------------------------------------------------------------------ pictures

    def _may_picture(self, agent: AgentState) -> bool:
        """Whether a post now may carry a picture: a backend, and the caps not reached (pictures this
        simulated hour in town; the share of the character's posts today with one)."""
        if self.studio is None or not agent.user_id:
            return False
        if self._pictures_this_hour() >= self.settings.pictures_per_sim_hour:
            return False
        posts, pictured = self._posts_today(agent)
        return pictured < self.settings.picture_share * (posts + 1)

    def _pictures_this_hour(self) -> int:
        hour, made = self._pictures_in_hour
        return made if hour == self.world.sim_time.replace(minute=0, second=0, microsecond=0) else 0

    def _posts_today(self, agent: AgentState) -> tuple[int, int]:
        """The agent's posts today, and how many of them carry a picture."""
        day, posts, pictured = self._posts_on.get(agent.id) or (None, 0, 0)
        return (posts, pictured) if day == self.world.sim_time.date() else (0, 0)

    def _count_post(self, agent: AgentState, *, pictured: bool) -> None:
        now = self.world.sim_time
        posts, with_picture = self._posts_today(agent)
        self._posts_on[agent.id] = (now.date(), posts + 1, with_picture + int(pictured))
        if pictured:
            hour = now.replace(minute=0, second=0, microsecond=0)
            self._pictures_in_hour = (hour, self._pictures_this_hour() + 1)

    def _moment(
        self, agent: AgentState, here: list[AgentState], events: list[EventInfo], activity: str | None
    ) -> Moment:
        """What a photo taken now would show: the place, the hour, the weather, the event on, the item
        just used and what its plan has it doing here (a meal). An event its words would not be about (a
        hazard, news from elsewhere) is left out."""
        world = self.world
        location = world.locations[agent.location_id]
        hazard = self._hazard_at(agent.location_id)
        unposted = [e for e in self._news(agent) if (agent.id, e.id) not in self._posted_about]
        shown = [e for e in events if e.kind not in NEWS_KINDS] if hazard is None and not unposted else []
        event = shown[0] if shown else None
        used = self._item_used.get(agent.id)
        item = next((i for i in world.items.values() if used in (i.name, i.name_en)), None) if used else None
        return Moment(
            place_id=location.id,
            place_name=location.name_en,
            place_kind=location.kind,
            hour=world.sim_time.hour,
            minute=world.sim_time.minute,
            weather=weather_of(hazard.title if hazard else None),
            event_title=event.title_in("en") if event else None,
            event_kind=event.kind if event else None,
            item_name=item.name_en if item else None,
            item_kind=item.kind if item else None,
            people=len(here),
            activity=activity,
        )

    def _order_picture(
        self, agent: AgentState, moment: Moment, description: str, post: CreatePostCommand
    ) -> dict[str, Any]:
        """Have the picture made; the post waits for it (see _deliver_pictures). What the trace says."""
        assert self.studio is not None
        number = self.world.decisions
        style = str(agent.persona.get("visual_style") or DEFAULT_STYLE)
        subject = subject_of_description(description, moment)
        request = PictureRequest(
            prompt=image_prompt(description, moment, style),
            moment=framed(moment, subject),
            seed=zlib.crc32(f"{self.world.seed}:picture:{number}".encode()),
            width=self.settings.picture_width,
            height=self.settings.picture_height,
            style=style,
        )
        self.studio.order(PictureJob(number, agent.user_id or "", post, request))
        return {
            "status": "making",
            "backend": self.studio.backend.name,
            "prompt": request.prompt,
            "seed": request.seed,
            "subject": subject,
        }

    async def _deliver_pictures(self, changes: Changes) -> None:
        """Send the posts whose pictures are ready (or failed: then without), the trace told how it went.
        The built-in renderer's pictures are waited for in the tick that asked (see pictures.studio)."""
        if self.studio is None:
            return
        if self.studio.instant:
            await self.studio.wait()
        for job in self.studio.finished():
            image_ids, trace = job.outcome()
            correlation = f"decision-{job.decision}"
            changes.send(job.post.model_copy(update={"image_ids": image_ids}), correlation)
            changes.pictures[job.decision] = {"backend": self.studio.backend.name, **trace}

    def _incoming(self, agent: AgentState, stimulus: Any) -> IncomingMessage:
        sender = self.world.agent_by_user(stimulus.from_user_id)
        if sender is not None:
            talk = self.talks.between("dm", agent.id, sender.id, self.world.sim_time)
            return IncomingMessage(
                stimulus.ref_id,
                stimulus.from_user_id,
                sender.display_name,
                stimulus.content,
                False,
                talk.id if talk else None,
            )
        talk = self.talks.between("dm", agent.id, stimulus.from_user_id, self.world.sim_time)
        name = self._display_name(stimulus.from_user_id)
        return IncomingMessage(
            stimulus.ref_id, stimulus.from_user_id, name, stimulus.content, True, talk.id if talk else None
        )

    def _talk_view(self, agent: AgentState, talk: Conversation) -> ConversationView:
        partner = self.world.agents.get(talk.other(agent.id))
        relation = agent.relations.get(self._key_of(partner)) if partner else None
        return ConversationView(
            id=talk.id,
            channel=talk.channel,
            partner=partner.display_name if partner else "",
            topic=talk.topic,
            turns=talk.turns,
            budget=talk.budget,
            last_line=talk.last_line,
            with_person=False,
            first_meeting=is_stranger(relation),
            lines=tuple((self._speaker_name(speaker), line) for speaker, line in talk.lines),
        )

    def _speaker_name(self, speaker: str) -> str:
        agent = self.world.agents.get(speaker)
        return agent.display_name if agent is not None else self._display_name(speaker)

    def _dm_view(self, agent: AgentState, message: IncomingMessage) -> ConversationView | None:
        talk = self.world.conversations.get(message.conversation_id or "")
        relation = agent.relations.get(message.sender_id)
        return ConversationView(
            id=talk.id if talk else "",
            channel="dm",
            partner=message.sender_name,
            topic=talk.topic if talk else "",
            turns=talk.turns if talk else 0,
            budget=talk.budget if talk else 0,
            last_line=message.content,
            with_person=message.from_person,
            first_meeting=is_stranger(relation),
            lines=tuple((self._speaker_name(speaker), line) for speaker, line in talk.lines) if talk else (),
        )

    def _writing(
        self, agent: AgentState, p: Perception, here: list[AgentState], events: list[EventInfo]
    ) -> WritingContext:
        """What the rule writer builds the agent's text from: only what is true now, public memories only."""
        world = self.world
        location = world.locations[agent.location_id]
        # The event it writes about: a hazard here first, then news it has not shared, then what is on here.
        news = [e for e in self._news(agent) if (agent.id, e.id) not in self._posted_about]
        event = next((e for e in events if e.kind == "hazard"), None) or next(iter(news), None)
        event = event or (events[0] if events else None)
        # What it talked about is material for its words; its records of reading and posting are not. A
        # talk that named an event not on here now stays unsaid: the words would place it here and now.
        on_here = {half.strip() for e in events for half in e.title.split(" · ")}
        elsewhere = {half.strip() for e in world.events for half in e.title.split(" · ")} - on_here
        public = [
            m.content
            for m in p.memories
            if m.audience == PUBLIC
            and m.kind == "conversation"
            and not any(name and name in m.content for name in elsewhere)
        ]
        return WritingContext(
            speaker=Speaker(agent.display_name, agent.language, agent.persona, agent.mood, agent.energy),
            scene=Scene(
                place_name=p.location_name,
                place_kind=location.kind,
                place_open=p.place_open,
                people_here=tuple(a.display_name for a in here if a.awake_at(world.sim_time)),
                hour=world.sim_time.hour,
                event=EventView(event.title_in(agent.language), event.kind, event.description)
                if event
                else None,
                at_home=agent.location_id == agent.home_id,
            ),
            activity=p.plan if p.plan_location_id in (None, agent.location_id) else None,
            read=tuple((f.author_name, f.content) for f in self._recent_reads.get(agent.id, ())),
            item_used=self._item_used.get(agent.id),
            talked_with=tuple(self._talked_with.get(agent.id, ())),
            memories=tuple(public),
        )

    def _feed_for(self, agent: AgentState) -> list[FeedItem]:
        """What the agent reads when it browses: its home feed (those it follows) first, then the
        explore ranking, each post with up to AIC_AI_BROWSE_COMMENT_LIMIT of its comments."""
        world = self.world
        limit = self.settings.ai_browse_post_limit
        entries = home_feed(world, agent, limit // 2)
        known = {e.post_id for e in entries}
        entries += [e for e in explore_feed(world, agent, limit) if e.post_id not in known][
            : limit - len(entries)
        ]
        return [
            FeedItem(
                e.post_id,
                e.author_id,
                self._display_name(e.author_id),
                e.content[:280],
                e.author_id == agent.user_id,
                tuple(
                    (self._display_name(c.author_id), c.content[:140])
                    for c in comments_of(world, e.post_id, self.settings.ai_browse_comment_limit)
                ),
            )
            for e in entries
        ]

    def _display_name(self, user_id: str) -> str:
        """People and characters are called by their display names, never their usernames: someone whose
        name it does not know yet is not called by name at all."""
        agent = self.world.agent_by_user(user_id)
        if agent is not None:
            return agent.display_name
        return self.world.people.get(user_id, "")

    def _key_of(self, other: AgentState | None) -> str:
        """Relationships are keyed by account id (the agent id only until the account exists)."""
        if other is None:
            return ""
        return other.user_id or other.id

    def _available_for_talk(self, agent: AgentState, other: AgentState) -> bool:
        now = self.world.sim_time
        return (
            other.awake_at(now)
            and other.conversation_id is None
            and other.id not in self.thinking
            and other.current_action not in ("sleep", "talk")
            and not self.talks.cooling_down(agent.id, other.id, now)
        )

    def _options(
        self,
        agent: AgentState,
        p: Perception,
        here: list[AgentState],
        events: list[EventInfo],
        feed: list[FeedItem],
        unread: list[IncomingMessage],
    ) -> list[Option]:
        world = self.world
        now = world.sim_time
        linked = agent.user_id is not None  # social actions need the account
        replies: list[Option] = []
        if linked:
            for message in unread[:3]:
                if message.from_person:
                    replies.append(
                        Option(ActionKind.reply, message.message_id, f"reply:{message.sender_name}")
                    )
                    continue
                sender = world.agent_by_user(message.sender_id)
                # Between characters: only while the conversation is open and both are awake.
                if message.conversation_id and sender is not None and sender.awake_at(now) and p.awake:
                    replies.append(
                        Option(ActionKind.reply, message.message_id, f"reply:{message.sender_name}")
                    )
                    replies.append(
                        Option(ActionKind.goodbye, message.message_id, f"goodbye:{message.sender_name}")
                    )
        if (
            p.conversation is not None
        ):  # its turn in a talk: go on or say goodbye (people's messages may wait)
            partner = world.conversations[p.conversation.id].other(agent.id)
            return [
                Option(ActionKind.say, partner, f"say:{p.conversation.partner}"),
                Option(ActionKind.goodbye, partner, f"goodbye:{p.conversation.partner}"),
                *[o for o in replies if o.action == ActionKind.reply and o.label.startswith("reply:")][:1],
            ]
        if not p.awake:
            if agent.location_id != agent.home_id:
                return [Option(ActionKind.move, agent.home_id, "home")]
            return [Option(ActionKind.sleep, None, "sleep")]
        options: list[Option] = [Option(ActionKind.rest, None, "rest"), *replies]
        if linked:
            for stimulus in agent.stimuli:
                if stimulus.kind in ("comment", "mention") and stimulus.post_id:
                    name = self._display_name(stimulus.from_user_id)
                    options.append(Option(ActionKind.comment, stimulus.post_id, f"answer:{name}"))
                    break
            if feed:
                options.append(Option(ActionKind.browse, None, "browse the feed"))
            if agent.energy > 0.15:
                options.append(Option(ActionKind.post, None, "write a post"))
            others = [f for f in feed if not f.is_mine][:3]
            for item in others:
                if not has_liked(world, agent.user_id or "", item.post_id):
                    options.append(Option(ActionKind.like, item.post_id, f"like {item.author_name}'s post"))
                options.append(
                    Option(ActionKind.comment, item.post_id, f"comment on {item.author_name}'s post")
                )
            if worth := self._worth_reposting(agent, feed, events):
                options.append(Option(ActionKind.repost, worth.post_id, f"repost {worth.author_name}'s post"))
            for item in others:
                if (agent.user_id, item.author_id) not in world.follows:
                    options.append(Option(ActionKind.follow, item.author_id, f"follow {item.author_name}"))
                    break
            for other, relation in agent.relations.items():
                if relation.affinity < -0.2 and (agent.user_id, other) in world.follows:
                    name = self._display_name(other)
                    options.append(Option(ActionKind.unfollow, other, f"unfollow {name}"))
                    break
            interests = [str(i) for i in agent.persona.get("interests", [])]
            if interests:
                query = interests[(now.day + now.hour) % len(interests)]
                options.append(Option(ActionKind.search, query, f"search posts about {query}"))
            friends = sorted(
                ((rel.affinity, other) for other, rel in agent.relations.items() if rel.affinity >= 0.5),
                reverse=True,
            )
            for _, other in friends[:2]:
                friend = world.agent_by_user(other)
                if (
                    friend is not None
                    and friend.awake_at(now)
                    and friend.awake_at(now + timedelta(hours=1))
                    and not self.talks.cooling_down(agent.id, friend.id, now)
                ):
                    options.append(Option(ActionKind.message, other, f"message:{friend.display_name}"))
                    break
        if agent.energy > 0.1:
            for person in here[:3]:
                if self._available_for_talk(agent, person):
                    options.append(Option(ActionKind.talk, person.id, f"talk with {person.display_name}"))
        for event in events[:2]:
            if event.kind not in ("hazard", "announcement"):
                options.append(Option(ActionKind.attend_event, str(event.id), f"join {event.title}"))
                break
        if p.plan_activity == "work" and p.plan_location_id == agent.location_id:
            options.append(Option(ActionKind.work, agent.location_id, f"work: {p.plan}"))
        for item_id in agent.inventory[:2]:
            options.append(Option(ActionKind.use_item, item_id, f"use {world.items[item_id].name_en}"))
        for item in world.items.values():
            if item.location_id == agent.location_id and item.holder_id is None:
                options.append(Option(ActionKind.pick_up, item.id, f"pick up {item.name_en}"))
                break
        if agent.location_id != agent.home_id:
            options.append(Option(ActionKind.move, agent.home_id, "home"))
        plan_place = p.plan_location_id
        if (
            plan_place
            and plan_place != agent.location_id
            and plan_place != agent.home_id
            and self._can_go(plan_place)
        ):
            options.append(Option(ActionKind.move, plan_place, f"plan:{world.locations[plan_place].name_en}"))
        for location_id in self._places_to_go(agent):
            if location_id != plan_place:
                options.append(
                    Option(ActionKind.move, location_id, f"go to {world.locations[location_id].name_en}")
                )
        return options

    def _worth_reposting(
        self, agent: AgentState, feed: list[FeedItem], events: list[EventInfo]
    ) -> FeedItem | None:
        """A post it would pass on: by someone it follows or likes, about what it cares about, its place or
        an event on here; never its own nor one it passed on already, and at most REPOSTS_PER_DAY a day.
        Only the public feed it reads is looked at, so nothing that reached it in private is passed on."""
        if self._reposts_today(agent) >= REPOSTS_PER_DAY:
            return None
        world = self.world
        done = self._reposted.get(agent.id, set())
        location = world.locations[agent.location_id]
        cares = terms_of(
            " ".join(
                [
                    *map(str, agent.persona.get("interests", []) + agent.persona.get("topics", [])),
                    location.name,
                    location.name_en,
                    *(e.title for e in events),
                ]
            )
        )
        for item in feed:
            if item.is_mine or item.post_id in done or not item.content.strip():
                continue
            relation = agent.relations.get(item.author_id)
            liked = (agent.user_id, item.author_id) in world.follows or (
                relation is not None and relation.affinity >= 0.3
            )
            if liked and terms_of(item.content) & cares:
                return item
        return None

    def _reposts_today(self, agent: AgentState) -> int:
        day, count = self._reposts_on.get(agent.id, (None, 0))
        return count if day == self.world.sim_time.date() else 0

    def _can_go(self, location_id: str) -> bool:
        location = self.world.locations[location_id]
        open_now = location.kind == "home" or location.is_open(self.world.sim_time)
        return open_now and self._hazard_at(location_id) is None

    def _places_to_go(self, agent: AgentState) -> list[str]:
        world = self.world
        if self._open_places is None:
            hazards = {e.location_id for e in world.active_events() if e.kind == "hazard"}
            self._open_places = [
                loc
                for loc in world.locations.values()
                if loc.kind != "home"
                and loc.is_open(world.sim_time)
                and loc.id not in hazards
                and None not in hazards
            ]
        open_now = [loc for loc in self._open_places if loc.id != agent.location_id]
        with_events = {e.location_id for e in world.active_events() if e.location_id and e.kind != "hazard"}
        ranked = sorted(
            open_now,
            key=lambda loc: (
                loc.id not in with_events,
                -place_affinity(agent, loc),
                self._distance(agent.location_id, loc.id),
                loc.id,
            ),
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

    def _minutes(self, agent: AgentState, perception: Perception, decision: Decision) -> int:
        """Simulated minutes the action takes."""
        now = self.world.sim_time
        match decision.action:
            case ActionKind.move if decision.target in self.world.locations:
                return 10 + int(self._distance(perception.location_id, decision.target or "") / 3)
            case ActionKind.sleep:  # until its wake hour
                wake, _ = agent.rhythm
                until = now.replace(hour=wake, minute=0, second=0, microsecond=0)
                if until <= now:
                    until += timedelta(days=1)
                return max(15, int((until - now).total_seconds() // 60))
            case ActionKind.work:
                item = current(agent.plan, now)
                left = (item.end - (now.hour * 60 + now.minute)) if item else 60
                return max(10, min(60, left))
        return DURATION_MINUTES.get(decision.action, 15)

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
        decision = self._guard(agent, perception, decision, trace)
        minutes = self._minutes(agent, perception, decision)
        thread: dict[str, Any] = {}
        correlation = f"decision-{number}"
        sent_before = len(changes.correlations)
        summary = self._act(agent, perception, decision, changes, thread, correlation=correlation)
        # The social command carries this as its correlation id, so its result events can be matched.
        command_id = correlation if correlation in changes.correlations[sent_before:] else None
        # Needs drift: effort tires, company satisfies sociability, solitude builds it up.
        social = decision.action in CONVERSING
        if decision.action in (ActionKind.rest, ActionKind.sleep):
            agent.energy = clamp(agent.energy + (0.35 if decision.action == ActionKind.rest else 0.8), 0, 1)
        else:
            agent.energy = clamp(agent.energy - 0.03 * minutes / 15, 0, 1)
        agent.sociability = clamp(agent.sociability + (-0.08 if social else 0.03), 0, 1)
        for event in world.active_events(agent.location_id):  # what is on here wears on it a little
            agent.mood = clamp(agent.mood + 0.1 * event.effects.get("mood", 0), -1, 1)
            agent.energy = clamp(agent.energy + 0.1 * event.effects.get("energy", 0), 0, 1)
            agent.sociability = clamp(agent.sociability + 0.1 * event.effects.get("sociability", 0), 0, 1)
        # Wake on a whole simulated minute: agents share ticks, so a tick decides for many at once.
        ends_at = (now + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
        agent.current_action, agent.current_decision = decision.action.value, number
        agent.dirty = True
        if decision.action in (ActionKind.talk, ActionKind.say) and agent.conversation_id:
            # It has said its line; it listens until the other answers (which wakes it) or gives up.
            world.schedule(agent, now + LISTEN_TIMEOUT)
        else:
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
                "location_id": perception.location_id,
                "tier": trace.tier,
                "fallback_reason": trace.fallback_reason,
                "trace": {
                    "reason": decision.reason,
                    "latency_ms": round(trace.latency_ms, 2),
                    "tokens": trace.tokens,
                    "memories_used": trace.memories_used,
                    "options_considered": trace.options_considered,
                    **({"plan": perception.plan} if perception.plan else {}),
                    **thread,
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

    def _audience(self, agent: AgentState, perception: Perception, decision: Decision) -> str | None:
        """Who will read the decision's text: PUBLIC, a private conversation, or None (no text)."""
        if not (decision.content or "").strip():
            return None
        if decision.action in (ActionKind.post, ActionKind.repost, ActionKind.comment):
            return PUBLIC
        if (
            decision.action in (ActionKind.reply, ActionKind.goodbye)
            and decision.target in perception.conversations
        ):
            view = perception.conversations[decision.target or ""]
            return private_audience(view.id) if view.id else "private:new"
        if decision.action == ActionKind.message:
            return "private:new"
        return PUBLIC  # talk in person: overheard, so held to what anyone may hear

    def _guard(
        self, agent: AgentState, perception: Perception, decision: Decision, trace: DecisionTrace
    ) -> Decision:
        """The last check before text leaves the character: text that carries distinctive content of a
        private memory the audience may not hear is refused and rewritten by the rule writer."""
        audience = self._audience(agent, perception, decision)
        if audience is None:
            return decision
        answered = perception.unread_messages
        partner = next((m.sender_id for m in answered if m.message_id == decision.target), None)
        private = secrets(
            agent,
            audience,
            besides=partner,
            is_character=lambda uid: self.world.agent_by_user(uid) is not None,
        )
        # Names, places and its own catchphrases are public whoever said them first.
        if self._public_names is None:
            world = self.world
            self._public_names = [
                *(a.display_name for a in world.agents.values()),
                *(loc.name for loc in world.locations.values()),
                *(loc.name_en for loc in world.locations.values()),
            ]
        known = [*self._public_names, *map(str, agent.persona.get("catchphrases") or [])]
        # A photo's description goes to an image server and into the console: as public as the post.
        if decision.picture and (leak := find_leak(decision.picture, private, public=known)):
            log.warning("privacy guard: %s's picture refused (%s)", agent.id, leak)
            trace.detail = {**trace.detail, "privacy_guard_picture": leak}
            decision = decision.model_copy(update={"picture": None})
        reason = find_leak(decision.content or "", private, public=known)
        if reason is None:
            return decision
        log.warning("privacy guard: %s's %s refused (%s)", agent.id, decision.action.value, reason)
        option = next(
            o
            for o in perception.options
            if o.action == decision.action and o.target in (None, decision.target)
        )
        rewritten = write_content(perception, option, self._text_rng(agent))
        trace.detail = {**trace.detail, "privacy_guard": reason}
        return decision.model_copy(update={"content": rewritten})

    def _text_rng(self, agent: AgentState) -> random.Random:
        # Not for security: a reproducible stream for a rewritten text.
        return random.Random(f"{self.world.seed}:guard:{agent.id}:{self.world.sim_time.isoformat()}")  # noqa: S311

    def _memory(
        self,
        agent: AgentState,
        changes: Changes,
        kind: str,
        content: str,
        importance: float | None = None,
        *,
        audience: str = PUBLIC,
    ) -> None:
        entry = remember(agent, self.world.sim_time, kind, content, importance, audience=audience)
        changes.memories.append((agent.id, entry))

    def _befriend(self, agent: AgentState, other: str, change: float) -> None:
        relation = agent.relations.setdefault(other, Relation())
        relation.affinity = clamp(relation.affinity + change, -1.0, 1.0)
        relation.interactions += 1
        relation.dirty = True
        agent.dirty = True

    def _act(
        self,
        agent: AgentState,
        perception: Perception,
        decision: Decision,
        changes: Changes,
        thread: dict[str, Any],
        *,
        correlation: str,
    ) -> str:
        """Carry out the decision; returns a one-line summary for the activity stream. ``thread`` gets what
        the log keeps besides: the conversation it was a turn of (channel, conversation, recipient), the
        picture a post waits for."""
        world = self.world
        now = world.sim_time
        zh = agent.language != "en"
        target = decision.target
        text = (decision.content or "").strip()
        match decision.action:
            case ActionKind.post:
                post = CreatePostCommand(
                    actor_id=agent.user_id or "", content=text or "…", location_id=agent.location_id
                )
                # The caps again: the tick's other posts may have reached them since it perceived.
                if decision.picture and perception.moment is not None and self._may_picture(agent):
                    thread["picture"] = self._order_picture(agent, perception.moment, decision.picture, post)
                else:
                    changes.send(post, correlation)
                self._count_post(agent, pictured="picture" in thread)
                self._memory(
                    agent, changes, "observation", ("我发了一条动态:" if zh else "I posted: ") + text
                )
                for event in [*world.active_events(agent.location_id), *self._news(agent)]:
                    self._posted_about.add((agent.id, event.id))
                return text
            case ActionKind.repost:
                # The quote may be empty: a plain repost.
                changes.send(
                    RepostCommand(actor_id=agent.user_id or "", post_id=target or "", content=text),
                    correlation,
                )
                self._reposted.setdefault(agent.id, set()).add(target or "")
                self._reposts_on[agent.id] = (now.date(), self._reposts_today(agent) + 1)
                post = next((f for f in perception.feed if f.post_id == target), None)
                if post is not None:
                    self._befriend(agent, post.author_id, 0.02)
                    said = (
                        f"我转发了{post.author_name}的动态" if zh else f"I reposted {post.author_name}'s post"
                    )
                    self._memory(agent, changes, "observation", said + (f":{text}" if text else ""))
                return text  # the quote, public like a post ("" for a plain repost)
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
                    self._befriend(agent, stimulus.from_user_id, 0.03)
                self._memory(agent, changes, "observation", ("我评论了:" if zh else "I commented: ") + text)
                return text
            case ActionKind.like:
                changes.send(LikeCommand(actor_id=agent.user_id or "", post_id=target or ""), correlation)
                record_like(world, agent.user_id or "", target or "")
                author = next((f.author_id for f in perception.feed if f.post_id == target), None)
                if author:
                    self._befriend(agent, author, 0.02)
                return f"liked {target}"
            case ActionKind.follow:
                changes.send(
                    FollowCommand(actor_id=agent.user_id or "", followee_id=target or ""), correlation
                )
                world.follows.add((agent.user_id or "", target or ""))
                self._befriend(agent, target or "", 0.05)
                return f"followed {target}"
            case ActionKind.unfollow:
                changes.send(
                    UnfollowCommand(actor_id=agent.user_id or "", followee_id=target or ""), correlation
                )
                world.follows.discard((agent.user_id or "", target or ""))
                return f"unfollowed {target}"
            case ActionKind.search:
                found = search(world, target or "", 5)
                if found:
                    lines = "; ".join(
                        f"{self._display_name(f.author_id)}: {f.content[:40]}" for f in found[:3]
                    )
                    self._memory(
                        agent,
                        changes,
                        "observation",
                        (f"我搜了“{target}”:" if zh else f"I searched for {target}: ") + lines,
                    )
                    self._recent_reads[agent.id] = [
                        FeedItem(
                            f.post_id,
                            f.author_id,
                            self._display_name(f.author_id),
                            f.content[:280],
                        )
                        for f in found[:3]
                    ]
                return f"searched for {target}"
            case ActionKind.message:
                friend = world.agent_by_user(target or "")
                other = friend.id if friend else target or ""
                talk = self.talks.open(
                    "dm",
                    agent,
                    other,
                    self._topic_of(perception),
                    self._budget("dm", agent, target or ""),
                    now,
                )
                return self._send_dm(agent, talk, target or "", text, changes, thread, correlation, None)
            case ActionKind.reply | ActionKind.goodbye if target in perception.conversations:
                message = next(m for m in perception.unread_messages if m.message_id == target)
                stimulus = next(s for s in agent.stimuli if s.ref_id == target and s.kind == "message")
                sender = world.agent_by_user(message.sender_id)
                other = sender.id if sender else message.sender_id
                talk = self.talks.between("dm", agent.id, other, now)
                if talk is None:  # a person's first message, or one after the last conversation ended
                    talk = self.talks.open(
                        "dm", agent, other, subject_of(message.content, agent.language) or "", 0, now
                    )
                self._handled(agent, stimulus.id, changes)
                summary = self._send_dm(
                    agent, talk, message.sender_id, text, changes, thread, correlation, message
                )
                if decision.action == ActionKind.goodbye:
                    self._end(talk, changes)
                return summary
            case ActionKind.talk:
                other = world.agents.get(target or "")
                if other is None or not self._available_for_talk(agent, other):
                    return f"waved at {target}"
                talk = self.talks.open(
                    "talk",
                    agent,
                    other.id,
                    self._topic_of(perception),
                    self._budget("talk", agent, self._key_of(other)),
                    now,
                    agent.location_id,
                )
                # The other stops what it was doing to listen, and answers in a few minutes.
                self._finish(other, changes)
                other.current_action, other.conversation_id, other.dirty = "talk", talk.id, True
                agent.conversation_id = talk.id
                self._line(agent, talk, text, changes, thread)
                return f"talked with {target}"
            case ActionKind.say | ActionKind.goodbye:
                talk = self.talks.current(agent.conversation_id, now)
                if talk is None:
                    return "said nothing"
                self._line(agent, talk, text, changes, thread)
                if decision.action == ActionKind.goodbye:
                    self._end(talk, changes)
                return f"talking with {target}"
            case ActionKind.move:
                destination = world.locations.get(target or "")
                if destination is not None:
                    if agent.conversation_id:
                        self._leave_talk(agent, self.talks.current(agent.conversation_id, now), changes)
                    world.move(agent, destination.id)
                    self._memory(
                        agent,
                        changes,
                        "observation",
                        ("我来到了" if zh else "I went to ")
                        + (destination.name if zh else destination.name_en),
                    )
                return f"→ {target}"
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
                    )
                return f"picked up {target}"
            case ActionKind.use_item:
                item = world.items.get(target or "")
                if item is not None and item.holder_id == agent.id:
                    agent.energy = clamp(agent.energy + item.effects.get("energy", 0), 0, 1)
                    agent.mood = clamp(agent.mood + item.effects.get("mood", 0), -1, 1)
                    agent.sociability = clamp(agent.sociability + item.effects.get("sociability", 0), 0, 1)
                    self._item_used[agent.id] = item.name if zh else item.name_en
                return f"used {target}"
            case ActionKind.attend_event:
                event = next((e for e in world.events if str(e.id) == target), None)
                if event is not None:
                    agent.mood = clamp(agent.mood + event.effects.get("mood", 0), -1, 1)
                    agent.energy = clamp(agent.energy + event.effects.get("energy", 0), 0, 1)
                    agent.sociability = clamp(agent.sociability + event.effects.get("sociability", 0), 0, 1)
                    self._memory(
                        agent,
                        changes,
                        "observation",
                        ("我参加了" if zh else "I joined ") + event.title_in(agent.language),
                    )
                return f"joined event {target}"
            case ActionKind.browse:
                seen = perception.feed
                new = [f for f in seen if not f.is_mine and not read_recently(world, agent, f.post_id)]
                mark_read(world, agent, [f.post_id for f in seen])
                self._recent_reads[agent.id] = [f for f in seen if not f.is_mine][:3]
                if new:  # what it had read before is not a new memory
                    lines = "; ".join(f"{f.author_name}: {f.content[:40]}" for f in new[:3])
                    self._memory(agent, changes, "observation", ("我刷到了:" if zh else "I read: ") + lines)
                liked = self._react(agent, seen, changes, correlation)
                self._hear_of_events(agent, " ".join(f.content for f in seen), changes)
                return f"read {len(seen)} posts, liked {liked}"
            case ActionKind.work:
                return perception.plan or "worked"
            case ActionKind.sleep:
                return "asleep"
            case ActionKind.rest:
                return "rested"
        return decision.action.value

    def _topic_of(self, perception: Perception) -> str:
        return conversation_topic(perception)

    def _budget(self, channel: str, agent: AgentState, other_key: str) -> int:
        relation = agent.relations.get(other_key)
        rng = random.Random(f"{self.world.seed}:budget:{agent.id}:{self.world.sim_time.isoformat()}")  # noqa: S311
        return budget(channel, agent, relation.affinity if relation else 0.0, self.world.sim_time.hour, rng)

    def _send_dm(
        self,
        agent: AgentState,
        talk: Conversation,
        to_user: str,
        text: str,
        changes: Changes,
        thread: dict[str, Any],
        correlation: str,
        answering: IncomingMessage | None,
    ) -> str:
        zh = agent.language != "en"
        changes.send(
            SendMessageCommand(actor_id=agent.user_id or "", to_user_id=to_user, content=text or "🙂"),
            correlation,
        )
        self.talks.turn(talk, agent.id, text, self.world.sim_time)
        thread.update(channel="dm", conversation=talk.id, recipient=to_user)
        name = answering.sender_name if answering else self._display_name(to_user)
        # What the other said is the secret to keep; its own words are not recorded here, so that the
        # privacy guard weighs text against what others told it, not against its own turns of phrase.
        if answering is not None:
            said = (
                f"{name}私信对我说:{answering.content[:200]}"
                if zh
                else f"{name} told me in private: {answering.content[:200]}"
            )
        else:
            said = f"我给{name}发了私信" if zh else f"I messaged {name}"
        self._memory(agent, changes, "conversation", said, audience=private_audience(talk.id))
        self._befriend(agent, to_user, 0.04)
        # The summary is streamed to everyone; what was written in private stays out of it.
        return "sent a message"

    def _line(
        self, agent: AgentState, talk: Conversation, text: str, changes: Changes, thread: dict[str, Any]
    ) -> None:
        """One line said in person; the other's turn comes in a few minutes."""
        self.talks.turn(talk, agent.id, text, self.world.sim_time)
        thread.update(channel="talk", conversation=talk.id, recipient=talk.other(agent.id))
        other = self.world.agents.get(talk.other(agent.id))
        if other is not None and talk.open:
            self.world.schedule(
                other, self.world.sim_time + timedelta(minutes=DURATION_MINUTES[ActionKind.say])
            )

    def _end(self, talk: Conversation, changes: Changes) -> None:
        """The conversation is over: each participant remembers it; after a talk both go on with their day."""
        world = self.world
        now = world.sim_time
        self.talks.end(talk, now)
        participants = [world.agents.get(talk.a), world.agents.get(talk.b)]
        for me in participants:
            if me is None:
                continue
            them = talk.other(me.id)
            other = world.agents.get(them)
            name = other.display_name if other else self._display_name(them)
            zh = me.language != "en"
            if talk.channel == "talk":
                content = f"和{name}聊了聊{talk.topic}" if zh else f"Talked with {name} about {talk.topic}"
                self._memory(me, changes, "conversation", content)
                self._hear_of_events(me, f"{talk.topic} {talk.last_line}", changes)
                self._befriend(me, self._key_of(other) if other else them, 0.06)
                self._talked_with.setdefault(me.id, []).append(name)
                del self._talked_with[me.id][:-3]
                if me.conversation_id == talk.id:
                    me.conversation_id, me.dirty = None, True
                    if me.current_action == "talk":
                        world.schedule(me, now + timedelta(minutes=DURATION_MINUTES[ActionKind.say]))
            else:
                content = (
                    f"和{name}在私信里聊了{talk.topic}" if zh else f"Messaged with {name} about {talk.topic}"
                )
                self._memory(me, changes, "conversation", content, audience=private_audience(talk.id))

    def _hear_of_events(self, agent: AgentState, text: str, changes: Changes) -> None:
        """What it read or talked about revises its plan: an event later today that it heard of and
        that appeals to it takes the place of free time."""
        world = self.world
        for event in mentioned_events(text, world.events, world.sim_time):
            if any(item.reason == f"heard of event {event.id}" for item in agent.plan):
                continue
            rng = random.Random(f"{world.seed}:hear:{agent.id}:{event.id}")  # noqa: S311 - reproducible
            if rng.random() >= event_appeal(agent, event):
                continue
            revised = join_event(agent, agent.plan, event, world.locations)
            if revised is None:
                continue
            agent.plan, agent.dirty, agent.plan_dirty = revised, True, True
            zh = agent.language != "en"
            title = event.title_in(agent.language)
            at = event.starts_at.strftime("%H:%M")
            self._memory(
                agent,
                changes,
                "plan",
                f"听说{at}有{title},打算去看看" if zh else f"Heard about {title} at {at}; I'll go",
            )

    def _leave_talk(self, agent: AgentState, talk: Conversation | None, changes: Changes) -> None:
        if talk is not None:
            self._end(talk, changes)
        agent.conversation_id, agent.dirty = None, True

    def _react(self, agent: AgentState, seen: list[FeedItem], changes: Changes, correlation: str) -> int:
        """While browsing, like (at most two) posts that touch what the persona cares about."""
        if agent.user_id is None:
            return 0
        interests = terms_of(
            " ".join(map(str, agent.persona.get("interests", []) + agent.persona.get("topics", [])))
        )
        liked = 0
        for item in seen:
            if liked == 2 or item.is_mine or has_liked(self.world, agent.user_id, item.post_id):
                continue
            if not (terms_of(item.content) & interests):
                if (agent.user_id, item.author_id) in self.world.follows:  # a followee it finds dull
                    self._befriend(agent, item.author_id, -0.03)
                continue
            changes.send(LikeCommand(actor_id=agent.user_id, post_id=item.post_id), correlation)
            record_like(self.world, agent.user_id, item.post_id)
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


def is_stranger(relation: Relation | None) -> bool:
    """Never met: no relationship yet, or none but what a like or a follow left (the world file's
    relationships are acquaintances from before, with a note)."""
    return relation is None or (relation.interactions == 0 and not relation.note)


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


def _merge(first: Changes, then: Changes) -> Changes:
    merged = Changes()
    for name in ("action_logs", "memories", "forgotten", "handled_stimuli", "messages", "correlations"):
        getattr(merged, name).extend(getattr(first, name) + getattr(then, name))
    merged.outcomes = {**first.outcomes, **then.outcomes}
    merged.pictures = {**first.pictures, **then.pictures}
    return merged
