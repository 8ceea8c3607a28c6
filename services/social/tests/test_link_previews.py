"""Link previews: the address rules (every refused range), and fetching from a real HTTP server on
127.0.0.1 — refused as loopback by default, reached in the other tests through an injected resolver that
names it ``preview.test`` with loopback let through (``link_preview_allow_loopback``)."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aic_social.link_previews import LinkPreviewer, PreviewRefused, address_refusal, parse_preview
from aic_social.settings import SocialSettings

PAGE = b"""<!doctype html><html><head><meta charset="utf-8">
<title>Plain title</title>
<meta property="og:title" content="West Lake &amp; the rain">
<meta property="og:site_name" content="Hangzhou Daily">
<meta name="description" content="  What the lake looks like   after rain.  ">
</head><body>hello</body></html>"""


class Server:
    """A real HTTP server on 127.0.0.1; each path is a behaviour, and every request is recorded."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []  # (path, Host header)
        self.release = threading.Event()  # what a hanging response waits for
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, content_type: str, body: bytes, **headers: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Host")))
                path = self.path
                if path == "/page":
                    self._send(200, "text/html; charset=utf-8", PAGE)
                elif path.startswith("/hops/"):  # /hops/N redirects N times, then the page
                    left = int(path.rsplit("/", 1)[1])
                    target = f"/hops/{left - 1}" if left > 1 else "/page"
                    self._send(302, "text/html", b"", Location=target)
                elif path == "/to-private":
                    self._send(302, "text/html", b"", Location="http://10.0.0.7/admin")
                elif path == "/to-mapped":
                    self._send(301, "text/html", b"", Location="http://[::ffff:169.254.169.254]/latest")
                elif path == "/image":
                    self._send(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"0" * 100)
                elif path == "/json":
                    self._send(200, "application/json", b'{"title": "no"}')
                elif path in ("/endless", "/endless-late-title"):
                    self._endless(title_first=path == "/endless")
                elif path == "/hang":
                    server.release.wait(30)
                elif path == "/trickle":
                    self._trickle()
                else:
                    self._send(404, "text/html", b"<title>Not found</title>")

            def _endless(self, *, title_first: bool) -> None:
                """A body that never ends (chunked): only a reader that stops at its limit returns."""
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                head = b"<html><head><title>Endless</title></head><body>"
                try:
                    if title_first:
                        self._chunk(head)
                    while not server.release.is_set():
                        self._chunk(b"<p>" + b"x" * 8000 + b"</p>")
                except OSError:
                    return  # the reader hung up: as it should

            def _trickle(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self._chunk(b"<html><head><title>Slow")
                    while not server.release.wait(0.02):
                        self._chunk(b" ")
                except OSError:
                    return

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    running.thread.start()
    try:
        yield running
    finally:
        running.release.set()
        running.httpd.shutdown()
        running.httpd.server_close()


def settings(**changes: object) -> SocialSettings:
    return SocialSettings(env="test", metrics_token="metrics-token-of-the-test", **changes)


class Resolver:
    """Names the test server ``preview.test`` (and any other name as given), counting look-ups."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.answers:
            raise OSError(f"no such host {host}")
        return self.answers[host]


def previewer(**changes: object) -> tuple[LinkPreviewer, Resolver]:
    resolver = Resolver({"preview.test": ["127.0.0.1"], "private.test": ["10.1.2.3"]})
    changes.setdefault("link_preview_allow_loopback", True)
    return LinkPreviewer(settings(**changes), resolver=resolver), resolver


def refusal(previewer: LinkPreviewer, url: str) -> str:
    with pytest.raises(PreviewRefused) as refused:
        previewer.fetch(url)
    return refused.value.reason


# ---------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link_local"),  # cloud metadata
        ("fe80::1", "link_local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not to bind
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not_global"),  # shared address space (carrier-grade NAT)
        ("192.0.2.10", "private"),  # documentation
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link_local"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:93.184.215.14", None),
    ],
)
def test_only_public_addresses_are_fetched(address: str, reason: str | None) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


def test_loopback_is_let_through_only_when_the_test_setting_says_so() -> None:
    assert address_refusal(ipaddress.ip_address("::ffff:127.0.0.1"), allow_loopback=True) is None
    assert address_refusal(ipaddress.ip_address("10.0.0.1"), allow_loopback=True) == "private"
    with pytest.raises(ValueError, match="AIC_LINK_PREVIEW_ALLOW_LOOPBACK"):
        SocialSettings.model_validate(
            {
                "env": "prod",
                "metrics_token": "a-real-looking-token-9f8e7d",
                "link_preview_allow_loopback": True,
            }
        )


def test_the_real_server_on_loopback_is_refused_without_a_request(server: Server) -> None:
    by_default = LinkPreviewer(settings())  # the system resolver, loopback refused
    for url in (
        f"http://127.0.0.1:{server.port}/page",
        f"http://localhost:{server.port}/page",
        f"http://[::ffff:127.0.0.1]:{server.port}/page",
        f"http://2130706433:{server.port}/page",  # 127.0.0.1 as one number
    ):
        assert refusal(by_default, url).startswith("address_"), url
        assert by_default.preview(url) is None
    assert server.requests == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://preview.test/page", "bad_scheme"),
        ("file:///etc/passwd", "bad_scheme"),
        ("javascript:alert(1)", "bad_scheme"),
        ("http://user:pw@preview.test/page", "credentials_in_url"),
        ("http://preview.test:99999/page", "bad_url"),
        ("http://nowhere.test/page", "unresolved"),
        ("http://private.test/page", "address_private"),
        ("http://preview.test/page\x00", "bad_url"),
        ("http://" + "a" * 2100 + ".test/", "url_too_long"),
    ],
)
def test_urls_outside_the_rules_are_refused(url: str, reason: str) -> None:
    assert refusal(previewer()[0], url) == reason


def test_only_the_standard_ports_of_public_hosts() -> None:
    strict = LinkPreviewer(settings(), resolver=Resolver({"example.test": ["93.184.215.14"]}))
    assert refusal(strict, "http://example.test:8080/") == "port"
    assert refusal(strict, "https://example.test:80/") == "port"


def test_a_host_with_any_refused_address_is_refused(server: Server) -> None:
    fetcher, resolver = previewer()
    resolver.answers["mixed.test"] = ["127.0.0.1", "10.0.0.1"]
    assert refusal(fetcher, f"http://mixed.test:{server.port}/page") == "address_private"
    assert server.requests == []


# ---------------------------------------------------------------------- fetching


def test_a_page_gives_its_title_description_and_site_name(server: Server) -> None:
    fetcher, resolver = previewer()
    preview = fetcher.fetch(f"http://preview.test:{server.port}/page")
    assert preview.title == "West Lake & the rain"
    assert preview.site_name == "Hangzhou Daily"
    assert preview.description == "What the lake looks like after rain."
    # The connection went to the address that was checked, the name only in the Host header.
    assert server.requests == [("/page", f"preview.test:{server.port}")]
    assert resolver.calls == ["preview.test"]


def test_redirects_are_followed_and_each_hop_is_checked_again(server: Server) -> None:
    fetcher, resolver = previewer()
    preview = fetcher.fetch(f"http://preview.test:{server.port}/hops/3")
    assert preview.title == "West Lake & the rain"
    assert preview.url == f"http://preview.test:{server.port}/page"
    assert resolver.calls == ["preview.test"] * 4  # every hop resolved and checked, none reused
    assert refusal(fetcher, f"http://preview.test:{server.port}/hops/4") == "too_many_redirects"


def test_a_redirect_to_a_private_address_is_not_followed(server: Server) -> None:
    fetcher, _ = previewer()
    assert refusal(fetcher, f"http://preview.test:{server.port}/to-private") == "address_private"
    assert refusal(fetcher, f"http://preview.test:{server.port}/to-mapped") == "address_link_local"
    assert server.paths() == ["/to-private", "/to-mapped"]


@pytest.mark.parametrize(("path", "reason"), [("/image", "not_html"), ("/json", "not_html")])
def test_only_html_is_read(server: Server, path: str, reason: str) -> None:
    assert refusal(previewer()[0], f"http://preview.test:{server.port}{path}") == reason


def test_a_failed_page_has_no_preview(server: Server) -> None:
    assert refusal(previewer()[0], f"http://preview.test:{server.port}/missing") == "status_404"


def test_reading_stops_at_the_size_limit(server: Server) -> None:
    fetcher, _ = previewer(link_preview_max_bytes=32 * 1024)
    # The body never ends: the preview exists only because reading stopped at the limit.
    assert fetcher.fetch(f"http://preview.test:{server.port}/endless").title == "Endless"
    # A title past the limit is never seen.
    assert refusal(fetcher, f"http://preview.test:{server.port}/endless-late-title") == "no_title"


@pytest.mark.parametrize("path", ["/hang", "/trickle"])
def test_one_deadline_bounds_the_whole_fetch(server: Server, path: str) -> None:
    fetcher, _ = previewer(link_preview_timeout_seconds=0.3)
    assert refusal(fetcher, f"http://preview.test:{server.port}{path}") == "timeout"


def test_previews_and_failures_are_cached_within_a_bounded_size(server: Server) -> None:
    fetcher, _ = previewer(link_preview_cache_size=2)
    page, missing = f"http://preview.test:{server.port}/page", f"http://preview.test:{server.port}/missing"
    first = fetcher.preview(page)
    assert first is not None and fetcher.preview(page) == first
    assert fetcher.preview(missing) is None and fetcher.preview(missing) is None
    assert server.paths() == ["/page", "/missing"]
    fetcher.preview(f"http://preview.test:{server.port}/json")  # a third: the oldest goes
    assert fetcher.preview(page) == first
    assert server.paths() == ["/page", "/missing", "/json", "/page"]


def test_expired_entries_are_fetched_again(server: Server) -> None:
    now = [100.0]
    fetcher = LinkPreviewer(
        settings(link_preview_allow_loopback=True, link_preview_failure_cache_seconds=10),
        resolver=Resolver({"preview.test": ["127.0.0.1"]}),
        monotonic=lambda: now[0],
    )
    missing = f"http://preview.test:{server.port}/missing"
    fetcher.preview(missing)
    now[0] += 9
    fetcher.preview(missing)
    now[0] += 2
    fetcher.preview(missing)
    assert server.paths() == ["/missing", "/missing"]


def test_the_switch_turns_fetching_off(server: Server) -> None:
    fetcher, resolver = previewer(link_preview_enabled=False)
    assert refusal(fetcher, f"http://preview.test:{server.port}/page") == "disabled"
    assert server.requests == [] and resolver.calls == []


def test_parsing_falls_back_to_title_and_host_and_shortens_long_texts() -> None:
    page = b"<html><head><title>\n  Just   a title </title><meta name=description content='" + b"d" * 500
    page += b"'></head></html>"
    preview = parse_preview("https://example.test/a", page)
    assert preview.title == "Just a title" and preview.site_name == "example.test"
    assert preview.description is not None and len(preview.description) == 300
    assert (
        parse_preview("https://x.test/", "<title>西湖</title>".encode("gb18030"), "gb18030").title == "西湖"
    )
    with pytest.raises(PreviewRefused):
        parse_preview("https://x.test/", b"<html><body>no title</body></html>")


# ---------------------------------------------------------------------- the route


async def test_the_route_answers_a_preview_or_the_same_404_for_any_refusal(social, server: Server) -> None:
    page = f"http://preview.test:{server.port}/page"
    # The app's own previewer: the real resolver, loopback refused, and nothing asked of the server.
    for url in (f"http://127.0.0.1:{server.port}/page", "http://10.0.0.1/"):
        refused = await social.client.get("/api/link-preview", params={"url": url})
        assert refused.status_code == 404 and refused.json()["code"] == "no_preview"
    assert server.requests == []
    bad = await social.client.get("/api/link-preview", params={"url": "file:///etc/passwd"})
    assert bad.status_code == 422
    social.app.state.link_previewer = previewer()[0]
    answer = await social.client.get("/api/link-preview", params={"url": page})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "url": page,
        "site_name": "Hangzhou Daily",
        "title": "West Lake & the rain",
        "description": "What the lake looks like after rain.",
    }
