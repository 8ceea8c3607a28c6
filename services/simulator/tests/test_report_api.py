"""The society report as operators get it: GET /api/sim/report (admins only) and ``aic sim report`` over
the broker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aic_common.bus.rabbit import RabbitBus
from aic_common.messages import SimCommand, SimControl
from aic_common.testing import app_lifespan, serving, wait_for
from aic_common.tokens import TokenIssuer, TokenVerifier, generate_rsa_private_key_pem
from aic_simulator.app import create_app
from aic_simulator.cli import parse, render_report, to_message
from aic_simulator.models import ActionLog
from aic_simulator.settings import SimulatorSettings

pytestmark = pytest.mark.integration
ISSUER = TokenIssuer(generate_rsa_private_key_pem(), issuer="aic-auth", audience="aic")
ADMIN = {"Authorization": f"Bearer {ISSUER.issue_access_token('admin-id', username='admin', role='admin')}"}
USER = {"Authorization": f"Bearer {ISSUER.issue_access_token('user-id', username='someone', role='user')}"}
KEYS = {
    "window",
    "decisions",
    "decisions_by_kind",
    "ai_messages",
    "texts",
    "contradictions",
    "pictures",
    "questions",
    "nested_reflections",
    "private_leaks",
    "goals",
}


def settings_for(tmp_path: Path, **overrides: Any) -> SimulatorSettings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "sim",
        "bus_namespace": f"t{uuid.uuid4().hex[:8]}",
        "lease_ttl_seconds": 2,
        "outbox_poll_seconds": 0.05,
    }
    return SimulatorSettings(**{**values, **overrides})


async def test_operators_get_the_report_of_the_run_and_nobody_else(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path))
    app.state.token_verifier = TokenVerifier.from_issuer(ISSUER)
    async with serving(app, "http://sim") as client:
        await wait_for(lambda: app.state.simulation.is_leader, timeout=20, what="leadership")
        stepped = await client.post("/api/sim/control", json={"command": "step", "steps": 40}, headers=ADMIN)
        assert stepped.status_code == 200, stepped.text
        clock = stepped.json()["sim_time"]

        assert (await client.get("/api/sim/report")).status_code == 401
        assert (await client.get("/api/sim/report", headers=USER)).status_code == 403

        response = await client.get("/api/sim/report", headers=ADMIN)
        assert response.status_code == 200, response.text
        report = response.json()
        assert set(report) == KEYS
        assert report["window"]["until"] == clock and report["window"]["sim_hours"] == 24.0
        with app.state.runtime.session_factory() as session:
            logged = session.scalar(sa.select(sa.func.count()).select_from(ActionLog))
        assert report["decisions"] == logged > 0, "the first 24 hours: every decision of the run"
        assert sum(report["decisions_by_kind"].values()) == logged
        assert report["goals"][0]["name"] == "AI-to-AI messages share of decisions"

        # A window given with a zone is read in UTC; one before the run holds nothing.
        start = app.state.simulation.settings.sim_start
        window = {"since": f"{start.date()}T09:00:00+02:00", "until": f"{start.date()}T07:30:00Z"}
        narrow = (await client.get("/api/sim/report", params=window, headers=ADMIN)).json()
        assert (
            narrow["window"]["since"] == f"{start.date()}T07:00:00" and narrow["window"]["sim_hours"] == 0.5
        )
        assert 0 < narrow["decisions"] < report["decisions"]
        before = {"since": "2020-01-01T00:00:00", "until": "2020-01-02T00:00:00"}
        assert (await client.get("/api/sim/report", params=before, headers=ADMIN)).json()["decisions"] == 0

        backwards = {"since": "2026-06-02T00:00:00", "until": "2026-06-01T00:00:00"}
        refused = await client.get("/api/sim/report", params=backwards, headers=ADMIN)
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_window"


def test_the_cli_asks_for_a_report_over_a_window() -> None:
    message = to_message(
        parse(["sim", "report", "--since", "2026-06-01T07:00", "--until", "2026-06-01T19:00"])
    )
    assert message == SimControl(
        command=SimCommand.report,
        since="2026-06-01T07:00:00",
        until="2026-06-01T19:00:00",
    )
    assert to_message(parse(["sim", "report"])) == SimControl(command=SimCommand.report)


async def test_aic_sim_report_over_the_broker(tmp_path: Path, rabbitmq_url: str, bus_namespace: str) -> None:
    settings = settings_for(tmp_path, broker_url=rabbitmq_url, bus_namespace=bus_namespace)
    app = create_app(settings)
    try:
        async with app_lifespan(app):
            await wait_for(lambda: app.state.simulation.is_leader, timeout=20, what="leadership")
            await app.state.simulation.control(SimCommand.step, steps=30)
            env = {**os.environ, "AIC_BROKER_URL": rabbitmq_url, "AIC_BUS_NAMESPACE": bus_namespace}

            def cli(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run(
                    [sys.executable, "-m", "aic_simulator.cli", "sim", "report", *args],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )

            raw = await asyncio.to_thread(cli, "--json")
            assert raw.returncode == 0, raw.stderr
            reply = json.loads(raw.stdout)
            assert reply["ok"] is True and set(reply["report"]) == KEYS
            report = reply["report"]
            assert report["decisions"] == app.state.simulation.engine.world.decisions > 0

            text = await asyncio.to_thread(cli, "--since", "2026-06-01T07:00", "--until", "2026-06-01T08:00")
            assert text.returncode == 0, text.stderr
            assert text.stdout.startswith(
                "Society report: 2026-06-01T07:00:00 to 2026-06-01T08:00:00 (1 simulated"
            )
            assert "Goals: " in text.stdout and "(goal <= 0.25)" in text.stdout
    finally:
        if isinstance(app.state.runtime.bus, RabbitBus):
            await app.state.runtime.bus.delete_topology()


def test_the_printed_report_says_which_goals_are_met() -> None:
    report = {
        "window": {"since": "2026-06-01T07:00:00", "until": "2026-06-02T07:00:00", "sim_hours": 24.0},
        "decisions": 3,
        "decisions_by_kind": {"post": 2, "rest": 1, "talk": 0},
        "ai_messages": {
            "count": 1,
            "share_of_decisions": 0.333,
            "in_sleep_hours": 1,
            "busiest_pair": {"a": "林小雨", "b": "陈默", "messages": 1},
            "longest_exchange": None,
        },
        "texts": {
            "all": {"count": 2, "distinct": 1.0, "distinct_masked": 0.5},
            "by_kind": {"post": {"count": 2, "distinct": 1.0, "distinct_masked": 0.5}},
        },
        "contradictions": {
            "count": 1,
            "examples": [
                {
                    "decision": 2,
                    "sim_time": "2026-06-01T22:00:00",
                    "agent": "林小雨",
                    "content": "阳光正好",
                    "why": "daylight word “阳光” at 22:00",
                }
            ],
        },
        "questions": {
            "count": 0,
            "answered": 0,
            "answered_within_30s": 0,
            "on_topic": 0,
            "on_topic_share": None,
        },
        "nested_reflections": 0,
        "private_leaks": {"count": 0, "examples": []},
        "goals": [
            {"name": "AI-to-AI messages in sleep hours", "value": 1, "target": "0", "met": False},
            {"name": "distinct texts", "value": 1.0, "target": ">= 0.80", "met": True},
            {"name": "questions answered on topic", "value": None, "target": ">= 0.60", "met": None},
        ],
    }
    lines = render_report(report).splitlines()
    assert lines[2] == "Goals: 1 of 3 met"
    assert lines[3].split() == [
        "NOT",
        "MET",
        "AI-to-AI",
        "messages",
        "in",
        "sleep",
        "hours",
        "1",
        "(goal",
        "0)",
    ]
    assert lines[4].startswith("  met ") and lines[5].startswith("  n/a ") and "–" in lines[5]
    text = "\n".join(lines)
    assert "Decisions: 3 (post 2, rest 1)" in text and "busiest pair: 林小雨 & 陈默, 1 messages" in text
    assert "longest exchange: none" in text and "daylight word" in text
