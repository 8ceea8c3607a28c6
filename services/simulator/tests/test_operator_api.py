"""The simulator as the World page and the operator console see it: status, the action log's filters,
what only operators may see of the characters (what people wrote to them in private), and a clock that
keeps moving when characters message each other."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from aic_common.db import utc_now
from aic_common.messages import (
    CommandRejected,
    MessageSent,
    PostCreated,
    PostLiked,
    UserRegistered,
    make_envelope,
)
from aic_common.testing import observed_bus, serving, wait_for
from aic_common.tokens import TokenIssuer, TokenVerifier, generate_rsa_private_key_pem
from aic_simulator.app import create_app
from aic_simulator.models import ActionLog, Agent, CommandResult, SeenPost, Stimulus
from aic_simulator.policy import ActionKind, Decision, DecisionTrace, Perception, Policy
from aic_simulator.rules import RulePolicy
from aic_simulator.settings import SimulatorSettings
from aic_simulator.tiers import PolicyError, TieredPolicy

pytestmark = pytest.mark.integration
APPLIED, REJECTED = CommandResult.applied, CommandResult.rejected
ISSUER = TokenIssuer(generate_rsa_private_key_pem(), issuer="aic-auth", audience="aic")
ADMIN = {"Authorization": f"Bearer {ISSUER.issue_access_token('admin-id', username='admin', role='admin')}"}
USER = {"Authorization": f"Bearer {ISSUER.issue_access_token('user-id', username='someone', role='user')}"}


def settings_for(tmp_path: Path, **overrides: Any) -> SimulatorSettings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "sim",
        "bus_namespace": f"t{uuid.uuid4().hex[:8]}",
        "lease_ttl_seconds": 2,
        "outbox_poll_seconds": 0.05,
        # No social service answers here: nothing to wait for between steps.
        "lockstep": False,
    }
    return SimulatorSettings(**{**values, **overrides})


@contextlib.asynccontextmanager
async def simulator(
    settings: SimulatorSettings, *, policy: Policy | None = None, bus: Any = None
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = create_app(settings, policy=policy, shared_bus=bus)
    app.state.token_verifier = TokenVerifier.from_issuer(ISSUER)
    async with serving(app, "http://sim") as client:
        await wait_for(lambda: app.state.simulation.is_leader, timeout=20, what="leadership")
        yield client, app


async def control(client: httpx.AsyncClient, command: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/api/sim/control", json={"command": command, **extra}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


class StubLlm:
    """An LLM tier that answers "rest" and reports 40 or 60 ms in turn, and gives up on one agent."""

    name = "llm"

    def __init__(self, gives_up_on: str) -> None:
        self.gives_up_on = gives_up_on
        self.latencies = itertools.cycle([40.0, 60.0])

    async def decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        if perception.agent_id == self.gives_up_on:
            raise PolicyError("invalid output: stub")
        trace = DecisionTrace(tier=self.name, latency_ms=next(self.latencies))
        return Decision(action=ActionKind.rest, reason="stub rests"), trace


async def test_status_reports_the_policy_and_llm_latency_apart_from_the_rules(tmp_path: Path) -> None:
    policy = TieredPolicy([StubLlm(gives_up_on="chen_mo"), RulePolicy(7)], decision_timeout=5)
    async with simulator(settings_for(tmp_path), policy=policy) as (client, _):
        status = await control(client, "step", steps=30)
        by_tier = status["decisions_by_tier"]
        assert status["policy"] == "llm>rule"
        assert by_tier["llm"] > 0 and by_tier["rule"] > 0
        assert status["fallbacks"] == by_tier["rule"], "every rule decision was a fallback from the LLM"
        # The stub's own 40/60 ms, not the whole decision's time; failed calls count too (and are fast).
        assert status["llm_latency_ms_p95"] == 60.0
        assert 0 < status["llm_latency_ms_p50"] <= 60.0
        assert status["decision_latency_ms_p95"] >= status["decision_latency_ms_p50"] > 0
        assert status["actions_per_minute"] == status["decisions"] > 0 and status["agents"] == 10

    async with simulator(settings_for(tmp_path / "rules")) as (client, _):
        status = await control(client, "step", steps=5)
        assert status["policy"] == "rule"
        assert status["llm_latency_ms_p50"] is None and status["llm_latency_ms_p95"] is None
        assert status["decision_latency_ms_p50"] is not None


def log_row(
    decision: int,
    action: str,
    *,
    command_id: str | None,
    result: CommandResult | None = None,
    detail: str | None = None,
) -> ActionLog:
    at = datetime(2026, 6, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=decision)
    return ActionLog(
        decision=decision,
        step=decision,
        agent_id="lin_xiaoyu",
        sim_time=at,
        ends_at=at + timedelta(minutes=5),
        action=action,
        location_id="cafe",
        tier="rule",
        trace={"reason": "test"},
        outcome="finished",
        command_id=command_id,
        result=result,
        result_detail=detail,
        created_at=at,
    )


async def test_the_action_log_filters_by_what_social_did_with_each_command(tmp_path: Path) -> None:
    async with simulator(settings_for(tmp_path)) as (client, app):
        with app.state.runtime.session_factory.begin() as session:
            session.add_all(
                [
                    log_row(1, "post", command_id="decision-1", result=APPLIED, detail="post.created"),
                    log_row(2, "comment", command_id="decision-2", result=REJECTED, detail="post_not_found"),
                    log_row(3, "like", command_id="decision-3"),
                    log_row(4, "rest", command_id=None),
                    log_row(5, "post", command_id="decision-5", result=APPLIED, detail="post.created"),
                ]
            )

        async def decisions(**query: Any) -> list[int]:
            response = await client.get("/api/sim/actions", params=query, headers=ADMIN)
            assert response.status_code == 200, response.text
            return [item["decision"] for item in response.json()["items"]]

        assert await decisions(result="applied") == [5, 1]
        assert await decisions(result="rejected") == [2]
        assert await decisions(result="pending") == [3], "no command, nothing pending"
        assert await decisions(result="applied", action="comment") == []
        assert await decisions(agent_id="lin_xiaoyu", limit=2) == [5, 4]
        page = (await client.get("/api/sim/actions", params={"limit": 2, "result": "applied"})).json()
        assert page["next_cursor"] is None and len(page["items"]) == 2

        bad = await client.get("/api/sim/actions", params={"result": "maybe"})
        assert bad.status_code == 422

        items = (await client.get("/api/sim/actions", headers=ADMIN)).json()["items"]
        shown = {i["decision"]: (i["result_kind"], i["result_detail"], i["result"]) for i in items}
        assert shown == {
            5: ("applied", "post.created", "applied: post.created"),
            4: (None, None, None),
            3: ("pending", None, None),
            2: ("rejected", "post_not_found", "rejected: post_not_found"),
            1: ("applied", "post.created", "applied: post.created"),
        }


async def test_a_like_or_a_refusal_from_social_gives_the_action_its_result(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    async with (
        observed_bus(settings, "post.liked") as observed,
        simulator(settings, bus=observed.shared) as (client, app),
    ):
        with app.state.runtime.session_factory.begin() as session:
            session.add_all(
                [
                    log_row(1, "like", command_id="decision-1"),
                    log_row(2, "comment", command_id="decision-2"),
                    log_row(3, "post", command_id="decision-3"),  # never answered
                ]
            )
        liked = PostLiked(post_id="7", post_author_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()))
        refused = CommandRejected(
            command_id="c-2",
            command_type="social.command.create_comment",
            actor_id=str(uuid.uuid4()),
            code="post_not_found",
            detail="No such post",
        )
        await observed.bus.publish(make_envelope(liked, "social", "decision-1"))
        await observed.bus.publish(make_envelope(refused, "social", "decision-2"))

        async def results() -> dict[int, str | None]:
            items = (await client.get("/api/sim/actions", headers=ADMIN)).json()["items"]
            return {item["decision"]: item["result"] for item in items if item["decision"] != 3}

        assert await wait_for(lambda: _all_answered(results), timeout=20, what="both actions answered") == {
            1: "applied: post.liked",
            2: "rejected: post_not_found",
        }
        with app.state.runtime.session_factory() as session:
            stored = {r.decision: (r.result, r.result_detail) for r in session.scalars(sa.select(ActionLog))}
        assert stored == {1: (APPLIED, "post.liked"), 2: (REJECTED, "post_not_found"), 3: (None, None)}
        for result, decision in (("applied", 1), ("rejected", 2), ("pending", 3)):
            page = (await client.get("/api/sim/actions", params={"result": result}, headers=ADMIN)).json()
            assert [(i["decision"], i["result_kind"]) for i in page["items"]] == [(decision, result)]
        # Lockstep waits for the commands whose answer has not come.
        commands = ["decision-1", "decision-2", "decision-3"]
        assert app.state.simulation.store.unanswered(commands) == ["decision-3"]


async def _all_answered(results: Any) -> dict[int, str | None] | None:
    found = await results()
    return found if all(found.values()) else None


async def test_what_people_write_to_a_character_in_private_is_for_operators_only(tmp_path: Path) -> None:
    # Slow, so only the message wakes the character.
    settings = settings_for(tmp_path, speed=1)
    async with (
        observed_bus(settings, "sim.action.started") as observed,
        simulator(settings, bus=observed.shared) as (client, app),
    ):
        ai_user = str(uuid.uuid4())
        registered = UserRegistered(
            user_id=ai_user,
            username="ai_lin_xiaoyu",
            display_name="林小雨",
            is_ai=True,
            created_at=datetime.now(UTC),
        )
        await observed.bus.publish(make_envelope(registered, "auth"))
        await wait_for(
            lambda: app.state.simulation.engine.world.agents["lin_xiaoyu"].user_id == ai_user,
            timeout=20,
            what="the character linked to its account",
        )
        await control(client, "start")
        secret = "小雨,我的门禁密码是 4711"
        sent = MessageSent(
            message_id="m-1",
            conversation_id="c-1",
            sender_id=str(uuid.uuid4()),
            sender_username="visitor",
            recipient_id=ai_user,
            recipient_username="ai_lin_xiaoyu",
            content=secret,
            created_at=datetime.now(UTC),
        )
        await observed.bus.publish(make_envelope(sent, "social"))

        def streamed_replies() -> list[dict[str, Any]]:
            return [e.data for e in observed.events if e.data["action"] == "reply"]

        reply = (await wait_for(streamed_replies, timeout=30, what="the reply's public event"))[0]
        await control(client, "pause")
        assert reply["summary"] == "sent a message" and reply["agent_id"] == "lin_xiaoyu"

        query = {"agent_id": "lin_xiaoyu", "action": "reply"}
        as_operator = (await client.get("/api/sim/actions", params=query, headers=ADMIN)).json()["items"]
        assert as_operator[0]["content"] and as_operator[0]["trace"]["reason"]
        assert as_operator[0]["trace"]["recipient"], "operators see whom it answered"
        for headers in ({}, USER):
            public = (await client.get("/api/sim/actions", params=query, headers=headers)).json()["items"]
            assert public[0]["id"] == as_operator[0]["id"]
            assert public[0]["content"] is None and public[0]["target"] is None and public[0]["trace"] == {}

            detail = (await client.get("/api/sim/agents/lin_xiaoyu", headers=headers)).json()
            assert detail["memories"] == [] and detail["relationships"] == []
            assert "4711" not in str(detail) and detail["persona"]["summary"]

        detail = (await client.get("/api/sim/agents/lin_xiaoyu", headers=ADMIN)).json()
        assert any("4711" in memory["content"] for memory in detail["memories"])
        assert detail["relationships"] and detail["recent_actions"][0]["trace"]


async def test_a_person_wakes_a_character_at_once_while_another_character_waits_its_turn(
    tmp_path: Path,
) -> None:
    async with simulator(settings_for(tmp_path)) as (_, app):
        world = app.state.simulation.engine.world
        accounts = {"lin_xiaoyu": str(uuid.uuid4()), "chen_mo": str(uuid.uuid4())}
        with app.state.runtime.session_factory.begin() as session:
            for agent_id, user_id in accounts.items():
                session.get(Agent, agent_id).user_id = user_id
        await wait_for(
            lambda: all(world.agents[a].user_id == u for a, u in accounts.items()),
            timeout=20,
            what="the characters linked to their accounts",
        )
        later = world.agents["lin_xiaoyu"].next_wake_at + timedelta(hours=1)
        for agent_id in accounts:
            world.schedule(world.agents[agent_id], later)

        def message(to: str, sender_id: str, sender: str) -> Stimulus:
            return Stimulus(
                agent_id=to,
                kind="message",
                ref_id=str(uuid.uuid4()),
                post_id=None,
                from_user_id=sender_id,
                from_username=sender,
                content="hello",
                handled=False,
                received_at=utc_now(),
            )

        with app.state.runtime.session_factory.begin() as session:
            session.add(message("lin_xiaoyu", str(uuid.uuid4()), "visitor"))
            session.add(message("chen_mo", accounts["lin_xiaoyu"], "ai_lin_xiaoyu"))
        await wait_for(
            lambda: all(world.agents[a].stimuli for a in accounts), timeout=20, what="the messages perceived"
        )
        assert world.agents["lin_xiaoyu"].next_wake_at == world.sim_time, "a person gets an answer now"
        assert world.agents["chen_mo"].next_wake_at == later, "a character's message waits for its turn"


async def test_characters_see_each_post_once_and_a_mention_wakes_the_one_named(
    tmp_path: Path, database_url: str
) -> None:
    async with simulator(settings_for(tmp_path, database_url=database_url)) as (_, app):
        runtime = app.state.runtime
        xiaoyu_account = str(uuid.uuid4())
        with runtime.session_factory.begin() as session:
            session.get(Agent, "lin_xiaoyu").user_id = xiaoyu_account
            username = session.get(Agent, "lin_xiaoyu").username

        def post(post_id: str, content: str, mentions: list[str]) -> PostCreated:
            return PostCreated(
                post_id=post_id,
                author_id=str(uuid.uuid4()),
                author_username="visitor",
                content=content,
                mentions=mentions,
                created_at=datetime.now(UTC),
            )

        mention = post("101", f"@{username.upper()} 晚上一起去码头吗?", [username.lower()])
        # The same post twice (as two events), and another post that names nobody.
        for data in (mention, mention, post("102", "今天的风很大", [])):
            await runtime.bus.publish(make_envelope(data, "social"))

        def seen() -> list[tuple[str, str]]:
            with runtime.session_factory() as session:
                return [
                    (row.post_id, row.content)
                    for row in session.scalars(sa.select(SeenPost).order_by(SeenPost.post_id))
                ]

        rows = await wait_for(lambda: len(seen()) == 2 and seen(), timeout=20, what="both posts seen")
        assert rows == [("101", mention.content), ("102", "今天的风很大")]
        with runtime.session_factory() as session:
            woken = session.scalars(sa.select(Stimulus).where(Stimulus.kind == "mention")).all()
        assert woken and {s.agent_id for s in woken} == {"lin_xiaoyu"}
        assert {s.post_id for s in woken} == {"101"}


async def test_a_new_speed_takes_effect_at_once_and_the_report_is_not_a_control_command(
    tmp_path: Path,
) -> None:
    # At one simulated second a second, a step of up to 15 simulated minutes is a long wait.
    async with simulator(settings_for(tmp_path, speed=1)) as (client, _):
        started = await control(client, "start")

        async def stepped() -> bool:
            return (await client.get("/api/sim/status")).json()["steps"] >= 1

        await wait_for(stepped, timeout=20, what="a first step, then the wait for the next")
        await control(client, "set_speed", speed=10_000)

        async def an_hour_later() -> bool:
            status = (await client.get("/api/sim/status")).json()
            return datetime.fromisoformat(status["sim_time"]) >= datetime.fromisoformat(
                started["sim_time"]
            ) + timedelta(hours=1)

        await wait_for(an_hour_later, timeout=20, what="the clock to run at the new speed")
        refused = await client.post("/api/sim/control", json={"command": "report"}, headers=ADMIN)
        assert refused.status_code == 400 and refused.json()["code"] == "not_a_control_command"
        await control(client, "pause")


async def test_anyone_reads_a_characters_transcript_of_talk_in_person_and_never_its_messages(
    tmp_path: Path,
) -> None:
    """GET /api/sim/agents/{id}/transcript: public, paged, bounded; a line written in private is absent."""
    secret = "私信里的密码 5150"
    async with simulator(settings_for(tmp_path)) as (client, app):
        await control(client, "pause")
        at = datetime(2026, 6, 1, 9, 0)

        def row(decision: int, action: str, content: str, **trace: Any) -> ActionLog:
            return ActionLog(
                decision=1_000_000 + decision, step=0, agent_id="lin_xiaoyu", sim_time=at, ends_at=at,
                action=action, target=None, content=content, location_id="cafe", tier="rule",
                trace=trace, outcome="finished", created_at=at,
            )  # fmt: skip

        with app.state.runtime.session_factory.begin() as session:
            session.add_all(
                [
                    row(1, "talk", "你好呀", channel="talk", conversation="c900", recipient="chen_mo"),
                    row(2, "message", secret, channel="dm", conversation="c901", recipient="user-x"),
                    row(3, "goodbye", secret, channel="dm", conversation="c901", recipient="user-x"),
                ]
            )
        response = await client.get("/api/sim/agents/lin_xiaoyu/transcript", params={"limit": 100})
        assert response.status_code == 200, response.text
        body = response.json()
        assert "你好呀" in [item["text"] for item in body["items"]]
        assert secret not in response.text
        assert (await client.get("/api/sim/agents/nobody/transcript")).status_code == 404
        too_many = await client.get("/api/sim/agents/lin_xiaoyu/transcript", params={"limit": 101})
        assert too_many.status_code == 422
