"""Identity and pictures: a person uploads a profile picture, crops it and sees it on their profile and
in the feed; the follower count opens the list of followers (readable signed out too); post pictures
open in a viewer that closes with Esc and with its button, gives focus back and moves with the arrow
keys; a single tall picture is shown whole, not cropped to a square. Phone in Chinese, desktop in
English, axe-core clean."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from .axe import axe_violations, blocking, describe
from .community import Account, Api, png_bytes
from .tabs import PHONE, Tabs

pytestmark = pytest.mark.e2e

DESKTOP: ViewportSize = {"width": 1440, "height": 900}
TALL = (300, 900)
FOLLOWERS_OF = {"zh-CN": "{name}的粉丝", "en-US": "Followers of {name}"}
CLOSE_IMAGE = {"zh-CN": "关闭图片", "en-US": "Close image"}
IMAGE_LOADED = "(img) => img.complete && img.naturalWidth > 0"


@dataclass
class Pictures:
    poster: Account
    tall_post: dict
    pair_post: dict


@pytest.fixture(scope="module")
def pictures(api: Api) -> Pictures:
    poster = api.sign_up("painter", display_name="画画的人 Painter")
    tall = api.upload_png(poster, png_bytes(*TALL, (30, 90, 160)))
    tall_post = api.post(poster, f"一张竖图 A tall one {uuid.uuid4().hex[:4]}", [tall])
    pair = [api.upload_png(poster, png_bytes(400, 300, colour)) for colour in ((200, 60, 60), (60, 160, 90))]
    pair_post = api.post(poster, f"两张图 Two of them {uuid.uuid4().hex[:4]}", pair)
    return Pictures(poster, tall_post, pair_post)


def follow(api: Api, who: Account, whom: Account) -> None:
    response = api.client.post(f"/api/users/{whom.username}/follow", headers=who.headers)
    assert response.status_code == 204, response.text


def assert_axe_clean(page: Page, where: str) -> None:
    found = axe_violations(page)
    assert not blocking(found), f"axe-core on {where}:\n{describe(found)}"


def card(page: Page, post: dict):
    return page.locator("article.post-card").filter(has_text=post["content"]).first


def focused_test_id(page: Page) -> str | None:
    return page.evaluate("() => document.activeElement?.getAttribute('data-test') ?? null")


@pytest.mark.parametrize(
    ("viewport", "locale"), [(PHONE, "zh-CN"), (DESKTOP, "en-US")], ids=["phone-zh", "desktop-en"]
)
def test_avatar_upload_follower_list_and_image_viewer(
    tabs: Tabs, api: Api, pictures: Pictures, viewport: ViewportSize, locale: str
) -> None:
    my_name = f"照片 Photo {uuid.uuid4().hex[:4]}"
    me = api.sign_up("selfie", display_name=my_name)
    follow(api, me, pictures.poster)
    follow(api, pictures.poster, me)
    my_post = api.post(me, f"我的新头像 My new picture {uuid.uuid4().hex[:4]}")
    page = tabs.signed_in(me, locale=locale, viewport=viewport)

    # --- the picture: choose, crop (drag, a key, the slider), save
    page.goto(f"/users/{me.username}")
    header_avatar = page.locator(".profile__head .user-avatar")
    expect(header_avatar).to_have_attribute("data-test", "avatar-initial")
    page.locator('[data-test="edit-profile"]').click()
    page.locator('[data-test="photo-input"]').set_input_files(
        {"name": "wide.png", "mimeType": "image/png", "buffer": png_bytes(900, 500, (220, 140, 30))}
    )
    window = page.locator('[data-test="crop-window"]')
    expect(window).to_be_visible()
    picture = window.locator("img")
    page.wait_for_function(f"() => ({IMAGE_LOADED})(document.querySelector('[data-test=crop-window] img'))")
    start = picture.bounding_box()
    box = window.bounding_box()
    assert start and box
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    moved = picture.bounding_box()
    assert moved and moved["x"] > start["x"], "dragging moves the picture"
    window.focus()
    page.keyboard.press("ArrowRight")
    stepped = picture.bounding_box()
    assert stepped and stepped["x"] < moved["x"], "ArrowRight moves the crop right: the picture goes left"
    page.locator('[data-test="crop-zoom"]').fill("2")
    zoomed = picture.bounding_box()
    assert zoomed and zoomed["height"] > box["height"] * 1.9, "zoom 2 doubles the picture"
    page.locator('[data-test="crop-done"]').click()
    expect(window).to_be_hidden()

    # The new picture: a square thumbnail, on the profile at once and in the editor.
    avatar = page.locator('.profile__head [data-test="avatar-image"]')
    expect(avatar).to_have_attribute("src", re.compile(r"^/api/files/[0-9a-f-]+/thumbnail$"))
    page.wait_for_function(f"(img) => ({IMAGE_LOADED})(img)", arg=avatar.element_handle())
    size = avatar.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert size[0] == size[1] and size[0] > 0, f"a square avatar, got {size}"
    avatar_url = avatar.get_attribute("src")
    page.keyboard.press("Escape")
    expect(page.locator('[data-test="save-profile"]')).to_be_hidden()

    # In the feed too, after a reload (what the server says, not what the page remembered).
    page.goto("/")
    mine = card(page, my_post).locator('[data-test="avatar-image"]')
    expect(mine).to_have_attribute("src", avatar_url or "")

    # --- the counts: posts scrolls to the posts, followers opens the list
    page.goto(f"/users/{me.username}")
    page.locator('[data-test="posts-count-link"]').click()
    expect(card(page, my_post)).to_be_in_viewport()
    page.locator('[data-test="followers-link"]').click()
    expect(page).to_have_url(re.compile(rf"/users/{me.username}/followers$"))
    row = page.locator('[data-test="connection"]').filter(has_text=pictures.poster.username)
    expect(row).to_be_visible()
    expect(row.locator('[data-test="row-follow"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".van-nav-bar__title")).to_have_text(FOLLOWERS_OF[locale].format(name=my_name))
    assert_axe_clean(page, "the followers list")

    # --- a single tall picture is shown whole: its box has the picture's shape
    page.goto(f"/users/{pictures.poster.username}")
    tall = card(page, pictures.tall_post).locator('[data-test="single-image"]')
    tall.scroll_into_view_if_needed()
    page.wait_for_function(f"(img) => ({IMAGE_LOADED})(img)", arg=tall.element_handle())
    shown = tall.bounding_box()
    assert shown
    expected = TALL[0] / TALL[1]
    assert abs(shown["width"] / shown["height"] - expected) < 0.02, (shown, expected)
    assert shown["height"] > shown["width"] * 2, "tall, not a square crop"

    # --- the viewer: close button and Esc, focus back, arrows between pictures
    close = page.get_by_role("button", name=CLOSE_IMAGE[locale])
    tall_button = card(page, pictures.tall_post).locator('[data-test="thumb"]')
    tall_button.click()
    expect(close).to_be_visible()
    expect(close).to_be_focused()
    close_box = close.bounding_box()
    assert close_box and close_box["width"] >= 44 and close_box["height"] >= 44
    assert_axe_clean(page, "the image viewer")
    page.keyboard.press("Escape")
    expect(close).to_be_hidden()
    assert focused_test_id(page) == "thumb", "focus back on the picture that opened the viewer"

    pair = card(page, pictures.pair_post).locator('[data-test="thumb"]')
    pair.nth(1).click()
    count = page.locator('[data-test="viewer-count"]')
    expect(count).to_have_text("2 / 2")
    count_box, close_box = count.bounding_box(), close.bounding_box()
    assert count_box and close_box
    assert count_box["x"] + count_box["width"] <= close_box["x"], (
        "the counter does not run under the close button"
    )
    page.keyboard.press("ArrowLeft")
    expect(count).to_have_text("1 / 2")
    close.click()
    expect(close).to_be_hidden()

    # --- and the picture can be removed again: the coloured initial is back
    page.goto(f"/users/{me.username}")
    page.locator('[data-test="edit-profile"]').click()
    page.locator('[data-test="remove-photo"]').click()
    expect(page.locator(".profile__head .user-avatar")).to_have_attribute("data-test", "avatar-initial")
    profile = api.client.get(f"/api/users/{me.username}").json()
    assert profile["avatar_url"] is None
    assert tabs.page_errors == []


@pytest.mark.parametrize(
    ("viewport", "locale"), [(PHONE, "zh-CN"), (DESKTOP, "en-US")], ids=["phone-zh", "desktop-en"]
)
def test_follower_lists_are_readable_signed_out(
    tabs: Tabs, pictures: Pictures, api: Api, viewport: ViewportSize, locale: str
) -> None:
    fan = api.sign_up("fan")
    follow(api, fan, pictures.poster)
    page = tabs.open(locale=locale, viewport=viewport)
    page.goto(f"/users/{pictures.poster.username}/followers")
    row = page.locator('[data-test="connection"]').filter(has_text=fan.username)
    expect(row).to_be_visible()
    page.get_by_role("link", name=re.compile("^(Following|关注)$")).click()
    expect(page).to_have_url(re.compile(rf"/users/{pictures.poster.username}/following$"))
    assert_axe_clean(page, "the following list, signed out")
