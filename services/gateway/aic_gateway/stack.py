"""The real topology without containers: each service its own uvicorn process, the gateway in front.

``python -m aic_gateway.stack`` (``make stack``) runs it against a real MySQL/MariaDB and RabbitMQ; the
cross-service tests use :class:`Stack` through the ``stack`` fixture in ``tests/conftest.py``.

Adding a service is one line in :data:`SERVICES`::

    ServiceSpec("social", "aic_social.app:create_app", "aic_social.migrate"),

It then gets its own database, a service-client secret registered with auth, migrations before it
starts, its own process and log, and the gateway is given ``AIC_SOCIAL_URL``.

The containers run exactly what this runner runs: :func:`serve_command` and :func:`migrate_command` are
the commands of ``docker-compose.yml``, the Kubernetes manifests and the images, and
:func:`service_environment` names the variables each of them is given (``tests/deploy`` checks both).
Every server runs :mod:`aic_common.server`, which holds its timeouts and limits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from aic_common.bus.users import (
    CONTROL_ROLE,
    ROLES,
    broker_url_as,
    broker_user,
    management_client,
    provision,
    remove_namespace,
    vhost_of,
)
from aic_common.testing import free_port, wait_until_serving
from aic_common.tokens import generate_rsa_private_key_pem

log = logging.getLogger(__name__)

DEFAULT_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
AUTH = "auth"
GATEWAY = "gateway"
JWKS_PATH = "/api/auth/.well-known/jwks.json"
READY_PATH = "/health/ready"
LIVE_PATH = "/health/live"
METRICS_PATH = "/metrics"
# Everything the runner starts is on this machine: the gateway believes a local client's X-Forwarded-For
# (the tests speak for many clients), a service the gateway's.
LOCAL_PROXIES = ("127.0.0.1", "::1")
SECRETS_FILE = "secrets.json"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


@dataclass(frozen=True)
class ServiceSpec:
    """One service process: its name, its ASGI app factory and the module that migrates its database."""

    name: str
    factory: str  # "package.module:callable" returning the ASGI app, served by aic_common.server
    migrate_module: str | None = None  # `python -m <this>`; None: the service has no database
    service_client: bool = True  # given a client id and secret to ask auth for service tokens

    @property
    def has_database(self) -> bool:
        return self.migrate_module is not None


# Every backend service, in start order (auth first: the others fetch its JWKS). Append new ones here.
SERVICES: list[ServiceSpec] = [
    ServiceSpec(AUTH, "aic_auth.app:create_app", "aic_auth.migrate", service_client=False),
    ServiceSpec("files", "aic_files.app:create_app", "aic_files.migrate"),
    ServiceSpec("social", "aic_social.app:create_app", "aic_social.migrate"),
    ServiceSpec("simulator", "aic_simulator.app:create_app", "aic_simulator.migrate"),
]

# Always started last, in front of the others; it owns nothing durable.
GATEWAY_SPEC = ServiceSpec(GATEWAY, "aic_gateway.app:create_app", None, service_client=False)

# Every container listens here; docker-compose.yml and the Kubernetes manifests name the same port.
CONTAINER_HOST = "0.0.0.0"  # noqa: S104 - a container's only interface is its pod or compose network
CONTAINER_PORT = 8000
# Open requests (a live stream, an upload) get this long after SIGTERM; the orchestrator waits longer.
CONTAINER_GRACEFUL_SHUTDOWN_SECONDS = 20


def serve_command(spec: ServiceSpec, *, host: str, port: int, graceful_shutdown_seconds: int) -> list[str]:
    """The arguments after the Python interpreter that serve one service."""
    listen = ["--host", host, "--port", str(port)]
    shutdown = ["--timeout-graceful-shutdown", str(graceful_shutdown_seconds)]
    return ["-m", "aic_common.server", spec.factory, *listen, *shutdown]


def migrate_command(spec: ServiceSpec) -> list[str]:
    """The arguments after the Python interpreter that bring a service's database to its latest schema."""
    if spec.migrate_module is None:
        raise ValueError(f"{spec.name} has no database to migrate")
    return ["-m", spec.migrate_module]


