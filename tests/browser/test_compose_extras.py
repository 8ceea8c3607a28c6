"""Writing extras in the browser, through the real stack: a post with a link shows the linked page's
preview card (fetched by the social service from a page this test serves on 127.0.0.1, which the test
stack lets it reach: AIC_LINK_PREVIEW_ALLOW_LOOPBACK), the emoji picker inserts an emoji, typing @ and a
name suggests the account and inserts a mention that links to its profile, and direct messages carry
images both ways. axe-core finds nothing serious on the pages on the way."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from aic_common.testing import wait_until

from .axe import axe_violations, blocking, describe
from .community import Account, Api, png_bytes
from .tabs import PHONE, Tabs

pytestmark = pytest.mark.e2e

WIDE: ViewportSize = {"width": 1440, "height": 900}
PAGE_TITLE = "西湖晨雾 · Morning mist on West Lake"
PAGE = f"""<!doctype html><html><head><meta charset="utf-8"><title>plain</title>
<meta property="og:title" content="{PAGE_TITLE}">
<meta property="og:site_name" content="Lakeside Notes">
<meta property="og:description" content="A walk round the lake before the town wakes up.">
</head><body><p>The page itself.</p></body></html>""".encode()


@pytest.fixture(scope="module")
def page_server() -> Iterator[str]:
    """A small HTML page on 127.0.0.1, the one site the previews in this test link to."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send_images(api: Api, sender: Account, to: str, content: str, image_ids: list[str]) -> dict[str, Any]:
    """A message with images, once social has heard of the upload (file.uploaded comes a moment later)."""

    def sent() -> httpx.Response | None:
        response = api.client.post(
            "/api/messages",
            json={"to": to, "content": content, "image_ids": image_ids},
            headers=sender.headers,
        )
        if response.status_code == 422 and response.json().get("code") == "image_not_found":
            return None
        assert response.status_code == 201, response.text
        return response

    return wait_until(sent, timeout=30, interval=0.2, what="the message with an image").json()


def assert_accessible(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert not blocking(violations), f"axe-core on {where}:\n{describe(violations)}"


IMAGE_LOADED = "(selector) => [...document.querySelectorAll(selector)].some((img) => img.naturalWidth > 0)"


def image_loaded(page: Page, selector: str) -> None:
    """Wait until an image matching ``selector`` has been fetched and decoded (served by files)."""
    page.wait_for_function(IMAGE_LOADED, arg=selector)


@pytest.mark.parametrize(
    ("viewport", "locale"), [(PHONE, "zh-CN"), (WIDE, "en-US")], ids=["phone-zh", "desktop-en"]
)
def test_link_preview_emoji_mentions_and_images_in_messages(
    tabs: Tabs, api: Api, page_server: str, viewport: ViewportSize, locale: str
) -> None:
    zh = locale == "zh-CN"
    author = api.sign_up("writer", display_name="写字的人 Writer")
    friend = api.sign_up("mentioned", display_name="被提到的人 Friend")
    link = f"{page_server}/walk?day={uuid.uuid4().hex[:6]}"
    page = tabs.signed_in(author, locale=locale, viewport=viewport)

    # ---- compose: a link, a mention chosen from the suggestions, an emoji
    page.goto("/compose")
    box = page.locator("textarea[name=content]")
    box.click()
    box.press_sequentially(f"早上的湖 {link} 和 @{friend.username[:-2]}")
    suggestions = page.get_by_role("listbox")
    option = suggestions.get_by_role("option").filter(has_text=f"@{friend.username}")
    expect(option).to_be_visible()
    assert_accessible(page, "compose with @ suggestions")
    # The arrows move the choice; Enter takes the chosen one.
    while option.get_attribute("aria-selected") != "true":
        box.press("ArrowDown")
    box.press("Enter")
    expect(suggestions).to_be_hidden()
    expect(box).to_have_value(re.compile(rf"@{friend.username} $"))

    page.get_by_role("button", name="插入表情" if zh else "Insert an emoji").click()
    panel = page.get_by_role("group", name="表情" if zh else "Emoji")
    expect(panel).to_be_visible()
    assert_accessible(page, "compose with the emoji picker open")
    page.keyboard.press("ArrowRight")  # the keyboard moves in the grid: the second emoji
    page.keyboard.press("Enter")
    expect(panel).to_be_hidden()
    expect(box).to_have_value(f"早上的湖 {link} 和 @{friend.username} 😁")

    page.get_by_role("button", name="发布" if zh else "Post").click()
    expect(page).to_have_url(re.compile(r"/$"))

    # ---- the post: links and the mention clickable, the preview card from the page server
    card = page.locator("article").filter(has_text="早上的湖").first
    preview = card.locator("[data-test=link-preview]")
    expect(preview).to_contain_text(PAGE_TITLE)
    expect(preview).to_contain_text("Lakeside Notes")
    expect(preview).to_have_attribute("href", link)
    expect(preview).to_have_attribute("rel", "noopener noreferrer nofollow ugc")
    expect(card.get_by_role("link", name=link, exact=True)).to_have_attribute("target", "_blank")
    assert_accessible(page, "the feed with a link preview")
    card.get_by_role("link", name=f"@{friend.username}", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/users/{friend.username}$"))
    expect(page.get_by_text("被提到的人 Friend").first).to_be_visible()

    # ---- a message with an image arrives and shows it
    photo = api.upload_png(friend, png_bytes(320, 240, (30, 140, 90)))
    send_images(api, friend, author.username, "", [photo])
    page.goto("/messages")
    expect(page.get_by_text("[图片]" if zh else "[Image]").first).to_be_visible()
    page.goto(f"/messages/{friend.username}")
    received = page.locator("[data-test=message-image]")
    expect(received).to_have_count(1)
    image_loaded(page, "[data-test=message-image] img")
    received.click()
    viewer = page.locator(".van-image-preview")
    expect(viewer).to_be_visible()
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    # ---- and one is sent from the chat: picked, previewed, uploaded, sent alone
    page.locator("[data-test=image-input]").set_input_files(
        {"name": "lake.png", "mimeType": "image/png", "buffer": png_bytes(200, 150, (200, 80, 40))}
    )
    attachment = page.locator("[data-test=attachment]")
    expect(attachment).to_have_count(1)
    send = page.get_by_role("button", name="发送" if zh else "Send")
    expect(send).to_be_enabled()
    assert_accessible(page, "the chat with an image to send")
    send.click()
    expect(attachment).to_have_count(0)
    expect(page.locator("[data-test=message-image]")).to_have_count(2)
    image_loaded(page, ".bubble--mine [data-test=message-image] img")

    history = api.client.get(f"/api/conversations/{friend.username}/messages", headers=author.headers).json()
    mine = [m for m in history["items"] if m["sender"]["id"] == author.id]
    assert len(mine) == 1 and mine[0]["content"] == "" and len(mine[0]["images"]) == 1
