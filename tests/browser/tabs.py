"""Browser tabs for the tests: each in a context of its own, signed in through the UI."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Response, ViewportSize, expect

from .community import Account, fake_ip

REPO = Path(__file__).resolve().parents[2]
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
# The stack shares two cores with everything else: give pages more than Playwright's 5 s default.
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)
# The tab bar's "Me": tab names carry their icon's glyph first and the unread badge's count.
ME_TAB = re.compile(r"\bMe\b")


def artifacts_dir() -> Path:
    """Where screenshots go (not committed): $AIC_ARTIFACTS_DIR, by default var/artifacts."""
    return Path(os.environ.get("AIC_ARTIFACTS_DIR") or REPO / "var" / "artifacts")


def is_live_stream(response: Response) -> bool:
    """The answer to the page's server-sent events request: the stream is open once its headers came.
    (Not the POST /api/stream/ticket that comes before it for a signed-in person.)"""
    return urlsplit(response.url).path == "/api/stream" and response.ok


class Tabs:
    """The browser tabs of one test, each in a context of its own: its own storage (so its own signed-in
    person), client address and language."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser, self.base_url = browser, base_url
        self.pages: list[Page] = []
        self.page_errors: list[str] = []
        self.live: set[Page] = set()

    def open(self, *, locale: str = "en-US", viewport: ViewportSize | None = None) -> Page:
        context = self.browser.new_context(
            base_url=self.base_url,
            locale=locale,
            viewport=viewport or PHONE,
            extra_http_headers={"X-Forwarded-For": fake_ip()},
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on("response", lambda response: self.live.add(page) if is_live_stream(response) else None)
        self.pages.append(page)
        return page

    def signed_in(
        self, account: Account, *, locale: str = "en-US", viewport: ViewportSize | None = None
    ) -> Page:
        """A new tab where ``account`` signed in through the sign-in page, now on the home feed."""
        page = self.open(locale=locale, viewport=viewport)
        page.goto("/signin")
        self.sign_in(page, account)
        return page

    def sign_in(self, page: Page, account: Account) -> None:
        """Sign in on the sign-in page open in ``page``, in either language, and land on the home feed."""
        page.get_by_label(re.compile("^(Username or email|用户名或邮箱)$")).fill(account.username)
        page.get_by_label(re.compile("^(Password|密码)$")).fill(account.password)
        # The form's button: a sign-in prompt that brought the person here may still be fading out.
        page.locator("form").get_by_role("button", name=re.compile("^(Sign in|登录)$")).click()
        expect(page).to_have_url(f"{self.base_url}/")

    def until_live(self, page: Page) -> None:
        """Wait until the page has opened its live stream, so what happens next reaches it live."""
        # Sync Playwright delivers events only inside its calls: nothing can slip between check and wait.
        if page not in self.live:
            page.wait_for_event("response", predicate=is_live_stream)

    def save_screenshots(self, folder: Path, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for number, page in enumerate(self.pages, start=1):
            if not page.is_closed():
                page.screenshot(path=folder / f"{name}-{number}.png", full_page=True)

    def close(self) -> None:
        for page in self.pages:
            page.context.close()
