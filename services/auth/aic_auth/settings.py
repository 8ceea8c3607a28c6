"""Settings of the auth service."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator

from aic_common.settings import PLACEHOLDER_SECRETS, ServiceSettings

# argon2id floor (OWASP's second recommended configuration); settings may go higher, never lower.
ARGON2_MIN_MEMORY_KIB = 19456
ARGON2_MIN_TIME_COST = 2


class AuthSettings(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("jwt_private_key",)
    service_name: str = "auth"

    # RS256 signing key (PEM). Empty in dev mode: a key is generated under data_dir on first start.
    jwt_private_key: SecretStr = SecretStr("")
    # Public keys of earlier signing keys, still accepted while their tokens live (key rotation).
    jwt_previous_public_keys: list[str] = Field(default_factory=list)
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    service_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    # An expired refresh token is refused whatever else is true of it, so its row only tells an operator
    # about past sign-ins: it is deleted this long after it expired.
    expired_refresh_token_retention_hours: float = Field(default=7 * 24.0, ge=0)

    password_min_length: int = Field(default=8, ge=8)
    password_max_length: int = Field(default=128, ge=64, le=1024)
    argon2_memory_kib: int = Field(default=ARGON2_MIN_MEMORY_KIB, ge=ARGON2_MIN_MEMORY_KIB)
    argon2_time_cost: int = Field(default=ARGON2_MIN_TIME_COST, ge=ARGON2_MIN_TIME_COST)
    argon2_parallelism: int = Field(default=1, ge=1)

    # Failed sign-ins counted in fixed windows: per account (25 per 15 min keeps it under 100 an hour
    # and a victim is locked out for 15 minutes at most) and per client address (the one the gateway,
    # named in AIC_TRUSTED_PROXIES, passes on).
    login_window_seconds: int = Field(default=900, ge=1)
    login_max_failures_per_account: int = Field(default=25, ge=1)
    login_max_failures_per_ip: int = Field(default=100, ge=1)

    bootstrap_admin_username: str = ""
    bootstrap_admin_password: SecretStr = SecretStr("")
    bootstrap_admin_email: str = ""

    # client_id -> secret for service principals (other services asking for a token), as JSON.
    service_clients: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("bootstrap_admin_username")
    @classmethod
    def _admin_name(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _refuse_weak_service_secrets(self) -> AuthSettings:
        if self.is_dev:
            return self
        for client_id, secret in self.service_clients.items():
            raw = secret.get_secret_value()
            if raw.strip().lower() in PLACEHOLDER_SECRETS or len(raw) < 16:
                raise ValueError(
                    f"the secret of service client {client_id} must be at least 16 random characters"
                )
        return self
