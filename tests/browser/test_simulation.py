"""The AI characters in the browser: a private message answered in character, and the operator console
pausing, stepping (and asking before it stops) and inspecting the simulation, its action log worded in
Chinese, and its society report."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from .community import Account, Api, Simulator
from .tabs import DESKTOP, PHONE, Tabs

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


def decided_with_a_reason(api: Api, admin: Account, simulator: Simulator) -> dict[str, Any]:
    for character in simulator.characters():
        detail = api.client.get(f"/api/sim/agents/{character['id']}", headers=admin.headers)
        assert detail.status_code == 200, detail.text
        if any(action["trace"].get("reason") for action in detail.json()["recent_actions"]):
            return detail.json()
    raise AssertionError("no character has a decision with a reason")


def test_the_operator_pauses_steps_and_inspects_an_agents_decisions(
    tabs: Tabs, api: Api, admin: Account, running_simulation: Simulator
) -> None:
    page = tabs.signed_in(admin, viewport=DESKTOP)
    # On a desktop the places are in the navigation rail, not the phone's tab bar.
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Me", exact=True).click()
    # The Me page's link (an admin's rail has one too).
    page.get_by_role("main").get_by_role("link", name="Operator console").click()
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

    # Paused: resuming is what the main button offers; Stop asks first, and a "no" sends nothing.
    expect(page.get_by_role("button", name="Start", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Resume", exact=True)).to_be_visible()
    page.get_by_role("button", name="Stop", exact=True).click()
    confirm = page.get_by_role("dialog").filter(has_text="Stop the simulation?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Cancel", exact=True).click()
    expect(confirm).to_be_hidden()
    expect(clock).to_contain_text("Paused")
    assert running_simulation.status()["state"] == "paused"

    # A character that has decided something, and why, as the API tells the operator.
    agent = decided_with_a_reason(api, admin, running_simulation)
    characters = page.get_by_role("region", name="Characters")
    characters.get_by_role("button", name=agent["display_name"], exact=True).click()
    expect(characters.get_by_text(f"@{agent['username']}")).to_be_visible()
    expect(characters.get_by_role("term").filter(has_text="Reason").first).to_be_visible()
    expect(characters.locator("[data-test=decision-reason]").first).not_to_be_empty()


def shown_in_chinese(item: Locator) -> str:
    """An entry's words as a Chinese reader sees them: without its time, what the character wrote (in its
    own language) and the rules' own words (shown as written, marked English)."""
    return item.evaluate(
        """item => {
            const copy = item.cloneNode(true)
            copy.querySelectorAll('time, .log__content, [lang="en"]').forEach(node => node.remove())
            return copy.textContent
        }"""
    )


def as_a_word(raw: str) -> re.Pattern[str]:
    """``raw`` standing alone in a text, Chinese letters around it or not ("由rule决定", "对象：11")."""
    return re.compile(rf"(?<![A-Za-z0-9_.]){re.escape(raw)}(?![A-Za-z0-9_.])")


def test_the_chinese_action_log_shows_no_internal_names(
    tabs: Tabs, api: Api, admin: Account, running_simulation: Simulator
) -> None:
    # Paused after a few steps: the log holds still while the page and the API are compared.
    running_simulation.control("pause")
    running_simulation.control("step", steps=10)
    answer = api.client.get("/api/sim/actions", params={"limit": 8}, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    entries = answer.json()["items"]
    assert entries, "the steps decided something"

    page = tabs.signed_in(admin, locale="zh-CN", viewport=PHONE)
    page.goto("/operator")
    items = page.get_by_role("region", name="动作日志").locator("[data-test=log-item]")
    expect(items.nth(len(entries) - 1)).to_be_visible()
    for item, entry in zip(items.all(), entries, strict=False):
        text = shown_in_chinese(item)
        raw = [entry["action"], entry["tier"], "applied", "rejected", "pending", entry["result_detail"]]
        if entry["target_kind"] != "query":  # a search shows the words searched for
            raw.append(entry["target"])
        if entry["reason_code"]:
            raw.append(entry["trace"]["reason"])
        shown = [word for word in raw if word and as_a_word(word).search(text)]
        assert not shown, f"{shown} shown raw in {text!r} (decision {entry['decision']})"
        expect(item.locator("[data-test=log-tier]")).to_have_text(re.compile("^(规则|大模型)$"))
        if entry["trace"].get("reason"):
            expect(item.locator("[data-test=log-reason]")).to_contain_text("理由")


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
