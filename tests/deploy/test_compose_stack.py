"""The real-topology runner started with the commands and variables docker-compose.yml gives each
service, its hosts replaced by this machine's MySQL, RabbitMQ, Redis and S3 (moto): what compose runs
is what runs here, and the community works on it."""

from __future__ import annotations

import io
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from aic_common.testing import free_port, wait_for
from aic_common.testing.fixtures import S3Endpoint, unavailable
from aic_gateway.stack import (
    CONTAINER_GRACEFUL_SHUTDOWN_SECONDS,
    GATEWAY,
    LIVE_PATH,
    METRICS_PATH,
    READY_PATH,
    Stack,
    StackConfig,
)

from .conftest import ALL_SPECS, Compose, Manifests, pod_spec

pytestmark = pytest.mark.e2e

# Variables that say where something is: the runner points them at this machine, and they must keep
# the shape compose gives them. Every other variable is passed exactly as compose passes it.
LOCATIONS = frozenset(
    {
        "AIC_DATABASE_URL",
        "AIC_BROKER_URL",
        "AIC_REDIS_URL",
        "AIC_S3_ENDPOINT_URL",
        "AIC_JWKS_URL",
        *(f"AIC_{spec.name.upper()}_URL" for spec in ALL_SPECS),
        "AIC_DATA_DIR",
        "AIC_BUS_NAMESPACE",
        "AIC_SIM_CONTROL_BROKER_USERS",  # the control user the runner makes in its own namespace
        "AIC_HOST",
        "AIC_PORT",
    }
)
PASSWORD = "compose e2e passphrase 🐳"


