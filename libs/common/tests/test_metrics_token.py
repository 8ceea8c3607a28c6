"""/metrics behind a bearer token: open in embedded dev mode, closed to anyone without the token otherwise."""

from __future__ import annotations

from typing import ClassVar

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError

from aic_common.settings import ServiceSettings
from aic_common.web import create_service_app

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("restore_logging")]

TOKEN = "5e1f0c9a-metrics-token-of-the-test"


def app_with(**settings: str) -> FastAPI:
    return create_service_app(
        ServiceSettings(service_name="metered", log_json=True, _env_file=None, **settings),  # type: ignore[call-arg]
        title="metered",
    )


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")


async def test_without_a_token_metrics_stay_open_as_in_dev_mode() -> None:
    async with client_for(app_with()) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "# TYPE http_requests_total counter" in response.text


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "not_authenticated"),
        ("", "not_authenticated"),
        ("Bearer wrong-token", "invalid_token"),
        (f"Bearer {TOKEN}x", "invalid_token"),
        (f"Bearer {TOKEN[:-1]}", "invalid_token"),
        (f"Basic {TOKEN}", "invalid_token"),
        (TOKEN, "invalid_token"),
        ("Bearer  ", "invalid_token"),
    ],
)
async def test_with_a_token_anything_but_that_token_is_a_401_in_the_error_shape(
    authorization: str | None, code: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with client_for(app_with(metrics_token=TOKEN)) as client:
        response = await client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["code"] == code and body["detail"]
    assert "http_requests_total" not in response.text


async def test_with_a_token_the_right_bearer_reads_the_exposition_format() -> None:
    async with client_for(app_with(metrics_token=TOKEN)) as client:
        await client.get("/metrics")  # refused, and still counted
        response = await client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{method="GET",route="/metrics",status="401"} 1.0' in response.text


@pytest.mark.parametrize(
    "relayed",
    [{"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}, {"X-Real-IP": "203.0.113.9"}],
)
@pytest.mark.parametrize("token", ["", TOKEN])
async def test_a_request_a_proxy_relayed_is_not_found_even_with_the_token(
    relayed: dict[str, str], token: str
) -> None:
    # An Ingress puts the gateway on the internet; its scrapes come from Prometheus, straight to the pod.
    authorization = {"Authorization": f"Bearer {TOKEN}"}
    async with client_for(app_with(metrics_token=token)) as client:
        response = await client.get("/metrics", headers={**authorization, **relayed})
        direct = await client.get("/metrics", headers=authorization)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "http_requests_total" not in response.text
    assert direct.status_code == 200


def test_outside_dev_mode_the_token_must_be_a_real_secret() -> None:
    for env in ("test", "prod"):
        for placeholder in ("", "change-me", " secret "):
            with pytest.raises(ValidationError, match="AIC_METRICS_TOKEN must be set to a real secret"):
                ServiceSettings(env=env, metrics_token=placeholder, _env_file=None)  # type: ignore[call-arg]
        settings = ServiceSettings(env=env, metrics_token=TOKEN, _env_file=None)  # type: ignore[call-arg]
        assert settings.metrics_token.get_secret_value() == TOKEN
    assert ServiceSettings(env="dev", _env_file=None).metrics_token.get_secret_value() == ""  # type: ignore[call-arg]


def test_a_service_with_secrets_of_its_own_still_refuses_a_placeholder_metrics_token() -> None:
    class OwnSecrets(ServiceSettings):
        secret_fields: ClassVar[tuple[str, ...]] = ("signing_secret",)
        signing_secret: SecretStr = SecretStr("a-real-long-random-value-1f9c")

    with pytest.raises(ValidationError, match="AIC_METRICS_TOKEN"):
        OwnSecrets(env="prod", _env_file=None)  # type: ignore[call-arg]
    assert OwnSecrets(env="prod", metrics_token=TOKEN, _env_file=None)  # type: ignore[call-arg]
