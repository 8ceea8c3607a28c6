"""The World map in the browser, on a phone in Chinese and a desktop in English: it fits the width, each
character is a tap target of at least 44 px that covers no place name, a character's last line shows in a
bubble, event titles are in the chosen language only, pinch and ctrl + wheel zoom it, and axe-core finds
no serious or critical violation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from aic_common.testing import wait_until

from .axe import axe_violations, blocking, describe
from .community import Account, Api, Simulator
from .tabs import PHONE, Tabs, artifacts_dir

pytestmark = pytest.mark.e2e

WIDE: ViewportSize = {"width": 1440, "height": 900}
# What the map shows in a bubble (mapGeometry.ts): lines said aloud and posts, of the last half hour.
BUBBLE_ACTIONS = ("talk", "say", "goodbye", "post", "comment")
BUBBLE_SHOWN = timedelta(minutes=30)
CJK = re.compile(r"[\u2e80-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
TAP_PX = 44 - 0.01  # 44 px, give or take the rounding of fractional positions


def sim_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


def recent_lines(api: Api) -> list[dict[str, Any]]:
    """The lines the map should show in bubbles now: each character's latest public line of the last
    half hour (as anyone reads the log: no direct message's text)."""
    world = api.client.get("/api/sim/world").json()
    log = api.client.get("/api/sim/actions", params={"limit": 30})
    assert log.status_code == 200, log.text
    now = sim_time(world["sim_time"])
    latest: dict[str, dict[str, Any]] = {}
    for action in log.json()["items"]:  # newest first
        if action["action"] in BUBBLE_ACTIONS and (action["content"] or "").strip():
            said = sim_time(action["sim_time"])
            if now - BUBBLE_SHOWN < said <= now:
                latest.setdefault(action["agent_id"], action)
    return list(latest.values())


@pytest.fixture(scope="module")
def town_talking(api: Api, simulator: Simulator) -> list[dict[str, Any]]:
    """The simulation paused just after a character said or posted something."""
    simulator.characters()
    simulator.control("pause")

    def said_something() -> list[dict[str, Any]] | None:
        lines = recent_lines(api)
        if not lines:
            simulator.control("step", steps=3)
        return lines or None

    return wait_until(said_something, timeout=240, interval=0, what="a character saying something")


def boxes(locator: Locator) -> list[dict[str, float]]:
    return [box for box in (item.bounding_box() for item in locator.all()) if box]


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"] - 0.5
        and b["x"] < a["x"] + a["width"] - 0.5
        and a["y"] < b["y"] + b["height"] - 0.5
        and b["y"] < a["y"] + a["height"] - 0.5
    )


def scale_of(frame: Locator) -> float:
    return float(frame.get_attribute("data-scale") or "0")


def pinch_out(frame: Locator) -> None:
    """Two fingers put down near the middle of the map and moved apart."""
    box = frame.bounding_box()
    assert box
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    fingers = {1: -20.0, 2: 20.0}
    for pointer, dx in fingers.items():
        frame.dispatch_event(
            "pointerdown",
            {
                "pointerId": pointer,
                "pointerType": "touch",
                "clientX": cx + dx,
                "clientY": cy,
                "isPrimary": pointer == 1,
            },
        )
    for step in range(1, 6):
        for pointer, dx in fingers.items():
            frame.dispatch_event(
                "pointermove",
                {
                    "pointerId": pointer,
                    "pointerType": "touch",
                    "clientX": cx + dx * (1 + step * 0.5),
                    "clientY": cy,
                },
            )
    for pointer, dx in fingers.items():
        frame.dispatch_event(
            "pointerup",
            {"pointerId": pointer, "pointerType": "touch", "clientX": cx + dx * 3.5, "clientY": cy},
        )


@pytest.mark.parametrize(
    ("viewport", "locale"), [(PHONE, "zh-CN"), (WIDE, "en-US")], ids=["phone-zh", "desktop-en"]
)
def test_the_world_map_fits_shows_who_said_what_and_zooms(
    tabs: Tabs, api: Api, town_talking: list[dict[str, Any]], viewport: ViewportSize, locale: str
) -> None:
    person: Account = api.sign_up("mapper", display_name="看地图的人")
    page: Page = tabs.signed_in(person, locale=locale, viewport=viewport)
    # Without motion the characters stand at their places at once (they glide there otherwise).
    page.emulate_media(reduced_motion="reduce")
    page.goto("/world")
    frame = page.locator("[data-test=map-frame]")
    markers = page.locator("[data-test=map-marker]")
    expect(markers.first).to_be_visible()
    characters = {agent["id"]: agent for agent in api.client.get("/api/sim/agents").json()}
    expect(markers).to_have_count(len(characters))

    # The whole town fits the width: nothing hidden to the east, no sideways scrolling.
    box = frame.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5, box
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

    # Each character a finger-sized target, named, covering no place's name nor another character.
    marker_boxes = boxes(markers)
    label_boxes = boxes(page.locator("[data-test=place-label]"))
    assert len(marker_boxes) == len(characters) and label_boxes
    for index, marker in enumerate(marker_boxes):
        assert marker["width"] >= TAP_PX and marker["height"] >= TAP_PX, marker
        assert not any(overlap(marker, label) for label in label_boxes), (marker, label_boxes)
        assert not any(overlap(marker, other) for other in marker_boxes[index + 1 :]), marker
    name = next(iter(characters.values()))["display_name"]
    expect(markers.and_(page.get_by_role("button", name=re.compile(f"^{re.escape(name)}")))).to_have_count(1)

    # A bubble shows what a character said last.
    line = town_talking[0]
    bubble = page.locator(f"[data-test=bubble][data-agent='{line['agent_id']}']")
    expect(bubble).to_contain_text(line["content"].strip()[:10])

    # The world file's event titles ("中文 · English") in the chosen language only. (An operator's event is
    # shown as written: other tests inject some in one language.)
    titles = page.locator("[data-test=event]").filter(has_not=page.locator(".events__source")).locator("h3")
    expect(titles.first).to_be_visible()
    for title in titles.all_inner_texts():
        if locale == "zh-CN":
            assert not LATIN_WORD.search(title), f"English in a Chinese event title: {title}"
        else:
            assert not CJK.search(title), f"Chinese in an English event title: {title}"

    page.screenshot(path=artifacts_dir() / f"world-map-{viewport['width']}-{locale}.png", full_page=True)
    violations = blocking(axe_violations(page))
    assert not violations, f"blocking accessibility violations (axe-core):\n{describe(violations)}"

    # Zoom: a pinch, ctrl + wheel (a trackpad's pinch), then back to the whole town.
    assert scale_of(frame) == 1
    pinch_out(frame)
    expect(frame).not_to_have_attribute("data-scale", "1.000")
    pinched = scale_of(frame)
    assert pinched > 1.5, pinched
    page.get_by_role("button", name=re.compile("^(Show the whole town|查看整个小镇)$")).click()
    expect(frame).to_have_attribute("data-scale", "1.000")
    assert box
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -200)
    page.keyboard.up("Control")
    expect(frame).not_to_have_attribute("data-scale", "1.000")
    assert scale_of(frame) > 1
    # Zoomed in, the characters keep their size.
    zoomed_marker = markers.first.bounding_box()
    assert zoomed_marker and zoomed_marker["width"] >= TAP_PX

    # A tap on a character follows it: its panel opens, its marker is marked as followed.
    page.get_by_role("button", name=re.compile("^(Show the whole town|查看整个小镇)$")).click()
    markers.first.click()
    expect(markers.first).to_have_attribute("aria-pressed", "true")