@pytest.fixture(scope="module")
def compose_stack(
    compose: Compose,
    mysql_server_url: str,
    rabbitmq_url: str,
    rabbitmq_management_url: str,
    moto_s3: S3Endpoint,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    redis_url = os.environ.get("AIC_TEST_REDIS_URL", "")
    if not redis_url:
        unavailable("Redis", "set AIC_TEST_REDIS_URL: the gateway of docker-compose.yml shares limits there")
    run = uuid.uuid4().hex[:8]
    config = StackConfig(
        mysql_url=mysql_server_url,
        broker_url=rabbitmq_url,
        broker_management_url=rabbitmq_management_url,  # a broker user per service, as compose has
        redis_url=redis_url,
        s3_endpoint_url=moto_s3.url,
        bus_namespace=f"c{run}",
        db_prefix=f"aic_c{run}",
        state_dir=tmp_path_factory.mktemp("compose-stack"),
        gateway_port=free_port(),
        # uvicorn then gets compose's --timeout-graceful-shutdown too.
        stop_grace_seconds=CONTAINER_GRACEFUL_SHUTDOWN_SECONDS + 2,
        extra_env={
            spec.name: {
                name: value for name, value in compose.environment(spec.name).items() if name not in LOCATIONS
            }
            for spec in ALL_SPECS
        },
    )
    running = Stack(config)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        running.drop_databases()
        running.drop_broker_namespace()


def test_each_service_runs_the_command_compose_gives_it(compose: Compose, compose_stack: Stack) -> None:
    for spec in ALL_SPECS:
        arguments = Path(f"/proc/{compose_stack.pid(spec.name)}/cmdline").read_bytes().split(b"\0")[:-1]
        running = [argument.decode() for argument in arguments]
        assert running[0] == sys.executable
        expected = list(compose.services[spec.name]["command"])
        assert expected[0] == "python"
        expected[expected.index("--host") + 1] = compose_stack.config.host
        expected[expected.index("--port") + 1] = str(compose_stack.port(spec.name))
        assert running[1:] == expected[1:], spec.name


def test_each_service_gets_the_variables_compose_gives_it(compose: Compose, compose_stack: Stack) -> None:
    local_urls = {spec.name: compose_stack.url(spec.name) for spec in ALL_SPECS}
    for spec in ALL_SPECS:
        given = compose.environment(spec.name)
        running = compose_stack.env_for(spec.name)
        assert set(running) == set(given), spec.name
        for name in set(given) - LOCATIONS:
            assert running[name] == given[name], (spec.name, name)
        for name in set(given) & LOCATIONS:
            compose_value, local_value = given[name], running[name]
            if name == "AIC_DATABASE_URL":
                compose_url, local_url = urlsplit(compose_value), urlsplit(local_value)
                assert compose_url.scheme == local_url.scheme
                assert compose_url.path.endswith(f"_{spec.name}") and local_url.path.endswith(f"_{spec.name}")
            elif compose_value.startswith("http://") and urlsplit(compose_value).hostname in local_urls:
                # A service's URL: the same service, the same path.
                host = urlsplit(compose_value).hostname
                port = urlsplit(compose_value).port
                assert local_value == compose_value.replace(f"http://{host}:{port}", local_urls[host])
            elif "://" in compose_value:
                assert urlsplit(compose_value).scheme == urlsplit(local_value).scheme, name
            else:
                assert local_value, name


def test_every_probe_compose_and_the_cluster_use_is_answered(
    compose: Compose, compose_stack: Stack, overlays: dict[str, Manifests]
) -> None:
    for spec in ALL_SPECS:
        paths = {LIVE_PATH, READY_PATH, METRICS_PATH}
        probe = compose.services[spec.name]["healthcheck"]["test"][-1]
        paths.add(urlsplit(probe.split("'")[1]).path)
        container = pod_spec(overlays["dev"].server(spec.name))["containers"][0]
        paths |= {
            container[probe]["httpGet"]["path"]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe")
        }
        # The metrics are Prometheus' alone: it sends the token compose gives every service.
        scraper = {"Authorization": f"Bearer {compose.environment(spec.name)['AIC_METRICS_TOKEN']}"}
        for path in paths:
            headers = scraper if path == METRICS_PATH else {}
            response = httpx.get(f"{compose_stack.url(spec.name)}{path}", headers=headers, timeout=10)
            assert response.status_code == 200, (spec.name, path, response.text)
        anonymous = httpx.get(f"{compose_stack.url(spec.name)}{METRICS_PATH}", timeout=10)
        assert anonymous.status_code == 401, (spec.name, anonymous.text)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (40, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_the_community_works_with_the_compose_settings(compose: Compose, compose_stack: Stack) -> None:
    ip = f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    username = f"c_{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(
        base_url=compose_stack.url(GATEWAY), timeout=30, headers={"X-Forwarded-For": ip}
    ) as gateway:
        body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        assert (await gateway.post("/api/auth/register", json=body)).status_code == 201
        login = await gateway.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        person = {"Authorization": f"Bearer {login.json()['access_token']}"}

        upload = await gateway.post(
            "/api/files", files={"file": ("sky.png", png_bytes(), "image/png")}, headers=person
        )
        assert upload.status_code == 201, upload.text
        image_id = upload.json()["id"]

        async def posted() -> httpx.Response | None:
            response = await gateway.post(
                "/api/posts", json={"content": "容器里的天空", "image_ids": [image_id]}, headers=person
            )
            # Social learns of the person and of the file from events, a moment after auth and files.
            return response if response.status_code == 201 else None

        post = await wait_for(posted, timeout=30, interval=0.5, what="a post with the uploaded image")
        image = await gateway.get(post.json()["images"][0]["url"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"

        # The administrator compose creates (ADMIN_USERNAME / ADMIN_PASSWORD) steers the simulation.
        auth = compose.environment("auth")
        credentials = {
            "username": auth["AIC_BOOTSTRAP_ADMIN_USERNAME"],
            "password": auth["AIC_BOOTSTRAP_ADMIN_PASSWORD"],
        }
        admin_login = await gateway.post("/api/auth/login", json=credentials)
        assert admin_login.status_code == 200, admin_login.text
        admin = {"Authorization": f"Bearer {admin_login.json()['access_token']}"}
        status = {"command": "status"}
        assert (await gateway.post("/api/sim/control", json=status, headers=admin)).status_code == 200
        assert (await gateway.post("/api/sim/control", json=status, headers=person)).status_code == 403
