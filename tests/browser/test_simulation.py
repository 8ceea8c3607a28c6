"""The AI characters in the browser: a private message answered in character, and the operator console
pausing, stepping and inspecting the simulation and reading its society report."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from .community import Account, Api, Simulator
from .tabs import DESKTOP, ME_TAB, Tabs

pytestmark = pytest.mark.e2e

# At the default speed a person gets an answer within 30 s of wall time; the browser adds a little.
REPLY_TIMEOUT_MS = 45_000
# How the console marks a goal of the society report, by its "met".
GOAL_MARKS = {True: "✓ Met", False: "✗ Not met", None: "– No data"}


@pytest.fixture
def running_simulation(simulator: Simulator) -> Iterator[Simulator]:
    """The simulation running, its characters with accounts; paused again afterwards."""
    simulator.characters()
    simulator.control("start")
    try:
        yield simulator
    finally:
        simulator.control("pause")


def test_an_ai_character_answers_a_message_in_character_without_a_reload(
    tabs: Tabs, api: Api, running_simulation: Simulator
) -> None:
    # The barista is up from 06:00: awake when the simulation starts at 07:00.
    character = next(c for c in running_simulation.characters() if c["username"] == "ai_lin_xiaoyu")
    person = api.sign_up("visitor", display_name="小访客")
    page = tabs.signed_in(person)
    tabs.until_live(page)

    page.goto(f"/users/{character['username']}")
    expect(page.get_by_text(character["display_name"]).first).to_be_visible()
    page.get_by_role("link", name="Message", exact=True).or_(
        page.get_by_role("button", name="Message", exact=True)
    ).click()
    expect(page).to_have_url(re.compile(rf"/messages/{character['username']}$"))
    page.get_by_role("textbox", name="Message").fill("你好！今天咖啡馆人多吗？")
    page.get_by_role("button", name="Send", exact=True).click()

    history = page.get_by_role("list", name=f"Messages with {character['display_name']}")
    expect(history.get_by_role("listitem").filter(has_text="今天咖啡馆人多吗")).to_be_visible()
    # Their messages start with "<name>:" for screen readers; a first meeting reads as one, and a person
    # is never called by their username.
    answer = history.get_by_role("listitem").filter(has_text=f"{character['display_name']}:")
    expect(answer.first).to_contain_text(character["display_name"], timeout=REPLY_TIMEOUT_MS)
    expect(answer.first).not_to_contain_text(person.username)


def decided_with_a_reason(api: Api, admin: Account, simulator: Simulator) -> tuple[dict[str, Any], str]:
    for character in simulator.characters():
        detail = api.client.get(f"/api/sim/agents/{character['id']}", headers=admin.headers)
        assert detail.status_code == 200, detail.text
        reasons = [action["trace"].get("reason") for action in detail.json()["recent_actions"]]
        if any(reasons):
            return detail.json(), next(reason for reason in reasons if reason)
    raise AssertionError("no character has a decision with a reason")


def test_the_operator_pauses_steps_and_inspects_an_agents_decisions(
    tabs: Tabs, api: Api, admin: Account, running_simulation: Simulator
) -> None:
    page = tabs.signed_in(admin, viewport=DESKTOP)
    page.get_by_role("tab", name=ME_TAB).click()
    page.get_by_role("link", name="Operator console").click()
    expect(page.get_by_role("heading", name="Operator console")).to_be_visible()
    clock = page.get_by_role("group", name="Simulated time")
    expect(clock).to_contain_text("Running")

    page.get_by_role("button", name="Pause", exact=True).click()
    expect(clock).to_contain_text("Paused")
    sim_time = clock.locator("time")
    paused_at = sim_time.get_attribute("datetime")
    assert paused_at
    page.get_by_role("textbox", name="Steps").fill("20")
    page.get_by_role("button", name="Step", exact=True).click()
    expect(sim_time).not_to_have_attribute("datetime", paused_at)
    stepped_to = sim_time.get_attribute("datetime")
    assert stepped_to and datetime.fromisoformat(stepped_to) > datetime.fromisoformat(paused_at)
    expect(clock).to_contain_text("Paused")

    # A character that has decided something, and why, as the API tells the operator.
    agent, reason = decided_with_a_reason(api, admin, running_simulation)
    characters = page.get_by_role("region", name="Characters")
    characters.get_by_role("button", name=agent["display_name"], exact=True).click()
    expect(characters.get_by_text(f"@{agent['username']}")).to_be_visible()
    expect(characters.get_by_role("term").filter(has_text="Reason").first).to_be_visible()
    expect(characters.get_by_role("definition").filter(has_text=reason).first).to_be_visible()


def test_the_operator_reads_the_society_reports_goals(
    tabs: Tabs, api: Api, admin: Account, running_simulation: Simulator
) -> None:
    # Paused after a few steps: the report holds still while the page and the API are compared.
    running_simulation.control("pause")
    running_simulation.control("step", steps=10)
    answer = api.client.get("/api/sim/report", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["decisions"] > 0 and report["goals"], report

    page = tabs.signed_in(admin, viewport=DESKTOP)
    page.goto("/operator")
    report_panel = page.get_by_role("region", name="Society report")
    met = sum(goal["met"] is True for goal in report["goals"])
    goals = report_panel.get_by_role("list", name=f"Goals {met} of {len(report['goals'])} met", exact=True)
    expect(goals).to_be_visible()
    items = goals.get_by_role("listitem")
    expect(items).to_have_count(len(report["goals"]))
    for item, goal in zip(items.all(), report["goals"], strict=True):
        # Met or not (or not measurable in the window) is said in words too, not by colour alone.
        expect(item.locator("[data-test=goal-mark]")).to_have_text(GOAL_MARKS[goal["met"]])
        expect(item).to_contain_text(f"Target {goal['target']}")
