"""A character's repost on the World page: the activity line says who reposted whose post, with the
quote, in the chosen language only. At 390x844 in Chinese and 1440x900 in English, with axe-core finding
nothing serious or critical."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import ViewportSize, expect

from .axe import axe_violations, blocking, describe
from .community import Api, Simulator, wait_until
from .tabs import PHONE, Tabs

pytestmark = pytest.mark.e2e

WIDE: ViewportSize = {"width": 1440, "height": 900}
TICKER_LIMIT = 30  # the activity lines the page loads (stores/sim.ts)


def a_recent_repost(api: Api, simulator: Simulator) -> dict[str, Any] | None:
    """A repost among the actions the page shows (with the author's name), else step the paused town."""
    answer = api.client.get("/api/sim/actions", params={"limit": TICKER_LIMIT})
    assert answer.status_code == 200, answer.text
    found = [a for a in answer.json()["items"] if a["action"] == "repost" and a.get("target_name")]
    if found:
        return found[0]
    simulator.control("step", steps=4)
    return None


@pytest.mark.parametrize(
    ("viewport", "locale"), [(PHONE, "zh-CN"), (WIDE, "en-US")], ids=["phone-zh", "desktop-en"]
)
def test_the_activity_lines_say_who_reposted_whose_post(
    tabs: Tabs, api: Api, simulator: Simulator, viewport: ViewportSize, locale: str
) -> None:
    zh = locale.startswith("zh")
    characters = {c["id"]: c for c in simulator.characters()}
    simulator.control("pause")  # the town holds still while the page and the API are compared
    repost = wait_until(lambda: a_recent_repost(api, simulator), timeout=900, interval=0, what="a repost")
    name, author, quote = (
        characters[repost["agent_id"]]["display_name"],
        repost["target_name"],
        repost["content"],
    )
    page = tabs.open(locale=locale, viewport=viewport)
    page.goto("/world")
    if zh:
        words = f"{name} 转发了 {author} 的动态" + (f"：“{quote}”" if quote else "")
    else:
        words = f"{name} reposted {author}’s post" + (f": “{quote}”" if quote else "")
    line = page.locator("[data-test=ticker-line]").filter(has_text=words).first
    expect(line).to_be_visible()
    text = line.inner_text()
    assert ("reposted" in text) != zh, text  # one language only
    found = axe_violations(page)
    assert not blocking(found), f"axe-core on the World page:\n{describe(found)}"
    assert not tabs.page_errors, tabs.page_errors