@dataclass(frozen=True)
class StackConfig:
    mysql_url: str = DEFAULT_MYSQL_URL  # a server URL with rights to create databases
    broker_url: str = DEFAULT_BROKER_URL
    # RabbitMQ's management API, as an administrator (http://user:password@host:15672). Given, each
    # service connects as a broker user of its own with only its permissions (aic_common.bus.users), as
    # in a deployment; empty, every service connects as broker_url's user.
    broker_management_url: str = ""
    redis_url: str = ""  # empty: the gateway limits rates in memory
    # Object storage of the files service (MinIO/S3); empty: files keeps objects under its data dir.
    s3_endpoint_url: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "aic-files"
    bus_namespace: str = "aic"
    db_prefix: str = "aic"  # databases are named <db_prefix>_<service>
    state_dir: Path = Path("var/stack")  # logs, generated secrets, each service's data dir
    gateway_port: int = 8000
    host: str = "127.0.0.1"
    # Peers whose X-Forwarded-For is believed (AIC_TRUSTED_PROXIES): addresses or networks.
    trusted_proxies: Sequence[str] = LOCAL_PROXIES
    # "test" rather than "dev": the settings then refuse placeholder secrets, as in production.
    env: str = "test"
    admin_username: str = ""  # bootstrap admin; its password is generated when not given
    admin_password: str = ""
    services: Sequence[ServiceSpec] = field(default_factory=lambda: list(SERVICES))
    ready_timeout_seconds: float = 90.0
    migrate_timeout_seconds: float = 300.0
    stop_grace_seconds: float = 10.0
    # Settings to add per service (service name -> AIC_* variables), as a deployment's config would.
    extra_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.db_prefix):
            raise ValueError(f"db_prefix {self.db_prefix!r} must match {_IDENTIFIER.pattern}")

    def database_name(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"

    def database_url(self, service: str) -> str:
        url = make_url(self.mysql_url).set(database=self.database_name(service))
        return url.render_as_string(hide_password=False)

    def data_dir(self, service: str) -> Path:
        return self.state_dir.resolve() / "data" / service


@dataclass(frozen=True)
class StackSecrets:
    """Secrets generated once per state dir, so a restarted stack keeps its keys and its tokens stay valid."""

    jwt_private_key: str
    service_clients: dict[str, str]  # client id (the service's name) -> secret
    admin_password: str = ""
    metrics_token: str = ""  # what a scraper sends to read any service's /metrics
    # A broker user's password per role (aic_common.bus.users.ROLES), when the stack makes the users.
    broker_passwords: dict[str, str] = field(default_factory=dict)

    @property
    def metrics_authorization(self) -> dict[str, str]:
        """The header with which to read a service's /metrics."""
        return {"Authorization": f"Bearer {self.metrics_token}"}

    @classmethod
    def load_or_create(cls, path: Path, config: StackConfig) -> StackSecrets:
        stored: dict[str, Any] = {}
        if path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
        clients: dict[str, str] = dict(stored.get("service_clients") or {})
        for spec in config.services:
            if spec.service_client and spec.name not in clients:
                clients[spec.name] = secrets.token_urlsafe(32)
        broker_passwords: dict[str, str] = {}
        if config.broker_management_url:
            stored_passwords = stored.get("broker_passwords") or {}
            broker_passwords = {
                role: stored_passwords.get(role) or secrets.token_urlsafe(24) for role in ROLES
            }
        admin_password = config.admin_password or str(stored.get("admin_password") or "")
        if config.admin_username and not admin_password:
            admin_password = secrets.token_urlsafe(18)
        result = cls(
            jwt_private_key=str(stored.get("jwt_private_key") or generate_rsa_private_key_pem()),
            service_clients=clients,
            admin_password=admin_password,
            metrics_token=str(stored.get("metrics_token") or secrets.token_urlsafe(32)),
            broker_passwords=broker_passwords,
        )
        if result.as_json() != stored:
            write_private(path, json.dumps(result.as_json(), indent=2, sort_keys=True))
        return result

    def as_json(self) -> dict[str, Any]:
        return {
            "jwt_private_key": self.jwt_private_key,
            "service_clients": self.service_clients,
            "admin_password": self.admin_password,
            "metrics_token": self.metrics_token,
            "broker_passwords": self.broker_passwords,
        }

    def broker_url(self, config: StackConfig, role: str) -> str:
        """The URL with which ``role`` (a service, or ``control`` for the CLI) connects to the broker."""
        if not self.broker_passwords:
            return config.broker_url
        return broker_url_as(
            config.broker_url, broker_user(role, config.bus_namespace), self.broker_passwords[role]
        )


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (from the first byte), replacing ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    tmp.replace(path)


def service_environment(
    spec: ServiceSpec, config: StackConfig, stack_secrets: StackSecrets, urls: Mapping[str, str]
) -> dict[str, str]:
    """The environment of one service (its ``AIC_*`` settings): the single definition the runner, the
    test fixture and the docker-compose and Kubernetes checks share.
    ``urls`` maps each service name (``auth`` at least) to its base URL.
    """
    env = {
        "AIC_ENV": config.env,
        "AIC_TRUSTED_PROXIES": json.dumps(list(config.trusted_proxies)),
        "AIC_BROKER_URL": stack_secrets.broker_url(config, spec.name),
        "AIC_BUS_NAMESPACE": config.bus_namespace,
        "AIC_DATA_DIR": str(config.data_dir(spec.name)),
        "AIC_MIGRATE_ON_START": "false",  # the runner migrates first, like a deployment's job
        "AIC_JWKS_URL": f"{urls[AUTH]}{JWKS_PATH}",
        "AIC_LOG_JSON": "true",
        "AIC_METRICS_TOKEN": stack_secrets.metrics_token,
    }
    if spec.has_database:
        env["AIC_DATABASE_URL"] = config.database_url(spec.name)
    if spec.name == AUTH:
        env["AIC_JWT_PRIVATE_KEY"] = stack_secrets.jwt_private_key
        env["AIC_SERVICE_CLIENTS"] = json.dumps(stack_secrets.service_clients, sort_keys=True)
        if config.admin_username:
            env["AIC_BOOTSTRAP_ADMIN_USERNAME"] = config.admin_username
            env["AIC_BOOTSTRAP_ADMIN_PASSWORD"] = stack_secrets.admin_password
    if spec.name == "simulator" and stack_secrets.broker_passwords:
        # The operators' CLI has a broker user of its own; the simulator obeys it (and itself) only.
        env["AIC_SIM_CONTROL_BROKER_USERS"] = json.dumps([broker_user(CONTROL_ROLE, config.bus_namespace)])
    if spec.name == "simulator" and "files" in urls:
        # Characters' pictures are uploaded to files as the character, with a service token from auth.
        env["AIC_FILES_URL"] = urls["files"]
        env["AIC_AUTH_URL"] = urls[AUTH]
    if spec.name == "files" and config.s3_endpoint_url:
        env["AIC_S3_ENDPOINT_URL"] = config.s3_endpoint_url
        env["AIC_S3_ACCESS_KEY"] = config.s3_access_key
        env["AIC_S3_SECRET_KEY"] = config.s3_secret_key
        env["AIC_S3_BUCKET"] = config.s3_bucket
    if spec.service_client:
        env["AIC_SERVICE_CLIENT_ID"] = spec.name
        env["AIC_SERVICE_CLIENT_SECRET"] = stack_secrets.service_clients[spec.name]
    if spec.name == GATEWAY:
        for service in config.services:
            env[f"AIC_{service.name.upper()}_URL"] = urls[service.name]
        if config.redis_url:
            env["AIC_REDIS_URL"] = config.redis_url
        env["AIC_HOST"] = config.host
        env["AIC_PORT"] = str(config.gateway_port)
    env.update(config.extra_env.get(spec.name, {}))
    return env


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM when the runner dies, even by SIGKILL (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    # Looked up before fork: the child only makes the call.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


def _base_environment() -> dict[str, str]:
    # The runner's own AIC_* variables (a developer's shell, the test settings) must not leak into a
    # service: each gets exactly service_environment().
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIC_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # Each service leads its own process group (start_new_session): signal the group, so anything it
    # spawned goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


class Stack:
    """Runs the services and the gateway as separate processes. Also a context manager."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.specs: list[ServiceSpec] = [*config.services, GATEWAY_SPEC]
        self._by_name = {spec.name: spec for spec in self.specs}
        self._ports: dict[str, int] = {}
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._envs: dict[str, dict[str, str]] = {}
        self._secrets: StackSecrets | None = None
        self._preexec = _die_with_parent()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Create the databases, migrate, start auth, then the other services, then the gateway, each wave
        once the one before it is ready."""
        state_dir = self.config.state_dir
        (state_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.create_databases()
        self._secrets = StackSecrets.load_or_create(state_dir / SECRETS_FILE, self.config)
        self.create_broker_users()
        self._assign_ports()
        urls = {spec.name: self.url(spec.name) for spec in self.specs}
        self._envs = {
            spec.name: service_environment(spec, self.config, self._secrets, urls) for spec in self.specs
        }
        try:
            for spec in self.specs:
                self.config.data_dir(spec.name).mkdir(parents=True, exist_ok=True)
            # Each service migrates its own database: side by side, as a deployment's Jobs do.
            self._migrate_all([spec for spec in self.specs if spec.migrate_module])
            for wave in self._start_waves():
                self._launch_all(wave)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM every process (gateway first, then the services in reverse start order), SIGKILL those
        still running after the grace period."""
        running = [
            self._processes[spec.name] for spec in reversed(self.specs) if spec.name in self._processes
        ]
        for process in running:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
                self._wait_or_kill(process)
            else:
                # The leader is gone; whatever it left in its group goes now.
                _signal_group(process, signal.SIGKILL)
        self._processes.clear()

    def kill(self, name: str) -> None:
        """SIGKILL one service (a crash, for fault tests) and reap it."""
        process = self._process(name)
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=self.config.stop_grace_seconds)

    def restart(self, name: str) -> None:
        """Start one service again, on the same port and with the same environment, and wait until ready."""
        process = self._processes.get(name)
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            self._wait_or_kill(process)
        self._launch(self._spec(name))

    def create_databases(self) -> None:
        engine = sa.create_engine(self.config.mysql_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for spec in self.config.services:
                    if spec.has_database:
                        conn.execute(
                            sa.text(
                                f"CREATE DATABASE IF NOT EXISTS `{self.config.database_name(spec.name)}` "
                                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                            )
                        )
        finally:
            engine.dispose()

    def create_broker_users(self) -> None:
        """A broker user per service with its own permissions, when the management API is given."""
        if self.config.broker_management_url:
            with management_client(self.config.broker_management_url) as client:
                provision(
                    client,
                    self.config.bus_namespace,
                    self.secrets.broker_passwords,
                    vhost_of(self.config.broker_url),
                )

    def drop_broker_namespace(self) -> None:
        """Delete the stack's queues, exchanges and broker users (with the management API given)."""
        if self.config.broker_management_url:
            with management_client(self.config.broker_management_url) as client:
                remove_namespace(client, self.config.bus_namespace, vhost_of(self.config.broker_url))

    def drop_databases(self) -> None:
        engine = sa.create_engine(self.config.mysql_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for spec in self.config.services:
                    if spec.has_database:
                        conn.execute(
                            sa.text(f"DROP DATABASE IF EXISTS `{self.config.database_name(spec.name)}`")
                        )
        finally:
            engine.dispose()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- inspection

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.specs]

    @property
    def gateway_url(self) -> str:
        return self.url(GATEWAY)

    @property
    def secrets(self) -> StackSecrets:
        if self._secrets is None:
            raise RuntimeError("the stack has not been started")
        return self._secrets

    def broker_url(self, role: str) -> str:
        """The URL with which a service, or ``control`` (the operators' CLI), signs in to the broker."""
        return self.secrets.broker_url(self.config, role)

    def url(self, name: str) -> str:
        self._spec(name)
        if name not in self._ports:
            raise RuntimeError("the stack has not been started")
        return f"http://{self.config.host}:{self._ports[name]}"

    def port(self, name: str) -> int:
        self.url(name)
        return self._ports[name]

    def pid(self, name: str) -> int:
        return self._process(name).pid

    def is_running(self, name: str) -> bool:
        process = self._processes.get(name)
        return process is not None and process.poll() is None

    def returncode(self, name: str) -> int | None:
        return self._process(name).poll()

    def log_path(self, name: str) -> Path:
        self._spec(name)
        return self.config.state_dir / "logs" / f"{name}.log"

    def env_for(self, name: str) -> dict[str, str]:
        """The exact environment (beyond the runner's own) the service was started with."""
        self._spec(name)
        if name not in self._envs:
            raise RuntimeError("the stack has not been started")
        return dict(self._envs[name])

    # ----------------------------------------------------------------- internals

    def _spec(self, name: str) -> ServiceSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no service {name!r}; the stack runs {', '.join(self._by_name)}") from None

    def _process(self, name: str) -> subprocess.Popen[bytes]:
        self._spec(name)
        try:
            return self._processes[name]
        except KeyError:
            raise RuntimeError(f"{name} has not been started") from None

    def _assign_ports(self) -> None:
        # Kept across stop()/start() so that URLs handed out stay valid.
        self._ports.setdefault(GATEWAY, self.config.gateway_port)
        for spec in self.specs:
            while spec.name not in self._ports:
                port = free_port()
                if port not in self._ports.values():
                    self._ports[spec.name] = port

    def _popen(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        with self.log_path(name).open("ab") as log_file:
            return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                args,
                env={**_base_environment(), **self._envs[name]},
                # Not the repo: a developer's ./.env must not change what the stack runs.
                cwd=self.config.data_dir(name),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own group: Ctrl-C reaches the runner only, which stops in order
                preexec_fn=self._preexec,  # only calls prctl, safe after fork
            )

    def _start_waves(self) -> list[list[ServiceSpec]]:
        # Auth first (the others fetch its keys), the gateway in front of everything once it is ready.
        waves = [
            [spec for spec in self.config.services if spec.name == AUTH],
            [spec for spec in self.config.services if spec.name != AUTH],
            [GATEWAY_SPEC],
        ]
        return [wave for wave in waves if wave]

    def _migrate_all(self, specs: Sequence[ServiceSpec]) -> None:
        migrations = []
        for spec in specs:
            log.info("migrating %s", spec.name)
            migrations.append((spec, self._popen([sys.executable, *migrate_command(spec)], spec.name)))
        deadline = time.monotonic() + self.config.migrate_timeout_seconds
        try:
            for spec, process in migrations:
                self._finish_migration(spec, process, deadline)
        finally:
            for _, process in migrations:
                if process.poll() is None:
                    _signal_group(process, signal.SIGKILL)
                    process.wait()

    def _finish_migration(self, spec: ServiceSpec, process: subprocess.Popen[bytes], deadline: float) -> None:
        try:
            returncode = process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"migrating {spec.name} took over {self.config.migrate_timeout_seconds}s"
            ) from None
        if returncode != 0:
            output = self.log_path(spec.name).read_text(encoding="utf-8", errors="replace")
            raise RuntimeError(f"migrating {spec.name} failed with {returncode}:\n{output[-8000:]}")

    def _launch_all(self, specs: Sequence[ServiceSpec]) -> None:
        """Start the services together and wait until each is ready."""
        for spec in specs:
            self._spawn(spec)
        for spec in specs:
            self._wait_ready(spec)

    def _launch(self, spec: ServiceSpec) -> None:
        self._spawn(spec)
        self._wait_ready(spec)

    def _spawn(self, spec: ServiceSpec) -> None:
        log.info("starting %s on %s", spec.name, self.url(spec.name))
        command = serve_command(
            spec,
            host=self.config.host,
            port=self._ports[spec.name],
            graceful_shutdown_seconds=max(1, int(self.config.stop_grace_seconds) - 2),
        )
        self._processes[spec.name] = self._popen([sys.executable, *command], spec.name)

    def _wait_ready(self, spec: ServiceSpec) -> None:
        wait_until_serving(
            f"{self.url(spec.name)}{READY_PATH}",
            process=self._processes[spec.name],
            log_path=self.log_path(spec.name),
            timeout=self.config.ready_timeout_seconds,
        )

    def _wait_or_kill(self, process: subprocess.Popen[bytes]) -> None:
        try:
            process.wait(timeout=self.config.stop_grace_seconds)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
        # Anything the service spawned that outlived it.
        _signal_group(process, signal.SIGKILL)


# --------------------------------------------------------------------- command line


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m aic_gateway.stack",
        description="Run every service as its own process against MySQL and RabbitMQ, the gateway in front.",
    )
    parser.add_argument("--mysql-url", default=env.get("AIC_STACK_MYSQL_URL") or DEFAULT_MYSQL_URL)
    parser.add_argument("--broker-url", default=env.get("AIC_STACK_BROKER_URL") or DEFAULT_BROKER_URL)
    parser.add_argument(
        "--broker-management-url",
        default=env.get("AIC_STACK_BROKER_MANAGEMENT_URL", ""),
        help="RabbitMQ's management API as an administrator: a broker user per service, as deployed",
    )
    parser.add_argument("--redis-url", default=env.get("AIC_STACK_REDIS_URL", ""))
    parser.add_argument("--s3-endpoint-url", default=env.get("AIC_STACK_S3_ENDPOINT_URL", ""))
    parser.add_argument("--s3-access-key", default=env.get("AIC_STACK_S3_ACCESS_KEY", ""))
    parser.add_argument("--s3-secret-key", default=env.get("AIC_STACK_S3_SECRET_KEY", ""))
    parser.add_argument("--s3-bucket", default=env.get("AIC_STACK_S3_BUCKET", "aic-files"))
    parser.add_argument("--port", type=int, default=int(env.get("AIC_STACK_PORT") or 8000))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--prefix", default="aic", help="databases are named <prefix>_<service>")
    parser.add_argument("--bus-namespace", default="aic")
    parser.add_argument("--state-dir", type=Path, default=Path("var/stack"))
    parser.add_argument("--env", choices=["test", "prod"], default="test")
    parser.add_argument("--admin-username", default=env.get("AIC_BOOTSTRAP_ADMIN_USERNAME", ""))
    parser.add_argument("--admin-password", default=env.get("AIC_BOOTSTRAP_ADMIN_PASSWORD", ""))
    return parser.parse_args(argv)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into one KeyboardInterrupt: every way of ending the runner stops
    everything, and a second Ctrl-C does not cut the orderly stop short."""
    interrupted = False

    def interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s stack %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness poll otherwise
    config = StackConfig(
        mysql_url=args.mysql_url,
        broker_url=args.broker_url,
        broker_management_url=args.broker_management_url,
        redis_url=args.redis_url,
        s3_endpoint_url=args.s3_endpoint_url,
        s3_access_key=args.s3_access_key,
        s3_secret_key=args.s3_secret_key,
        s3_bucket=args.s3_bucket,
        bus_namespace=args.bus_namespace,
        db_prefix=args.prefix,
        state_dir=args.state_dir,
        gateway_port=args.port,
        host=args.host,
        env=args.env,
        admin_username=args.admin_username,
        admin_password=args.admin_password,
    )
    stack = Stack(config)
    with _stop_on_signals():
        try:
            stack.start()
            print(f"gateway    {stack.gateway_url}    log {stack.log_path(GATEWAY)}", flush=True)
            for name in stack.names[:-1]:
                print(f"{name:<10} {stack.url(name)}    log {stack.log_path(name)}", flush=True)
            if config.admin_username:
                # Where the password is, never the password: logs are kept and shared.
                where = config.state_dir.resolve() / SECRETS_FILE
                print(f"admin      {config.admin_username}, password in {where} (admin_password)", flush=True)
            if config.broker_management_url:
                print(f"aic sim    AIC_BROKER_URL={stack.broker_url(CONTROL_ROLE)}", flush=True)
            print("Ctrl-C stops everything.", flush=True)
            reported: set[str] = set()
            while True:
                # A crashed service is reported, not restarted: its log says why.
                for name in stack.names:
                    if name not in reported and not stack.is_running(name):
                        reported.add(name)
                        print(
                            f"{name} exited with {stack.returncode(name)}; see {stack.log_path(name)}",
                            file=sys.stderr,
                            flush=True,
                        )
                time.sleep(1.0)
        except KeyboardInterrupt:
            print("stopping", flush=True)
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
