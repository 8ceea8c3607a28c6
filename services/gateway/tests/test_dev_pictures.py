"""Dev mode stores characters' pictures with no configuration: the simulator gets a service client of
auth's made up at start and reaches files and auth in-process."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

from aic_common.testing import app_lifespan, wait_for
from aic_gateway.dev import build_dev_app
from aic_gateway.settings import GatewaySettings
from aic_simulator.pictures.base import Picture
from aic_social.models import OwnedFile

pytestmark = pytest.mark.integration


async def test_the_simulator_stores_pictures_in_dev_mode(tmp_path: Path) -> None:
    app, _ = build_dev_app(GatewaySettings(data_dir=tmp_path), simulator={"autostart": False})
    apps = app.state.service_apps
    store = apps["simulator"].state.picture_store
    assert store is not None
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (240, 180, 60)).save(out, "PNG")
    character = str(uuid.uuid4())
    async with (
        app_lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        file_id = await store.store(character, Picture(out.getvalue(), "image/png", "builtin", 1))
        served = await client.get(f"/api/files/{file_id}")
        assert served.status_code == 200 and served.headers["content-type"] == "image/png"

        # Social hears of it as the character's, so a post of the character's may carry it.
        def known() -> OwnedFile | None:
            with apps["social"].state.runtime.session_factory() as session:
                return session.get(OwnedFile, file_id)

        owned = await wait_for(known, timeout=20, what="social's record of the file")
        assert owned.owner_id == character

        # The secret is this run's own: no other client of auth's exists.
        assert list(apps["auth"].state.auth_service.settings.service_clients) == ["simulator"]
