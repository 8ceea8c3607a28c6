"""The auth service's app factory: the composition root of the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from aic_auth.api import auth, internal
from aic_auth.messaging import register_consumers
from aic_auth.models import DeletedAccount, LoginThrottle, RefreshToken
from aic_auth.passwords import PasswordHasher, PasswordPolicy
from aic_auth.service import AuthService, Clock, utc_now
from aic_auth.settings import AuthSettings
from aic_auth.throttle import Throttle
from aic_common.bus import InProcessBus
from aic_common.db import run_in_thread
from aic_common.retention import PruneRule
from aic_common.runtime import ServiceRuntime
from aic_common.tokens import MAX_ACCESS_TOKEN_TTL_SECONDS, TokenIssuer, TokenVerifier, load_or_create_dev_key
from aic_common.web import create_service_app

MIGRATIONS = "aic_auth:migrations"


def signing_key(settings: AuthSettings) -> str:
    configured = settings.jwt_private_key.get_secret_value()
    if configured:
        return configured
    # Only reachable in dev mode: the settings refuse an empty key anywhere else.
    return load_or_create_dev_key(settings.data_dir / "auth-jwt-key.pem")


def retention_rules(settings: AuthSettings) -> list[PruneRule]:
    """What auth deletes on its retention sweep. A refresh token past its expiry is refused before
    anything else is looked at (a spent one is then no longer a sign of reuse), so it can go; a
    throttle row whose window ended counts nothing (the next failure starts a new window); a deleted
    account's tombstone is needed only while a token issued before the deletion can be alive."""
    tokens, throttle, deleted = RefreshToken.__table__, LoginThrottle.__table__, DeletedAccount.__table__
    return [
        PruneRule(
            "refresh_tokens_expired",
            tokens,
            tokens.c.expires_at,
            timedelta(hours=settings.expired_refresh_token_retention_hours),
        ),
        PruneRule(
            "login_throttle_ended",
            throttle,
            throttle.c.window_start,
            timedelta(seconds=settings.login_window_seconds),
        ),
        PruneRule(
            "deleted_accounts_past_token_lifetime",
            deleted,
            deleted.c.deleted_at,
            timedelta(seconds=MAX_ACCESS_TOKEN_TTL_SECONDS),
        ),
    ]


def create_app(
    settings: AuthSettings | None = None, *, shared_bus: InProcessBus | None = None, clock: Clock = utc_now
) -> FastAPI:
    settings = settings or AuthSettings()
    runtime = ServiceRuntime.create(settings, migrations=MIGRATIONS, shared_bus=shared_bus, clock=clock)
    for rule in retention_rules(settings):
        runtime.retention.add(rule)
    issuer = TokenIssuer(
        signing_key(settings),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl_seconds=settings.access_token_ttl_seconds,
        extra_public_keys=settings.jwt_previous_public_keys,
    )
    service = AuthService(
        settings=settings,
        session_factory=runtime.session_factory,
        outbox=runtime.outbox,
        issuer=issuer,
        hasher=PasswordHasher(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        ),
        policy=PasswordPolicy(settings.password_min_length, settings.password_max_length),
        throttle=Throttle(timedelta(seconds=settings.login_window_seconds)),
        clock=clock,
    )
    register_consumers(runtime.bus, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            await run_in_thread(service.bootstrap_admin)
            yield

    app = create_service_app(
        settings, title="AI Community auth", routers=[auth.router, internal.router], lifespan=lifespan
    )
    app.state.auth_service = service
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier.from_issuer(issuer)
    return app
