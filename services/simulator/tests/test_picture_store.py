"""Characters' pictures stored through the real files service, with a service token from the real auth
service (both in-process, embedded)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image
from pydantic import SecretStr

from aic_auth.app import create_app as create_auth_app
from aic_auth.settings import AuthSettings
from aic_common.bus import InProcessBus
from aic_common.service_tokens import ServiceTokens
from aic_common.testing import app_lifespan
from aic_common.tokens import generate_rsa_private_key_pem
from aic_files.app import create_app as create_files_app
from aic_files.models import StoredFile
from aic_files.settings import FilesSettings
from aic_simulator.pictures.base import Picture, PictureFailed
from aic_simulator.pictures.files_client import FilesPictureStore
from aic_simulator.settings import SimulatorSettings

pytestmark = pytest.mark.integration

SECRET = "simulator-secret-0123456789abcdef"


def png(width: int = 96, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def picture(data: bytes | None = None) -> Picture:
    return Picture(
        data=data if data is not None else png(), content_type="image/png", backend="builtin", seed=3
    )


@dataclass
class Services:
    auth: httpx.AsyncClient
    files: httpx.AsyncClient
    files_settings: FilesSettings
    files_app: object
    bus: InProcessBus

    def stored(self) -> list[StoredFile]:
        with self.files_app.state.runtime.session_factory() as session:  # type: ignore[attr-defined]
            return list(session.scalars(sa.select(StoredFile)))


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    common = {
        "env": "test",
        "metrics_token": "metrics-token-of-the-test",
        "database_url": "",
        "broker_url": "",
    }
    bus = InProcessBus(f"t{uuid.uuid4().hex[:8]}")
    auth_app = create_auth_app(
        AuthSettings(
            **common,
            data_dir=tmp_path / "auth",
            jwt_private_key=generate_rsa_private_key_pem(),
            service_clients={"simulator": SecretStr(SECRET)},
        ),
        shared_bus=bus,
    )
    auth = httpx.AsyncClient(transport=httpx.ASGITransport(app=auth_app), base_url="http://auth")
    files_settings = FilesSettings(**common, data_dir=tmp_path / "files", max_upload_bytes=256 * 1024)
    files_app = create_files_app(files_settings, shared_bus=bus, jwks_client=auth)
    files = httpx.AsyncClient(transport=httpx.ASGITransport(app=files_app), base_url="http://files")
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app_lifespan(auth_app))
        await stack.enter_async_context(app_lifespan(files_app))
        await bus.start()
        stack.push_async_callback(bus.stop)
        stack.push_async_callback(auth.aclose)
        stack.push_async_callback(files.aclose)
        yield Services(auth, files, files_settings, files_app, bus)


def sim_settings(**values: object) -> SimulatorSettings:
    return SimulatorSettings(env="test", metrics_token="metrics-token-of-the-test", **values)  # type: ignore[arg-type]


class StaleFirst(ServiceTokens):
    """Hands out a token files refuses first (as after auth's keys rotated), then real ones."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.stale = True
        self.invalidated: list[str | None] = []

    async def token(self) -> str:
        if self.stale:
            self.stale = False
            return "expired.token.value"
        return await super().token()

    def invalidate(self, token: str | None = None) -> None:
        self.invalidated.append(token)
        super().invalidate(token)


class AlwaysStale(StaleFirst):
    async def token(self) -> str:
        return "never.a.token"


def dev_store(services: Services, secret: str = SECRET) -> FilesPictureStore:
    settings = sim_settings(service_client_id="simulator", service_client_secret=secret)
    store = FilesPictureStore.from_settings(settings, files_client=services.files, auth_client=services.auth)
    assert store is not None
    return store


async def test_a_picture_is_stored_as_the_character(services: Services) -> None:
    character = str(uuid.uuid4())
    store = dev_store(services)
    file_id = await store.store(character, picture())
    (row,) = services.stored()
    assert row.id == file_id and row.owner_id == character
    assert (row.width, row.height) == (96, 64) and row.thumbnail_size > 0
    served = await services.files.get(f"/api/files/{file_id}/thumbnail")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"

    await store.store(character, picture())
    assert store.tokens.fetches == 1, "the token is kept between uploads"


async def test_a_refused_token_is_fetched_again_and_the_upload_tried_once_more(services: Services) -> None:
    store = dev_store(services)

    store.tokens = StaleFirst("http://auth", "simulator", SECRET, http_client=services.auth)
    file_id = await store.store(str(uuid.uuid4()), picture())
    assert file_id and store.tokens.invalidated == ["expired.token.value"]  # type: ignore[attr-defined]

    # Refused twice: no third try.
    always_bad = dev_store(services)
    always_bad.tokens = AlwaysStale("http://auth", "simulator", SECRET, http_client=services.auth)
    with pytest.raises(PictureFailed) as failed:
        await always_bad.store(str(uuid.uuid4()), picture())
    assert failed.value.reason == "store_failed" and "401" in str(failed.value)
    assert len(services.stored()) == 1


async def test_failures_have_reasons(services: Services) -> None:
    character = str(uuid.uuid4())
    store = dev_store(services)
    with pytest.raises(PictureFailed) as not_an_image:
        await store.store(character, picture(b"<html>not a picture</html>"))
    assert not_an_image.value.reason == "rejected" and "unsupported_image" in str(not_an_image.value)

    with pytest.raises(PictureFailed) as too_large:
        await store.store(character, picture(png() + b"\x00" * (300 * 1024)))
    assert too_large.value.reason == "rejected" and "file_too_large" in str(too_large.value)

    services.files_settings.quota_max_files = 1
    await store.store(character, picture())
    with pytest.raises(PictureFailed) as over_quota:
        await store.store(character, picture())
    assert over_quota.value.reason == "quota_exceeded"

    with pytest.raises(PictureFailed) as wrong_secret:
        await dev_store(services, secret="not-the-secret-at-all").store(character, picture())
    assert wrong_secret.value.reason == "store_failed" and "invalid_client" in str(wrong_secret.value)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable), base_url="http://files") as down:
        settings = sim_settings(service_client_id="simulator", service_client_secret=SECRET)
        nowhere = FilesPictureStore.from_settings(settings, files_client=down, auth_client=services.auth)
        assert nowhere is not None
        with pytest.raises(PictureFailed) as failed:
            await nowhere.store(character, picture())
        assert failed.value.reason == "store_failed"
    assert len(services.stored()) == 1


async def test_built_from_settings_only_when_files_and_auth_are_named() -> None:
    assert FilesPictureStore.from_settings(sim_settings()) is None
    named = {"files_url": "http://127.0.0.1:9", "auth_url": "http://127.0.0.1:9"}
    with pytest.raises(ValueError, match="AIC_SERVICE_CLIENT_ID"):
        FilesPictureStore.from_settings(sim_settings(**named))
    store = FilesPictureStore.from_settings(
        sim_settings(service_client_id="simulator", service_client_secret=SECRET, **named)
    )
    assert store is not None
    assert (
        str(store.files.base_url) == "http://127.0.0.1:9"
        and store.tokens.url == "http://127.0.0.1:9/api/auth/token"
    )
    await store.aclose()
    assert store.files.is_closed
