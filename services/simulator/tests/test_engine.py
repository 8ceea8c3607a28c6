"""The engine's ticks: seeded rule-based runs that do not change, and LLM decisions that run on across
tick boundaries (slots kept busy, every decision applied exactly once, stop and pause clean)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
import sqlalchemy as sa

from aic_common.bus import Outbox
from aic_common.db import create_db_engine, create_session_factory
from aic_common.migrations import upgrade
from aic_common.testing import serving, wait_for
from aic_common.tokens import TokenIssuer, TokenVerifier, generate_rsa_private_key_pem
from aic_simulator.app import MIGRATIONS, create_app
from aic_simulator.engine import Engine
from aic_simulator.models import ActionLog, Agent, Stimulus
from aic_simulator.plans import PlanRequest
from aic_simulator.policy import ActionKind, Decision, DecisionTrace, Memory, Perception, Policy
from aic_simulator.rules import RulePolicy
from aic_simulator.settings import SimulatorSettings
from aic_simulator.state import AgentState, EventInfo, LocationInfo, PlanItem, World
from aic_simulator.state import Stimulus as StimulusState
from aic_simulator.store import SimStore
from aic_simulator.tiers import TieredPolicy
from aic_simulator.world import load_world_file, seed_world

# What 300 ticks of the seeded rule-based run below decide. It changes only when the rules, the world
# file or the engine's semantics change on purpose; then print the new digest and update it here.
SEEDED_RUN_DIGEST = "806507ef30785257e9cef1cadd205e8daa89e42d7419b871a8e6c32d2f5b2a3b"


def seeded_engine(tmp_path: Path, policy: Policy, *, copies: int = 5) -> Engine:
    """The default world with its characters linked to accounts and cloned ``copies`` times, so that
    ticks hold several decisions and social actions are offered; one person has written to one of them."""
    settings = SimulatorSettings(data_dir=tmp_path, seed=11, speed=0)
    tmp_path.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    upgrade(MIGRATIONS, url)
    session_factory = create_session_factory(create_db_engine(url))
    seed_world(session_factory, Outbox("test"), load_world_file(settings.world_file), settings.sim_start)
    with session_factory.begin() as session:
        originals = list(session.scalars(sa.select(Agent).order_by(Agent.id)))
        for copy in range(copies):
            for index, agent in enumerate(originals):
                row = {c.key: getattr(agent, c.key) for c in Agent.__table__.columns}
                row.update(
                    id=f"{agent.id}-{copy}",
                    username=f"{agent.username[:24]}-{copy}",
                    user_id=f"user-{agent.id}-{copy}",
                    next_wake_at=settings.sim_start + timedelta(minutes=(index * 7 + copy) % 20),
                )
                session.add(Agent(**row))
        for agent in originals:
            agent.user_id = f"user-{agent.id}"
        session.add(
            Stimulus(
                agent_id=originals[0].id,
                kind="message",
                ref_id="m-1",
                post_id=None,
                from_user_id="person-1",
                from_username="someone",
                content="Are you at the market today?",
                handled=False,
                received_at=settings.sim_start,
            )
        )
    store = SimStore(session_factory, Outbox("test"), "test")
    assert store.try_lead(timedelta(hours=1))
    world = store.load(settings.seed, 0, settings.sim_start, settings.memory_limit)
    return Engine(settings, store, policy, world)


def run_digest(engine: Engine) -> str:
    """A digest of every decision logged and of where each agent ended up."""
    world = engine.world
    decided = [
        {k: log[k] for k in ("decision", "step", "agent_id", "sim_time", "ends_at", "action", "target")}
        | {k: log[k] for k in ("content", "location_id", "tier")}
        for log in engine.pending.action_logs
    ]
    agents = [
        (a.id, a.location_id, a.energy, a.sociability, a.mood, a.next_wake_at, len(a.memories))
        for a in sorted(world.agents.values(), key=lambda a: a.id)
    ]
    text = json.dumps([decided, agents, world.sim_time, world.decisions], default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def test_a_seeded_rule_based_run_decides_what_it_always_did(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path, RulePolicy(11))
    for _ in range(300):
        await engine.step(refresh=False, checkpoint=False)
    assert engine.world.decisions > 600 and engine.world.steps == 300
    print(run_digest(engine))
    assert run_digest(engine) == SEEDED_RUN_DIGEST


# ---------------------------------------------------------------------- an LLM that answers when told


class SlowPolicy:
    """Stands in for an LLM with ``concurrency`` slots: a call holds a slot until the test answers it."""

    name = "llm"

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._wire: list[asyncio.Future[None]] = []
        self.asked: Counter[str] = Counter()
        self.thinking: dict[str, datetime] = {}  # agent -> the simulated time it perceived
        self.asked_twice: list[str] = []
        self.most_ticks_thinking = 0  # distinct perception times among the calls not answered yet
        self.answered = 0
        self.cancelled = 0

    @property
    def in_flight(self) -> int:
        return len(self._wire)

    async def decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        agent_id = perception.agent_id
        if agent_id in self.thinking:
            self.asked_twice.append(agent_id)
        self.asked[agent_id] += 1
        self.thinking[agent_id] = perception.sim_time
        self.most_ticks_thinking = max(self.most_ticks_thinking, len(set(self.thinking.values())))
        try:
            await self._call()
        finally:
            del self.thinking[agent_id]
        return Decision(action=ActionKind.rest, reason="slow"), DecisionTrace(tier=self.name, latency_ms=1.0)

    async def _call(self) -> None:
        """One call: it waits for a slot, then holds it until answered."""
        try:
            async with self._slots:
                answer = asyncio.get_running_loop().create_future()
                self._wire.append(answer)
                try:
                    await answer
                finally:
                    if answer in self._wire:  # cancelled before its answer
                        self._wire.remove(answer)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.answered += 1

    def answer(self) -> None:
        """Answer every call on the wire: one round of the LLM's latency."""
        wire, self._wire = self._wire, []
        for call in wire:
            call.set_result(None)


