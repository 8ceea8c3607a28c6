"""How long a first visit takes on a slow phone: Chromium throttled to the DevTools "Slow 4G" profile and a 4×
slower CPU, cache empty. Printed for a person to compare (run with ``-s``), never asserted against a clock:
the machine's load decides the figures, the tests only decide that there is something to measure.

Two visits: signed out (what a newcomer meets at ``/``) and signed in (the feed a member opens each day).
For each, the time to the first contentful paint, to the first post on screen, and the bytes on the wire.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from .community import Account, Api, fake_ip
from .tabs import PHONE, TIMEOUT_MS, Tabs

pytestmark = pytest.mark.e2e

# DevTools' "Slow 4G": Lighthouse's mobile network (150 ms, 1.6 Mbps down, 750 kbps up) as DevTools applies
# it to a page, with its latency ×3.75 and throughput ×0.9 to stand for packet-level throttling.
SLOW_4G = {
    "offline": False,
    "latency": 562.5,
    "downloadThroughput": 1_638_400 * 0.9 / 8,
    "uploadThroughput": 750_000 * 0.9 / 8,
}
CPU_SLOWDOWN = 4
VISITS = 3  # the median of three, each in a new context with an empty cache

# Set before the app's code runs: when the first post card and the first paint appear, in ms since the
# navigation started (performance.now()), as the page saw them.
TIMING_SCRIPT = """
window.__firstPostAt = null;
new MutationObserver((_, observer) => {
  if (document.querySelector('.post-card')) {
    window.__firstPostAt = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""
READ_TIMINGS = """() => ({
  firstPost: window.__firstPostAt,
  firstPaint: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime ?? null,
  bytes: [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    .reduce((sum, entry) => sum + entry.transferSize, 0),
})"""


@dataclass
class Visit:
    first_paint_ms: float
    first_post_ms: float | None  # None: no post on the first screen
    transfer_bytes: int


def throttled_visit(browser: Browser, base_url: str, path: str, storage_state: Any = None) -> Visit:
    context: BrowserContext = browser.new_context(
        base_url=base_url,
        viewport=PHONE,
        locale="en-US",
        storage_state=storage_state,
        extra_http_headers={"X-Forwarded-For": fake_ip()},
    )
    try:
        # Slow 4G makes everything ~10× slower than the tests' usual patience.
        context.set_default_timeout(TIMEOUT_MS * 6)
        page: Page = context.new_page()
        page.add_init_script(TIMING_SCRIPT)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", SLOW_4G)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        page.goto(path)
        # The first screen is either a post or, for a visitor the app turns away, the sign-in form.
        page.locator(".post-card, form").first.wait_for(state="visible")
        page.wait_for_load_state("networkidle")
        timings = page.evaluate(READ_TIMINGS)
        return Visit(timings["firstPaint"], timings["firstPost"], int(timings["bytes"]))
    finally:
        context.close()


def median_visit(visits: list[Visit]) -> tuple[float, float | None, int]:
    posts = [visit.first_post_ms for visit in visits if visit.first_post_ms is not None]
    return (
        statistics.median(visit.first_paint_ms for visit in visits),
        statistics.median(posts) if len(posts) == len(visits) else None,
        int(statistics.median(visit.transfer_bytes for visit in visits)),
    )


def report(label: str, visits: list[Visit]) -> tuple[float, float | None, int]:
    paint, post, size = median_visit(visits)
    post_text = f"{post:,.0f} ms" if post is not None else "no post on the first screen"
    print(
        f"\n{label} (Slow 4G, CPU ×{CPU_SLOWDOWN}, median of {len(visits)}): first paint {paint:,.0f} ms, "
        f"first post {post_text}, {size:,} bytes"
    )
    return paint, post, size


def test_a_visitor_signed_out_sees_posts_on_the_first_screen(
    browser: Browser, web_ui: str, a_post_in_town: dict[str, Any]
) -> None:
    visits = [throttled_visit(browser, web_ui, "/") for _ in range(VISITS)]
    _, first_post, _ = report("first visit, signed out, /", visits)
    assert first_post is not None, "a visitor signed out sees no post on the first screen"


def test_a_member_opens_the_feed_with_an_empty_cache(
    browser: Browser, web_ui: str, api: Api, tabs: Tabs, a_post_in_town: dict[str, Any]
) -> None:
    member: Account = api.sign_up("reader")
    api.until_known_to_social(member.username)
    page = tabs.signed_in(member)
    signed_in_storage = page.context.storage_state()

    visits = [throttled_visit(browser, web_ui, "/", signed_in_storage) for _ in range(VISITS)]
    _, first_post, _ = report("visit signed in, empty cache, /", visits)
    assert first_post is not None, "the feed showed no post"
