"""A running files service for each test: embedded (SQLite, in-process bus, local directory) and real
(MariaDB, RabbitMQ, S3 over moto_server)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from PIL import Image

from aic_common.bus import Bus
from aic_common.messages import Envelope, MessageData, make_envelope
from aic_common.testing import observed_bus, serving
from aic_common.testing.fixtures import S3Endpoint
from aic_common.tokens import TokenIssuer, generate_rsa_private_key_pem
from aic_files.app import create_app
from aic_files.models import StoredFile
from aic_files.service import utc_now
from aic_files.settings import FilesSettings
from aic_files.storage import Storage

_ISSUER = TokenIssuer(generate_rsa_private_key_pem(), issuer="aic-auth", audience="aic")


class FakeClock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def token_for(user_id: str, role: str = "user", username: str | None = None) -> str:
    name = username or f"u{user_id[:8]}"
    return _ISSUER.issue_access_token(user_id, username=name, role=role)  # type: ignore[arg-type]


def bearer(user_id: str, role: str = "user", username: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user_id, role, username)}"}


def jwks_client() -> httpx.AsyncClient:
    """Serves the test issuer's JWKS, as auth would: the app verifies tokens exactly as deployed."""
    return httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json=_ISSUER.jwks()))
    )


@dataclass
class FilesEnv:
    kind: str
    client: httpx.AsyncClient
    app: FastAPI
    clock: FakeClock
    settings: FilesSettings
    events: list[Envelope] = field(default_factory=list)
    publisher: Bus | None = None

    @property
    def storage(self) -> Storage:
        return self.app.state.files_service.storage

    async def upload(
        self,
        data: bytes,
        *,
        user_id: str = "alice",
        filename: str = "picture.png",
        content_type: str = "image/png",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.client.post(
            "/api/files",
            files={"file": (filename, data, content_type)},
            headers=headers if headers is not None else bearer(user_id),
        )

    def rows(self) -> list[StoredFile]:
        with self.app.state.runtime.session_factory() as session:
            return list(session.scalars(sa.select(StoredFile)))

    def object_keys(self) -> list[str]:
        return self.storage.keys()

    def spooled(self) -> list[Path]:
        spool = self.settings.spool_dir
        return sorted(spool.iterdir()) if spool and spool.exists() else []

    async def publish(self, data: MessageData, producer: str = "social") -> None:
        assert self.publisher is not None
        await self.publisher.publish(make_envelope(data, producer))


def files_settings(tmp_path: Path, **overrides: Any) -> FilesSettings:
    values: dict[str, Any] = {
        "env": "test",
        "metrics_token": "metrics-token-of-the-test",  # outside dev mode a service needs a real one
        "data_dir": tmp_path,
        "spool_dir": tmp_path / "spool",
        "outbox_poll_seconds": 0.05,
        "max_upload_bytes": 2 * 1024 * 1024,
        "max_image_pixels": 4_000_000,
    }
    values.update(overrides)
    return FilesSettings(**values)


def s3_overrides(endpoint: S3Endpoint) -> dict[str, Any]:
    return {
        "s3_endpoint_url": endpoint.url,
        "s3_access_key": endpoint.access_key,
        "s3_secret_key": endpoint.secret_key,
        "s3_region": endpoint.region,
        "s3_bucket": f"t-{uuid.uuid4().hex[:12]}",  # created by the service at start-up
    }


@pytest.fixture(params=["embedded", "real"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, bus_namespace: str) -> FilesSettings:
    if request.param == "embedded":
        return files_settings(tmp_path, bus_namespace=bus_namespace)
    return files_settings(
        tmp_path,
        bus_namespace=bus_namespace,
        database_url=request.getfixturevalue("mysql_url"),
        broker_url=request.getfixturevalue("rabbitmq_url"),
        **s3_overrides(request.getfixturevalue("moto_s3")),
    )


@pytest.fixture
async def files(settings: FilesSettings) -> AsyncIterator[FilesEnv]:
    async with running_files(settings) as env:
        yield env


@asynccontextmanager
async def running_files(settings: FilesSettings, **app_kwargs: Any) -> AsyncIterator[FilesEnv]:
    clock = FakeClock()
    async with observed_bus(settings, "file.*") as observed:
        app = create_app(
            settings, shared_bus=observed.shared, jwks_client=jwks_client(), clock=clock, **app_kwargs
        )
        async with serving(app, "http://files") as client:
            kind = "embedded" if observed.shared else "real"
            yield FilesEnv(kind, client, app, clock, settings, observed.events, publisher=observed.bus)


# ---------------------------------------------------------------- images made on the spot


def pattern_image(width: int = 64, height: int = 48) -> Image.Image:
    """An RGB image whose every pixel differs from its neighbours, so a lossy step would show."""
    pixels = bytes(
        ((x * 7 + c * 50) ^ (y * 13)) % 256 for y in range(height) for x in range(width) for c in range(3)
    )
    return Image.frombytes("RGB", (width, height), pixels)


def png_bytes(width: int = 64, height: int = 48, **save: Any) -> bytes:
    image = pattern_image(width, height)
    out = io.BytesIO()
    image.save(out, "PNG", **save)
    return out.getvalue()


def jpeg_bytes(width: int = 64, height: int = 48, **save: Any) -> bytes:
    image = Image.new("RGB", (width, height), (200, 120, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
