"""The LLM tier against each kind of real server, as the scripted server's profiles imitate them over HTTP
on loopback (OpenAI, DeepSeek, Ollama, vLLM, llama.cpp, LM Studio, a thinking model, DeepSeek-R1 style
reasoning, fenced answers, slow answers, bursts of 429 and 503): decisions and plans work with fewer than
1 % falling back; the structured output is negotiated once and remembered; an answer cut off in its
reasoning is never read; an option id is all an answer can choose; time is counted from a free slot;
budgets and status."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aic_common.db import create_db_engine, create_session_factory
from aic_common.messages import SimCommand
from aic_common.migrations import upgrade
from aic_common.testing import serving, wait_for
from aic_simulator.app import MIGRATIONS, build_policy, create_app
from aic_simulator.llm import LlmPolicy, llm_tier
from aic_simulator.metrics import fallback_kind
from aic_simulator.plans import PlanRequest, plan_day
from aic_simulator.policy import (
    ActionKind,
    Decision,
    DecisionTrace,
    IncomingMessage,
    Option,
    Perception,
    option_allows,
)
from aic_simulator.settings import SimulatorSettings
from aic_simulator.state import AgentState, EventInfo, LocationInfo
from aic_simulator.testing_llm import (
    PROFILES,
    ScriptedLlmServer,
    answer,
    fixed,
    malformed,
    options_in,
    slow,
    status,
    writes_chinese,
)
from aic_simulator.tiers import TieredPolicy

pytestmark = pytest.mark.integration
DECISIONS = 300
PLANS = 20
# The format each server ends up with: what it holds the answer to, or the first it does not refuse.
SETTLES_ON = {
    "openai": "json_schema",
    "deepseek": "json_object",
    "ollama": "json_schema",
    "vllm": "json_schema",
    "llamacpp": "json_schema",
    "lmstudio": "json_schema",
    "thinking": "json_schema",
    "reasoning": "json_object",
    "fenced": "json_schema",
    "slow": "json_schema",
    "flaky": "json_schema",
}


class Rules:
    """Stands in for the rule tier: rests, at once."""

    name = "rule"

    async def decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        return Decision(action=ActionKind.rest, reason="rules"), DecisionTrace(tier="rule", latency_ms=0.01)


def perception(n: int, *, day: int = 7) -> Perception:
    """The n-th of a varied lot: Chinese or English, options that take words and options that do not."""
    zh = n % 3 != 0
    options = [
        Option(ActionKind.post, None, "发一条动态" if zh else "post something"),
        Option(ActionKind.reply, f"m{n}", "回复小红" if zh else "reply to Alice"),
        Option(ActionKind.move, "square", "plan: 去广场" if zh else "plan: go to the square"),
        Option(ActionKind.move, "cafe", "去咖啡馆" if zh else "go to the café"),
        Option(ActionKind.say, "Wang Lei", "和王磊说话" if zh else "say something to Wang Lei"),
        Option(ActionKind.rest, None, "休息" if zh else "rest"),
    ]
    return Perception(
        agent_id=f"a{n}",
        name="林小雨" if zh else "Lin Xiaoyu",
        persona={"occupation": "barista", "interests": ["coffee", "photography"]},
        sim_time=datetime(2030, 1, day, 9, 30, tzinfo=UTC),
        location_id="cafe",
        location_name="拾光咖啡馆" if zh else "Corner Café",
        energy=0.8,
        sociability=0.6,
        mood=0.1,
        inventory=[],
        people_here=["王磊" if zh else "Wang Lei"],
        active_events=[],
        feed=[],
        unread_messages=[IncomingMessage(f"m{n}", "u3", "小红" if zh else "Alice", "今天上班吗?")],
        memories=[],
        options=options[n % 2 :],  # the ids move: the answer must name this prompt's own
        language="zh" if zh else "en",
    )


def some_model(request: dict[str, Any]) -> dict[str, Any]:
    """A model picking any option the prompt offers (the same one for the same prompt), with words."""
    options = options_in(request)
    digest = hashlib.sha256(str(request["messages"]).encode()).digest()
    picked = options[digest[0] % len(options)]
    words = "今天的咖啡很香。" if writes_chinese(request) else "The coffee smells great today."
    return {"action": picked["action"], "target": picked["target"], "content": words, "reason": "why not"}


PLACES = {
    "home": LocationInfo("home", "家", "Home", "home", 0, 0, 10, 0, 24),
    "cafe": LocationInfo("cafe", "咖啡馆", "Café", "cafe", 1, 1, 10, 8, 22),
    "bar": LocationInfo("bar", "酒吧", "Bar", "bar", 2, 2, 10, 18, 26),
}
DAY = date(2030, 1, 7)


def plan_request(n: int) -> PlanRequest:
    language = "en" if n % 2 else "zh"
    agent = AgentState(
        id=f"p{n}",
        username=f"p{n}",
        display_name="阿青" if language == "zh" else "Qing",
        user_id=None,
        persona={"language": language, "daily_rhythm": {"wake": 7, "sleep": 23}},
        home_id="home",
        location_id="home",
        energy=1.0,
        sociability=0.5,
        mood=0.0,
        current_action=None,
        current_decision=None,
        next_wake_at=datetime(2030, 1, 7, tzinfo=UTC),
        importance_since_reflection=0.0,
        memory_seq=0,
    )
    show = EventInfo(
        1, "演出 · Show", "", "bar", datetime(2030, 1, 7, 20), datetime(2030, 1, 7, 22), {}, "show"
    )
    return PlanRequest(agent, DAY, PLACES, [show], plan_day(agent, DAY, PLACES, [show], 7))


def llm_at(server: ScriptedLlmServer, **options: Any) -> LlmPolicy:
    settings: dict[str, Any] = {
        "concurrency": 8,
        "timeout": 10.0,
        "queue_timeout": 60.0,
        "backoff_base": 0.05,
        "backoff_max": 0.2,
    }
    return LlmPolicy(server.base_url, "test-model", **{**settings, **options})


@pytest.mark.parametrize("profile", list(PROFILES))
async def test_decisions_and_plans_work_against_every_server(profile: str) -> None:
    # Slow answers take 2-5 s: more slots keep a few hundred decisions within seconds.
    concurrency = 100 if profile == "slow" else 8
    async with (
        ScriptedLlmServer(profile=profile, latency=0.02, default=answer(some_model)) as server,
        llm_at(server, concurrency=concurrency) as llm,
    ):
        tiered = TieredPolicy([llm, Rules()], decision_timeout=10.0)
        perceptions = [perception(n) for n in range(DECISIONS)]
        started = time.perf_counter()
        decided = await asyncio.gather(*(tiered.decide(p) for p in perceptions))
        plans = await asyncio.gather(*(llm.plan_for(plan_request(n)) for n in range(PLANS)))
        elapsed = time.perf_counter() - started

    fell_back = [trace.fallback_reason for _, trace in decided if trace.tier != "llm"]
    status_ = llm.status()
    asked_again = [why for _, trace in decided for why in trace.detail.get("asked_again", [])]
    print(
        f"\n{profile}: {DECISIONS} decisions + {PLANS} plans in {elapsed:.1f}s, {len(fell_back)} fell back, "
        f"{status_['calls']} calls {status_['calls_by_outcome']}, tokens in {status_['tokens_in']} "
        f"out {status_['tokens_out']} wasted {status_['tokens_wasted']}, "
        f"room raised {status_['max_tokens_raised']}, format {status_['response_format']['using']}, "
        f"asked again {len(asked_again)}"
    )
    assert len(fell_back) < 0.01 * DECISIONS, fell_back[:3]
    for (decision, trace), seen in zip(decided, perceptions, strict=True):
        assert option_allows(seen, decision)
        if trace.tier == "llm":
            assert (decision.action, decision.target) in {(o.action, o.target) for o in seen.options}
            assert "DECOY" not in (decision.content or ""), "an answer read from inside the reasoning"
    assert all(plan for plan in plans) and llm.plan_errors == 0

    negotiated = status_["response_format"]
    assert negotiated["using"] == SETTLES_ON[profile] and negotiated["settled"]
    if SETTLES_ON[profile] == "json_object":
        assert "This response_format type is unavailable now" in negotiated["tried"]["json_schema"]
        assert status_["calls_by_outcome"]["400"] == 1, "refused once: the others waited for the outcome"
    else:
        assert negotiated["tried"] == {"json_schema": "works"}
    if profile in ("thinking", "reasoning"):
        # Cut off in its thinking at first: asked again with more room, which it keeps.
        assert status_["max_tokens_raised"]["decision"] > 0 and asked_again
        assert status_["tokens_wasted"] > 0
    if profile == "deepseek":
        assert "empty answer" in asked_again, "DeepSeek's blank JSON-mode answers are asked again"
    if profile == "flaky":
        assert {"429", "503"} <= set(status_["calls_by_outcome"]) and llm.retries > 0
    if profile == "slow":
        assert min(t.detail["tier_latency_ms"] for _, t in decided) >= 2000 and elapsed < 40


async def test_the_format_is_negotiated_once_and_remembered() -> None:
    async with (
        ScriptedLlmServer(profile="deepseek", default=answer(some_model)) as server,
        llm_at(server) as llm,
    ):
        _, first = await llm.decide(perception(1))
        _, second = await llm.decide(perception(2))
    sent = [r.body.get("response_format", {}).get("type") for r in server.requests]
    # json_schema refused once and never asked again; json_object from then on, "json" in the prompt.
    assert sent == ["json_schema", "json_object", "json_object"]
    assert [r.status for r in server.requests] == [400, 200, 200]
    assert first.detail["asked_again"] == [
        "json_schema refused: HTTP 400: This response_format type is unavailable now"
    ]
    assert "asked_again" not in second.detail and second.detail["response_format"] == "json_object"
    system = server.requests[-1].body["messages"][0]["content"]
    assert "json 对象" in system and '"option"' in system, "the schema and an example in the prompt"
    assert llm.status()["response_format"] == {
        "setting": "auto",
        "using": "json_object",
        "settled": True,
        "tried": {
            "json_schema": "HTTP 400: This response_format type is unavailable now",
            "json_object": "works",
        },
    }


async def test_lm_studio_keeps_json_schema_and_an_explicit_format_is_the_only_one_sent() -> None:
    async with ScriptedLlmServer(profile="lmstudio", default=answer(some_model)) as server:
        async with llm_at(server) as llm:
            for n in range(3):
                await llm.decide(perception(n))
        assert {r.body["response_format"]["type"] for r in server.requests} == {"json_schema"}

        server.reset()
        async with llm_at(server, response_format="json_object") as llm:
            tiered = TieredPolicy([llm, Rules()], decision_timeout=10)
            _, trace = await tiered.decide(perception(1))
            _, again = await tiered.decide(perception(2))
        # LM Studio refuses json_object; set explicitly, nothing else is tried: the rules decide.
        assert trace.fallback_reason == (
            "llm: HTTP 400: 'response_format.type' must be 'json_schema' or 'text'"
        )
        assert again.tier == "rule"
        assert [r.body["response_format"]["type"] for r in server.requests] == ["json_object"] * 2
        assert llm.status()["response_format"]["tried"] == {
            "json_object": "HTTP 400: 'response_format.type' must be 'json_schema' or 'text'"
        }


async def test_a_server_whose_answers_are_not_json_moves_on_to_the_next_format() -> None:
    async with ScriptedLlmServer(default=answer(some_model)) as server, llm_at(server) as llm:
        server.script(malformed("I would rather go for a walk."))
        tiered = TieredPolicy([llm, Rules()], decision_timeout=10)
        _, first = await tiered.decide(perception(1))
        _, second = await tiered.decide(perception(2))
    assert first.fallback_reason == "llm: invalid output: no JSON object in the answer"
    # The raw answer is kept in the trace of the decision the rules made.
    assert first.detail["fallbacks"][0]["detail"]["answer"] == "I would rather go for a walk."
    assert second.tier == "llm" and second.detail["response_format"] == "json_object"
    assert llm.status()["response_format"]["tried"] == {
        "json_schema": "answer not JSON: no JSON object in the answer",
        "json_object": "works",
    }


async def test_an_answer_cut_off_in_its_thinking_is_never_read() -> None:
    cut = '<think>The user wants me to pick. {"option": "o2", "content": "DECOY", "reason": "x"} or maybe'
    async with ScriptedLlmServer(default=malformed(cut)) as server, llm_at(server) as llm:
        tiered = TieredPolicy([llm, Rules()], decision_timeout=10)
        decision, trace = await tiered.decide(perception(1))
        # Asked twice more, each time with twice the room; then the rules decide.
        assert [r.body["max_tokens"] for r in server.requests] == [400, 800, 1600]
        assert decision.action == ActionKind.rest and trace.tier == "rule"
        assert trace.fallback_reason == "llm: invalid output: cut off while thinking (<think> not closed)"
        failed = trace.detail["fallbacks"][0]["detail"]
        assert failed["answer"] == cut and len(failed["asked_again"]) == 2
        assert llm.wasted_tokens == trace.tokens > 0

        # Closed, the thinking is passed over and what follows it is the answer.
        server.script(malformed('<think>{"option": "o2", "content": "DECOY"}</think>\n{"option": "o3"}'))
        decision, trace = await tiered.decide(perception(1))
    assert trace.tier == "llm" and (decision.action, decision.target) == (ActionKind.move, "cafe")


async def test_reasoning_in_a_field_of_its_own_is_never_the_answer() -> None:
    async with (
        ScriptedLlmServer(profile="reasoning", default=answer(some_model)) as server,
        llm_at(server, max_tokens=1000) as llm,  # room enough: nothing is cut
    ):
        decisions = [await llm.decide(perception(n)) for n in range(5)]
    answered = [r for r in server.requests if r.status == 200]
    assert all("DECOY" not in (d.content or "") for d, _ in decisions) and len(answered) == 5


@pytest.mark.parametrize("given", [3, "3", "O3", 3.0, "option 3", "o3."])
async def test_an_option_named_by_its_number_is_taken(given: Any) -> None:
    said = {"option": given, "content": 42, "reason": 7}
    async with ScriptedLlmServer(default=fixed(said)) as server, llm_at(server) as llm:
        decision, _ = await llm.decide(perception(0))
    assert (decision.action, decision.target, decision.content) == (ActionKind.move, "square", None)
    assert decision.reason == "7"

    words = {"option": "o1", "content": 2030, "reason": "a year"}
    async with ScriptedLlmServer(default=fixed(words)) as server, llm_at(server) as llm:
        decision, _ = await llm.decide(perception(0))
    assert (decision.action, decision.content) == (ActionKind.post, "2030"), "a number for a text"


@pytest.mark.parametrize(
    ("said", "why"),
    [
        ({"option": "o7"}, "option 'o7' not offered"),
        ({"option": "o0"}, "option 'o0' not offered"),
        ({"option": -1}, "option '-1' not offered"),
        ({"option": "o2; o3"}, "option 'o2; o3' not offered"),
        ({"option": None}, "option 'None' not offered"),
        ({"action": "move", "target": "moon"}, "action 'move' with target 'moon' not offered"),
        ({"action": "fly"}, "action 'fly' not offered"),
        ({"reason": "no choice"}, "no option chosen"),
        ({"option": "o1", "content": "  "}, "action 'post' without content"),
    ],
)
async def test_an_answer_outside_the_offered_options_is_never_applied(said: dict[str, Any], why: str) -> None:
    async with ScriptedLlmServer(default=fixed(said)) as server, llm_at(server) as llm:
        decision, trace = await TieredPolicy([llm, Rules()], decision_timeout=10).decide(perception(0))
    assert trace.tier == "rule" and trace.fallback_reason == f"llm: invalid output: {why}"
    assert decision.action == ActionKind.rest


async def test_the_old_answer_shape_is_taken_only_for_an_offered_pair() -> None:
    said = {"action": "move", "target": "cafe", "content": "ignored", "reason": "coffee"}
    async with ScriptedLlmServer(default=fixed(said)) as server, llm_at(server) as llm:
        decision, _ = await llm.decide(perception(0))
    assert (decision.action, decision.target, decision.content) == (ActionKind.move, "cafe", None)


async def test_the_timeout_starts_when_a_slot_is_free() -> None:
    # One slot, 0.6 s an answer, a 1 s timeout: the third decision is asked 1.2 s after it was made,
    # and answered within its second.
    async with (
        ScriptedLlmServer(latency=0.6, default=answer(some_model)) as server,
        llm_at(server, concurrency=1, timeout=1.0, queue_timeout=5.0) as llm,
    ):
        tiered = TieredPolicy([llm, Rules()], decision_timeout=1.0)
        decided = await asyncio.gather(*(tiered.decide(perception(n)) for n in range(3)))
    assert [trace.tier for _, trace in decided] == ["llm"] * 3
    assert max(trace.detail["queued_ms"] for _, trace in decided) >= 1100
    assert tiered.time_limit(llm) == 1.0 + 5.0 + 1.0


async def test_a_decision_that_waits_too_long_for_a_slot_is_decided_by_the_rules() -> None:
    async with (
        ScriptedLlmServer(default=answer(some_model)) as server,
        llm_at(server, concurrency=1, timeout=5.0, queue_timeout=0.3) as llm,
    ):
        server.script(slow(1.5, some_model))
        tiered = TieredPolicy([llm, Rules()], decision_timeout=5.0)
        first = asyncio.create_task(tiered.decide(perception(1)))
        await wait_for(lambda: len(server.requests) == 1, what="the first request")
        decision, waited = await tiered.decide(perception(2))
        _, answered = await first
        assert waited.fallback_reason == "llm: queued 0.3s for a slot" and decision.action == ActionKind.rest
        assert answered.tier == "llm", "the first, 1.5 s on its slot, is within its own timeout"
        assert len(server.requests) == 1, "the one that waited was never sent"
        assert llm.status()["fallbacks"] == {"queued": 1}
        assert fallback_kind(waited.fallback_reason.removeprefix("llm: ")) == "queued"


async def test_token_budgets_send_decisions_to_the_rules_until_the_next_day() -> None:
    async with ScriptedLlmServer(default=answer(some_model)) as server:
        async with llm_at(server) as probe:
            _, trace = await probe.decide(perception(1))
        one = trace.tokens

        async with llm_at(server, daily_token_budget=one * 2 - 1) as llm:
            tiered = TieredPolicy([llm, Rules()], decision_timeout=10)
            tiers = [(await tiered.decide(perception(n)))[1] for n in (1, 2, 3)]
            assert [t.tier for t in tiers] == ["llm", "llm", "rule"]
            assert tiers[2].fallback_reason == f"llm: token budget: {one * 2 - 1} tokens a day spent"
            _, next_day = await tiered.decide(perception(4, day=8))
            assert next_day.tier == "llm", "a new simulated day, a new budget"
            assert llm.status()["tokens_today"] == next_day.tokens
            assert llm.status()["fallbacks"] == {"budget": 1}

        async with llm_at(server, character_daily_token_budget=one) as llm:
            tiered = TieredPolicy([llm, Rules()], decision_timeout=10)
            again = [(await tiered.decide(perception(n)))[1] for n in (1, 1, 2)]
            assert [t.tier for t in again] == ["llm", "rule", "llm"]
            assert again[1].fallback_reason == f"llm: token budget: {one} tokens a day for a1 spent"
            assert llm.status()["characters_over_budget"] == 2
            assert fallback_kind(again[1].fallback_reason.removeprefix("llm: ")) == "budget"


async def test_a_server_wanting_max_completion_tokens_gets_it() -> None:
    refusal = (
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens'."
    )
    async with ScriptedLlmServer(default=answer(some_model)) as server, llm_at(server) as llm:
        server.script(status(400, message=refusal))
        _, trace = await llm.decide(perception(1))
        await llm.decide(perception(2))
    assert trace.tier == "llm"
    assert ["max_tokens" in r.body for r in server.requests] == [True, False, False]
    assert [r.body.get("max_completion_tokens") for r in server.requests] == [None, 400, 400]


async def test_the_settings_reach_every_request(tmp_path: Path) -> None:
    async with ScriptedLlmServer(default=answer(some_model)) as server:
        settings = SimulatorSettings(
            data_dir=tmp_path,
            llm_base_url=server.base_url,
            llm_model="qwen3:8b",
            llm_temperature="none",
            llm_top_p=0.9,
            llm_seed=11,
            llm_max_tokens=600,
            llm_reasoning_effort="none",
            llm_response_format="json_object",
            llm_extra_body={"options": {"num_ctx": 8192}, "chat_template_kwargs": {"enable_thinking": False}},
            decision_timeout_seconds=7.0,
            llm_queue_timeout_seconds=12.0,
            llm_daily_token_budget=100_000,
        )
        policy = build_policy(settings)
        llm = llm_tier(policy)
        assert llm is not None
        async with llm:
            await policy.decide(perception(1))
    body = server.requests[0].body
    assert "temperature" not in body and (body["top_p"], body["seed"], body["max_tokens"]) == (0.9, 11, 600)
    assert body["reasoning_effort"] == "none" and body["response_format"] == {"type": "json_object"}
    assert body["options"] == {"num_ctx": 8192} and body["chat_template_kwargs"] == {"enable_thinking": False}
    assert (llm.timeout, llm.queue_timeout, llm.budget.daily) == (7.0, 12.0, 100_000)


@pytest.mark.parametrize("mode", ["live", "record"])
async def test_only_a_live_run_gives_up_on_a_slow_answer(tmp_path: Path, mode: str) -> None:
    database = f"sqlite:///{tmp_path / 'sim.db'}"
    upgrade(MIGRATIONS, database)
    async with ScriptedLlmServer(default=answer(some_model), latency=0.5) as server:
        settings = SimulatorSettings(
            data_dir=tmp_path,
            database_url=database,
            llm_base_url=server.base_url,
            llm_model=server.model,
            llm_mode=mode,
            decision_timeout_seconds=0.05,
            llm_queue_timeout_seconds=0.05,
        )
        policy = build_policy(settings, create_session_factory(create_db_engine(database)))
        llm = llm_tier(policy)
        assert llm is not None
        async with llm:
            _, trace = await policy.decide(perception(1))
    if mode == "live":
        assert trace.tier == "rule" and "timeout" in (trace.fallback_reason or "")
    else:  # a recorded run waits: the same answer must come in time when it is replayed
        assert trace.tier == "llm" and trace.fallback_reason is None


@pytest.fixture
async def deepseek() -> AsyncIterator[ScriptedLlmServer]:
    async with ScriptedLlmServer(profile="deepseek") as server:
        yield server


async def test_status_and_metrics_show_the_llm(tmp_path: Path, deepseek: ScriptedLlmServer) -> None:
    settings = SimulatorSettings(
        data_dir=tmp_path / "sim",
        lease_ttl_seconds=2,
        outbox_poll_seconds=0.05,
        lockstep=False,
        llm_base_url=deepseek.base_url,
        llm_model="deepseek-chat",
        llm_character_daily_token_budget=2000,  # the day's plan and a decision or two, then the rules
    )
    app = create_app(settings)

    async def scraped(client: Any) -> dict[str, float]:
        text = (await client.get("/metrics")).text
        return {
            s.name + str(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name.startswith("aic_sim_llm") or s.name.startswith("aic_sim_fallbacks")
        }

    async with serving(app, "http://sim") as client:
        simulation = app.state.simulation
        await wait_for(lambda: simulation.is_leader, timeout=20, what="leadership")
        await simulation.control(SimCommand.step, steps=30)
        llm = simulation.status()["llm"]
        metrics = await scraped(client)
        public = (await client.get("/api/sim/status")).json()["llm"]
        assert "server" not in public and public["model"] == "deepseek-chat", "the server is for operators"

    assert llm["server"] == deepseek.base_url and llm["model"] == "deepseek-chat"
    assert llm["response_format"]["using"] == "json_object"
    assert "unavailable now" in llm["response_format"]["tried"]["json_schema"]
    assert llm["tokens_in"] > 0 and llm["tokens_out"] > 0 and llm["calls"] > 0
    assert llm["character_daily_token_budget"] == 2000 and llm["characters_over_budget"] > 0
    assert llm["fallbacks"]["budget"] > 0 and llm["latency_ms_p50"] is not None

    def metric(name: str, **labels: str) -> float:
        server = (
            {"model": "deepseek-chat", "server": deepseek.base_url} if name.startswith("aic_sim_llm") else {}
        )
        return metrics[name + str(sorted({**server, **labels}.items()))]

    assert metric("aic_sim_llm_tokens_total", direction="in") == llm["tokens_in"]
    assert metric("aic_sim_llm_tokens_total", direction="out") == llm["tokens_out"]
    assert metric("aic_sim_llm_calls_total", outcome="400") == 1  # json_schema, refused once
    assert metric("aic_sim_llm_call_latency_seconds_count") == llm["calls"]
    assert metric("aic_sim_llm_response_format", format="json_object") == 1
    assert metric("aic_sim_llm_tokens_today") == llm["tokens_today"]
    assert metric("aic_sim_fallbacks_total", reason="budget", tier="llm") == llm["fallbacks"]["budget"]


def test_a_servers_credentials_never_show_in_status_or_metrics() -> None:
    llm = LlmPolicy("http://user:s3cret@llm.internal:8000/v1?api-key=k1", "m")
    assert llm.server == "http://llm.internal:8000/v1"
    assert llm.status()["server"] == llm.server
