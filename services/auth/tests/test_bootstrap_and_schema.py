"""Admin bootstrap on first start, and migrations that match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from aic_auth.app import MIGRATIONS
from aic_auth.models import Base, User
from aic_common.bus.tables import messaging_metadata
from aic_common.migrations import schema_drift, upgrade

from .conftest import auth_settings, running_auth

pytestmark = pytest.mark.integration
ADMIN_PASSWORD = "an admin passphrase that is long"


def test_migrations_match_the_models(database_url: str) -> None:
    assert schema_drift(MIGRATIONS, database_url, [Base.metadata, messaging_metadata]) == []


async def test_admin_is_bootstrapped_once_and_signs_in_as_admin(tmp_path: Path, mysql_url: str) -> None:
    settings = auth_settings(
        tmp_path,
        database_url=mysql_url,
        bootstrap_admin_username="root_admin",
        bootstrap_admin_password=ADMIN_PASSWORD,
    )
    async with running_auth(settings) as auth:
        tokens = (await auth.login("root_admin", ADMIN_PASSWORD)).json()
        claims = auth.app.state.token_verifier.verify(tokens["access_token"])
        assert claims.role == "admin"
    # A second start (a restart, or another replica) leaves the one admin as it is.
    async with running_auth(settings) as auth:
        with auth.app.state.runtime.session_factory() as session:
            admins = session.scalars(sa.select(User).where(User.role == "admin")).all()
        assert [a.username for a in admins] == ["root_admin"]


def test_bootstrap_refuses_a_common_admin_password_outside_dev(tmp_path: Path) -> None:
    from aic_auth.app import create_app
    from aic_common.errors import InvalidInput

    settings = auth_settings(
        tmp_path, bootstrap_admin_username="admin", bootstrap_admin_password="password123"
    )
    app = create_app(settings)
    upgrade(MIGRATIONS, settings.resolved_database_url())
    with pytest.raises(InvalidInput):
        app.state.auth_service.bootstrap_admin()


def test_production_settings_refuse_a_missing_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from aic_auth.settings import AuthSettings

    monkeypatch.setenv("AIC_ENV", "prod")
    with pytest.raises(ValidationError, match="AIC_JWT_PRIVATE_KEY"):
        AuthSettings()
    monkeypatch.setenv("AIC_JWT_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----...")
    monkeypatch.setenv("AIC_METRICS_TOKEN", "a-real-long-random-metrics-token")
    monkeypatch.setenv("AIC_SERVICE_CLIENTS", '{"social": "short"}')
    with pytest.raises(ValidationError, match="at least 16"):
        AuthSettings()
