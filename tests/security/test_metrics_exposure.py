"""/metrics on the real topology: the gateway's is not served to what an Ingress relays from the internet,
and each service's answers only the holder of the metrics token."""

from __future__ import annotations

import httpx
import pytest

from aic_common.testing.community import Community, fake_ip
from aic_gateway.stack import METRICS_PATH, Stack

pytestmark = pytest.mark.e2e


def test_the_gateways_metrics_answer_only_the_metrics_token(stack: Stack, community: Community) -> None:
    person = community.register("scraper")
    refused = {
        "no token": {},
        "a person's access token": {"Authorization": person.headers["Authorization"]},
        "a wrong token": {"Authorization": "Bearer " + "0" * 43},
    }
    for what, headers in refused.items():
        response = httpx.get(f"{stack.gateway_url}{METRICS_PATH}", headers=headers, timeout=10)
        assert response.status_code == 401, what
        assert response.headers["www-authenticate"] == "Bearer", what
        assert set(response.json()) == {"detail", "code"}, what
        assert "http_requests_total" not in response.text, what

    response = httpx.get(f"{stack.gateway_url}{METRICS_PATH}", headers=stack.secrets.metrics_authorization)
    assert response.status_code == 200, response.text
    assert "aic_stream_subscribers" in response.text


def test_through_a_proxy_the_gateway_has_no_metrics_even_for_the_token(
    stack: Stack, community: Community
) -> None:
    # What the Ingress relays carries X-Forwarded-For (ingress-nginx always sets it); Prometheus does not.
    relayed = {**stack.secrets.metrics_authorization, "X-Forwarded-For": fake_ip()}
    response = community.http.get(METRICS_PATH, headers=relayed)
    assert response.status_code == 404, response.text
    assert "http_requests_total" not in response.text


def test_no_service_serves_its_metrics_without_the_token(stack: Stack) -> None:
    for name in stack.names:
        anonymous = httpx.get(f"{stack.url(name)}{METRICS_PATH}", timeout=10)
        assert anonymous.status_code == 401, (name, anonymous.text)
        scraped = httpx.get(
            f"{stack.url(name)}{METRICS_PATH}", headers=stack.secrets.metrics_authorization, timeout=10
        )
        assert scraped.status_code == 200 and "http_requests_total" in scraped.text, name
