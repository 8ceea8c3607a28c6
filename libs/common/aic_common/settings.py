"""Settings shared by every service.

Each service has one settings class extending :class:`ServiceSettings`; nothing else reads the
environment. Values come from ``AIC_*`` environment variables or a ``.env`` file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from pydantic import Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that look like a secret but are not one. Refused outside dev mode.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "change_me", "secret", "password", "admin", "guest", "dev", "test", "xxx"}
)


# The longest one failed delivery of a message takes to come round again: a nacked message is
# requeued at once (the in-process bus waits 0.05 s), the outbox relay retries a batch after at most
# 10 s of backoff plus a 10 s publish timeout, a stopping consumer gets 15 s to finish.
BUS_RETRY_PAUSE_CEILING_SECONDS = 30.0


@dataclass(frozen=True)
class DbPoolLimits:
    """A database engine's connection pool: ``size`` connections kept open, up to ``overflow`` more
    opened for a moment; the pool never holds more than ``most`` at once (a checkout past it waits)."""

    size: int
    overflow: int

    @classmethod
    def of(cls, size: int, overflow: int | None = None) -> DbPoolLimits:
        """``overflow`` None: as many as ``size``."""
        return cls(size, size if overflow is None else overflow)

    @property
    def most(self) -> int:
        return self.size + self.overflow


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    prod = "prod"


class ServiceSettings(BaseSettings):
    """The base every service's settings extend."""

    model_config = SettingsConfigDict(
        env_prefix="AIC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    service_name: str = "aic"
    env: Environment = Environment.dev
    data_dir: Path = Path("var")
    log_level: str = "INFO"
    log_json: bool = True

    # Database: a SQLAlchemy URL (mysql+pymysql://... or sqlite:///...). Empty means a SQLite file
    # under data_dir, the embedded default.
    database_url: str = ""
    # Connections kept open, and how many blocking handlers run at once (each holds one). More threads
    # than kept connections would make every request past them open (and TLS-probe) a connection of
    # its own.
    db_pool_size: int = Field(default=20, ge=1)
    # Connections opened beyond the kept ones for a moment (closed after use) when all of those are
    # busy: a readiness check abandoned by its timeout still holds one. Unset: as many as db_pool_size.
    # db_pool_limits() is the most one process opens: what the database's max_connections must allow.
    db_max_overflow: int | None = Field(default=None, ge=0)
    db_pool_recycle_seconds: int = Field(default=1800, ge=30)
    # Apply migrations when the service starts (embedded mode); a deployment runs its migration step
    # first instead (compose: migrate-<service>; Kubernetes: the pods' init container).
    migrate_on_start: bool = True

    # Broker: an AMQP URL. Empty means the in-process transport (embedded mode).
    broker_url: SecretStr = SecretStr("")
    # Prefix of every exchange and queue name, so that several deployments (or test runs) can share
    # one broker without seeing each other's messages.
    bus_namespace: str = Field(default="aic", pattern=r"^[a-z0-9][a-z0-9_.-]{0,40}$")
    bus_delivery_limit: int = Field(default=5, ge=1, le=100)
    bus_prefetch: int = Field(default=16, ge=1, le=1000)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)

    # Retention of the tables that only grow (aic_common.retention): how often the sweep runs, and the
    # most rows one of its transactions deletes (a months-old backlog goes in many short ones).
    retention_sweep_seconds: float = Field(default=600.0, gt=0)
    retention_batch_size: int = Field(default=1000, ge=1, le=10_000)
    # A consumer remembers each message it applied this long (processed_messages), and skips a copy of
    # it that arrives meanwhile; a copy arriving later would be applied twice. Must exceed the window
    # below (checked at start).
    processed_message_retention_hours: float = Field(default=168.0, gt=0)
    # The longest a copy of a message already applied may take to arrive. Retries take seconds (the
    # delivery limit times BUS_RETRY_PAUSE_CEILING_SECONDS), but the queues set no message TTL: a copy
    # published again by an outbox whose database went away before it marked the row sent, or left
    # unacknowledged by a consumer that stopped after its commit, waits in its queue until the outage
    # ends. So this is the longest outage of a service, its database or a consumer to ride out.
    bus_redelivery_window_hours: float = Field(default=48.0, gt=0)
    # Outbox rows already published are kept this long (to trace what a service sent), then deleted.
    outbox_sent_retention_hours: float = Field(default=24.0, gt=0)

    # Access tokens: who issues them and for whom, and where the public keys are (auth's JWKS).
    jwt_issuer: str = "aic-auth"
    jwt_audience: str = "aic"
    jwks_url: str = "http://127.0.0.1:8001/api/auth/.well-known/jwks.json"

    # Client credentials with which this service asks auth for a service token (internal calls).
    service_client_id: str = ""
    service_client_secret: SecretStr = SecretStr("")

    # Proxies in front of this service whose X-Forwarded-For is believed (aic_common.client_address),
    # as a JSON list of addresses or networks: the gateway's are the ingress in front of it, a
    # service's the gateway. Empty: nobody's; the peer is the client.
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)

    # The largest request body a route reads (bytes), refused with 413 before or while it arrives
    # (aic_common.body_limit); uploads have limits of their own. The longest text a setting allows
    # (20,000 characters), each escaped as JSON's \uXXXX, fits.
    max_request_body_bytes: int = Field(default=128 * 1024, ge=1024)

    # Bearer token a scraper must send to read /metrics (route templates, request counts, open streams).
    # Empty, in dev mode only, leaves /metrics open.
    metrics_token: SecretStr = SecretStr("")

    # Fields whose value is a secret: refused when left at a placeholder outside dev mode. A service's
    # own; the ones every service has are in COMMON_SECRET_FIELDS, so overriding this cannot drop them.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    COMMON_SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("metrics_token",)

    def redelivery_window(self) -> timedelta:
        """How long after a message is applied a copy of it may still arrive (see the settings above)."""
        retries = self.bus_delivery_limit * BUS_RETRY_PAUSE_CEILING_SECONDS
        return timedelta(hours=self.bus_redelivery_window_hours, seconds=retries)

    @property
    def is_dev(self) -> bool:
        return self.env == Environment.dev

    def db_pool_limits(self) -> DbPoolLimits:
        """The pool the service's engine gets (aic_common.runtime), and so the most connections it opens."""
        return DbPoolLimits.of(self.db_pool_size, self.db_max_overflow)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / f'{self.service_name}.db').as_posix()}"

    @model_validator(mode="after")
    def _remember_messages_past_their_redelivery(self) -> ServiceSettings:
        window = self.redelivery_window()
        if timedelta(hours=self.processed_message_retention_hours) <= window:
            raise ValueError(
                f"AIC_PROCESSED_MESSAGE_RETENTION_HOURS ({self.processed_message_retention_hours:g}) must be "
                f"longer than the bus's redelivery window ({window.total_seconds() / 3600:g} h: "
                f"AIC_BUS_REDELIVERY_WINDOW_HOURS={self.bus_redelivery_window_hours:g} plus "
                f"AIC_BUS_DELIVERY_LIMIT={self.bus_delivery_limit} retries of up to "
                f"{BUS_RETRY_PAUSE_CEILING_SECONDS:g} s), or a late copy of a message would be applied twice"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.is_dev:
            return self
        for name in (*self.secret_fields, *self.COMMON_SECRET_FIELDS):
            value = getattr(self, name)
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if raw is None or str(raw).strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    f"AIC_{name.upper()} must be set to a real secret when AIC_ENV={self.env.value}"
                )
        return self
