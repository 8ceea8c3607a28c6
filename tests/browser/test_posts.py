"""Posts in the browser: composing with an image, comments that notify the author live, text that
looks like markup staying text, and live posts waiting behind a pill instead of moving the feed."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Dialog, Page, expect

from aic_common.testing import wait_until

from .community import Api, png_bytes
from .tabs import ME_TAB, Tabs

pytestmark = pytest.mark.e2e

# True once an <img> inside the post card showing `text` has loaded real pixels.
IMAGE_LOADED_IN_CARD = """([text, alt]) => [...document.querySelectorAll('article')]
    .filter((card) => card.textContent.includes(text))
    .flatMap((card) => [...card.querySelectorAll(`img[alt="${alt}"]`)])
    .some((img) => img.complete && img.naturalWidth > 0)"""


def compose(page: Page, text: str) -> None:
    """Open the compose tab and write ``text``; the caller adds images and posts."""
    page.get_by_role("tab", name="Post").click()
    page.get_by_label("Post text").fill(text)


def submit_post(page: Page, base_url: str) -> None:
    page.get_by_role("button", name="Post", exact=True).click()
    expect(page).to_have_url(f"{base_url}/")


def test_a_post_with_an_image_shows_in_the_feed_with_its_image_loaded(tabs: Tabs, api: Api) -> None:
    page = tabs.signed_in(api.sign_up("photographer"))
    text = f"Sunset over the old harbour 🌅 {uuid.uuid4().hex[:6]}"

    compose(page, text)
    page.get_by_label("Add images").set_input_files(
        files=[{"name": "harbour.png", "mimeType": "image/png", "buffer": png_bytes(320, 200)}]
    )
    expect(page.get_by_role("img", name="Image 1 to post")).to_be_visible()
    expect(page.get_by_text("Ready")).to_be_visible()
    submit_post(page, tabs.base_url)

    card = page.get_by_role("article").filter(has_text=text)
    image = card.get_by_role("img", name="Image 1 of the post")
    expect(image).to_be_visible()
    # One picture is shown whole and large (up to the column's width): the file itself, not the 320 px
    # thumbnail that grids of several use.
    expect(image).to_have_attribute("src", re.compile(r"/api/files/[^/]+$"))
    page.wait_for_function(IMAGE_LOADED_IN_CARD, arg=[text, "Image 1 of the post"])


def test_a_comment_raises_the_authors_badge_live_and_shows_in_their_notifications(
    tabs: Tabs, api: Api
) -> None:
    author = api.sign_up("author")
    commenter = api.sign_up("commenter", display_name="Bob 评论家")
    post_text = f"Who else is going to the night market? {uuid.uuid4().hex[:6]}"
    api.post(author, post_text)
    author_page = tabs.signed_in(author)
    tabs.until_live(author_page)
    bell = author_page.get_by_role("link", name=re.compile("^Notifications"))
    expect(bell).to_have_accessible_name("Notifications")
    author_me_tab = author_page.get_by_role("tab", name=ME_TAB)
    expect(author_me_tab).not_to_contain_text("1")

    commenter_page = tabs.signed_in(commenter)
    commenter_page.get_by_role("article").filter(has_text=post_text).get_by_text(post_text).click()
    expect(commenter_page).to_have_url(re.compile(r"/posts/[^/]+$"))
    comment = f"Count me in! 我也去 {uuid.uuid4().hex[:6]}"
    commenter_page.get_by_role("textbox", name="Comment").fill(comment)
    commenter_page.get_by_role("button", name="Send").click()
    expect(commenter_page.get_by_text(comment)).to_be_visible()

    # No reload: the bell and the tab bar's badge rise from the live stream.
    expect(bell).to_have_accessible_name("Notifications, 1 unread")
    expect(author_me_tab).to_contain_text("1")
    bell.click()
    expect(author_page.get_by_role("link", name="Bob 评论家 commented on your post")).to_be_visible()


def test_markup_in_a_post_is_shown_as_text_and_never_runs(tabs: Tabs, api: Api) -> None:
    markup = "<img src=x onerror=alert(1)>"
    author_page = tabs.signed_in(api.sign_up("prankster"))
    reader_page = tabs.signed_in(api.sign_up("reader"))
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    for page in (author_page, reader_page):
        page.on("dialog", record)

    compose(author_page, markup)
    submit_post(author_page, tabs.base_url)
    expect(author_page.get_by_text(markup, exact=True)).to_be_visible()

    # Someone else loads it from the server, in the feed and on the post's own page.
    reader_page.reload()
    expect(reader_page.get_by_text(markup, exact=True)).to_be_visible()
    reader_page.get_by_text(markup, exact=True).click()
    expect(reader_page).to_have_url(re.compile(r"/posts/[^/]+$"))
    expect(reader_page.get_by_text(markup, exact=True)).to_be_visible()

    for page in (author_page, reader_page):
        expect(page.locator('img[src="x"]')).to_have_count(0)
    assert dialogs == []


# The first post card wholly below the sticky tab bar: its link (/posts/<id>) and its top in the viewport.
FIRST_VISIBLE_CARD = """() => {
    const card = [...document.querySelectorAll('article')].find((c) => c.getBoundingClientRect().top >= 100)
    return [card.querySelector('a[href^="/posts/"]').getAttribute('href'), card.getBoundingClientRect().top]
}"""
TOP_OF_CARD = """(href) => document.querySelector(`article a[href="${href}"]`).closest('article')
    .getBoundingClientRect().top"""


def test_a_live_post_waits_behind_a_pill_on_explore_and_latest_orders_by_time(tabs: Tabs, api: Api) -> None:
    author, newcomer = api.sign_up("diarist"), api.sign_up("newcomer")
    tag = uuid.uuid4().hex[:6]
    texts = [f"Diary page {number} {tag}" for number in range(10)]
    for text in texts:
        api.post(author, text)
    # Explore is ranked at most every few seconds: wait until a ranking holds enough to scroll.
    wait_until(
        lambda: len(api.client.get("/api/feed/explore", params={"limit": 20}).json()["items"]) >= len(texts),
        timeout=60,
        interval=0.5,
        what="a ranking of explore with the posts",
    )
    page = tabs.signed_in(api.sign_up("reader"))
    tabs.until_live(page)
    expect(page.get_by_role("radio", name="Popular")).to_be_checked()
    expect(page.get_by_text("Ranked by likes, comments and reposts, fresher posts first")).to_be_visible()
    expect(page.get_by_role("article").nth(len(texts) - 1)).to_be_attached()

    # Reading further down.
    page.evaluate("window.scrollTo(0, 300)")
    page.wait_for_function("window.scrollY === 300")
    reading, top_before = page.evaluate(FIRST_VISIBLE_CARD)

    live = f"Just arrived {tag}"
    api.post(newcomer, live)
    pill = page.get_by_role("button", name=re.compile(r"^Show \d+ new posts?$"))
    expect(pill).to_be_visible()
    expect(pill).to_have_text(re.compile(r"\d+ new posts?"))
    # Nothing moved under the reader: the post read is where it was, the live one not on the page yet.
    assert page.evaluate(TOP_OF_CARD, reading) == top_before
    assert page.evaluate("window.scrollY") == 300
    expect(page.get_by_role("article").filter(has_text=live)).to_have_count(0)

    pill.click()
    page.wait_for_function("window.scrollY === 0")
    arrived = page.get_by_role("article").filter(has_text=live)
    expect(arrived).to_be_in_viewport()
    expect(pill).to_have_count(0)
    # Its time reads relatively, with the full time as a tooltip.
    time = arrived.locator("time")
    expect(time).to_contain_text(re.compile(r"^(just now|\d+ min ago)"))
    expect(time).to_have_attribute("title", re.compile(r"\d{4}"))

    # Latest: newest first, by time.
    page.get_by_text("Latest", exact=True).click()
    expect(page.get_by_role("radio", name="Latest")).to_be_checked()
    expect(page.get_by_text("Newest first")).to_be_visible()
    ours = page.get_by_role("article").filter(has_text=tag)
    expect(ours).to_have_count(len(texts) + 1)
    shown = [text for card in ours.all_inner_texts() for text in [live, *texts] if text in card]
    assert shown == [live, *reversed(texts)]
