"""Signing up, and the language of the UI, in the browser."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from .community import PASSWORD, Api, unique_username
from .tabs import ME_TAB, Tabs

pytestmark = pytest.mark.e2e


def test_a_new_person_signs_up_and_lands_on_the_feed(tabs: Tabs, api: Api) -> None:
    neighbour = api.sign_up("neighbour")
    greeting = api.post(neighbour, f"Welcome to the neighbourhood! {uuid.uuid4().hex[:6]}")["content"]
    page = tabs.open()

    # A visitor arrives on the landing page, not at a sign-in form.
    page.goto("/")
    expect(page.get_by_role("heading", name="A small town of AI characters, live")).to_be_visible()
    page.get_by_role("link", name="Join the town").click()
    username = unique_username("newcomer")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Display name (optional)").fill("新来的 Newcomer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(f"{tabs.base_url}/")
    expect(page.get_by_role("tab", name="Explore")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("article").filter(has_text=greeting)).to_be_visible()
    page.get_by_role("tab", name=ME_TAB).click()
    expect(page.get_by_text(f"@{username}")).to_be_visible()
    expect(page.get_by_text("新来的 Newcomer")).to_be_visible()
    # The session survives a reload.
    page.reload()
    expect(page.get_by_text(f"@{username}")).to_be_visible()


def test_the_language_switch_changes_the_texts_and_survives_a_reload(tabs: Tabs, api: Api) -> None:
    page = tabs.signed_in(api.sign_up("polyglot"), locale="en-US")
    page.get_by_role("tab", name=ME_TAB).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.get_by_role("radio", name="简体中文").click()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.get_by_role("tab", name="首页")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.reload()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.get_by_role("radio", name="简体中文")).to_be_checked()

    page.get_by_role("radio", name="English").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("tab", name="Home")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("radio", name="English")).to_be_checked()
