"""The social service's app factory: the composition root of the service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from aic_common.bus import InProcessBus
from aic_common.principals import verifier_from_settings
from aic_common.runtime import ServiceRuntime
from aic_common.web import create_service_app
from aic_social.api import messages, posts, search, users
from aic_social.messaging import register_consumers
from aic_social.service import Clock, SocialService, utc_now
from aic_social.settings import SocialSettings

MIGRATIONS = "aic_social:migrations"


def create_app(
    settings: SocialSettings | None = None,
    *,
    shared_bus: InProcessBus | None = None,
    jwks_client: Any = None,
    clock: Clock = utc_now,
) -> FastAPI:
    settings = settings or SocialSettings()
    runtime = ServiceRuntime.create(settings, migrations=MIGRATIONS, shared_bus=shared_bus)
    service = SocialService(settings, runtime.session_factory, runtime.outbox, clock)
    register_consumers(runtime.bus, service)
    app = create_service_app(
        settings,
        title="AI Community social",
        routers=[users.router, posts.router, messages.router, search.router],
        lifespan=runtime.lifespan,
    )
    app.state.social_service = service
    app.state.runtime = runtime
    app.state.token_verifier = verifier_from_settings(settings, jwks_client)
    return app
