"""A character's photo in the browser: on the post's page it loads like a person's and opens full size,
and the operator's inspector shows how it was made (backend, seed, the description). At 390x844 in
Chinese and 1440x900 in English, with axe-core finding nothing serious or critical."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, ViewportSize, expect

from .axe import axe_violations, blocking, describe
from .community import Account, Api, Simulator, wait_until
from .tabs import PHONE, Tabs

pytestmark = pytest.mark.e2e

WIDE: ViewportSize = {"width": 1440, "height": 900}


def a_recent_picture(api: Api, admin: Account, simulator: Simulator) -> dict[str, Any] | None:
    """A post decision whose picture is attached and still among its character's last decisions (those
    the inspector lists), else the paused town lives on a little."""
    answer = api.client.get("/api/sim/actions", params={"action": "post", "limit": 50}, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    for action in answer.json()["items"]:
        if (action["trace"].get("picture") or {}).get("status") != "attached":
            continue
        agent = api.client.get(f"/api/sim/agents/{action['agent_id']}", headers=admin.headers).json()
        if any(recent["decision"] == action["decision"] for recent in agent["recent_actions"]):
            return {**action, "agent": agent}
    simulator.control("step", steps=10)
    return None


def loaded(image: Locator) -> int:
    """The image element holds a decoded picture (not a broken one): its natural width. Scrolled to first,
    as a reader would: a lazy image below the fold is not fetched until then."""
    expect(image).to_be_visible()
    image.scroll_into_view_if_needed()
    return wait_until(
        lambda: image.evaluate("img => img.complete ? img.naturalWidth : 0"),
        timeout=30,
        what="the picture to load",
    )


@pytest.mark.parametrize(
    ("viewport", "locale"), [(PHONE, "zh-CN"), (WIDE, "en-US")], ids=["phone-zh", "desktop-en"]
)
def test_an_ai_post_shows_its_picture_and_the_console_how_it_was_made(
    tabs: Tabs, api: Api, admin: Account, simulator: Simulator, viewport: ViewportSize, locale: str
) -> None:
    zh = locale == "zh-CN"
    simulator.control("pause")  # the town holds still while the page and the API are compared
    action = wait_until(
        lambda: a_recent_picture(api, admin, simulator), timeout=600, interval=0, what="an AI photo"
    )
    picture = action["trace"]["picture"]
    file_id = picture["file_id"]

    def the_post() -> dict[str, Any] | None:
        """The character's post with the picture, once social has applied it (newest first)."""
        answer = api.client.get(f"/api/users/{action['agent']['username']}/posts", params={"limit": 50})
        assert answer.status_code == 200, answer.text
        return next((p for p in answer.json()["items"] if any(i["id"] == file_id for i in p["images"])), None)

    post = wait_until(the_post, timeout=30, what="the post with its picture in social")
    assert post["author"]["is_ai"] and post["content"] == action["content"]

    # A reader sees it on the post's page, like a person's photo, and opens it full size.
    page = tabs.open(locale=locale, viewport=viewport)
    page.goto(f"/posts/{post['id']}")
    shown = page.locator("article").first.locator(f"img[src*='{file_id}']").first
    assert loaded(shown) > 0
    violations = axe_violations(page)
    assert not blocking(violations), f"axe-core on an AI post's picture:\n{describe(violations)}"
    shown.click()
    full = page.get_by_role("dialog").locator(f"img[src*='{file_id}']").first
    assert loaded(full) >= loaded(shown)

    # The operator sees how it was made in the character's inspector.
    console = tabs.signed_in(admin, locale=locale, viewport=viewport)
    console.goto("/operator")
    characters = console.get_by_role("region", name="角色" if zh else "Characters")
    characters.get_by_role("button", name=action["agent"]["display_name"], exact=True).click()
    made = characters.locator("[data-test=decision-picture]").filter(has_text=str(picture["seed"])).first
    expect(made).to_contain_text(picture["prompt"])
    expect(made).to_contain_text("内置渲染器" if zh else "Built-in renderer")
    assert loaded(made.locator(f"img[src*='{file_id}']")) > 0
    violations = axe_violations(console)
    assert not blocking(violations), f"axe-core on the inspector's picture:\n{describe(violations)}"
