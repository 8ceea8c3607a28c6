"""pytest fixtures for the real parts: MySQL/MariaDB, RabbitMQ and an S3 endpoint.

Each comes from an environment variable first (``AIC_TEST_MYSQL_URL``, ``AIC_TEST_RABBITMQ_URL``,
``AIC_TEST_S3_URL``), then from testcontainers when a Docker engine answers, and otherwise the test is
skipped with a reason that says how to enable it. With ``CI=true`` a missing one fails instead: CI must
never pass by skipping. The S3 protocol is also served by ``moto_server`` on a free loopback port,
which needs nothing but the Python package.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from aic_common.testing import free_port


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, how: str) -> None:
    """Skip (or, in CI, fail) a test whose real dependency is missing."""
    message = f"{what} is not available: {how}"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@cache
def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0  # noqa: S607
    except (OSError, subprocess.TimeoutExpired):
        return False


# ---------------------------------------------------------------- MySQL / MariaDB


@pytest.fixture(scope="session")
def mysql_server_url() -> Iterator[str]:
    """A URL of a MySQL-compatible server (no database selected) with rights to create databases."""
    url = os.environ.get("AIC_TEST_MYSQL_URL")
    if url:
        yield url
        return
    if docker_available():
        from testcontainers.mysql import MySqlContainer

        with MySqlContainer("mysql:8.0", username="root", password="test", dbname="test") as mysql:  # noqa: S106
            parsed = make_url(mysql.get_connection_url()).set(drivername="mysql+pymysql", database=None)
            yield parsed.render_as_string(hide_password=False)
        return
    unavailable(
        "MySQL/MariaDB",
        "set AIC_TEST_MYSQL_URL=mysql+pymysql://root@127.0.0.1:3306 or start a Docker engine",
    )


@contextlib.contextmanager
def fresh_mysql_database(mysql_server_url: str) -> Iterator[str]:
    """A new utf8mb4 database on the server, dropped on exit; yields its URL."""
    name = f"aic_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(mysql_server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            )
    except sa.exc.OperationalError as exc:
        admin.dispose()
        unavailable("MySQL/MariaDB", f"cannot create a database at {mysql_server_url}: {exc.orig}")
    try:
        yield make_url(mysql_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture
def mysql_url(mysql_server_url: str) -> Iterator[str]:
    """A fresh utf8mb4 database on the test server, dropped after the test."""
    with fresh_mysql_database(mysql_server_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "mysql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Both backends a service runs on: SQLite (embedded mode) and MySQL/MariaDB."""
    return request.getfixturevalue(f"{request.param}_url")


# ---------------------------------------------------------------- RabbitMQ


@pytest.fixture(scope="session")
def _rabbitmq_container() -> Iterator[Any]:
    """A RabbitMQ with its management API in a container, for the fixtures below (Docker only)."""
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13-management").with_exposed_ports(15672) as rabbit:
        yield rabbit


@pytest.fixture(scope="session")
def rabbitmq_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url = os.environ.get("AIC_TEST_RABBITMQ_URL")
    if url:
        yield url
        return
    if docker_available():
        params = request.getfixturevalue("_rabbitmq_container").get_connection_params()
        yield f"amqp://guest:guest@{params.host}:{params.port}/"
        return
    unavailable(
        "RabbitMQ",
        "set AIC_TEST_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/ or start a Docker engine",
    )


@pytest.fixture(scope="session")
def rabbitmq_management_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The management API of the broker behind ``rabbitmq_url``, with an administrator's credentials."""
    url = os.environ.get("AIC_TEST_RABBITMQ_MANAGEMENT_URL")
    if url:
        yield url
        return
    if docker_available() and not os.environ.get("AIC_TEST_RABBITMQ_URL"):
        rabbit = request.getfixturevalue("_rabbitmq_container")
        yield f"http://guest:guest@{rabbit.get_container_host_ip()}:{rabbit.get_exposed_port(15672)}"
        return
    unavailable(
        "RabbitMQ's management API",
        "rabbitmq-plugins enable rabbitmq_management, then set "
        "AIC_TEST_RABBITMQ_MANAGEMENT_URL=http://guest:guest@127.0.0.1:15672 (local-services.sh does)",
    )


@pytest.fixture
def bus_namespace() -> str:
    """A namespace of exchanges and queues that no other test run shares."""
    return f"t{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- S3


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    kind: str = "moto"


def _wait_http(url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1.0)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def moto_server_path() -> str | None:
    server = shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable), "moto_server")
    return server if os.path.exists(server) else None


@contextlib.contextmanager
def run_moto_server() -> Iterator[S3Endpoint]:
    """moto's S3-compatible server on a free loopback port until the block ends (tests, benchmarks)."""
    server = moto_server_path()
    if server is None:
        raise RuntimeError("moto_server is not installed: install the dev dependencies (make test does)")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/", 30)
        yield S3Endpoint(f"http://127.0.0.1:{port}", "testing", "testing-secret", kind="moto")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Endpoint]:
    """moto's S3-compatible server on a free loopback port, for as long as the session runs."""
    if moto_server_path() is None:
        unavailable("moto_server", "install the dev dependencies (make test does)")
    with run_moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def minio_s3() -> Iterator[S3Endpoint]:
    url = os.environ.get("AIC_TEST_S3_URL")
    if url:
        yield S3Endpoint(
            url,
            os.environ.get("AIC_TEST_S3_ACCESS_KEY", ""),
            os.environ.get("AIC_TEST_S3_SECRET_KEY", ""),
            kind="env",
        )
        return
    if not docker_available():
        # moto covers the S3 protocol everywhere; MinIO itself needs a container engine.
        pytest.skip("MinIO needs a Docker engine (or set AIC_TEST_S3_URL and the access/secret keys)")
    from testcontainers.minio import MinioContainer

    with MinioContainer() as minio:
        config = minio.get_config()
        yield S3Endpoint(
            f"http://{config['endpoint']}", config["access_key"], config["secret_key"], kind="minio"
        )


@pytest.fixture(params=["moto", "minio"])
def s3_endpoint(request: pytest.FixtureRequest) -> S3Endpoint:
    return request.getfixturevalue(f"{request.param}_s3")
