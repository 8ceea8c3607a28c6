"""/metrics on the real topology: the gateway's, reachable from the internet through the Ingress, and each
service's answer only the holder of the metrics token."""

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
        "a person's access token": person.headers,
        "a wrong token": {"Authorization": "Bearer " + "0" * 43},
    }
    for what, headers in refused.items():
        response = community.http.get(METRICS_PATH, headers={**headers, "X-Forwarded-For": fake_ip()})
        assert response.status_code == 401, what
        assert response.headers["www-authenticate"] == "Bearer", what
        assert set(response.json()) == {"detail", "code"}, what
        assert "http_requests_total" not in response.text, what

    scraper = {**stack.secrets.metrics_authorization, "X-Forwarded-For": fake_ip()}
    response = community.http.get(METRICS_PATH, headers=scraper)
    assert response.status_code == 200, response.text
    assert "aic_stream_subscribers" in response.text


def test_no_service_serves_its_metrics_without_the_token(stack: Stack) -> None:
    for name in stack.names:
        anonymous = httpx.get(f"{stack.url(name)}{METRICS_PATH}", timeout=10)
        assert anonymous.status_code == 401, (name, anonymous.text)
        scraped = httpx.get(
            f"{stack.url(name)}{METRICS_PATH}", headers=stack.secrets.metrics_authorization, timeout=10
        )
        assert scraped.status_code == 200 and "http_requests_total" in scraped.text, name
