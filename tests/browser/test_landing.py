"""Arriving signed out, on a phone in Chinese and a desktop in English: / shows the town (its map, what
is going on, its characters with their persona, the posts) and the way in; Follow asks to sign in and,
signed in, the person lands back where they were; the World, a post, a profile and search are readable
with no 401 anywhere; axe-core finds no serious or critical violation."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, Response, ViewportSize, expect

from aic_common.testing import wait_until

from .axe import axe_violations, blocking, describe
from .community import Account, Api, Simulator
from .tabs import PHONE, Tabs

pytestmark = pytest.mark.e2e

WIDE: ViewportSize = {"width": 1440, "height": 900}
TEXTS = {
    "zh-CN": {
        "sign_up": "加入小镇",
        "sign_in": "登录",
        "characters": "认识小镇居民",
        "follow_prompt": "登录后关注{name}",
        "follow": "关注",
        "unfollow": "取消关注",
        "comment": "登录后评论",
    },
    "en-US": {
        "sign_up": "Join the town",
        "sign_in": "Sign in",
        "characters": "Meet the characters",
        "follow_prompt": "Sign in to follow {name}",
        "follow": "Follow",
        "unfollow": "Unfollow",
        "comment": "Sign in to comment",
    },
}


@pytest.fixture(scope="module")
def town(api: Api, simulator: Simulator) -> dict[str, Any]:
    """The characters with their accounts, something they did in the log, and a person's post."""
    characters = simulator.characters()

    def something_happened() -> bool:
        answer = api.client.get("/api/sim/actions", params={"limit": 5})
        assert answer.status_code == 200, answer.text
        if answer.json()["items"]:
            return True
        simulator.control("step", steps=3)
        return False

    simulator.control("pause")  # stepped by hand: the town does something within a few steps
    wait_until(something_happened, timeout=240, interval=0, what="an action in the town's log")
    person = api.sign_up("townsfolk", display_name="Townsfolk 镇民")
    post = api.post(person, f"Signed-out readers welcome 欢迎 {uuid.uuid4().hex[:6]}")
    return {"characters": characters, "post": post}


def watch_for_unauthorized(page: Page) -> list[str]:
    """Every API answer 401 in this tab: a page that asks for what needs an account, or sends a token."""
    refused: list[str] = []

    def check(response: Response) -> None:
        if response.status == 401:
            refused.append(f"{response.request.method} {response.url}")

    page.on("response", check)
    return refused


def assert_axe_clean(page: Page, where: str) -> None:
    found = axe_violations(page)
    assert not blocking(found), f"axe-core on {where}:\n{describe(found)}"


def sign_in_on_the_page(page: Page, account: Account) -> None:
    # The prompt that brought the visitor here closes (it fades out: slowly on a busy machine).
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_label(re.compile("^(Username or email|用户名或邮箱)$")).fill(account.username)
    page.get_by_label(re.compile("^(Password|密码)$")).fill(account.password)
    page.locator("form").get_by_role("button", name=re.compile("^(Sign in|登录)$")).click()


