"""The desktop layout from 1,000 px: a navigation rail instead of the tab bar, a right column with the town
now and the events to come, nothing under a fixed element, sheets as side panels; phones as before."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from .axe import axe_violations, blocking, describe
from .community import Account, Api, Simulator, png_bytes
from .tabs import PHONE, Tabs

pytestmark = pytest.mark.e2e

WIDE: ViewportSize = {"width": 1440, "height": 900}
RAIL = {"en-US": "Main navigation", "zh-CN": "主导航"}
SIDE_COLUMN = {"en-US": "Around town", "zh-CN": "小镇动态"}

# Every visible position:fixed element whose box overlaps the given one (the tab bar, a composer bar...);
# toasts (the "Welcome" after signing in) pass over everything for a moment by design.
FIXED_OVER = """(box) => [...document.querySelectorAll('body *')].filter((el) => {
  if (el.closest('.van-toast')) return false
  const style = getComputedStyle(el)
  if (style.position !== 'fixed' || style.visibility === 'hidden' || style.display === 'none') return false
  const r = el.getBoundingClientRect()
  if (!r.width || !r.height) return false
  return r.left < box.x + box.width && box.x < r.right && r.top < box.y + box.height && box.y < r.bottom
}).map((el) => `${el.className || el.tagName}: ${el.textContent.trim().slice(0, 80)}`)"""


def fixed_elements_over(page: Page, target: Locator) -> list[str]:
    box = target.bounding_box()
    assert box, "the element has no box"
    return page.evaluate(FIXED_OVER, box)


def assert_axe_clean(page: Page, where: str) -> None:
    found = axe_violations(page)
    assert not blocking(found), f"axe-core on {where}:\n{describe(found)}"


def last_feed_item_uncovered(page: Page) -> None:
    """Scrolled to the end of the feed, its last post is on screen and under no fixed element."""
    cards = page.locator("[data-test=post-card], article.post-card")
    expect(cards.first).to_be_visible()
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    last = cards.last
    last.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    box = last.bounding_box()
    viewport = page.viewport_size
    assert box and viewport
    assert box["y"] + box["height"] <= viewport["height"] + 0.5, box
    assert fixed_elements_over(page, last) == []


@pytest.fixture(scope="module")
def town(api: Api, simulator: Simulator, admin: Account) -> dict[str, Any]:
    """A person with a post with a picture, and an event coming up in the town."""
    person = api.sign_up("deskperson", display_name="Desk 桌面")
    image = api.upload_png(person, png_bytes(800, 500, (60, 140, 90)))
    post = api.post(person, f"Desktop morning {uuid.uuid4().hex[:6]}", [image])
    event = api.client.post(
        "/api/sim/events",
        json={"title": f"Lantern walk {uuid.uuid4().hex[:4]}", "starts_in_minutes": 600},
        headers=admin.headers,
    )
    assert event.status_code in (200, 201), event.text
    return {"person": person, "post": post, "character": simulator.characters()[0]}


def test_on_a_desktop_a_rail_and_a_right_column_and_nothing_covered(tabs: Tabs, town: dict[str, Any]) -> None:
    page = tabs.signed_in(town["person"], viewport=WIDE)
    rail = page.get_by_role("navigation", name=RAIL["en-US"])
    expect(rail).to_be_visible()
    expect(page.locator(".van-tabbar")).to_have_count(0)
    home = rail.get_by_role("link", name="Home", exact=True)
    expect(home).to_have_attribute("aria-current", "page")
    for name in ("World", "Post", "Messages", "Notifications", "Me"):
        expect(rail.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(rail.get_by_role("link", name="Operator console")).to_have_count(0)

    side = page.get_by_role("complementary", name=SIDE_COLUMN["en-US"])
    expect(side).to_be_visible()
    expect(side.get_by_role("heading", name="Now in town")).to_be_visible()
    expect(side.locator("[data-test=right-column-clock]")).to_have_text(re.compile(r"\d\d:\d\d"))
    expect(side.get_by_role("heading", name="Who to follow")).to_be_visible()
    expect(side.locator("[data-test=suggested-account]").first).to_be_visible()
    expect(side.get_by_role("heading", name="Upcoming events")).to_be_visible()
    expect(side.locator("[data-test=right-column-event]").first).to_be_visible()

    # The column sits between the rail and the right column, side by side, none over another.
    main = page.locator(".app-layout__main")
    rail_box, main_box, side_box = rail.bounding_box(), main.bounding_box(), side.bounding_box()
    assert rail_box and main_box and side_box
    assert rail_box["x"] + rail_box["width"] <= main_box["x"] + 0.5
    assert main_box["x"] + main_box["width"] <= side_box["x"] + 0.5
    assert 600 <= main_box["width"] <= 680, main_box
    assert side_box["x"] + side_box["width"] <= WIDE["width"]

    expect(page.get_by_text(town["post"]["content"])).to_be_visible()
    # A single picture as wide as it can be in the column (it is 800 px wide), not a 240 px square.
    picture = page.get_by_role("button", name=re.compile("^View image 1")).first
    expect(picture).to_be_visible()
    page.wait_for_function("() => [...document.images].every((img) => img.complete)")
    picture_box = picture.bounding_box()
    assert picture_box and picture_box["width"] > 400, picture_box
    last_feed_item_uncovered(page)
    assert_axe_clean(page, "the feed at 1440x900")

    # The World uses all the width right of the rail: no right column, its map under nothing fixed.
    rail.get_by_role("link", name="World", exact=True).click()
    expect(rail.get_by_role("link", name="World", exact=True)).to_have_attribute("aria-current", "page")
    world_map = page.locator(".world-map").first
    expect(world_map).to_be_visible()
    expect(page.get_by_role("complementary", name=SIDE_COLUMN["en-US"])).to_have_count(0)
    map_box, rail_box = world_map.bounding_box(), rail.bounding_box()
    assert map_box and rail_box and map_box["x"] >= rail_box["x"] + rail_box["width"] - 0.5
    assert map_box["x"] + map_box["width"] <= WIDE["width"], map_box
    assert map_box["width"] > 640, map_box
    assert fixed_elements_over(page, world_map) == []
    assert_axe_clean(page, "the World at 1440x900")

    # A character's sheet opens as a panel on the right, not across the whole window.
    character = town["character"]
    page.get_by_role("button", name=character["display_name"], exact=True).first.click()
    sheet = page.locator("[data-test=agent-sheet]")
    expect(sheet).to_be_visible()
    panel = page.locator(".van-popup").filter(has=sheet)
    expect(panel).to_have_class(re.compile(r"\bvan-popup--right\b"))
    page.wait_for_function(
        "() => { const p = document.querySelector('.van-popup--right'); if (!p) return false;"
        " const r = p.getBoundingClientRect(); return Math.abs(r.right - window.innerWidth) < 1 }"
    )
    panel_box = panel.bounding_box()
    assert panel_box and panel_box["width"] <= 480, panel_box
    assert abs(panel_box["x"] + panel_box["width"] - WIDE["width"]) < 1, panel_box
    assert panel_box["height"] >= WIDE["height"] - 1, panel_box
    assert_axe_clean(page, "the character panel at 1440x900")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()


def test_a_small_choice_is_a_dialog_in_the_middle_on_a_desktop_and_a_sheet_on_a_phone(
    tabs: Tabs, api: Api, town: dict[str, Any]
) -> None:
    reader = api.sign_up("deskreader")
    page = tabs.signed_in(reader, viewport=WIDE)
    page.goto(f"/posts/{town['post']['id']}")
    page.get_by_role("button", name="Report", exact=True).click()
    choices = page.locator(".van-action-sheet")
    expect(choices.get_by_text("Why are you reporting this post?")).to_be_visible()
    # Centred once its opening transition is over, and no wider than a dialog.
    page.wait_for_function(
        "() => { const r = document.querySelector('.van-action-sheet').getBoundingClientRect();"
        " return Math.abs(r.left + r.width / 2 - innerWidth / 2) < 1"
        " && Math.abs(r.top + r.height / 2 - innerHeight / 2) < 1 }"
    )
    box = choices.bounding_box()
    assert box and box["width"] <= 420, box
    assert_axe_clean(page, "the report choices at 1440x900")

    # On a phone the same choices are a sheet at the bottom, as before.
    phone = tabs.signed_in(reader, locale="zh-CN", viewport=PHONE)
    phone.goto(f"/posts/{town['post']['id']}")
    phone.get_by_role("button", name="举报", exact=True).click()
    sheet = phone.locator(".van-action-sheet")
    expect(sheet).to_be_visible()
    phone.wait_for_function(
        "() => Math.abs(document.querySelector('.van-action-sheet').getBoundingClientRect().bottom"
        " - innerHeight) < 1"
    )
    sheet_box = sheet.bounding_box()
    assert sheet_box and abs(sheet_box["width"] - PHONE["width"]) < 1, sheet_box
    assert_axe_clean(phone, "the report choices at 390x844")


def test_signed_out_the_rail_offers_the_way_in(tabs: Tabs) -> None:
    page = tabs.open(viewport=WIDE)
    page.goto("/signin")
    rail = page.get_by_role("navigation", name=RAIL["en-US"])
    expect(rail.get_by_role("link", name="Sign in", exact=True)).to_have_attribute("aria-current", "page")
    expect(rail.get_by_role("link", name="Sign up", exact=True)).to_be_visible()
    expect(rail.get_by_role("link", name="Messages", exact=True)).to_have_count(0)
    rail.get_by_role("button", name="简体中文").click()
    rail = page.get_by_role("navigation", name=RAIL["zh-CN"])
    expect(rail.get_by_role("link", name="注册", exact=True)).to_be_visible()
    assert_axe_clean(page, "sign in, signed out, at 1440x900")

    # The landing page shows the town itself: it takes the right column's width instead of a copy of it.
    rail.get_by_role("link", name="首页", exact=True).click()
    landing = page.locator("[data-test=landing]")
    expect(landing).to_be_visible()
    expect(page.get_by_role("complementary", name=SIDE_COLUMN["zh-CN"])).to_have_count(0)
    box = landing.bounding_box()
    assert box is not None and box["width"] > 900, f"the landing page is {box} wide at 1440x900"


def test_on_a_phone_the_tab_bar_and_bottom_sheets_as_before(tabs: Tabs, town: dict[str, Any]) -> None:
    page = tabs.signed_in(town["person"], locale="zh-CN", viewport=PHONE)
    expect(page.locator(".van-tabbar")).to_be_visible()
    expect(page.get_by_role("tab", name=re.compile("首页"))).to_be_visible()
    expect(page.get_by_role("navigation", name=RAIL["zh-CN"])).to_have_count(0)
    expect(page.get_by_role("complementary", name=SIDE_COLUMN["zh-CN"])).to_have_count(0)
    expect(page.get_by_text(town["post"]["content"])).to_be_visible()
    last_feed_item_uncovered(page)
    assert_axe_clean(page, "the feed at 390x844")

    page.get_by_role("tab", name=re.compile("世界")).click()
    character = town["character"]
    page.get_by_role("button", name=character["display_name"], exact=True).first.click()
    sheet = page.locator("[data-test=agent-sheet]")
    expect(sheet).to_be_visible()
    panel = page.locator(".van-popup").filter(has=sheet)
    expect(panel).to_have_class(re.compile(r"\bvan-popup--bottom\b"))
    page.wait_for_function(
        "() => { const p = document.querySelector('.van-popup--bottom'); if (!p) return false;"
        " const r = p.getBoundingClientRect(); return Math.abs(r.bottom - window.innerHeight) < 1 }"
    )
    panel_box = panel.bounding_box()
    assert panel_box and abs(panel_box["width"] - PHONE["width"]) < 1, panel_box
    assert_axe_clean(page, "the character sheet at 390x844")
