"""The World page tells the town's story: tapping a character follows it and shows what it said in
person, the last day replays on the map and in the place list, event cards say who is there, and
activity lines link to the characters' profiles. At 390x844 in Chinese and 1440x900 in English, with
axe-core finding nothing serious or critical."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from .axe import axe_violations, blocking, describe
from .community import Account, Api, Simulator, wait_until
from .tabs import PHONE, Tabs

pytestmark = pytest.mark.e2e

WIDE: ViewportSize = {"width": 1440, "height": 900}
STEPS_AT_A_TIME = 10


def sim_time(value: str) -> datetime:
    return datetime.fromisoformat(value.removesuffix("Z"))


def spoken_line(api: Api, simulator: Simulator) -> dict[str, Any] | None:
    """A line said aloud to another character (the public log's talk/say), else step the paused town."""
    for kind in ("say", "talk"):
        answer = api.client.get("/api/sim/actions", params={"action": kind, "limit": 50})
        assert answer.status_code == 200, answer.text
        said = [item for item in answer.json()["items"] if item["content"]]
        for item in said:
            heard = api.client.get(f"/api/sim/agents/{item['agent_id']}/transcript")
            assert heard.status_code == 200, heard.text
            if any(line["decision"] == item["decision"] for line in heard.json()["items"]):
                return item
    simulator.control("step", steps=STEPS_AT_A_TIME)
    return None


def someone_who_moved(api: Api, simulator: Simulator) -> tuple[dict[str, Any], str, str]:
    """A character that is somewhere else now than at the start of the replayed day (the 24 simulated
    hours before now): the character, its place at that start and its place now."""
    day_start = sim_time(simulator.status()["sim_time"]) - timedelta(days=1)
    for agent in api.client.get("/api/sim/agents").json():
        log = api.client.get("/api/sim/actions", params={"agent_id": agent["id"], "limit": 200}).json()
        in_day = [a for a in log["items"] if sim_time(a["sim_time"]) >= day_start]
        if log["next_cursor"] is None and in_day and in_day[-1]["location_id"] != agent["location_id"]:
            return agent, in_day[-1]["location_id"], agent["location_id"]
    raise AssertionError("no character moved during the morning")


def assert_axe_clean(page: Page, where: str) -> None:
    found = axe_violations(page)
    assert not blocking(found), f"axe-core on {where}:\n{describe(found)}"


@pytest.mark.parametrize(
    ("viewport", "locale"), [(PHONE, "zh-CN"), (WIDE, "en-US")], ids=["phone-zh", "desktop-en"]
)
def test_follow_a_character_replay_the_day_see_who_is_at_an_event_and_open_a_profile(
    tabs: Tabs, api: Api, admin: Account, simulator: Simulator, viewport: ViewportSize, locale: str
) -> None:
    zh = locale.startswith("zh")
    characters = {c["id"]: c for c in simulator.characters()}
    simulator.control("pause")  # the town holds still while the page and the API are compared
    line = wait_until(lambda: spoken_line(api, simulator), timeout=600, interval=0, what="a line said aloud")
    speaker = characters[line["agent_id"]]
    where = next(a for a in api.client.get("/api/sim/agents").json() if a["id"] == speaker["id"])[
        "location_id"
    ]
    # An event on now where the speaker is: its card shows the speaker among those there.
    created = api.client.post(
        "/api/sim/events",
        json={
            "title": "街角音乐会 · Corner concert",
            "location_id": where,
            "kind": "show",
            "duration_minutes": 600,
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    mover, start_place, place_now = someone_who_moved(api, simulator)

    person = api.sign_up("story_reader", display_name="读故事的人")
    page = tabs.signed_in(person, locale=locale, viewport=viewport)
    page.goto("/world")
    places = page.get_by_role("region", name="地点" if zh else "Places")

    # Tapping the speaker follows it: its panel shows the line it said, in its conversation.
    places.get_by_role("button", name=speaker["display_name"], exact=True).click()
    transcript = page.locator("[data-test=transcript]")
    said = transcript.locator("[data-test=transcript-line]").filter(has_text=line["content"]).first
    expect(said).to_be_visible()
    expect(said).to_contain_text(speaker["display_name"])
    assert_axe_clean(page, "the character's panel")
    page.keyboard.press("Escape")
    expect(transcript).to_be_hidden()

    # The event card, in the chosen language only, says who is there.
    card = page.locator("[data-test=event]").filter(has_text="街角音乐会" if zh else "Corner concert").first
    expect(card.get_by_role("heading", level=3)).to_have_text("街角音乐会" if zh else "Corner concert")
    attendee = card.locator("[data-test=event-attendee]").filter(has_text=speaker["display_name"])
    expect(attendee).to_be_visible()

    # Replaying the day: the keyboard takes the slider to its start; the clock goes back and the
    # character that moved since stands where it was then.
    mover_now = places.locator(f"[data-place='{place_now}']").get_by_role(
        "button", name=mover["display_name"], exact=True
    )
    expect(mover_now).to_be_visible()
    page.get_by_role("button", name="回放最近一天" if zh else "Replay the last day").click()
    clock = page.locator("[data-test=replay-clock]")
    expect(clock).to_be_visible()
    live_clock = clock.inner_text()
    slider = page.get_by_role("slider", name="一天中的时刻" if zh else "Moment of the day")
    slider.focus()
    page.keyboard.press("Home")
    expect(clock).not_to_have_text(live_clock)
    expect(
        places.locator(f"[data-place='{start_place}']").get_by_role(
            "button", name=mover["display_name"], exact=True
        )
    ).to_be_visible()
    expect(mover_now).to_be_hidden()
    page.keyboard.press("End")
    expect(clock).to_have_text(live_clock)
    expect(mover_now).to_be_visible()
    assert_axe_clean(page, "the replay")
    page.get_by_role("button", name="回到实时" if zh else "Back to live").click()
    expect(slider).to_be_hidden()

    # An activity line's character links to its profile.
    link = page.locator("[data-test=ticker-line] [data-test=ticker-person]").first
    name = link.inner_text()
    link.click()
    expect(page).to_have_url(re.compile(r"/users/[^/]+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(re.escape(name)))
    assert not tabs.page_errors, tabs.page_errors