class PlanningPolicy(SlowPolicy):
    """A SlowPolicy that also writes each day's plan, a call that holds a slot as a decision does."""

    PLAN: ClassVar[list[PlanItem]] = [PlanItem(0, 24 * 60, "leisure", "cafe", "A day at the café")]

    def __init__(self, concurrency: int) -> None:
        super().__init__(concurrency)
        self.planning: set[str] = set()

    async def plan_for(self, request: PlanRequest) -> list[PlanItem]:
        self.planning.add(request.agent.id)
        try:
            await self._call()
        finally:
            self.planning.discard(request.agent.id)
        return self.PLAN


@contextlib.asynccontextmanager
async def answering(policy: SlowPolicy) -> AsyncIterator[None]:
    """An LLM that answers whatever is on the wire as soon as it looks."""

    async def answer_forever() -> None:
        while True:
            await wait_for(lambda: policy.in_flight, timeout=120, what="a call")
            policy.answer()

    task = asyncio.create_task(answer_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


START = datetime(2030, 1, 1, 8, tzinfo=UTC)


def small_engine(tmp_path: Path, policy: Policy, wakes: list[int]) -> Engine:
    """Agents at home with one café to go to, waking ``wakes[i]`` minutes after START; no database
    (ticks run without refresh or checkpoint)."""
    places = {
        "home": LocationInfo("home", "家", "Home", "home", 0, 0, 50, 0, 24),
        "cafe": LocationInfo("cafe", "咖啡馆", "Café", "cafe", 3, 4, 50, 0, 24),
    }
    agents = {
        f"a{i:02d}": AgentState(
            id=f"a{i:02d}",
            username=f"a{i:02d}",
            display_name=f"A{i}",
            user_id=f"user-{i}",
            persona={"language": "en"},
            home_id="home",
            location_id="home",
            energy=0.8,
            sociability=0.5,
            mood=0.0,
            current_action=None,
            current_decision=None,
            next_wake_at=START,
            importance_since_reflection=0.0,
            memory_seq=0,
        )
        for i in range(len(wakes))
    }
    world = World(START, 0, "running", 1, 0, 0, places, {}, [], agents)
    for agent, minutes in zip(agents.values(), wakes, strict=True):
        world.schedule(agent, START + timedelta(minutes=minutes))
    return Engine(SimulatorSettings(data_dir=tmp_path), None, policy, world)  # type: ignore[arg-type]


def logged(engine: Engine) -> list[tuple[str, int, datetime]]:
    return [(log["agent_id"], log["step"], log["sim_time"]) for log in engine.pending.action_logs]


async def tick(engine: Engine) -> None:
    await engine.step(refresh=False, checkpoint=False)


def test_only_a_policy_with_slots_lets_decisions_run_into_the_next_tick(tmp_path: Path) -> None:
    assert small_engine(tmp_path, RulePolicy(1), [0]).overlap == 0
    assert small_engine(tmp_path, TieredPolicy([RulePolicy(1)]), [0]).overlap == 0
    assert small_engine(tmp_path, TieredPolicy([SlowPolicy(4), RulePolicy(1)]), [0]).overlap == 4


async def test_the_next_tick_fills_the_slots_its_stragglers_leave_free(tmp_path: Path) -> None:
    # Ten agents due now and ten a minute later, four slots: 20 decisions in five full rounds,
    # where ticks that wait for their last answer would take six (4 + 4 + 2, twice).
    policy = SlowPolicy(4)
    engine = small_engine(tmp_path, policy, [0] * 10 + [1] * 10)
    first = asyncio.create_task(tick(engine))
    for answered in (0, 4):
        await wait_for(lambda a=answered: policy.in_flight == 4 and policy.answered == a, what="a full round")
        policy.answer()
    await wait_for(first.done, what="the tick to end with two decisions on their way")
    # The tick ended with two of its decisions still on their way; the other eight are applied.
    assert policy.in_flight == 2 and sorted(engine.thinking) == ["a08", "a09"]
    assert engine.world.decisions == 8 and engine.world.steps == 1

    second = asyncio.create_task(tick(engine))
    # The next tick's first decisions take the two free slots beside the stragglers.
    await wait_for(lambda: policy.in_flight == 4, what="the slots full across the tick boundary")
    assert policy.answered == 8 and set(policy.thinking) >= {"a08", "a09"}
    for answered in (8, 12):
        await wait_for(lambda a=answered: policy.in_flight == 4 and policy.answered == a, what="a full round")
        policy.answer()
    await wait_for(second.done, what="the tick to end with four decisions on their way")
    assert policy.in_flight == 4 and len(engine.thinking) == 4
    settled = asyncio.create_task(engine.settle())
    await wait_for(lambda: policy.in_flight == 4 and policy.answered == 16, what="the last round")
    policy.answer()
    await settled

    assert policy.answered == 20 and not engine.thinking and engine.world.decisions == 20
    log = logged(engine)
    assert sorted(agent for agent, _, _ in log) == sorted(engine.world.agents), "each applied once"
    minute = START + timedelta(minutes=1)
    # Stragglers are applied in the next tick, at its time, before that tick's own decisions.
    assert log[8:10] == [("a08", 2, minute), ("a09", 2, minute)]
    assert [step for _, step, _ in log] == [1] * 8 + [2] * 8 + [2] * 4


async def test_a_tick_waits_for_every_decision_of_the_tick_before(tmp_path: Path) -> None:
    # Few agents a tick: every tick would end at once; the lag stays one tick.
    policy = SlowPolicy(4)
    engine = small_engine(tmp_path, policy, [m for m in range(12) for _ in range(2)])
    async with answering(policy):
        for _ in range(30):
            await tick(engine)
            assert all(t.tick == engine.world.steps for t in engine.thinking.values())
        await engine.settle()
    assert policy.most_ticks_thinking == 2 and not policy.asked_twice
    assert engine.world.decisions == policy.answered == sum(policy.asked.values()) == len(logged(engine))
    assert engine.world.decisions > len(engine.world.agents)


async def test_a_plan_on_its_way_leaves_the_other_slots_to_decisions(tmp_path: Path) -> None:
    # Two agents wake into a new day and ask for their plans; four whose day is planned decide meanwhile.
    policy = PlanningPolicy(4)
    engine = small_engine(tmp_path, policy, [0] * 6)
    for agent in list(engine.world.agents.values())[2:]:
        agent.plan_day = START.date().isoformat()
    first = asyncio.create_task(tick(engine))
    await wait_for(lambda: policy.in_flight == 4, what="two plans and two decisions on the wire")
    assert policy.planning == {"a00", "a01"} and set(policy.thinking) == {"a02", "a03", "a04", "a05"}
    policy.answer()
    await wait_for(first.done, what="the tick to end with two decisions on their way")
    # The plans arrived and were adopted; their agents decide in the next tick.
    assert engine.world.agents["a00"].plan == PlanningPolicy.PLAN
    assert engine.world.agents["a01"].plan_day == START.date().isoformat()
    assert sorted(engine.thinking) == ["a04", "a05"]
    async with answering(policy):
        await tick(engine)
        await engine.settle()
    log = logged(engine)
    assert [(agent, step) for agent, step, _ in log] == [
        ("a02", 1),
        ("a03", 1),
        ("a04", 2),
        ("a05", 2),
        ("a00", 2),
        ("a01", 2),
    ]
    assert not policy.asked_twice and sum(policy.asked.values()) == 6


async def test_a_decision_that_times_out_falls_back_to_the_rules(tmp_path: Path) -> None:
    slow = SlowPolicy(4)  # never answers
    engine = small_engine(tmp_path, TieredPolicy([slow, RulePolicy(1)], decision_timeout=0.05), [0] * 6)
    await tick(engine)
    await engine.settle()
    assert slow.cancelled == 6 and slow.answered == 0
    assert engine.world.decisions == 6 and engine.fallbacks == 6
    assert {log["tier"] for log in engine.pending.action_logs} == {"rule"}
    assert {log["fallback_reason"] for log in engine.pending.action_logs} == {"llm: timeout after 0.05s"}


async def test_cancelled_decisions_are_asked_again_and_applied_once(tmp_path: Path) -> None:
    policy = SlowPolicy(4)
    engine = small_engine(tmp_path, policy, [0] * 6)
    first = asyncio.create_task(tick(engine))
    await wait_for(lambda: policy.in_flight == 4, what="a full round")
    policy.answer()
    await wait_for(first.done, what="the tick to end with two decisions on their way")
    assert sorted(engine.thinking) == ["a04", "a05"]
    await engine.cancel_decisions()
    assert policy.cancelled == 2 and policy.in_flight == 0 and not engine.thinking
    # The two decide again in the next tick, at its time.
    async with answering(policy):
        await tick(engine)
        await engine.settle()
    assert policy.asked == {f"a{i:02d}": 2 if i >= 4 else 1 for i in range(6)}
    assert sorted(agent for agent, _, _ in logged(engine)) == sorted(engine.world.agents)


async def test_a_person_writing_to_a_thinking_agent_wakes_it_when_its_decision_lands(tmp_path: Path) -> None:
    policy = SlowPolicy(1)
    engine = small_engine(tmp_path, policy, [0, 0])
    first = asyncio.create_task(tick(engine))
    await wait_for(lambda: policy.in_flight == 1, what="a call")
    policy.answer()
    await wait_for(first.done, what="the tick to end with a decision on its way")
    assert list(engine.thinking) == ["a01"]
    # As store.refresh records it: a person's message, after the agent perceived.
    engine.world.last_stimulus = 5
    engine.world.agents["a01"].stimuli.append(
        StimulusState(5, "message", "m-5", None, "person-1", "someone", "hello?")
    )
    async with answering(policy):
        await engine.settle()
    woken = engine.world.agents["a01"]
    assert woken.next_wake_at == engine.world.sim_time, "it answers now, not after its rest"
    assert engine.world.agents["a00"].next_wake_at > engine.world.sim_time


# ---------------------------------------------------------------------- the running simulation

ISSUER = TokenIssuer(generate_rsa_private_key_pem(), issuer="aic-auth", audience="aic")
ADMIN = {"Authorization": f"Bearer {ISSUER.issue_access_token('admin-id', username='admin', role='admin')}"}


async def control(client: httpx.AsyncClient, command: str, **extra: object) -> dict:
    response = await client.post("/api/sim/control", json={"command": command, **extra}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.integration
async def test_pause_step_and_stop_with_decisions_on_their_way(tmp_path: Path) -> None:
    slow = SlowPolicy(2)
    settings = SimulatorSettings(data_dir=tmp_path / "sim", speed=0, lease_ttl_seconds=2)
    app = create_app(settings, policy=TieredPolicy([slow, RulePolicy(7)], decision_timeout=60))
    app.state.token_verifier = TokenVerifier.from_issuer(ISSUER)

    def applied() -> tuple[int, int]:
        with app.state.runtime.session_factory() as session:
            rows = session.scalar(sa.select(sa.func.count()).select_from(ActionLog))
        return rows, app.state.simulation.engine.world.decisions

    async with serving(app, "http://sim") as client:
        await wait_for(lambda: app.state.simulation.is_leader, timeout=20, what="leadership")
        engine = app.state.simulation.engine
        await control(client, "start")
        async with answering(slow):
            await wait_for(lambda: slow.answered >= 20, timeout=30, what="the simulation running")
            # The run loop holds decisions on their way; pausing waits for them and applies them.
            paused = await control(client, "pause")
            assert paused["state"] == "paused" and not engine.thinking and slow.in_flight == 0
            assert applied() == (slow.answered, slow.answered)
            stepped = await control(client, "step", steps=3)
            assert stepped["steps"] == paused["steps"] + 3 and not engine.thinking
            assert applied() == (slow.answered, slow.answered)
        await control(client, "resume")
        await wait_for(lambda: slow.in_flight, timeout=30, what="a decision on its way")
    # Shutting down cancelled what was on its way: nothing left running, nothing applied twice.
    assert slow.cancelled >= 1 and slow.in_flight == 0 and not slow.thinking and not engine.thinking
    assert not slow.asked_twice and slow.most_ticks_thinking <= 2


async def test_what_characters_knew_of_events_that_are_over_is_let_go_each_day(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path, RulePolicy(11), copies=1)
    world = engine.world
    over = next(e for e in world.events if e.ends_at <= world.sim_time + timedelta(hours=6))
    later = next(e for e in world.events if e.ends_at > world.sim_time + timedelta(days=2))
    engine._posted_about |= {("lin_xiaoyu", over.id), ("lin_xiaoyu", later.id)}
    engine._known_news["chen_mo"] = {over.id}
    while world.sim_time < over.ends_at.replace(hour=0, minute=0) + timedelta(days=1, minutes=1):
        await engine.step(refresh=False, checkpoint=False)
    assert ("lin_xiaoyu", over.id) not in engine._posted_about
    assert ("lin_xiaoyu", later.id) in engine._posted_about
    assert "chen_mo" not in engine._known_news


def test_words_recall_no_talk_of_an_event_that_is_not_on_here(tmp_path: Path) -> None:
    engine = small_engine(tmp_path, RulePolicy(1), [0])
    jazz = EventInfo(1, "爵士之夜 · Jazz night", "", "cafe", START, START + timedelta(hours=2), {})
    engine.world.events = [jazz]
    agent = engine.world.agents["a00"]
    talks = [
        Memory(1, "Talked with A1 about Jazz night tonight", 0.5, 1.0, kind="conversation"),
        Memory(2, "Talked with A1 about the rain", 0.5, 1.0, kind="conversation"),
    ]
    perception = dataclasses.replace(engine.perceive(agent), memories=talks)
    at_home = engine._writing(agent, perception, [], [])
    assert at_home.memories == ("Talked with A1 about the rain",)
    at_the_event = engine._writing(agent, perception, [], [jazz])
    assert at_the_event.memories == tuple(m.content for m in talks)
