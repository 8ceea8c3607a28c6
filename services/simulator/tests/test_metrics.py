"""The simulator's metrics move with what they describe: the clock metric when the engine moves the
clock, the fallback counter (by reason) when the LLM tier gives up, the leader gauge with leadership."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from aic_common.messages import SimCommand
from aic_common.testing import serving, wait_for
from aic_simulator.app import create_app
from aic_simulator.engine import Engine
from aic_simulator.metrics import SimulatorCollector, fallback_kind
from aic_simulator.policy import ActionKind, Decision, DecisionTrace, Perception
from aic_simulator.rules import RulePolicy
from aic_simulator.settings import SimulatorSettings
from aic_simulator.state import AgentState, LocationInfo, World
from aic_simulator.tiers import PolicyError, TieredPolicy

START = datetime(2030, 1, 1, 8, tzinfo=UTC)


class GivingUpLlm:
    """An LLM tier that fails every decision with ``reason``."""

    name = "llm"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        raise PolicyError(self.reason)


class RestingLlm:
    name = "llm"

    async def decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        return Decision(action=ActionKind.rest, reason="rests"), DecisionTrace(tier="llm", latency_ms=1.0)


def engine_with(tmp_path: Path, policy: object, agents: int = 2, wake_in_minutes: int = 5) -> Engine:
    places = {"home": LocationInfo("home", "家", "Home", "home", 0, 0, 50, 0, 24)}
    states = {
        f"a{i}": AgentState(
            id=f"a{i}",
            username=f"a{i}",
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
        for i in range(agents)
    }
    world = World(START, 0, "running", 1, 0, 0, places, {}, [], states)
    for agent in states.values():
        world.schedule(agent, START + timedelta(minutes=wake_in_minutes))
    return Engine(SimulatorSettings(data_dir=tmp_path), None, policy, world)  # type: ignore[arg-type]


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
    }


def collecting(engine: Engine | None, counts: object) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(SimulatorCollector(SimpleNamespace(engine=engine, decision_counts=counts)))  # type: ignore[arg-type]
    return registry


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("timeout after 10.0s", "timeout"),
        ("invalid output: action 'fly' not offered", "invalid_output"),
        ("invalid response: body is not JSON", "invalid_response"),
        ("HTTP 500 after 3 attempts", "http_error"),
        ("HTTP 400: bad model", "http_error"),
        ("ConnectError after 2 attempts", "unreachable"),
        ("refused: no", "refused"),
        ("error: RuntimeError: boom", "error"),
        ("no options offered", "no_options"),
        ("something new", "other"),
    ],
)
def test_a_fallback_reason_is_labelled_with_its_kind(reason: str, kind: str) -> None:
    assert fallback_kind(reason) == kind


async def test_the_clock_metric_moves_when_the_engine_moves_the_clock(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, RulePolicy(1))
    registry = collecting(engine, engine.decision_counts)
    before = samples(registry)
    assert before[("aic_sim_clock_seconds", ())] == START.timestamp()
    assert before[("aic_sim_leader", ())] == 1 and before[("aic_sim_running", ())] == 1
    engine.clock_advanced_at -= 60  # as if it last moved a minute ago
    stale = engine.clock_advanced_at

    await engine.step(refresh=False, checkpoint=False)

    after = samples(registry)
    assert after[("aic_sim_clock_seconds", ())] == (START + timedelta(minutes=5)).timestamp()
    assert stale < after[("aic_sim_clock_advanced_timestamp_seconds", ())] <= time.time()
    assert after[("aic_sim_decisions_total", (("tier", "rule"),))] == 2

    engine.world.state = "paused"
    assert samples(registry)[("aic_sim_running", ())] == 0


async def test_an_llm_fallback_counts_by_reason(tmp_path: Path) -> None:
    policy = TieredPolicy([GivingUpLlm("HTTP 500 after 3 attempts"), RulePolicy(1)], decision_timeout=5)
    engine = engine_with(tmp_path, policy, agents=3)
    registry = collecting(engine, engine.decision_counts)
    assert ("aic_sim_fallbacks_total", (("reason", "http_error"), ("tier", "llm"))) not in samples(registry)

    await engine.step(refresh=False, checkpoint=False)

    seen = samples(registry)
    assert seen[("aic_sim_fallbacks_total", (("reason", "http_error"), ("tier", "llm")))] == 3
    assert seen[("aic_sim_decisions_total", (("tier", "rule"),))] == 3
    assert ("aic_sim_decisions_total", (("tier", "llm"),)) not in seen


def test_a_standby_says_it_does_not_lead_and_shows_no_clock() -> None:
    engine = None
    seen = samples(collecting(engine, SimpleNamespace(decided={}, fallbacks={})))
    assert seen[("aic_sim_leader", ())] == 0 and seen[("aic_sim_running", ())] == 0
    assert not any(name.startswith("aic_sim_clock") for name, _ in seen)


@pytest.mark.integration
async def test_the_service_serves_its_metrics_following_leadership_and_decisions(tmp_path: Path) -> None:
    settings = SimulatorSettings(
        data_dir=tmp_path / "sim",
        bus_namespace=f"t{uuid.uuid4().hex[:8]}",
        lease_ttl_seconds=2,
        outbox_poll_seconds=0.05,
    )
    policy = TieredPolicy([GivingUpLlm("timeout after 10.0s"), RulePolicy(7)], decision_timeout=5)
    app = create_app(settings, policy=policy)

    async def scraped(client: object) -> dict[str, float]:
        text = (await client.get("/metrics")).text  # type: ignore[attr-defined]
        return {
            s.name + str(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name.startswith("aic_")
        }

    async with serving(app, "http://sim") as client:
        await wait_for(lambda: app.state.simulation.is_leader, timeout=20, what="leadership")
        first = await scraped(client)
        assert first["aic_sim_leader[]"] == 1
        assert "aic_outbox_pending_messages[]" in first
        await app.state.simulation.control(SimCommand.step, steps=3)
        later = await scraped(client)
        assert later["aic_sim_clock_seconds[]"] > first["aic_sim_clock_seconds[]"]
        assert later["aic_sim_fallbacks_total[('reason', 'timeout'), ('tier', 'llm')]"] > 0
