"""Social's retention sweep, inside the running service: notifications read long ago go; unread ones and
ones read recently stay. Time moves with the service's clock, not the machine's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from aic_common.db import utc_now
from aic_common.testing import observed_bus, serving, wait_for
from aic_common.tokens import TokenVerifier
from aic_social.app import create_app
from aic_social.models import Notification
from aic_social.settings import SocialSettings

from .conftest import ISSUER, SocialEnv


class MovableClock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def sweeping_social(settings: SocialSettings) -> AsyncIterator[tuple[SocialEnv, MovableClock]]:
    settings = SocialSettings(**{**settings.model_dump(), "retention_sweep_seconds": 0.05})
    clock = MovableClock()
    async with observed_bus(settings) as observed:
        app = create_app(settings, shared_bus=observed.shared, clock=clock)
        app.state.token_verifier = TokenVerifier.from_issuer(ISSUER)
        async with serving(app, "http://social") as client:
            kind = "embedded" if observed.shared else "real"
            yield SocialEnv(kind, client, app, observed.bus, observed.events), clock


async def test_notifications_read_long_ago_are_swept(sweeping_social) -> None:
    social, clock = sweeping_social
    author = await social.user()
    fans = [await social.user() for _ in range(3)]

    async def follow_and_find(fan) -> str:
        response = await social.client.post(f"/api/users/{author.username}/follow", headers=fan.headers)
        assert response.status_code in (200, 201, 204), response.text
        page = (await social.client.get("/api/notifications", headers=author.headers)).json()
        return next(n["id"] for n in page["items"] if n["actor"]["username"] == fan.username)

    async def read(notification_id: str) -> None:
        response = await social.client.post(
            "/api/notifications/read", json={"ids": [notification_id]}, headers=author.headers
        )
        assert response.status_code in (200, 204), response.text

    read_long_ago = await follow_and_find(fans[0])
    unread = await follow_and_find(fans[1])
    await read(read_long_ago)
    clock.now += timedelta(
        days=social.app.state.social_service.settings.read_notification_retention_days, hours=1
    )
    read_just_now = await follow_and_find(fans[2])
    await read(read_just_now)

    def remaining() -> set[str]:
        with social.session_factory() as session:
            return {str(i) for i in session.scalars(sa.select(Notification.id))}

    await wait_for(
        lambda: remaining() == {unread, read_just_now}, timeout=20, what="the read notification swept"
    )
    page = (await social.client.get("/api/notifications", headers=author.headers)).json()
    assert {n["id"] for n in page["items"]} == {unread, read_just_now}
    assert page["unread_count"] == 1
