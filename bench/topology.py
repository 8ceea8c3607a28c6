"""The real topology for the benchmarks: every service its own process (aic_gateway.stack), on MariaDB,
RabbitMQ, Redis and moto's S3 server on this machine, with the seeded data set loaded.

A full run keeps its databases (prefix ``aicbench``) and reuses the seeded data set when it is still
exactly as seeded (a run that wrote posts leaves it to be seeded again, which takes a few minutes); a
quick run gets databases of its own, dropped after.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from aic_common.testing import free_port
from aic_common.testing.fixtures import S3Endpoint, run_moto_server
from aic_common.tokens import MAX_ACCESS_TOKEN_TTL_SECONDS, TokenIssuer
from aic_gateway.stack import Stack, StackConfig

REPO = Path(__file__).resolve().parent.parent
MYSQL_URL = os.environ.get("AIC_TEST_MYSQL_URL") or "mysql+pymysql://root@127.0.0.1:3306"
BROKER_URL = os.environ.get("AIC_TEST_RABBITMQ_URL") or "amqp://guest:guest@127.0.0.1:5672/"
# A Redis database of the benchmarks' own: the gateway's rate-limit counters must not meet the tests'.
REDIS_URL = os.environ.get("AIC_BENCH_REDIS_URL") or (
    "redis://127.0.0.1:6379/14" if os.environ.get("AIC_TEST_REDIS_URL") else ""
)
FULL_PREFIX = "aicbench"
UNLIMITED = str(10**9)


@dataclass(frozen=True)
class SeededUser:
    id: str
    username: str
    is_ai: bool


class BenchStack:
    """A running stack with a seeded data set, and access tokens for its people."""

    def __init__(
        self,
        *,
        users: int,
        posts: int,
        quick: bool,
        state_dir: Path | None = None,
        service_env: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """``service_env`` adds AIC_* settings per service, to compare settings side by side."""
        self.users_wanted, self.posts_wanted, self.quick = users, posts, quick
        self.service_env = service_env or {}
        run = uuid.uuid4().hex[:8]
        self.prefix = f"aicbq{run}" if quick else FULL_PREFIX
        self.namespace = f"bq{run}" if quick else "bench"
        self.state_dir = state_dir or REPO / "var" / "bench" / ("quick-" + run if quick else "stack")
        self._exit = contextlib.ExitStack()
        self.stack: Stack | None = None
        self.s3: S3Endpoint | None = None
        self.people: list[SeededUser] = []
        self.seed_seconds: float | None = None  # None: the data set was already there
        self._issuer: TokenIssuer | None = None
        self._tokens: dict[str, tuple[str, float]] = {}  # person -> (token, when it was issued)

    def start(self) -> BenchStack:
        try:
            self.s3 = self._exit.enter_context(run_moto_server())
            config = StackConfig(
                mysql_url=MYSQL_URL,
                broker_url=BROKER_URL,
                redis_url=REDIS_URL,
                s3_endpoint_url=self.s3.url,
                s3_access_key=self.s3.access_key,
                s3_secret_key=self.s3.secret_key,
                s3_bucket=f"aic-bench-{uuid.uuid4().hex[:8]}",
                bus_namespace=self.namespace,
                db_prefix=self.prefix,
                state_dir=self.state_dir,
                gateway_port=free_port(),
                # The load comes from one address and a few hundred people: the limits that protect a
                # public deployment from floods would measure themselves, not the system.
                extra_env={
                    **self.service_env,
                    "gateway": {
                        "AIC_RATE_LIMIT_PER_IP": UNLIMITED,
                        "AIC_RATE_LIMIT_PER_USER": UNLIMITED,
                        **self.service_env.get("gateway", {}),
                    },
                },
            )
            self.stack = Stack(config)
            if not self.quick and not self._seeded(config):
                self.stack.drop_databases()  # half-seeded or stale: start from empty databases
            self._exit.callback(self._teardown)
            self.stack.start()
            if not self._seeded(config):
                self._seed(config)
            self.people = self._load_people(config)
        except BaseException:
            self._exit.close()
            raise
        return self

    def stop(self) -> None:
        self._exit.close()

    def __enter__(self) -> BenchStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ use

    def url(self, service: str) -> str:
        assert self.stack is not None
        return self.stack.url(service)

    def pids(self) -> dict[str, int]:
        assert self.stack is not None
        return {name: self.stack.pid(name) for name in self.stack.names}

    def token(self, person: SeededUser) -> str:
        """An access token of ``person``, signed with the stack's key (as auth would sign it at login);
        one that lives as long as the issuer allows, issued again once half of that has passed, so that a
        long run of benchmarks never presents an expired one."""
        if self._issuer is None:
            assert self.stack is not None
            self._issuer = TokenIssuer(
                self.stack.secrets.jwt_private_key,
                "aic-auth",
                "aic",
                access_ttl_seconds=MAX_ACCESS_TOKEN_TTL_SECONDS,
            )
        token, issued = self._tokens.get(person.id, ("", 0.0))
        if time.monotonic() - issued > MAX_ACCESS_TOKEN_TTL_SECONDS / 2 or not token:
            token = self._issuer.issue_access_token(
                person.id, username=person.username, role="user", is_ai=person.is_ai
            )
            self._tokens[person.id] = (token, time.monotonic())
        return token

    def humans(self, count: int, seed: int = 3) -> list[SeededUser]:
        people = [p for p in self.people if not p.is_ai]
        return random.Random(seed).sample(people, min(count, len(people)))

    def ai_people(self) -> list[SeededUser]:
        return [p for p in self.people if p.is_ai]

    def social_engine(self) -> sa.Engine:
        assert self.stack is not None
        return sa.create_engine(self.stack.config.database_url("social"), pool_pre_ping=True)

    def database_url(self, service: str) -> str:
        assert self.stack is not None
        return self.stack.config.database_url(service)

    # ------------------------------------------------------------------ set-up

    def _seeded(self, config: StackConfig) -> bool:
        engine = sa.create_engine(config.database_url("auth"))
        social = sa.create_engine(config.database_url("social"))
        try:
            with engine.connect() as conn, social.connect() as social_conn:
                users = conn.scalar(sa.text("SELECT COUNT(*) FROM users WHERE username LIKE 'seed\\_%'"))
                posts = social_conn.scalar(sa.text("SELECT COUNT(*) FROM posts"))
            # Exactly as seeded: composing (feed) and commands (events) add posts, and a data set that
            # grows from run to run makes every home timeline longer than the one the figures are for.
            return users == self.users_wanted and posts == self.posts_wanted
        except sa.exc.SQLAlchemyError:
            return False  # no database or no tables yet
        finally:
            engine.dispose()
            social.dispose()

    def _seed(self, config: StackConfig) -> None:
        import time

        from aic_social.seed import seed

        started = time.perf_counter()
        seed(
            config.database_url("social"),
            config.database_url("auth"),
            users=self.users_wanted,
            posts=self.posts_wanted,
            migrate=False,
            progress=lambda message: print(f"  seed {message}", flush=True),
        )
        self.seed_seconds = time.perf_counter() - started

    def _load_people(self, config: StackConfig) -> list[SeededUser]:
        engine = sa.create_engine(config.database_url("auth"))
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT id, username, is_ai FROM users WHERE username LIKE 'seed\\_%' ORDER BY id"
                    )
                ).all()
        finally:
            engine.dispose()
        return [SeededUser(row.id, row.username, bool(row.is_ai)) for row in rows]

    def _teardown(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            if self.quick:
                self.stack.drop_databases()
                shutil.rmtree(self.state_dir, ignore_errors=True)
        if self.quick:
            delete_namespace(BROKER_URL, self.namespace)


def delete_namespace(broker_url: str, namespace: str) -> None:
    """Remove the queues and exchanges of a bus namespace (its consumers have stopped)."""
    if shutil.which("rabbitmqctl") is None:
        return
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name"], capture_output=True, text=True, timeout=60, check=False
    )
    queues = [name for name in listed.stdout.split() if name.startswith(f"{namespace}.")]

    async def delete() -> None:
        import aio_pika

        connection = await aio_pika.connect(broker_url, timeout=10)
        try:
            channel = await connection.channel()
            for queue in queues:
                await channel.queue_delete(queue)
        finally:
            await connection.close()

    with contextlib.suppress(Exception):
        asyncio.run(delete())


@contextlib.contextmanager
def bench_stack(*, users: int, posts: int, quick: bool) -> Iterator[BenchStack]:
    with BenchStack(users=users, posts=posts, quick=quick) as running:
        yield running
