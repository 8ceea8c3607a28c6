"""Dark mode follows the system setting: with the browser asking for a dark colour scheme, at 390×844 in
Chinese and 1440×900 in English, the main pages (signed out the landing page and sign-in; the home feed,
a post with its image viewer and a confirm dialog, compose, search, a profile, messages, a chat,
notifications, the World, Me, and the console as admin) have a dark page background, and axe-core
finds no serious or critical violation there, colour contrast included. The landing page asked for
light is light again: the theme is the system's choice, not a fixed one."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from .axe import axe_violations, blocking, describe
from .community import Account, Showcase
from .tabs import PHONE, Tabs, artifacts_dir

pytestmark = pytest.mark.e2e

WIDE: ViewportSize = {"width": 1440, "height": 900}
# Fonts loaded, every image shown (lazy ones further down the page may wait for a scroll) and no
# transition under way (a dialog fading in would be measured half transparent).
PAGE_SETTLED = (
    "() => document.fonts.status === 'loaded'"
    " && [...document.images].every((img) => img.complete || img.loading === 'lazy')"
    " && !document.querySelector('[class*=-enter-active], [class*=-leave-active]')"
)
# The relative luminance (WCAG) of the body's computed background: 0 is black, 1 white.
BODY_LUMINANCE = """() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/[\\d.]+/g).slice(0, 3).map(Number)
  const channel = (c) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4)
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
}"""
DARK_AT_MOST = 0.05  # the dark page background is #111214 (0.006); the light one #f7f8fa (0.94)


def dark_tab(tabs: Tabs, locale: str, viewport: ViewportSize) -> Page:
    page = tabs.open(locale=locale, viewport=viewport)
    page.emulate_media(color_scheme="dark")
    return page


@pytest.mark.parametrize(
    ("viewport", "locale"), [(PHONE, "zh-CN"), (WIDE, "en-US")], ids=["phone-zh", "desktop-en"]
)
def test_the_main_pages_are_dark_and_readable_when_the_system_asks_for_dark(
    tabs: Tabs, admin: Account, showcase: Showcase, viewport: ViewportSize, locale: str
) -> None:
    folder = artifacts_dir() / "screenshots-dark" / f"{viewport['width']}x{viewport['height']}-{locale}"
    folder.mkdir(parents=True, exist_ok=True)
    violations: dict[str, list[dict[str, Any]]] = {}
    luminance: dict[str, float] = {}

    def check(page: Page, name: str, ready: Locator, only_rule: str | None = None) -> None:
        """Once ``ready`` shows and fonts and images are in: a screenshot, the body's luminance, axe
        (``only_rule``: that rule's violations only)."""
        expect(ready).to_be_visible()
        page.wait_for_function(PAGE_SETTLED)
        shot = folder / f"{len(luminance) + 1:02d}-{name.replace(' ', '-')}.png"
        page.screenshot(path=shot, full_page=True)
        luminance[name] = page.evaluate(BODY_LUMINANCE)
        violations[name] = [found for found in axe_violations(page) if only_rule in (None, found["id"])]

    page = dark_tab(tabs, locale, viewport)
    page.goto("/")
    check(page, "landing", page.locator("[data-test=landing]"))
    # The same page asked for light: light again (the existing screenshot walk checks light mode itself).
    page.emulate_media(color_scheme="light")
    assert page.evaluate(BODY_LUMINANCE) > 0.8, "light again once the system asks for light"
    page.emulate_media(color_scheme="dark")

    page.goto("/signin")
    check(page, "sign in", page.get_by_role("button", name=re.compile("^(Sign in|登录)$")))
    tabs.sign_in(page, showcase.person)
    check(page, "home feed", page.get_by_text(showcase.post["content"]))
    page.goto(f"/posts/{showcase.post['id']}")
    check(page, "post", page.get_by_text(showcase.comment))
    # Over the post: the image viewer, then Vant's confirm dialog (asking before deleting the post).
    page.locator("[data-test=thumb]").first.click()
    close_viewer = page.locator("[data-test=viewer-close]")
    check(page, "image viewer", close_viewer)
    page.keyboard.press("Escape")
    expect(close_viewer).to_be_hidden()
    page.locator("[data-test=delete-post]").click()
    dialog = page.locator(".van-dialog")
    # Colours only: Vant's dialog points aria-labelledby at its title's text, not an id (no name for axe).
    check(page, "confirm dialog", dialog, only_rule="color-contrast")
    dialog.locator(".van-dialog__cancel").click()
    expect(dialog).to_be_hidden()
    page.goto("/compose")
    check(page, "compose", page.get_by_role("textbox").first)
    page.goto("/search")
    check(page, "search", page.get_by_role("searchbox").first)
    character = showcase.character
    page.goto(f"/users/{character['username']}")
    check(page, "profile", page.get_by_role("term").filter(has_text=re.compile("^(Now at|当前位置)$")))
    page.goto("/messages")
    check(page, "messages", page.locator("[data-test=conversation]").first)
    page.goto(f"/messages/{character['username']}")
    check(page, "chat", page.get_by_text(showcase.message))
    page.goto("/notifications")
    check(page, "notifications", page.get_by_text(showcase.commenter_name).first)
    page.goto("/world")
    check(page, "world", page.get_by_role("button", name=character["display_name"], exact=True).first)
    page.goto("/me")
    check(page, "me", page.locator("[data-test=my-profile]"))

    console = dark_tab(tabs, locale, viewport)
    console.goto("/signin")
    tabs.sign_in(console, admin)
    console.goto("/operator")
    check(console, "console", console.get_by_role("button", name=character["display_name"], exact=True))

    light_pages = {name: round(value, 3) for name, value in luminance.items() if value > DARK_AT_MOST}
    assert not light_pages, f"pages whose background is not dark in dark mode (luminance): {light_pages}"
    report = "\n".join(f"== {name}\n{describe(found)}" for name, found in violations.items() if found)
    size = f"{viewport['width']}x{viewport['height']}"
    print(f"axe-core in dark mode, {size} {locale}:\n{report or 'no violations'}")
    assert not any(blocking(found) for found in violations.values()), (
        f"blocking accessibility violations in dark mode (axe-core):\n{report}"
    )
