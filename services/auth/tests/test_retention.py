"""Auth's retention sweep, inside the running service: refresh tokens long expired and ended throttle
windows go, live ones stay. Time moves with the service's clock, not the machine's."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from aic_auth.models import LoginThrottle, RefreshToken
from aic_auth.settings import AuthSettings
from aic_common.testing import wait_for

from .conftest import running_auth


async def test_long_expired_tokens_and_ended_throttle_windows_are_swept(
    sweeping_settings: AuthSettings,
) -> None:
    async with running_auth(sweeping_settings) as auth:
        session_factory = auth.app.state.runtime.session_factory

        def token_users() -> list[str]:
            with session_factory() as session:
                return sorted(session.scalars(sa.select(RefreshToken.user_id)))

        def throttle_windows() -> list[object]:
            with session_factory() as session:
                return sorted(session.scalars(sa.select(LoginThrottle.window_start)))

        assert (await auth.register("early")).status_code == 201
        assert (await auth.register("later")).status_code == 201
        early = (await auth.login("early")).json()
        assert (await auth.login("early", password="wrong password entirely")).status_code == 401
        assert len(throttle_windows()) == 2  # the account's and the address's

        s = sweeping_settings
        auth.clock.advance(s.refresh_token_ttl_seconds + s.expired_refresh_token_retention_hours * 3600 + 60)
        later = (await auth.login("later")).json()
        assert (await auth.login("later", password="wrong password entirely")).status_code == 401
        me = await auth.client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {later['access_token']}"}
        )
        later_id = me.json()["id"]

        await wait_for(lambda: token_users() == [later_id], timeout=20, what="the expired token swept")
        # The address's row may be the old one started again or a new one: either way, both are current.
        current = auth.clock.now - timedelta(seconds=1)  # MySQL's DATETIME keeps whole seconds
        await wait_for(
            lambda: len(windows := throttle_windows()) == 2 and all(w >= current for w in windows),
            timeout=20,
            what="the ended throttle windows swept",
        )
        refreshed = await auth.client.post(
            "/api/auth/refresh", json={"refresh_token": later["refresh_token"]}
        )
        assert refreshed.status_code == 200
        gone = await auth.client.post("/api/auth/refresh", json={"refresh_token": early["refresh_token"]})
        assert gone.status_code == 401 and gone.json()["code"] == "invalid_refresh_token"
