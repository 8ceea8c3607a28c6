"""create-databases.sh (run by the MySQL container on its first start, and by an operator against a
managed server) against the real MySQL/MariaDB: each service's user migrates its own database with
the variables compose gives it, and cannot read another service's."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import aio_pika
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from aic_common.bus.rabbit import RabbitBus
from aic_common.testing import service_bus_from_environment
from aic_common.testing.fixtures import unavailable
from aic_gateway.stack import ServiceSpec, migrate_command

from .conftest import ALL_SPECS, STORE_SCRIPTS, Compose

pytestmark = pytest.mark.integration

DATABASE_SPECS = [spec for spec in ALL_SPECS if spec.has_database]


def run_script(server: URL, prefix: str, passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "AIC_DB_PREFIX": prefix,
        "MYSQL_HOST": server.host or "127.0.0.1",
        "MYSQL_PORT": str(server.port or 3306),
        "MYSQL_ADMIN_USER": server.username or "root",
        "MYSQL_ROOT_PASSWORD": server.password or "",
        **{f"MYSQL_{name.upper()}_PASSWORD": password for name, password in passwords.items()},
    }
    return subprocess.run(
        ["sh", str(STORE_SCRIPTS / "create-databases.sh")],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_each_service_migrates_its_own_database_as_its_own_user_and_reads_no_other(
    mysql_server_url: str, rabbitmq_url: str, compose: Compose, prefix: str, tmp_path: Path
) -> None:
    if shutil.which("mysql") is None:
        unavailable("the mysql client", "install it (default-mysql-client or mariadb-client)")
    server = make_url(mysql_server_url)
    passwords = {spec.name: secrets.token_hex(16) for spec in DATABASE_SPECS}
    for _ in range(2):  # a second run changes nothing
        result = run_script(server, prefix, passwords)
        assert result.returncode == 0, result.stderr

    def service_url(name: str) -> str:
        url = server.set(username=f"{prefix}_{name}", password=passwords[name], database=f"{prefix}_{name}")
        return url.render_as_string(hide_password=False)

    base = {key: value for key, value in os.environ.items() if not key.startswith("AIC_")}
    migrations = []
    for spec in DATABASE_SPECS:
        environment = {
            **base,
            **compose.environment(spec.name),
            "AIC_DATABASE_URL": service_url(spec.name),
            "AIC_DATA_DIR": str(tmp_path / spec.name),
            # The migration step also declares the service's queues: on the test broker, in a namespace
            # of this test's own.
            "AIC_BROKER_URL": rabbitmq_url,
            "AIC_BUS_NAMESPACE": prefix,
        }
        process = subprocess.Popen(
            [sys.executable, *migrate_command(spec)],
            env=environment,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        migrations.append((spec, process, environment))
    for spec, process, _ in migrations:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"migrating {spec.name} as its own user failed:\n{output[-4000:]}"
    for spec, _, environment in migrations:
        asyncio.run(_check_and_delete_queues(spec, environment))

    for spec in DATABASE_SPECS:
        engine = sa.create_engine(service_url(spec.name))
        try:
            with engine.connect() as connection:
                own = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
                assert own, spec.name
                for other in DATABASE_SPECS:
                    if other.name == spec.name:
                        continue
                    with pytest.raises(sa.exc.OperationalError, match="denied"):
                        connection.execute(sa.text(f"SELECT 1 FROM `{prefix}_{other.name}`.alembic_version"))
        finally:
            engine.dispose()


async def _check_and_delete_queues(spec: ServiceSpec, environment: dict[str, str]) -> None:
    """Each durable queue of the service exists after its migration (passive declare fails otherwise)."""
    bus = service_bus_from_environment(spec.factory, environment)
    assert isinstance(bus, RabbitBus)
    durable = [s for s in bus.subscriptions if not s.exclusive]
    assert durable, f"{spec.name} consumes nothing?"
    connection = await aio_pika.connect(bus.url, timeout=10)
    try:
        channel = await connection.channel()
        for subscription in durable:
            await channel.declare_queue(bus.queue_name(subscription.queue), passive=True)
            await channel.declare_queue(bus.dead_letter_queue_name(subscription.queue), passive=True)
    finally:
        await connection.close()
        await bus.delete_topology()


def test_a_password_that_would_break_its_url_is_refused(mysql_server_url: str, prefix: str) -> None:
    if shutil.which("mysql") is None:
        unavailable("the mysql client", "install it (default-mysql-client or mariadb-client)")
    passwords = {spec.name: secrets.token_hex(16) for spec in DATABASE_SPECS}
    passwords["social"] = "p@ss/word"
    result = run_script(make_url(mysql_server_url), prefix, passwords)
    assert result.returncode != 0
    assert "MYSQL_SOCIAL_PASSWORD may hold letters and digits only" in result.stderr
