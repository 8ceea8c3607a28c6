"""The web UI's files served precompressed: the .br or .gz the build wrote beside a file, chosen by the
request's Accept-Encoding, else the file itself."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from aic_common.bus import InProcessBus
from aic_common.testing import app_lifespan
from aic_gateway.app import create_app
from aic_gateway.settings import GatewaySettings
from aic_gateway.webui import IMMUTABLE, WebUi, preferred_encoding

pytestmark = pytest.mark.unit

SCRIPT = b"console.log('the app')"
INDEX = b"<!doctype html><title>app</title>"
# Stand-ins for the compressed siblings: which file was sent is what these tests look at.
SCRIPT_BR, SCRIPT_GZ = b"br bytes of the script", b"gzip bytes of the script"
INDEX_BR, INDEX_GZ = b"br bytes of index.html", b"gzip bytes of index.html"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX)
    (dist / "index.html.br").write_bytes(INDEX_BR)
    (dist / "index.html.gz").write_bytes(INDEX_GZ)
    (dist / "assets" / "index-abc123.js").write_bytes(SCRIPT)
    (dist / "assets" / "index-abc123.js.br").write_bytes(SCRIPT_BR)
    (dist / "assets" / "index-abc123.js.gz").write_bytes(SCRIPT_GZ)
    (dist / "assets" / "gzip-only-abc123.css").write_bytes(b"body{}")
    (dist / "assets" / "gzip-only-abc123.css.gz").write_bytes(b"gzip bytes of the css")
    (dist / "assets" / "tiny-abc123.js").write_bytes(b"1")  # too small to be worth compressing
    return dist


@pytest.fixture
async def client(dist: Path, tmp_path: Path):
    app = create_app(GatewaySettings(data_dir=tmp_path, web_dist_dir=dist), shared_bus=InProcessBus("t"))
    async with (
        app_lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        yield client


async def fetch(
    client: httpx.AsyncClient, path: str, accept_encoding: str | None
) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent (httpx would decode it on .content)."""
    headers = {} if accept_encoding is None else {"Accept-Encoding": accept_encoding}
    request = client.build_request("GET", path, headers=headers)
    if accept_encoding is None:
        del request.headers["Accept-Encoding"]  # httpx would add its own
    response = await client.send(request, stream=True)
    body = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()
    return response, body


@pytest.mark.parametrize(
    ("accept_encoding", "body", "encoding"),
    [
        ("br", SCRIPT_BR, "br"),
        ("gzip, deflate, br, zstd", SCRIPT_BR, "br"),  # Chromium's
        ("gzip", SCRIPT_GZ, "gzip"),
        ("x-gzip", SCRIPT_GZ, "gzip"),
        ("gzip;q=1.0, br;q=0.5", SCRIPT_GZ, "gzip"),
        ("br;q=0, gzip", SCRIPT_GZ, "gzip"),
        ("BR;Q=0.8", SCRIPT_BR, "br"),
        ("*", SCRIPT_BR, "br"),
        ("*;q=0.5, br;q=0", SCRIPT_GZ, "gzip"),
        ("br;q=0, gzip;q=0", SCRIPT, None),
        ("identity", SCRIPT, None),
        ("gzip;q=0.5, identity", SCRIPT, None),
        ("deflate, zstd", SCRIPT, None),
        ("", SCRIPT, None),
        (None, SCRIPT, None),
        ("br;q=nonsense, gzip", SCRIPT_GZ, "gzip"),
    ],
)
async def test_an_asset_is_sent_in_the_best_encoding_the_request_accepts(
    client: httpx.AsyncClient, accept_encoding: str | None, body: bytes, encoding: str | None
) -> None:
    response, sent = await fetch(client, "/assets/index-abc123.js", accept_encoding)
    assert response.status_code == 200
    assert sent == body
    assert response.headers.get("content-encoding") == encoding
    assert response.headers["content-length"] == str(len(body))
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["cache-control"] == IMMUTABLE


async def test_index_html_and_client_routes_are_sent_compressed_too(client: httpx.AsyncClient) -> None:
    for path in ("/", "/users/someone"):
        response, sent = await fetch(client, path, "gzip, br")
        assert sent == INDEX_BR
        assert response.headers["content-encoding"] == "br"
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["vary"] == "Accept-Encoding"


async def test_without_that_sibling_the_next_encoding_or_the_file_is_sent(
    client: httpx.AsyncClient,
) -> None:
    css, css_body = await fetch(client, "/assets/gzip-only-abc123.css", "br, gzip")
    assert css.headers["content-encoding"] == "gzip"
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css_body == b"gzip bytes of the css"

    tiny, tiny_body = await fetch(client, "/assets/tiny-abc123.js", "br, gzip")
    assert tiny_body == b"1"
    assert "content-encoding" not in tiny.headers
    assert "vary" not in tiny.headers  # nothing else could have been sent
    assert tiny.headers["cache-control"] == IMMUTABLE


def test_a_dist_without_compressed_files_is_served_as_before(tmp_path: Path) -> None:
    dist = tmp_path / "plain"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX)
    (dist / "assets" / "index-abc123.js").write_bytes(SCRIPT)
    ui = WebUi(dist)
    for path, body in (("assets/index-abc123.js", SCRIPT), ("", INDEX), ("users/someone", INDEX)):
        response = ui.response_for(path, "gzip, deflate, br")
        assert Path(response.path).read_bytes() == body  # type: ignore[attr-defined]
        assert "content-encoding" not in response.headers


@pytest.mark.parametrize(
    ("accept_encoding", "available", "chosen"),
    [
        ("br, gzip", ("gzip",), "gzip"),
        ("br, gzip", (), None),
        ("gzip;q=0.3, br;q=0.3", ("br", "gzip"), "br"),  # a tie goes to the smaller
        ("gzip; q=0.9 , br ; q=0.2", ("br", "gzip"), "gzip"),
        ("*;q=0", ("br", "gzip"), None),
        ("identity;q=0, gzip;q=0.1", ("br", "gzip"), "gzip"),
        ("br;q=1.5", ("br", "gzip"), None),  # not a q-value: the entry is ignored
        (",,br,,", ("br", "gzip"), "br"),
    ],
)
def test_preferred_encoding(accept_encoding: str, available: tuple[str, ...], chosen: str | None) -> None:
    assert preferred_encoding(accept_encoding, available) == chosen
