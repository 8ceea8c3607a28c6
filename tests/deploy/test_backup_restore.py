"""backup-databases.sh and restore-databases.sh for real: services write through the gateway on the
test MariaDB, the backup script dumps their databases as the read-only backup user and uploads the
dump to an S3 server on loopback (moto), applying the retention; the restore script loads it into a
new, empty MariaDB server of this test's own, and the services started on that server find the person
who signed up and the post, with their migrations seeing the schema as current.

Needs mysqldump, mysql, mariadb-install-db, mariadbd, the aws CLI and moto_server (skipped without one;
with CI=true a failure)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import httpx
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from aic_common.testing import free_port
from aic_common.testing.fixtures import S3Endpoint, moto_server_path, unavailable
from aic_gateway.stack import SERVICES, Stack, StackConfig

from .conftest import DEPLOY, STORE_SCRIPTS

pytestmark = pytest.mark.integration

BACKUP = DEPLOY / "k8s" / "components" / "backup"
DATABASE_SERVICES = [spec.name for spec in SERVICES if spec.has_database]
# A loaded two-core machine: MariaDB's first start and the services' start-up get minutes, not seconds.
SERVER_START_SECONDS = 180.0
PASSWORD = "correct horse battery staple 42"


def tool(name: str, *also: str) -> str:
    for candidate in (name, *also):
        found = shutil.which(candidate) or shutil.which(candidate, path="/usr/sbin:/usr/local/sbin:/sbin")
        if found:
            return found
    unavailable(name, f"install it ({'mariadb-server' if 'mariadb' in name else 'awscli or mariadb-client'})")
    raise AssertionError("unreachable")


@pytest.fixture
def tools() -> dict[str, str]:
    found = {
        "mysqldump": tool("mysqldump", "mariadb-dump"),
        "mysql": tool("mysql", "mariadb"),
        "install_db": tool("mariadb-install-db", "mysql_install_db"),
        "mariadbd": tool("mariadbd", "mysqld"),
        "aws": tool("aws"),
    }
    if moto_server_path() is None:
        unavailable("moto_server", "install the dev dependencies (make test does)")
    return found


@contextlib.contextmanager
def fresh_mariadb(tools: dict[str, str], root: Path) -> Iterator[URL]:
    """A new MariaDB server on a loopback port with an empty data directory of its own; root without a
    password. Stopped and its files removed afterwards."""
    datadir, socket, port = root / "data", root / "mysqld.sock", free_port()
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    installed = subprocess.run(
        [
            tools["install_db"],
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *as_root,
        ],
        capture_output=True,
        text=True,
        timeout=SERVER_START_SECONDS,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    log = root / "mysqld.log"
    process = subprocess.Popen(
        [
            tools["mariadbd"],
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={socket}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={root / 'mysqld.pid'}",
            f"--log-error={log}",
            "--skip-log-bin",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--innodb-buffer-pool-size=64M",
            *as_root,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert process.poll() is None, f"mariadbd exited: {log.read_text(errors='replace')[-4000:]}"
            try:
                pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=2).close()
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"mariadbd did not answer within {SERVER_START_SECONDS}s") from None
                time.sleep(0.2)
        yield make_url(f"mysql+pymysql://root@127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(datadir, ignore_errors=True)


def run(script: Path, environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(script), *arguments],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def alembic_versions(server: URL, prefix: str) -> dict[str, str]:
    engine = sa.create_engine(server)
    try:
        with engine.connect() as connection:
            return {
                service: connection.execute(
                    sa.text(f"SELECT version_num FROM `{prefix}_{service}`.alembic_version")
                ).scalar_one()
                for service in ("auth", "social")
            }
    finally:
        engine.dispose()


def sign_in(gateway: httpx.Client, username: str) -> dict[str, str]:
    login = gateway.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)


@contextlib.contextmanager
def running(config: StackConfig) -> Iterator[Stack]:
    """The stack, its queues, exchanges and broker users removed after it stopped."""
    stack = Stack(config)
    try:
        with stack:
            yield stack
    finally:
        stack.drop_broker_namespace()


def test_a_backup_restored_on_a_new_server_brings_back_people_and_posts(
    tools: dict[str, str],
    mysql_server_url: str,
    rabbitmq_url: str,
    rabbitmq_management_url: str,
    moto_s3: S3Endpoint,
    stack_config_factory: Callable[..., StackConfig],
    prefix: str,
    tmp_path: Path,
) -> None:
    source = make_url(mysql_server_url)
    # Every service database with its users and the read-only backup user, as on a real server.
    passwords = {f"MYSQL_{s.upper()}_PASSWORD": secrets.token_hex(16) for s in DATABASE_SERVICES}
    backup_password = secrets.token_hex(16)
    created = run(
        STORE_SCRIPTS / "create-databases.sh",
        {
            **passwords,
            "AIC_DB_PREFIX": prefix,
            "MYSQL_HOST": source.host or "127.0.0.1",
            "MYSQL_PORT": str(source.port or 3306),
            "MYSQL_ADMIN_USER": source.username or "root",
            "MYSQL_ROOT_PASSWORD": source.password or "",
            "MYSQL_BACKUP_PASSWORD": backup_password,
        },
    )
    assert created.returncode == 0, created.stderr

    config = dataclasses.replace(
        stack_config_factory(
            mysql_server_url, rabbitmq_url, tmp_path / "stack", broker_management_url=rabbitmq_management_url
        ),
        db_prefix=prefix,
        services=[spec for spec in SERVICES if spec.name in ("auth", "social")],
        ready_timeout_seconds=SERVER_START_SECONDS,
    )
    username = f"keeper_{uuid.uuid4().hex[:6]}"
    with running(config) as stack, httpx.Client(base_url=stack.gateway_url, timeout=30) as gateway:
        body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        registered = gateway.post("/api/auth/register", json=body)
        assert registered.status_code == 201, registered.text
        headers = sign_in(gateway, username)
        wait_until(lambda: gateway.get(f"/api/users/{username}").status_code == 200, "the profile in social")
        posted = gateway.post("/api/posts", json={"content": "备份之前写下的帖子 📦"}, headers=headers)
        assert posted.status_code == 201, posted.text
        post_id = posted.json()["id"]
        versions = alembic_versions(source, prefix)

        # The dump is taken while the services run (one transaction, nothing locked).
        bucket = f"aic-backups-{prefix}"
        s3 = boto3.client(
            "s3",
            endpoint_url=moto_s3.url,
            aws_access_key_id=moto_s3.access_key,
            aws_secret_access_key=moto_s3.secret_key,
            region_name=moto_s3.region,
        )
        s3.create_bucket(Bucket=bucket)
        expired = f"mysql/{prefix}-20000101T000000Z.sql.gz"
        s3.put_object(Bucket=bucket, Key=expired, Body=b"an old dump")
        s3.put_object(Bucket=bucket, Key="mysql/notes.txt", Body=b"not a dump: never deleted")
        store = {
            "AIC_DB_PREFIX": prefix,
            "BACKUP_S3_ENDPOINT": moto_s3.url,
            "BACKUP_S3_BUCKET": bucket,
            "BACKUP_S3_PREFIX": "mysql",
            "AWS_ACCESS_KEY_ID": moto_s3.access_key,
            "AWS_SECRET_ACCESS_KEY": moto_s3.secret_key,
            "AWS_DEFAULT_REGION": moto_s3.region,
            "TMPDIR": str(tmp_path),
        }
        backup = {
            **store,
            "MYSQL_HOST": source.host or "127.0.0.1",
            "MYSQL_PORT": str(source.port or 3306),
            "MYSQL_BACKUP_USER": f"{prefix}_backup",
            "MYSQL_BACKUP_PASSWORD": backup_password,
            "BACKUP_RETENTION_DAYS": "7",
        }
        started = time.monotonic()
        done = run(BACKUP / "backup-databases.sh", backup)
        assert done.returncode == 0, done.stdout + done.stderr
        print(f"backup took {time.monotonic() - started:.1f}s: {done.stdout}")

    def keys() -> set[str]:
        return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}

    dumps = {key for key in keys() if key.startswith(f"mysql/{prefix}-")}
    assert expired not in dumps and "mysql/notes.txt" in keys()  # the retention, and only its dumps
    (dump,) = dumps

    # A failing backup exits non-zero, uploads nothing and deletes nothing, however old.
    s3.put_object(Bucket=bucket, Key=expired, Body=b"an old dump")
    failed = run(BACKUP / "backup-databases.sh", {**backup, "MYSQL_BACKUP_PASSWORD": "wrong"})
    assert failed.returncode != 0 and "mysqldump failed" in failed.stderr
    assert keys() == {dump, expired, "mysql/notes.txt"}
    s3.delete_object(Bucket=bucket, Key=expired)

    with fresh_mariadb(tools, tmp_path / "fresh") as fresh:
        restore = {
            **store,
            "MYSQL_HOST": "127.0.0.1",
            "MYSQL_PORT": str(fresh.port),
            "MYSQL_ADMIN_USER": "root",
            "MYSQL_ROOT_PASSWORD": "",
        }
        started = time.monotonic()
        restored = run(BACKUP / "restore-databases.sh", restore)  # the newest dump
        assert restored.returncode == 0, restored.stdout + restored.stderr
        print(f"restore took {time.monotonic() - started:.1f}s: {restored.stdout}")
        assert alembic_versions(fresh, prefix) == versions
        # Restoring over databases that hold tables is refused unless asked for.
        again = run(BACKUP / "restore-databases.sh", restore, dump.rsplit("/", 1)[1])
        assert again.returncode != 0 and "RESTORE_REPLACE=yes" in again.stderr

        # The services on the new server: their migrations find the schema current, and the data is there.
        moved = dataclasses.replace(
            config, mysql_url=fresh.render_as_string(hide_password=False), gateway_port=free_port()
        )
        with running(moved) as stack, httpx.Client(base_url=stack.gateway_url, timeout=30) as gateway:
            assert alembic_versions(fresh, prefix) == versions
            headers = sign_in(gateway, username)
            post = gateway.get(f"/api/posts/{post_id}", headers=headers)
            assert post.status_code == 200, post.text
            assert post.json()["content"] == "备份之前写下的帖子 📦"
            assert post.json()["author"]["username"] == username
            timeline = gateway.get(f"/api/users/{username}/posts", headers=headers).json()
            assert [item["id"] for item in timeline["items"]] == [post_id]
