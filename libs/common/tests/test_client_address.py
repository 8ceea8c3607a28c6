"""The client's address: X-Forwarded-For read from the right, believed only from trusted proxies."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from aic_common.client_address import client_address, parse_address
from aic_common.settings import ServiceSettings

pytestmark = pytest.mark.unit

INGRESS = [ipaddress.ip_network("10.244.0.0/16")]


def scope(peer: str | None, *forwarded_for: str) -> dict[str, Any]:
    return {
        "client": (peer, 51000) if peer else None,
        "headers": [(b"x-forwarded-for", value.encode("latin-1")) for value in forwarded_for],
    }


def test_an_untrusted_peer_is_the_client_whatever_its_header_says() -> None:
    assert client_address(scope("198.51.100.7", "203.0.113.1"), []) == "198.51.100.7"
    assert client_address(scope("198.51.100.7", "203.0.113.1"), INGRESS) == "198.51.100.7"
    # Trusting nobody is the default of every service.
    assert ServiceSettings().trusted_proxies == []


def test_behind_a_trusted_proxy_the_address_it_appended_is_the_client() -> None:
    assert client_address(scope("10.244.3.9", "203.0.113.1"), INGRESS) == "203.0.113.1"


def test_what_the_client_wrote_left_of_the_proxys_entry_is_ignored() -> None:
    # The client sent "X-Forwarded-For: 192.0.2.66, 10.244.0.8"; the proxy appended what it saw.
    forged = scope("10.244.3.9", "192.0.2.66, 10.244.0.8, 203.0.113.1")
    assert client_address(forged, INGRESS) == "203.0.113.1"


def test_trusted_hops_are_skipped_from_the_right() -> None:
    chain = scope("10.244.3.9", "192.0.2.66, 203.0.113.1, 10.244.1.1", "10.244.2.2")
    assert client_address(chain, INGRESS) == "203.0.113.1"


def test_when_every_hop_is_trusted_the_farthest_is_the_client() -> None:
    assert client_address(scope("10.244.3.9", "10.244.1.1, 10.244.2.2"), INGRESS) == "10.244.1.1"
    assert client_address(scope("10.244.3.9"), INGRESS) == "10.244.3.9"


def test_an_entry_that_is_not_an_address_stops_at_the_last_trusted_hop() -> None:
    assert client_address(scope("10.244.3.9", "203.0.113.1, garbage"), INGRESS) == "10.244.3.9"
    assert client_address(scope("10.244.3.9", "203.0.113.1, 10.244.1.1, "), INGRESS) == "10.244.3.9"
    assert client_address(scope("10.244.3.9", "garbage, 10.244.1.1"), INGRESS) == "10.244.1.1"


def test_addresses_are_compared_and_returned_in_one_spelling() -> None:
    loopback = [ipaddress.ip_network("127.0.0.1"), ipaddress.ip_network("::1")]
    # A dual-stack socket's IPv4 peer, and entries with ports or brackets.
    assert client_address(scope("::ffff:127.0.0.1", "203.0.113.1:4711"), loopback) == "203.0.113.1"
    assert client_address(scope("::1", "[2001:db8::0001]:443"), loopback) == "2001:db8::1"
    assert client_address(scope("::ffff:198.51.100.7"), loopback) == "198.51.100.7"
    assert parse_address("2001:DB8::1") == ipaddress.ip_address("2001:db8::1")
    assert parse_address("not an address") is None


def test_a_peer_without_an_address_is_reported_as_it_is() -> None:
    assert client_address(scope(None, "203.0.113.1"), INGRESS) == "unknown"
    assert client_address(scope("/run/aic.sock", "203.0.113.1"), INGRESS) == "/run/aic.sock"


def test_the_setting_takes_addresses_and_networks_and_refuses_anything_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIC_TRUSTED_PROXIES", '["10.244.0.0/16", "192.0.2.10", "fd00::/8"]')
    trusted = ServiceSettings().trusted_proxies
    assert client_address(scope("192.0.2.10", "203.0.113.1"), trusted) == "203.0.113.1"
    assert client_address(scope("fd00::5", "203.0.113.1"), trusted) == "203.0.113.1"
    assert client_address(scope("192.0.2.11", "203.0.113.1"), trusted) == "192.0.2.11"
    monkeypatch.setenv("AIC_TRUSTED_PROXIES", '["ingress.example.com"]')
    with pytest.raises(ValueError, match="trusted_proxies"):
        ServiceSettings()
