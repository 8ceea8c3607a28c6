"""Reposts and bookmarks in the browser, through the real stack: a person quotes someone's post, sees
the quote on their feed with the original embedded (a link to it), bookmarks it and finds it on the
Bookmarks page reached from Me; the original's author is told. axe-core finds nothing serious on the
way (the repost sheet and the quote composer open included)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from .axe import axe_violations, blocking, describe
from .community import Api
from .tabs import PHONE, Tabs

pytestmark = pytest.mark.e2e

WIDE: ViewportSize = {"width": 1440, "height": 900}


def assert_accessible(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert not blocking(violations), f"axe-core on {where}:\n{describe(violations)}"


@pytest.mark.parametrize(
    ("viewport", "locale"), [(PHONE, "zh-CN"), (WIDE, "en-US")], ids=["phone-zh", "desktop-en"]
)
def test_quote_repost_shows_with_its_original_and_a_bookmark_is_found_on_the_bookmarks_page(
    tabs: Tabs, api: Api, viewport: ViewportSize, locale: str
) -> None:
    zh = locale == "zh-CN"
    author = api.sign_up("poet", display_name="湖边诗人 Poet")
    reader = api.sign_up("reader")
    original_text = f"西湖的晨雾 Mist on the lake at dawn {uuid.uuid4().hex[:6]}"
    original = api.post(author, original_text)
    quote_text = f"值得一看 Worth a look {uuid.uuid4().hex[:6]}"

    followed = api.client.post(f"/api/users/{author.username}/follow", headers=reader.headers)
    assert followed.status_code == 204, followed.text

    # From the home feed (the author's post is there: the reader follows them).
    page = tabs.signed_in(reader, locale=locale, viewport=viewport)
    page.get_by_role("tab", name="关注" if zh else "Following").click()
    # The author's card (the reader's quote, embedding the same text, will be one too).
    card = page.get_by_role("article", name=re.compile("湖边诗人 Poet")).filter(has_text=original_text)
    repost_button = card.get_by_role("button", name=re.compile("^(Repost|转发)[,，]"))
    expect(repost_button).to_have_accessible_name("转发，0 次转发" if zh else "Repost, 0 reposts")
    repost_button.click()
    menu = page.get_by_role("dialog", name="转发这条动态" if zh else "Repost this post")
    expect(menu).to_be_visible()
    assert_accessible(page, "the repost sheet")
    menu.get_by_role("button", name="引用转发" if zh else "Quote").click()

    composer = page.get_by_role("dialog", name="引用转发" if zh else "Quote post")
    expect(composer.get_by_text(original_text)).to_be_visible()  # the original, under the words
    composer.get_by_role("textbox", name="转发评论" if zh else "Your quote").fill(quote_text)
    send = composer.get_by_role("button", name="转发" if zh else "Repost", exact=True)
    # Checked once enabled and no longer fading in (Vant fades a button's opacity as it is enabled).
    expect(send).to_be_enabled()
    expect(send).to_have_css("opacity", "1")
    assert_accessible(page, "the quote composer")
    send.click()
    expect(composer).to_be_hidden()
    expect(repost_button).to_have_accessible_name("转发，1 次转发" if zh else "Repost, 1 repost")

    # On top of the feed at once: the quote, and under it the original embedded, a link to it.
    quote_card = page.get_by_role("article").filter(has_text=quote_text)
    expect(quote_card).to_be_visible()
    embedded = quote_card.get_by_role("link").filter(has_text=original_text)
    expect(embedded).to_be_visible()
    expect(embedded).to_contain_text("湖边诗人 Poet")
    expect(page.get_by_role("status").filter(has_text=re.compile("^(已转发|Reposted)$"))).to_be_hidden()
    assert_accessible(page, "the home feed with a quote")

    # Bookmarked from the feed, found on the Bookmarks page reached from Me.
    bookmark = quote_card.get_by_role("button", name="收藏" if zh else "Bookmark", exact=True)
    expect(bookmark).to_have_attribute("aria-pressed", "false")
    bookmark.click()
    expect(bookmark).to_have_attribute("aria-pressed", "true")
    page.goto("/me")
    page.get_by_role("link", name="我的收藏" if zh else "Bookmarks").click()
    expect(page).to_have_url(re.compile(r"/bookmarks$"))
    saved = page.get_by_role("article").filter(has_text=quote_text)
    expect(saved).to_be_visible()
    expect(saved.get_by_role("button", name="收藏" if zh else "Bookmark", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    assert_accessible(page, "the bookmarks page")

    # The embedded original opens the original.
    saved.get_by_role("link").filter(has_text=original_text).click()
    expect(page).to_have_url(re.compile(rf"/posts/{original['id']}$"))

    # The author is told (a repost notification), and the bookmark told nobody.
    notes = api.client.get("/api/notifications", headers=author.headers).json()["items"]
    reposts = [(n["actor"]["username"], n["post_id"]) for n in notes if n["kind"] == "repost"]
    assert reposts == [(reader.username, original["id"])]
    assert api.client.get("/api/bookmarks", headers=author.headers).json()["items"] == []
