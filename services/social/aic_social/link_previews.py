"""Link previews: the site name, title and description of a page a post or a message links to.

The social service fetches the page itself, so a URL anyone can write is a request this server makes:
it must never reach the server's own network. Every hop (the URL and each redirect, at most
``link_preview_max_redirects``) is checked before it is fetched: http or https on their standard ports,
no credentials, and a host whose every address is public (no loopback, private, link-local, multicast,
reserved, unspecified or shared address, IPv4 and IPv6 alike, nor an IPv4 address inside an IPv6 one).
The connection then goes to the very address that was checked, with the host name only in the Host
header and TLS's SNI, so a second DNS answer cannot swap it (DNS rebinding). One deadline bounds the
whole fetch, at most ``link_preview_max_bytes`` of the body are read, only HTML is parsed (with the
standard library's parser), and answers and failures are cached in a bounded in-process cache.
docs/security.md ("Link previews") lists the limits.

No image: the UI may load images from its own origin alone (CSP ``img-src 'self'``), so a preview
carries none rather than an address of somebody else's server.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

from aic_social.settings import SocialSettings

log = logging.getLogger(__name__)

# host, port -> the addresses the host name resolves to
Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
HTML_TYPES = ("text/html", "application/xhtml+xml")
USER_AGENT = "AICommunityLinkPreview/1.0 (+link previews of posts)"
TITLE_LENGTH, DESCRIPTION_LENGTH, SITE_NAME_LENGTH = 200, 300, 100
# IPv6 ranges that carry an IPv4 address the packets end up at (NAT64).
NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PreviewRefused(Exception):
    """No preview for this URL; ``reason`` says why (logged, never shown: every refusal looks the same
    to the caller, so the endpoint cannot be used to learn what answers inside the network)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkPreview:
    url: str  # the page's address after redirects
    site_name: str | None
    title: str
    description: str | None


def address_refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a connection to ``address`` is refused, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and any(address in network for network in NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded, allow_loopback=allow_loopback)
        if address.teredo is not None:
            return "teredo"
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    checks = (
        ("unspecified", address.is_unspecified),
        ("link_local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not_global", not address.is_global),  # shared (100.64/10), documentation ranges and the like
    )
    return next((reason for reason, refused in checks if refused), None)


