"""Fixtures of the browser tests: the web UI in headless Chromium, driven by Playwright against the real
topology (the ``stack`` fixture), whose gateway serves the built UI from services/gateway/web/dist.

Chromium is the system's (``AIC_CHROMIUM`` or ``chromium`` on the PATH); Playwright's own browser
downloads are never used. Without it the tests are skipped, and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from aic_common.testing.fixtures import unavailable
from aic_gateway.settings import GatewaySettings
from aic_gateway.stack import Stack

from .community import ADMIN_USERNAME, Account, Api, Showcase, Simulator, fake_ip, png_bytes
from .tabs import Tabs, artifacts_dir

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]

_failed = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[_failed] = True
    return report


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = os.environ.get("AIC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        unavailable(
            "Chromium",
            "run `scripts/ensure-test-tools.sh` as root "
            "(apt-get install chromium fonts-noto-cjk fonts-noto-color-emoji) "
            "or set AIC_CHROMIUM to a Chromium binary",
        )
    return str(path)


@pytest.fixture(scope="package")
def browser(chromium_executable: str) -> Iterator[Browser]:
    """One headless Chromium for all browser tests; each test opens contexts of its own."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The built web UI, where the gateway serves it from (AIC_WEB_DIST_DIR, as the gateway reads it)."""
    dist = os.environ.get("AIC_WEB_DIST_DIR") or GatewaySettings.model_fields["web_dist_dir"].default
    index = Path(dist) / "index.html"
    if not index.is_file():
        pytest.fail(
            f"The web UI is not built ({index} is missing): run `make web` (`make test` builds it first).",
            pytrace=False,
        )
    return index.parent


@pytest.fixture(scope="session")
def web_ui(chromium_executable: str, web_dist: Path, stack: Stack) -> str:
    """The stack's gateway URL, once it is known to serve the built UI (not its placeholder page).

    Chromium and the built UI are checked first: without them no stack is started for nothing."""
    served = httpx.get(f"{stack.gateway_url}/", timeout=30)
    built = (web_dist / "index.html").read_text(encoding="utf-8")
    assert served.status_code == 200 and served.text == built, (
        f"the stack's gateway does not serve the web UI built in {web_dist}"
    )
    return stack.gateway_url


@pytest.fixture(scope="package")
def api(web_ui: str) -> Iterator[Api]:
    client = Api(web_ui)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="package")
def admin(api: Api, stack: Stack) -> Account:
    return api.sign_in(Account(ADMIN_USERNAME, stack.secrets.admin_password, fake_ip()))


@pytest.fixture(scope="package")
def simulator(api: Api, admin: Account) -> Simulator:
    return Simulator(api, admin)


@pytest.fixture(scope="module")
def showcase(api: Api, simulator: Simulator) -> Showcase:
    character = simulator.characters()[0]
    person = api.sign_up("resident", display_name="海边的人 Seaside")
    image = api.upload_png(person, png_bytes(640, 400, (40, 120, 200)))
    post = api.post(person, f"港口的早晨 Morning at the harbour {uuid.uuid4().hex[:4]}", [image])
    bookmarked = api.client.put(f"/api/posts/{post['id']}/bookmark", headers=person.headers)
    assert bookmarked.status_code == 204, bookmarked.text
    commenter_name = "林间小路"
    commenter = api.sign_up("neighbour", display_name=commenter_name)
    comment = "好美的照片！What a photo!"
    api.comment(commenter, post["id"], comment)
    # Someone on each of the person's follower and following lists.
    for who, whom in ((commenter, person), (person, commenter)):
        followed = api.client.post(f"/api/users/{whom.username}/follow", headers=who.headers)
        assert followed.status_code == 204, followed.text
    message = f"你好，{character['display_name']}！今天过得怎么样？"
    api.message(person, character["username"], message)
    return Showcase(person, post, comment, commenter_name, character, message)


@pytest.fixture
def a_post_in_town(api: Api) -> dict[str, Any]:
    """At least one post exists, whatever ran before: for tests of what a first visit shows."""
    author = api.sign_up("author")
    api.until_known_to_social(author.username)
    return api.post(author, "A post for the first visit to find")


@pytest.fixture
def tabs(browser: Browser, web_ui: str, request: pytest.FixtureRequest) -> Iterator[Tabs]:
    """Browser tabs that close after the test; on a failure their screenshots go to
    ``<artifacts>/browser-failures``. An uncaught error in a page fails the test."""
    opened = Tabs(browser, web_ui)
    try:
        yield opened
        if request.node.stash.get(_failed, False):
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            opened.save_screenshots(artifacts_dir() / "browser-failures", name)
        errors = list(opened.page_errors)
    finally:
        opened.close()
    assert not errors, "uncaught errors in the page:\n" + "\n".join(errors)
