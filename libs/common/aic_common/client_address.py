"""Who the client is: the one place that reads X-Forwarded-For.

Rate limits and sign-in throttling count per client address, so the address must be one the client
cannot choose. A proxy appends the address it saw to X-Forwarded-For; anything to the left of that
was written by someone we cannot vouch for. So the header is read from the right, and only while
each hop is a trusted proxy (``AIC_TRUSTED_PROXIES``): the first address that is not one is the
client. A peer that is not a trusted proxy is the client itself, whatever its header says.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"


def client_address(scope: Any, trusted_proxies: Sequence[IPNetwork]) -> str:
    """The client's address for an ASGI ``scope``: the peer, or, when the peer is a trusted proxy, the
    right-most X-Forwarded-For entry that is not one (the left-most when all are). An entry that is
    not an address ends the walk: the last trusted hop is then the nearest address we can vouch for."""
    client = scope.get("client")
    peer = client[0] if client else UNKNOWN
    nearest = parse_address(peer)
    if nearest is None:
        return peer
    if not _is_trusted(nearest, trusted_proxies):
        return str(nearest)
    for hop in reversed(_forwarded_for(scope)):
        address = parse_address(hop)
        if address is None:
            break
        nearest = address
        if not _is_trusted(address, trusted_proxies):
            break
    return str(nearest)


def parse_address(value: str) -> IPAddress | None:
    """An IP address as a proxy writes it: bare, ``a.b.c.d:port`` or ``[v6]:port``. IPv4-mapped IPv6
    addresses (a dual-stack socket's peers) are the IPv4 address they carry. None if not an address."""
    text = value.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, trusted_proxies: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in trusted_proxies)


def _forwarded_for(scope: Any) -> list[str]:
    # Several X-Forwarded-For lines are one list, in order (RFC 9110 §5.3).
    values = [value.decode("latin-1") for key, value in scope["headers"] if key == b"x-forwarded-for"]
    return [hop for value in values for hop in value.split(",")]
