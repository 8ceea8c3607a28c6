"""Screenshots of the main pages at phone and desktop widths, in both languages, saved as artifacts for a
person to look at; on each page every control (button, link, field, tab...) must have an accessible
name, and axe-core must find no serious or critical accessibility violation (nor a page without a
level-one heading or with content outside landmarks)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from .axe import axe_violations, blocking, describe
from .community import Account, Showcase
from .tabs import DESKTOP, PHONE, Tabs, artifacts_dir

pytestmark = pytest.mark.e2e

# Controls a person operates: each needs a name. An aria snapshot writes a name in quotes after the
# role ("- button \"Send\""); a line with the role and nothing but states or children has none.
CONTROL_ROLES = (
    "button",
    "link",
    "textbox",
    "searchbox",
    "combobox",
    "checkbox",
    "radio",
    "switch",
    "slider",
    "spinbutton",
    "tab",
    "menuitem",
)
UNNAMED_CONTROL = re.compile(rf"^\s*- ({'|'.join(CONTROL_ROLES)})(\s+\[[^\]]*\])*:?$", re.MULTILINE)
PAGE_SETTLED = "() => document.fonts.status === 'loaded' && [...document.images].every((img) => img.complete)"


def unnamed_controls(page: Page) -> list[str]:
    snapshot = page.locator("body").aria_snapshot()
    return [match.group(0).strip() for match in UNNAMED_CONTROL.finditer(snapshot)]


@pytest.mark.parametrize(
    ("viewport", "locale"),
    [(PHONE, "zh-CN"), (PHONE, "en-US"), (DESKTOP, "zh-CN"), (DESKTOP, "en-US")],
    ids=["phone-zh", "phone-en", "desktop-zh", "desktop-en"],
)
def test_screenshots_of_the_main_pages_whose_controls_all_have_names(
    tabs: Tabs, admin: Account, showcase: Showcase, viewport: ViewportSize, locale: str
) -> None:
    folder = artifacts_dir() / "screenshots" / f"{viewport['width']}x{viewport['height']}-{locale}"
    folder.mkdir(parents=True, exist_ok=True)
    for earlier in folder.glob("*.png"):  # a walk's shots only: pages renumber as the walk grows
        earlier.unlink()
    character = showcase.character
    unnamed: dict[str, list[str]] = {}
    violations: dict[str, list[dict[str, Any]]] = {}

    def shoot(page: Page, name: str, ready: Locator) -> None:
        """Screenshot the page once ``ready`` shows, its fonts and images loaded; note unnamed controls."""
        expect(ready).to_be_visible()
        page.wait_for_function(PAGE_SETTLED)
        page.screenshot(path=folder / f"{len(unnamed) + 1:02d}-{name}.png", full_page=True)
        unnamed[name] = unnamed_controls(page)
        violations[name] = axe_violations(page)

    page = tabs.open(locale=locale, viewport=viewport)
    page.goto("/")  # signed out: the landing page, the town and its characters
    expect(page.locator("[data-test=suggested-account]").first).to_be_visible()
    # The posts at its foot load as the reader scrolls there; the whole-page picture wants all their
    # pictures, which load only near the screen (loading=lazy) unless asked for now.
    page.locator("[data-test=landing-posts]").scroll_into_view_if_needed()
    expect(page.locator("[data-test=landing-posts] [data-test=content]").first).to_be_visible()
    page.evaluate(
        "() => document.querySelectorAll('img[loading=lazy]').forEach((img) => (img.loading = 'eager'))"
    )
    page.evaluate("() => window.scrollTo(0, 0)")
    shoot(page, "landing", page.locator("[data-test=landing-town] svg").first)
    page.goto("/signin")
    shoot(page, "sign-in", page.get_by_role("button", name=re.compile("^(Sign in|登录)$")))
    tabs.sign_in(page, showcase.person)
    shoot(page, "feed", page.get_by_text(showcase.post["content"]))
    page.goto(f"/posts/{showcase.post['id']}")
    shoot(page, "post-detail", page.get_by_text(showcase.comment))
    page.goto(f"/users/{character['username']}")
    # Ready once the simulator told where the character is.
    shoot(page, "ai-profile", page.get_by_role("term").filter(has_text=re.compile("^(Now at|当前位置)$")))
    for kind in ("followers", "following"):
        page.goto(f"/users/{showcase.person.username}/{kind}")
        shoot(page, kind, page.locator('[data-test="connection"]').filter(has_text=showcase.commenter_name))
    page.goto(f"/messages/{character['username']}")
    shoot(page, "chat", page.get_by_text(showcase.message))
    page.goto("/notifications")
    shoot(page, "notifications", page.get_by_text(showcase.commenter_name).first)
    page.goto("/bookmarks")
    shoot(page, "bookmarks", page.get_by_text(showcase.post["content"]))
    page.goto("/world")
    shoot(page, "world", page.get_by_role("button", name=character["display_name"], exact=True).first)
    console = tabs.signed_in(admin, locale=locale, viewport=viewport)
    console.goto("/operator")
    inspect_button = console.get_by_role("button", name=character["display_name"], exact=True)
    shoot(console, "operator-console", inspect_button)

    report = "\n".join(f"== {name}\n{describe(found)}" for name, found in violations.items() if found)
    print(f"axe-core, {viewport['width']}x{viewport['height']} {locale}:\n{report or 'no violations'}")
    assert not any(unnamed.values()), f"controls without an accessible name, by page: {unnamed}"
    assert not any(blocking(found) for found in violations.values()), (
        f"blocking accessibility violations (axe-core):\n{report}"
    )
