"""Unread messages in the browser: a message raises the Messages tab's badge, not the notifications
one (a message is no notification), and reading the chat clears it."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from .community import Api
from .tabs import ME_TAB, Tabs

pytestmark = pytest.mark.e2e

MESSAGES_TAB = re.compile(r"\bMessages\b")


def test_a_message_raises_the_messages_badge_not_the_notifications_one_and_reading_clears_it(
    tabs: Tabs, api: Api
) -> None:
    reader = api.sign_up("reader")
    sender = api.sign_up("sender", display_name="Mei 发信人")
    page = tabs.signed_in(reader)
    tabs.until_live(page)
    messages_tab = page.get_by_role("tab", name=MESSAGES_TAB)
    me_tab = page.get_by_role("tab", name=ME_TAB)
    expect(messages_tab).not_to_contain_text(re.compile(r"\d"))

    text = f"Are you free for tea? 喝茶吗 {uuid.uuid4().hex[:6]}"
    api.message(sender, reader.username, text)

    # No reload: the badge rises from the live stream; the Me tab and the bell stay quiet.
    expect(messages_tab).to_contain_text("1")
    expect(me_tab).not_to_contain_text(re.compile(r"\d"))
    bell = page.get_by_role("link", name=re.compile("^Notifications"))
    expect(bell).to_have_accessible_name("Notifications")

    messages_tab.click()
    page.get_by_role("link").filter(has_text=text).click()
    expect(page.get_by_text(text)).to_be_visible()
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_role("tab", name=MESSAGES_TAB)).to_be_visible()
    expect(page.get_by_role("tab", name=MESSAGES_TAB)).not_to_contain_text(re.compile(r"\d"))