@dataclass(frozen=True)
class Hop:
    """One checked request: where to connect (``address``) and what to ask it for."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


class LinkPreviewer:
    def __init__(
        self,
        settings: SocialSettings,
        *,
        resolver: Resolver = system_resolver,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.resolver = resolver
        self.monotonic = monotonic
        self.transport = transport
        self._cache: OrderedDict[str, tuple[float, LinkPreview | None]] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ cache

    def preview(self, url: str) -> LinkPreview | None:
        """The page's preview, None when there is none (any refusal); cached both ways."""
        now = self.monotonic()
        with self._lock:
            cached = self._cache.get(url)
            if cached is not None and cached[0] > now:
                self._cache.move_to_end(url)
                return cached[1]
        try:
            result: LinkPreview | None = self.fetch(url)
            keep = self.settings.link_preview_cache_seconds
        except PreviewRefused as refused:
            log.info("no link preview of %s: %s", url[:200], refused.reason)
            result, keep = None, self.settings.link_preview_failure_cache_seconds
        self._remember(url, result, now + keep)
        return result

    def _remember(self, url: str, result: LinkPreview | None, expires: float) -> None:
        if self.settings.link_preview_cache_size == 0:
            return
        with self._lock:
            self._cache[url] = (expires, result)
            self._cache.move_to_end(url)
            while len(self._cache) > self.settings.link_preview_cache_size:
                self._cache.popitem(last=False)

    # ------------------------------------------------------------------ fetching

    def fetch(self, url: str) -> LinkPreview:
        """Fetch and parse the page, following redirects within the limits; PreviewRefused otherwise."""
        if not self.settings.link_preview_enabled:
            raise PreviewRefused("disabled")
        deadline = self.monotonic() + self.settings.link_preview_timeout_seconds
        with httpx.Client(transport=self.transport, trust_env=False, follow_redirects=False) as client:
            for _ in range(self.settings.link_preview_max_redirects + 1):
                hop = self.check(url)
                location, body, charset = self._get(client, hop, deadline)
                if location is None:
                    return parse_preview(hop.url, body, charset)
                url = urljoin(hop.url, location)
        raise PreviewRefused("too_many_redirects")

    def check(self, url: str) -> Hop:
        """The hop to ``url``, once its scheme, port and every address of its host pass the rules."""
        if len(url) > MAX_URL_LENGTH:
            raise PreviewRefused("url_too_long")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise PreviewRefused("bad_url") from None
        scheme, host = parts.scheme.lower(), parts.hostname
        if scheme not in DEFAULT_PORTS or not host:
            raise PreviewRefused("bad_scheme")
        if parts.username is not None or parts.password is not None:
            raise PreviewRefused("credentials_in_url")
        port = port or DEFAULT_PORTS[scheme]
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self._resolve(host, port)]
        except (OSError, ValueError, UnicodeError):
            raise PreviewRefused("unresolved") from None
        if not addresses:
            raise PreviewRefused("unresolved")
        allow_loopback = self.settings.link_preview_allow_loopback
        for address in addresses:
            reason = address_refusal(address, allow_loopback=allow_loopback)
            if reason is not None:
                raise PreviewRefused(f"address_{reason}")
        # Other ports only for the tests' own server on loopback (allow_loopback is refused in production).
        if port != DEFAULT_PORTS[scheme] and not (allow_loopback and all(a.is_loopback for a in addresses)):
            raise PreviewRefused("port")
        return Hop(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]))

    def _resolve(self, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]  # an address already: nothing to look up
        except ValueError:
            return self.resolver(host, port)

    def _get(self, client: httpx.Client, hop: Hop, deadline: float) -> tuple[str | None, bytes, str | None]:
        """(the redirect's Location, b"", None) or (None, the body's first bytes, its charset)."""
        parts = urlsplit(hop.url)
        try:
            target = httpx.URL(scheme=hop.scheme, host=hop.address, port=hop.port, path=parts.path or "/")
            if parts.query:
                target = target.copy_with(query=parts.query.encode("ascii", "replace"))
        except httpx.InvalidURL:  # control characters in the path, and the like
            raise PreviewRefused("bad_url") from None
        host_header = hop.host if hop.port == DEFAULT_PORTS[hop.scheme] else f"{hop.host}:{hop.port}"
        if ":" in hop.host:  # an IPv6 literal
            host_header = f"[{hop.host}]" + ("" if hop.port == DEFAULT_PORTS[hop.scheme] else f":{hop.port}")
        headers = {
            "Host": host_header,
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml;q=0.9",
            # Compressed bodies could unpack to far more than the limit: ask for none, refuse any.
            "Accept-Encoding": "identity",
        }
        extensions = {"sni_hostname": hop.host} if hop.scheme == "https" else {}
        remaining = deadline - self.monotonic()
        if remaining <= 0:
            raise PreviewRefused("timeout")
        try:
            with client.stream(
                "GET", target, headers=headers, extensions=extensions, timeout=httpx.Timeout(remaining)
            ) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise PreviewRefused("redirect_without_location")
                    return location, b"", None
                if response.status_code != 200:
                    raise PreviewRefused(f"status_{response.status_code}")
                content_type = response.headers.get("content-type", "")
                if content_type.split(";", 1)[0].strip().lower() not in HTML_TYPES:
                    raise PreviewRefused("not_html")
                if response.headers.get("content-encoding", "identity").lower() != "identity":
                    raise PreviewRefused("encoded_body")
                return None, self._read(response, deadline), response.charset_encoding
        except httpx.TimeoutException:
            raise PreviewRefused("timeout") from None
        except (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL) as error:
            raise PreviewRefused(f"http_error:{type(error).__name__}") from None

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        """At most ``link_preview_max_bytes`` of the body; reading stops there (the rest is never asked
        for), and at the deadline."""
        limit = self.settings.link_preview_max_bytes
        body = bytearray()
        for chunk in response.iter_raw():
            body.extend(chunk)
            if len(body) >= limit:
                break
            if self.monotonic() > deadline:
                raise PreviewRefused("timeout")
        return bytes(body[:limit])


# ---------------------------------------------------------------------- parsing


class _HeadParser(HTMLParser):
    """The first <title> and the meta tags a preview needs; everything else is ignored."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title: str | None = None
        self._in_title = False
        self._title_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and self.title is None:
            self._in_title = True
        elif tag == "meta":
            values = {name.lower(): value or "" for name, value in attrs}
            key = (values.get("property") or values.get("name") or "").strip().lower()
            if key and "content" in values:
                self.meta.setdefault(key, values["content"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = "".join(self._title_parts)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _clean(text: str | None, limit: int) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def _decode(body: bytes, charset: str | None) -> str:
    if charset is None:
        found = _META_CHARSET.search(body[:4096])
        charset = found.group(1).decode("ascii") if found else "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def parse_preview(url: str, body: bytes, charset: str | None = None) -> LinkPreview:
    parser = _HeadParser()
    try:
        parser.feed(_decode(body, charset))
        parser.close()
    except Exception:
        raise PreviewRefused("unparsable") from None
    if parser._in_title and parser.title is None:  # cut off by the size limit inside <title>
        parser.title = "".join(parser._title_parts)
    meta = parser.meta
    title = _clean(meta.get("og:title") or meta.get("twitter:title") or parser.title, TITLE_LENGTH)
    if title is None:
        raise PreviewRefused("no_title")
    return LinkPreview(
        url=url,
        site_name=_clean(meta.get("og:site_name"), SITE_NAME_LENGTH) or urlsplit(url).hostname,
        title=title,
        description=_clean(
            meta.get("og:description") or meta.get("description") or meta.get("twitter:description"),
            DESCRIPTION_LENGTH,
        ),
    )
