"""What a first visit downloads: the app opened signed out in a fresh Chromium profile (nothing cached), its
bytes on the wire and its requests, printed for a person to compare (run with ``-s``); and the built files
fetched by a plain HTTP client in each encoding the gateway offers."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli
import httpx
import pytest
from playwright.sync_api import Response, expect

from .tabs import Tabs

pytestmark = pytest.mark.e2e

# A first visit downloaded 462 KB in 18 requests when every file went uncompressed with all of Vant's CSS
# (and showed a sign-in form); brotli-compressed, with the CSS of the Vant components in use only, 126 KB.
# The landing page (the town's map, characters and posts) brought it to ~206 KB. The bound is half the
# first figure; past it, look at what the printed table shows.
FIRST_VISIT_BOUND_BYTES = 231_000
TEXT_TYPES = re.compile(r"^(text/html|text/css|text/javascript|application/javascript)\b")

# Every response the page received, from the Performance API: the navigation and each resource.
TRANSFERS_JS = """() => [
  ...performance.getEntriesByType('navigation'),
  ...performance.getEntriesByType('resource'),
].map((entry) => ({ url: entry.name, encoded: entry.encodedBodySize, decoded: entry.decodedBodySize }))"""


@dataclass
class Transfer:
    path: str
    encoded: int  # bytes of the body as sent
    decoded: int
    content_type: str
    content_encoding: str


def first_visit(tabs: Tabs) -> list[Transfer]:
    page = tabs.open()
    responses: dict[str, Response] = {}
    page.on("response", lambda response: responses.setdefault(response.url, response))
    page.goto("/")
    # The landing page, its posts included (they load once the page is shown).
    expect(page.locator(".post-card").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    transfers = []
    for entry in page.evaluate(TRANSFERS_JS):
        response = responses.get(entry["url"])  # none for the favicon: Playwright does not show it
        headers = response.headers if response else {"content-encoding": "?"}
        transfers.append(
            Transfer(
                urlsplit(entry["url"]).path,
                entry["encoded"],
                entry["decoded"],
                headers.get("content-type", ""),
                headers.get("content-encoding", "identity"),
            )
        )
    return transfers


def test_a_first_visit_downloads_compressed_assets_only(tabs: Tabs, a_post_in_town: dict[str, Any]) -> None:
    transfers = first_visit(tabs)

    encoded = sum(transfer.encoded for transfer in transfers)
    decoded = sum(transfer.decoded for transfer in transfers)
    # The bound is on the app and its data: what the town's pictures weigh depends on what people and the
    # characters posted (the landing page's latest posts, lazy thumbnails), not on the app.
    pictures = sum(transfer.encoded for transfer in transfers if transfer.content_type.startswith("image/"))
    print(
        f"\nfirst visit, signed out: {len(transfers)} requests, {encoded} bytes sent ({decoded} decoded), "
        f"{pictures} of them the town's pictures"
    )
    for transfer in sorted(transfers, key=lambda transfer: -transfer.encoded):
        print(f"  {transfer.encoded:>8} {transfer.decoded:>8} {transfer.content_encoding:<8} {transfer.path}")

    uncompressed = [
        transfer.path
        for transfer in transfers
        if TEXT_TYPES.match(transfer.content_type)
        and transfer.decoded > 1024
        and transfer.content_encoding not in {"br", "gzip"}
    ]
    assert not uncompressed, f"sent uncompressed: {uncompressed}"
    assert encoded - pictures < FIRST_VISIT_BOUND_BYTES


DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "br": brotli.decompress,
    "gzip": gzip.decompress,
    "identity": lambda body: body,
}


def test_each_encoding_decodes_to_the_built_file(web_ui: str, web_dist: Path) -> None:
    """index.html and the app's script, fetched as a client asking for one encoding, decode to the file."""
    index = (web_dist / "index.html").read_bytes()
    script = re.search(rb'src="/(assets/[^"]+\.js)"', index)
    assert script, index
    script_path = script[1].decode()
    built = {
        "/": (index, "text/html"),
        f"/{script_path}": ((web_dist / script_path).read_bytes(), "text/javascript"),
    }

    with httpx.Client(base_url=web_ui, timeout=30) as client:
        for path, (content, content_type) in built.items():
            for encoding, decode in DECODERS.items():
                with client.stream("GET", path, headers={"Accept-Encoding": encoding}) as response:
                    sent = b"".join(response.iter_raw())  # as sent, not decoded by httpx
                assert response.status_code == 200
                assert response.headers.get("content-encoding", "identity") == encoding, (path, encoding)
                assert response.headers["vary"] == "Accept-Encoding"
                assert response.headers["content-type"].startswith(content_type)
                assert decode(sent) == content, (path, encoding)
