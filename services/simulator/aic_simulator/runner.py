"""Running the engine: leadership, the run loop and its pacing, and operator control.

Every simulator instance competes for the engine lease; the holder loads the last checkpoint and runs,
the others stay passive (they still record what they perceive) and take over when the holder's
lease lapses. Control commands (start, stop, pause, resume, step N, set speed, status) reach the
leader from HTTP, from the broker and from the CLI alike.

Lockstep (the default): after a step that sent commands to the social network, the engine writes its
checkpoint (the outbox publishes them) and waits until the result of each command has been perceived
before the next step begins, so what a character sees never depends on wall-clock time: the same seed
tells the same story at speed 600 and as fast as possible. A person's message is perceived at the next
step, as it always was.

A world that starts itself for the first time first lives ``prelive_days`` simulated days as fast as
it can (catching up), so the first people find a town with a history; status says so meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import statistics
import time
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from aic_common.db import run_in_thread
from aic_common.errors import AppError, Conflict, ServiceUnavailable
from aic_common.messages import SimCommand, SimState
from aic_common.periodic import wait_until_set
from aic_common.runtime import ServiceRuntime
from aic_simulator.engine import Engine
from aic_simulator.llm import llm_tier
from aic_simulator.metrics import DecisionCounts
from aic_simulator.pictures.studio import PictureStudio
from aic_simulator.policy import Policy
from aic_simulator.settings import SimulatorSettings
from aic_simulator.store import LeaseLost, SimStore
from aic_simulator.world import load_world_file, schedule_daily_events

log = logging.getLogger(__name__)
REFRESH_SECONDS = 0.5  # how often a waiting engine looks for messages addressed to its agents
LOCKSTEP_POLL_SECONDS = 0.05
SCHEDULE_AHEAD = timedelta(days=7)  # how often lockstep looks for results another instance perceived


class NotLeader(ServiceUnavailable):
    code = "not_leader"


class InstanceRole(StrEnum):
    """What this instance does in the simulation (not a state of the simulation: see SimState)."""

    leader = "leader"  # runs the engine
    standby = "standby"  # records what it perceives, relays control, takes over when the lease lapses


class Simulation:
    def __init__(
        self,
        settings: SimulatorSettings,
        runtime: ServiceRuntime,
        policy: Policy,
        *,
        studio: PictureStudio | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.policy = policy
        self.studio = studio  # pictures with posts (None: text only)
        self.holder = f"{settings.service_name}-{uuid.uuid4().hex[:10]}"
        self.store = SimStore(runtime.session_factory, runtime.outbox, self.holder, settings.llm_mode)
        self.engine: Engine | None = None
        self._lock = asyncio.Lock()  # one control command or step at a time
        self._poke = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._lead_task: asyncio.Task[None] | None = None
        self.ttl = timedelta(seconds=settings.lease_ttl_seconds)
        self.known_leader: str | None = None
        # Who decided and why tiers fell back, across every engine this instance runs (the metrics).
        self.decision_counts = DecisionCounts()
        # Lockstep: set when this instance perceived the social network's answer to a command.
        self._result_arrived = asyncio.Event()
        self._scheduled_through: datetime | None = None  # daily events are laid out until then
        # Catching up: until this simulated time the engine runs as fast as it can, then at its speed.
        self.catch_up_until: datetime | None = None

    # ------------------------------------------------------------------ leadership

    async def start(self) -> None:
        self._lead_task = asyncio.create_task(self._lead(), name="simulator-leadership")

    async def stop(self) -> None:
        for task in (self._lead_task, self._loop_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.engine is not None:
            await self.engine.cancel_decisions()
            with contextlib.suppress(Exception):
                await run_in_thread(self.store.release)
        self.engine = None

    @property
    def is_leader(self) -> bool:
        return self.engine is not None

    @property
    def role(self) -> InstanceRole:
        return InstanceRole.leader if self.engine is not None else InstanceRole.standby

    async def _lead(self) -> None:
        while True:
            try:
                if await run_in_thread(self.store.try_lead, self.ttl):
                    if self.engine is None:
                        await self._become_leader()
                    elif self.engine.world.state != SimState.running:
                        # Idle engines still learn what happened (accounts created, messages waiting).
                        async with self._lock:
                            if self.engine is not None:
                                await run_in_thread(self.store.refresh, self.engine.world)
                else:
                    if self.engine is not None:
                        await self._lose_leadership("another instance holds the lease")
                    leader = await run_in_thread(self.store.leader)
                    self.known_leader = leader[0] if leader else None
            except Exception:
                log.exception("leadership check failed")
            await asyncio.sleep(self.settings.lease_ttl_seconds / 3)

    async def _become_leader(self) -> None:
        s = self.settings
        world = await run_in_thread(self.store.load, s.seed, s.speed, s.sim_start, s.memory_limit)
        self.engine = Engine(
            s, self.store, self.policy, world, decision_counts=self.decision_counts, studio=self.studio
        )
        self.engine.on_flush = self.runtime.relay.notify
        log.info("%s leads the simulation at %s (%s)", self.holder, world.sim_time, world.state)
        fresh = world.state == SimState.stopped and world.steps == 0
        if s.autostart and fresh:
            world.state = SimState.running
        # A world that started itself lives its first days at once (also after a restart on the way).
        prelived = s.sim_start + timedelta(days=s.prelive_days)
        if s.autostart and world.state == SimState.running and world.sim_time < prelived:
            self.catch_up_until = prelived
            log.info("living the days before people arrive, until %s", prelived)
        if world.state == SimState.running:
            self._start_loop()

    async def _lose_leadership(self, why: str) -> None:
        log.warning("%s stops leading: %s", self.holder, why)
        engine, self.engine = self.engine, None
        if self._loop_task is not None:
            self._loop_task.cancel()
        if engine is not None:
            await engine.cancel_decisions()

    # ------------------------------------------------------------------ running

    def _start_loop(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._run(), name="simulator-engine")

    def poke(self) -> None:
        """Something arrived for an agent: stop waiting and step now."""
        self._poke.set()

    def result_arrived(self) -> None:
        """This instance perceived the social network's answer to a command (called by the consumer)."""
        self._result_arrived.set()

    async def _await_results(self, commands: list[str]) -> None:
        """Lockstep: until the result of every command sent has been perceived, or the timeout passes.

        The action log records each result (messaging.record_result), whichever instance perceived it,
        so the leader asks the database; its own consumer's answers wake it early. A run recorded or
        replayed waits as long as it takes (it is cancelled by a stop): a result perceived a step late
        would change what the characters perceive, and the replay would part from the recording."""
        if not commands:
            return
        timeout = self.settings.lockstep_timeout_seconds
        exact = self.settings.llm_mode != "live"
        deadline = time.monotonic() + timeout
        while True:
            self._result_arrived.clear()
            waiting = await run_in_thread(self.store.unanswered, commands)
            left = deadline - time.monotonic()
            if waiting and left <= 0 and exact:
                log.warning("lockstep: still waiting for %d results (e.g. %s)", len(waiting), waiting[0])
                deadline, left = time.monotonic() + timeout, timeout
            if not waiting or left <= 0:
                break
            await wait_until_set(self._result_arrived, min(left, LOCKSTEP_POLL_SECONDS))
        if waiting:
            log.warning(
                "lockstep: no result within %.0f s for %d commands (e.g. %s); going on without them",
                timeout,
                len(waiting),
                waiting[0],
            )

    async def _step(self, engine: Engine, *, refresh: bool, checkpoint: bool) -> None:
        """One step; in lockstep its commands are published and their results perceived before it ends."""
        if not self.settings.lockstep:
            await engine.step(refresh=refresh, checkpoint=checkpoint)
            return
        await engine.step(refresh=True, checkpoint=False)
        commands = engine.pending.command_ids()
        if commands or checkpoint:
            await engine.checkpoint()
        await self._await_results(commands)

    async def _schedule_ahead(self, engine: Engine) -> None:
        """Keep the world file's daily events laid out a week ahead of the clock (refresh reads them in)."""
        horizon = engine.world.sim_time + SCHEDULE_AHEAD
        if self._scheduled_through is not None and horizon <= self._scheduled_through:
            return
        world_file = load_world_file(self.settings.world_file)
        through = horizon + SCHEDULE_AHEAD  # a week at a time, not a day each step
        await run_in_thread(
            schedule_daily_events, self.runtime.session_factory, world_file, self.settings.sim_start, through
        )
        self._scheduled_through = through

    def _caught_up(self, engine: Engine) -> None:
        if self.catch_up_until is not None and engine.world.sim_time >= self.catch_up_until:
            log.info("caught up at %s: running at speed %s", engine.world.sim_time, engine.world.speed)
            self.catch_up_until = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_checkpoint = last_refresh = loop.time()
        try:
            while self.engine is not None and self.engine.world.state == SimState.running:
                async with self._lock:
                    engine = self.engine
                    if engine is None or engine.world.state != SimState.running:
                        break
                    now = loop.time()
                    # Refresh and checkpoint on a wall-clock rhythm, not every tick: at speed 0 a
                    # tick takes milliseconds and the database would set the pace.
                    refresh = now - last_refresh >= REFRESH_SECONDS
                    checkpoint = now - last_checkpoint >= self.settings.checkpoint_seconds
                    before = engine.world.sim_time
                    await self._step(engine, refresh=refresh, checkpoint=checkpoint)
                    self._caught_up(engine)
                    await self._schedule_ahead(engine)
                    last_refresh = now if refresh else last_refresh
                    last_checkpoint = now if checkpoint else last_checkpoint
                if engine.world.speed > 0 and self.catch_up_until is None and engine.pending:
                    # About to wait: what this tick did (a reply, a post) goes out now, not after the wait.
                    async with self._lock:
                        await engine.checkpoint()
                    last_checkpoint = loop.time()
                if await self._pace(engine, before):
                    last_refresh = loop.time()
            if self.engine is not None:
                async with self._lock:
                    await self.engine.settle()
                    await self.engine.checkpoint()
        except LeaseLost as exc:
            await self._lose_leadership(str(exc))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the engine failed; it stays paused until an operator resumes it")
            if self.engine is not None:
                self.engine.world.state = SimState.paused
                await self.engine.cancel_decisions()

    async def _pace(self, engine: Engine, before: Any) -> bool:
        """Wait the wall time the simulated step is worth, waking early when someone needs an agent.

        Returns whether it refreshed the world while waiting."""
        world = engine.world
        speed = world.speed
        if speed <= 0 or self.catch_up_until is not None:
            await asyncio.sleep(0)
            return False
        upcoming = world.next_wake()
        step_to = (
            min(upcoming, world.sim_time + timedelta(seconds=self.settings.max_time_jump_seconds))
            if upcoming
            else (world.sim_time + timedelta(seconds=self.settings.max_time_jump_seconds))
        )
        remaining = max(0.0, (step_to - world.sim_time).total_seconds() / speed)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + remaining
        refreshed = False
        while world.state == SimState.running and (left := deadline - loop.time()) > 0:
            self._poke.clear()
            await wait_until_set(self._poke, min(left, REFRESH_SECONDS))
            if world.speed != speed:
                break  # an operator changed the speed: the wait is measured again at the new one
            refreshed = True
            if await run_in_thread(self.store.refresh, world):
                break  # an agent was addressed: act at once
        return refreshed

    # ------------------------------------------------------------------ control

    async def control(
        self, command: SimCommand, *, steps: int | None = None, speed: float | None = None
    ) -> dict[str, Any]:
        engine = self.engine
        if engine is None:
            raise NotLeader("This simulator instance is on standby; another one leads")
        if command == SimCommand.report:  # a question, not a command: GET /api/sim/report, aic sim report
            raise AppError(
                "The society report is read with GET /api/sim/report", code="not_a_control_command"
            )
        if command == SimCommand.status:
            if engine.world.state != SimState.running:
                async with self._lock:
                    await run_in_thread(self.store.refresh, engine.world)
            return self.status()
        async with self._lock:
            world = engine.world
            previous = world.state
            if command == SimCommand.start:
                world.state = SimState.running
            elif command == SimCommand.resume:
                if world.state == SimState.stopped:
                    raise Conflict("The simulation is stopped; start it", code="not_paused")
                world.state = SimState.running
            elif command == SimCommand.pause:
                if world.state == SimState.running:
                    world.state = SimState.paused
            elif command == SimCommand.stop:
                world.state = SimState.stopped
            elif command == SimCommand.set_speed:
                if speed is None:
                    raise AppError("set_speed needs a speed", code="speed_required", status_code=422)
                world.speed = speed
            elif command == SimCommand.step:
                if world.state == SimState.running:
                    raise Conflict("Pause the simulation before stepping it", code="running")
                for _ in range(steps or 1):
                    await self._step(engine, refresh=True, checkpoint=False)
            if world.state != SimState.running:
                # Paused, stopped or stepped: the decisions still on their way arrive and are applied
                # now, so what is checkpointed and reported has none outstanding.
                await engine.settle()
            if world.state != previous or command == SimCommand.set_speed:
                engine.pending.send(engine.state_event())
            await engine.checkpoint()
        self.runtime.relay.notify()
        if world.state == SimState.running:
            self._start_loop()
            self.poke()
        return self.status()

    def status(self) -> dict[str, Any]:
        """What this instance knows of the simulation; a standby knows only who leads (the API adds the
        leader's checkpoint: SimulationService.standby_status)."""
        engine = self.engine
        if engine is None:
            return {"role": InstanceRole.standby, "is_leader": False, "leader": self.known_leader}
        world = engine.world
        decision_p50, decision_p95 = latency_percentiles(engine.decision_latencies)
        llm_p50, llm_p95 = latency_percentiles(engine.llm_latencies)
        return {
            "state": world.state,
            "role": InstanceRole.leader,
            "is_leader": True,
            "leader": self.holder,
            "sim_time": world.sim_time.isoformat(),
            "speed": world.speed,
            "seed": world.seed,
            "steps": world.steps,
            "decisions": world.decisions,
            "agents": len(world.agents),
            "agents_with_accounts": sum(1 for a in world.agents.values() if a.user_id),
            "actions_per_minute": engine.actions_per_minute(),
            "decision_latency_ms_p50": decision_p50,
            "decision_latency_ms_p95": decision_p95,
            # Which tiers decide, in order ("llm>rule" when an LLM is configured, else "rule").
            "policy": self.policy.name,
            "llm_latency_ms_p50": llm_p50,
            "llm_latency_ms_p95": llm_p95,
            "decisions_by_tier": dict(engine.tier_counts),
            "fallbacks": engine.fallbacks,
            "catching_up": self.catch_up_until is not None,
            "catch_up_until": self.catch_up_until.isoformat() if self.catch_up_until else None,
            # The LLM tier's server, the response format it negotiated, tokens against the budgets,
            # calls, fallbacks by reason and latency; None when the rules decide alone.
            "llm": llm.status() if (llm := llm_tier(self.policy)) is not None else None,
            # The image backend and its pictures since this instance started; None when posts are text only.
            "pictures": self.studio.status() if self.studio is not None else None,
        }


def latency_percentiles(latencies: list[float]) -> tuple[float | None, float | None]:
    """Median and 95th percentile (nearest rank) in milliseconds; None for both when nothing was measured."""
    if not latencies:
        return None, None
    ordered = sorted(latencies)
    p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]
    return round(statistics.median(ordered), 2), round(p95, 2)
