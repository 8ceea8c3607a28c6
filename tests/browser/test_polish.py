"""The web UI's finish: a visible keyboard focus, a title per page in its language, toasts that wrap at
words, a bar while a page's code downloads, emoji in colour."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

from .community import Api
from .tabs import TIMEOUT_MS, Tabs

pytestmark = pytest.mark.e2e

SIGN_IN = re.compile("^(Sign in|登录)$")
SEARCH_PAGE_CODE = re.compile(r"/assets/SearchView-[^/]*\.js$")

# The focused element's outline, as the browser draws it.
FOCUS_OUTLINE = """() => {
  const style = getComputedStyle(document.activeElement)
  return { tag: document.activeElement.tagName, style: style.outlineStyle, width: style.outlineWidth }
}"""

# For each word of the toast's text, on how many lines it lies; and on how many lines the text lies.
TOAST_LINES = """(toast) => {
  const text = toast.querySelector('.van-toast__text') ?? toast
  const node = document.createTreeWalker(text, NodeFilter.SHOW_TEXT).nextNode()
  const lineTops = (range) => new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)))
  const words = []
  for (const match of node.data.matchAll(/\\S+/g)) {
    const range = document.createRange()
    range.setStart(node, match.index)
    range.setEnd(node, match.index + match[0].length)
    words.push([match[0], lineTops(range).size])
  }
  const whole = document.createRange()
  whole.selectNodeContents(node)
  return { words, lines: lineTops(whole).size }
}"""

# Draws an emoji in the page's own font and counts the coloured pixels (a missing glyph is a grey box).
COLOURED_EMOJI_PIXELS = """(emoji) => {
  const canvas = document.createElement('canvas')
  canvas.width = canvas.height = 64
  const context = canvas.getContext('2d')
  context.font = `48px ${getComputedStyle(document.body).fontFamily}`
  context.textBaseline = 'top'
  context.fillText(emoji, 4, 4)
  const pixels = context.getImageData(0, 0, 64, 64).data
  let coloured = 0
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b, a] = pixels.slice(i, i + 4)
    if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++
  }
  return coloured
}"""


def test_keyboard_focus_is_drawn_on_vant_buttons(tabs: Tabs) -> None:
    page = tabs.open()
    page.goto("/signin")
    sign_in = page.get_by_role("button", name=SIGN_IN)
    expect(sign_in).to_be_visible()
    for _ in range(20):
        page.keyboard.press("Tab")
        if sign_in.evaluate("(button) => button === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the sign-in button")
    outline = page.evaluate(FOCUS_OUTLINE)
    assert outline["style"] != "none" and outline["width"] != "0px", outline


@pytest.mark.parametrize(
    ("locale", "sign_in_title", "home_title"),
    [
        ("en-US", "Sign in · AI Community", "Explore · AI Community"),
        ("zh-CN", "登录 · AI 社区", "发现 · AI 社区"),
    ],
)
def test_each_page_has_a_title_in_its_language(
    tabs: Tabs, api: Api, locale: str, sign_in_title: str, home_title: str
) -> None:
    person = api.sign_up("titled", display_name="Ada Lovelace")
    page = tabs.open(locale=locale)
    page.goto("/signin")
    expect(page).to_have_title(sign_in_title)
    tabs.sign_in(page, person)
    expect(page).to_have_title(home_title)
    page.goto(f"/users/{person.username}")
    expect(page).to_have_title(re.compile(r"^Ada Lovelace · "))


def test_toasts_wrap_between_words(tabs: Tabs, api: Api) -> None:
    # Signing in greets by name in a toast: long words that cannot share a line with the next one.
    person = api.sign_up("wordy", display_name="Extraordinarily Longwinded Neighbourhood Correspondent")
    page = tabs.open()
    page.goto("/signin")
    tabs.sign_in(page, person)
    toast = page.locator(".van-toast").filter(has_text="Correspondent")
    expect(toast).to_be_visible()
    measured = toast.evaluate(TOAST_LINES)
    assert measured["lines"] > 1, measured  # it did wrap, so the check below means something
    assert all(lines == 1 for _, lines in measured["words"]), measured


def test_a_bar_shows_while_a_pages_code_downloads(tabs: Tabs, api: Api) -> None:
    page = tabs.open()
    page.goto("/signin")
    tabs.sign_in(page, api.sign_up("patient"))
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(SEARCH_PAGE_CODE, hold)
    bar = page.locator('[data-test="route-progress"]')
    expect(bar).to_have_count(0)
    page.get_by_role("link", name="Search").click()
    expect(bar).to_be_visible()
    # The held request reaches the handler only while Playwright runs a call: poll with short ones.
    for _ in range(TIMEOUT_MS // 50):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the search page's code was never requested"
    held[0].continue_()
    expect(page).to_have_url(re.compile(r"/search$"))
    expect(bar).to_have_count(0)


def test_emoji_are_drawn_in_colour(tabs: Tabs) -> None:
    page: Page = tabs.open()
    page.goto("/signin")
    expect(page.get_by_role("button", name=SIGN_IN)).to_be_visible()
    assert page.evaluate(COLOURED_EMOJI_PIXELS, "😀") > 50, (
        "no colour-emoji font: scripts/ensure-test-tools.sh installs fonts-noto-color-emoji"
    )
