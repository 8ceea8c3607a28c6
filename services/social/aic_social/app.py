"""The social service's app factory: the composition root of the service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from aic_common.bus import InProcessBus
from aic_common.principals import verifier_from_settings
from aic_common.retention import PruneRule
from aic_common.runtime import ServiceRuntime
from aic_common.web import create_service_app
from aic_social.api import link_previews, messages, posts, search, users
from aic_social.link_previews import LinkPreviewer
from aic_social.messaging import register_consumers
from aic_social.models import ExploreRanking, Notification
from aic_social.service import Clock, SocialService, utc_now
from aic_social.settings import SocialSettings

MIGRATIONS = "aic_social:migrations"


def retention_rules(settings: SocialSettings) -> list[PruneRule]:
    """What social deletes on its retention sweep: notifications read long ago, explore rankings no
    reader pages through any more. Everything else it holds is what people wrote, or what shows it
    (see docs/deploy.md, "Data that grows")."""
    notifications, rankings = Notification.__table__, ExploreRanking.__table__
    return [
        PruneRule(
            "notifications_read",
            notifications,
            notifications.c.read_at,  # NULL (unread) is never older than the cutoff
            timedelta(days=settings.read_notification_retention_days),
        ),
        PruneRule(
            "explore_rankings",
            rankings,
            rankings.c.ranked_at,
            timedelta(minutes=settings.explore_ranking_retention_minutes),
        ),
    ]


def create_app(
    settings: SocialSettings | None = None,
    *,
    shared_bus: InProcessBus | None = None,
    jwks_client: Any = None,
    clock: Clock = utc_now,
) -> FastAPI:
    settings = settings or SocialSettings()
    runtime = ServiceRuntime.create(settings, migrations=MIGRATIONS, shared_bus=shared_bus, clock=clock)
    for rule in retention_rules(settings):
        runtime.retention.add(rule)
    service = SocialService(settings, runtime.session_factory, runtime.outbox, clock)
    register_consumers(runtime.bus, service)
    app = create_service_app(
        settings,
        title="AI Community social",
        routers=[users.router, posts.router, messages.router, search.router, link_previews.router],
        lifespan=runtime.lifespan,
    )
    app.state.social_service = service
    app.state.runtime = runtime
    app.state.link_previewer = LinkPreviewer(settings)
    app.state.token_verifier = verifier_from_settings(settings, jwks_client, runtime=runtime)
    return app
