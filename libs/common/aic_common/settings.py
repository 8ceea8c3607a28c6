"""Settings shared by every service.

Each service has one settings class extending :class:`ServiceSettings`; nothing else reads the
environment. Values come from ``AIC_*`` environment variables or a ``.env`` file.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that look like a secret but are not one. Refused outside dev mode.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "change_me", "secret", "password", "admin", "guest", "dev", "test", "xxx"}
)


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
    # Connections kept open, and how many blocking handlers run at once (each holds one); as many again
    # may be opened for a moment and closed after use. More threads than kept connections would make
    # every request past them open (and TLS-probe) a connection of its own.
    db_pool_size: int = Field(default=20, ge=1)
    db_pool_recycle_seconds: int = Field(default=1800, ge=30)
    # Apply migrations when the service starts (embedded mode); a deployment runs them as a job instead.
    migrate_on_start: bool = True

    # Broker: an AMQP URL. Empty means the in-process transport (embedded mode).
    broker_url: SecretStr = SecretStr("")
    # Prefix of every exchange and queue name, so that several deployments (or test runs) can share
    # one broker without seeing each other's messages.
    bus_namespace: str = Field(default="aic", pattern=r"^[a-z0-9][a-z0-9_.-]{0,40}$")
    bus_delivery_limit: int = Field(default=5, ge=1, le=100)
    bus_prefetch: int = Field(default=16, ge=1, le=1000)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)

    # Access tokens: who issues them and for whom, and where the public keys are (auth's JWKS).
    jwt_issuer: str = "aic-auth"
    jwt_audience: str = "aic"
    jwks_url: str = "http://127.0.0.1:8001/api/auth/.well-known/jwks.json"

    # Client credentials with which this service asks auth for a service token (internal calls).
    service_client_id: str = ""
    service_client_secret: SecretStr = SecretStr("")

    # Bearer token a scraper must send to read /metrics (route templates, request counts, open streams).
    # Empty, in dev mode only, leaves /metrics open.
    metrics_token: SecretStr = SecretStr("")

    # Fields whose value is a secret: refused when left at a placeholder outside dev mode. A service's
    # own; the ones every service has are in COMMON_SECRET_FIELDS, so overriding this cannot drop them.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    COMMON_SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("metrics_token",)

    @property
    def is_dev(self) -> bool:
        return self.env == Environment.dev

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / f'{self.service_name}.db').as_posix()}"

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