@pytest.mark.parametrize(
    ("viewport", "locale"), [(PHONE, "zh-CN"), (WIDE, "en-US")], ids=["phone-zh", "desktop-en"]
)
def test_the_town_signed_out_and_following_asks_to_sign_in_and_comes_back(
    tabs: Tabs, api: Api, town: dict[str, Any], viewport: ViewportSize, locale: str
) -> None:
    words = TEXTS[locale]
    page = tabs.open(locale=locale, viewport=viewport)
    refused = watch_for_unauthorized(page)

    # --- the landing page: the town, what is going on, its characters, the posts, the way in
    page.goto("/")
    landing = page.locator("[data-test=landing]")
    expect(landing).to_be_visible()
    expect(landing.get_by_role("link", name=words["sign_up"], exact=True)).to_be_visible()
    expect(landing.get_by_role("link", name=words["sign_in"], exact=True)).to_be_visible()
    expect(page.locator("[data-test=landing-town] svg").first).to_be_visible()
    expect(page.locator("[data-test=landing-activity] [data-test=ticker-line]").first).to_be_visible()
    gallery = page.get_by_role("region", name=words["characters"])
    expect(gallery).to_be_visible()
    character = town["characters"][0]
    card = gallery.locator("[data-test=suggested-account]").filter(has_text=character["display_name"])
    expect(card).to_be_visible()
    expect(card.locator(".suggested__bio")).not_to_be_empty()
    expect(card.locator("[data-test=suggested-chat]")).to_be_visible()
    # Explore, read signed out: the posts below, loaded as the reader scrolls down to them (ranked: the
    # town's own post is checked on its page).
    page.locator("[data-test=landing-posts]").scroll_into_view_if_needed()
    expect(page.locator("[data-test=landing-posts] [data-test=content]").first).to_be_visible()
    page.wait_for_function("() => document.fonts.status === 'loaded'")
    assert_axe_clean(page, f"the landing page at {viewport['width']}x{viewport['height']} {locale}")

    # --- Follow asks to sign in; signed in, the person is back on /, now the feed
    card.locator("[data-test=suggested-follow]").click()
    prompt = page.get_by_role("dialog")
    expect(prompt).to_contain_text(words["follow_prompt"].format(name=character["display_name"]))
    expect(prompt).to_have_accessible_name(words["follow_prompt"].format(name=character["display_name"]))
    # Checked once it has faded in: half-transparent, its colours are not yet its own.
    page.wait_for_function("() => !document.querySelector('[class*=-enter-active]')")
    assert_axe_clean(page, "the sign-in prompt")
    prompt.get_by_role("button", name=words["sign_in"], exact=True).click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    reader = api.sign_up("arrival")
    tabs.sign_in(page, reader)  # lands on /
    expect(page.locator("[data-test=landing]")).to_have_count(0)
    expect(page.get_by_role("tab").first).to_be_visible()

    # --- readable signed out: a post, a profile, search and the World, in a tab of a visitor
    visitor = tabs.open(locale=locale, viewport=viewport)
    refused_to_visitor = watch_for_unauthorized(visitor)
    visitor.goto(f"/posts/{town['post']['id']}")
    expect(visitor.get_by_text(town["post"]["content"])).to_be_visible()
    expect(visitor.get_by_role("link", name=words["comment"])).to_be_visible()
    assert_axe_clean(visitor, "a post signed out")
    visitor.goto(f"/search?q={character['username']}")
    expect(visitor).to_have_url(re.compile(r"/search"))
    visitor.goto("/world")
    expect(visitor.get_by_role("button", name=character["display_name"], exact=True).first).to_be_visible()
    visitor.goto("/messages")
    expect(visitor).to_have_url(re.compile(r"/signin\?next=(%2F|/)messages$"))

    # --- a profile: Follow asks to sign in and comes back to the profile, where it then follows
    visitor.goto(f"/users/{character['username']}")
    expect(visitor.get_by_role("heading", name=character["display_name"]).first).to_be_visible()
    assert_axe_clean(visitor, "a character's profile signed out")
    visitor.locator("[data-test=follow]").click()
    visitor.get_by_role("dialog").get_by_role("button", name=words["sign_in"], exact=True).click()
    expect(visitor).to_have_url(re.compile(rf"/signin\?next=(%2F|/)users(%2F|/){character['username']}$"))
    follower = api.sign_up("returning")
    sign_in_on_the_page(visitor, follower)
    expect(visitor).to_have_url(re.compile(rf"/users/{character['username']}$"))
    follow = visitor.locator("[data-test=follow]")
    expect(follow).to_have_text(words["follow"])
    follow.click()
    expect(follow).to_have_text(words["unfollow"])
    seen = api.client.get(f"/api/users/{character['username']}", headers=follower.headers).json()
    assert seen["is_following"] is True

    assert refused == [] and refused_to_visitor == [], (refused, refused_to_visitor)
