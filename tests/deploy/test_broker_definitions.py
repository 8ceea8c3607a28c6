"""The broker definitions deploy/generate-secrets.sh writes (password hashes made with openssl), imported
into the real RabbitMQ as the dev overlay's and compose's RabbitMQ import them at start: every service
signs in with the password of its own URL, and the administrator reaches the management API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aio_pika
import pytest

from aic_common.bus.users import broker_url_as, management_client

from .conftest import ALL_SPECS, generate_k8s_secrets, parse_dotenv

pytestmark = pytest.mark.integration


def renamed(definitions: dict, old: str, new: str) -> dict:
    """The definitions with every user named <old> or <old>-<role> renamed to <new>..., so that a test
    does not touch a broker's real users."""

    def name(value: str) -> str:
        return new + value[len(old) :] if value == old or value.startswith(old + "-") else value

    return {
        **definitions,
        "users": [{**user, "name": name(user["name"])} for user in definitions["users"]],
        "permissions": [{**entry, "user": name(entry["user"])} for entry in definitions["permissions"]],
    }


@pytest.fixture
def imported(
    tmp_path: Path, rabbitmq_management_url: str
) -> Iterator[tuple[str, dict[str, str], dict[str, str]]]:
    """(the renamed prefix, each service's environment, the broker's secret) after the import."""
    secrets = tmp_path / "secrets"
    generate_k8s_secrets(secrets)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    definitions = renamed(json.loads((secrets / "rabbitmq-definitions.json").read_text()), "aic", prefix)
    environments = {spec.name: parse_dotenv((secrets / f"{spec.name}.env").read_text()) for spec in ALL_SPECS}
    environments["control"] = parse_dotenv((secrets / "control.env").read_text())
    with management_client(rabbitmq_management_url) as client:
        response = client.post("/api/definitions", json=definitions)
        assert response.status_code in (201, 204), response.text
        try:
            yield prefix, environments, parse_dotenv((secrets / "rabbitmq.env").read_text())
        finally:
            for user in definitions["users"]:
                client.delete(f"/api/users/{user['name']}")


async def test_every_service_signs_in_with_its_own_generated_password(
    imported: tuple[str, dict[str, str], dict[str, str]], rabbitmq_url: str
) -> None:
    prefix, environments, _ = imported
    for role, environment in environments.items():
        generated = urlsplit(environment["AIC_BROKER_URL"])
        user = prefix + unquote(generated.username or "")[len("aic") :]
        url = broker_url_as(rabbitmq_url, user, unquote(generated.password or ""))
        connection = await aio_pika.connect(url, timeout=10)
        await connection.close()
        wrong = broker_url_as(rabbitmq_url, user, "not-" + unquote(generated.password or ""))
        with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
            await aio_pika.connect(wrong, timeout=10)
        assert role in user


def test_the_administrator_reaches_the_management_api(
    imported: tuple[str, dict[str, str], dict[str, str]], rabbitmq_management_url: str
) -> None:
    prefix, _, broker = imported
    url = urlsplit(rabbitmq_management_url)
    admin = url._replace(netloc=f"{prefix}:{broker['RABBITMQ_DEFAULT_PASS']}@{url.hostname}:{url.port}")
    with management_client(admin.geturl()) as client:
        assert client.get("/api/whoami").json()["name"] == prefix
    service = url._replace(netloc=f"{prefix}-social:anything@{url.hostname}:{url.port}")
    with management_client(service.geturl()) as client:
        assert client.get("/api/whoami").status_code == 401
