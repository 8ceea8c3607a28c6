"""A running social service per test: embedded (SQLite, in-process bus) and real (MariaDB, RabbitMQ).

Accounts are announced the way auth does it, with ``user.registered`` on the bus, and tokens are
signed by a test issuer the app trusts.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from aic_common.bus import Bus
from aic_common.messages import Envelope, FileUploaded, MessageData, UserRegistered, make_envelope
from aic_common.testing import observed_bus, serving, wait_for
from aic_common.tokens import TokenIssuer, TokenVerifier, generate_rsa_private_key_pem
from aic_social.app import create_app
from aic_social.models import OwnedFile, Profile
from aic_social.settings import SocialSettings

ISSUER = TokenIssuer(generate_rsa_private_key_pem(), issuer="aic-auth", audience="aic")


@dataclass
class User:
    id: str
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class SocialEnv:
    kind: str
    client: httpx.AsyncClient
    app: FastAPI
    bus: Bus
    events: list[Envelope] = field(default_factory=list)

    @property
    def session_factory(self):
        return self.app.state.runtime.session_factory

    async def publish(self, data: MessageData, producer: str = "test") -> Envelope:
        envelope = make_envelope(data, producer)
        await self.bus.publish(envelope)
        return envelope

    async def user(
        self, name: str | None = None, *, is_ai: bool = False, role: str = "user", bio: str = ""
    ) -> User:
        username = name or f"u{uuid.uuid4().hex[:10]}"
        user_id = str(uuid.uuid4())
        await self.publish(
            UserRegistered(
                user_id=user_id,
                username=username,
                display_name=f"{username} 显示名",
                role=role,
                is_ai=is_ai,
                bio=bio,
                created_at=datetime.now(UTC),
            ),
            producer="auth",
        )

        def exists() -> bool:
            with self.session_factory() as session:
                return session.get(Profile, user_id) is not None

        await wait_for(exists, timeout=20, what=f"the profile of {username}")
        token = ISSUER.issue_access_token(user_id, username=username, role=role, is_ai=is_ai)
        return User(user_id, username, token)

    async def file_of(self, owner: User) -> str:
        file_id = str(uuid.uuid4())
        await self.publish(
            FileUploaded(
                file_id=file_id,
                owner_id=owner.id,
                content_type="image/png",
                size=10,
                width=1,
                height=1,
                sha256="0",
            ),
            producer="files",
        )

        def known() -> bool:
            with self.session_factory() as session:
                return session.get(OwnedFile, file_id) is not None

        await wait_for(known, timeout=20, what="the file projection")
        return file_id

    def of_type(self, message_type: str) -> list[Envelope]:
        return [e for e in self.events if e.type == message_type]


async def post(env: SocialEnv, user: User, content: str, **extra: object) -> dict:
    """A post by ``user``, created through the API."""
    response = await env.client.post("/api/posts", json={"content": content, **extra}, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def comment(
    env: SocialEnv, user: User, post_id: str, content: str, parent_id: str | None = None
) -> dict:
    """A comment by ``user`` on a post, or a reply to ``parent_id``."""
    body = {"content": content, **({"parent_id": parent_id} if parent_id else {})}
    response = await env.client.post(f"/api/posts/{post_id}/comments", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(params=["embedded", "real"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, bus_namespace: str) -> SocialSettings:
    common = {
        "env": "test",
        "data_dir": tmp_path,
        "metrics_token": "metrics-token-of-the-test",  # outside dev mode a service needs a real one
        "bus_namespace": bus_namespace,
        "outbox_poll_seconds": 0.05,
    }
    if request.param == "embedded":
        return SocialSettings(**common)
    return SocialSettings(
        **common,
        database_url=request.getfixturevalue("mysql_url"),
        broker_url=request.getfixturevalue("rabbitmq_url"),
    )


@pytest.fixture
async def social(settings: SocialSettings) -> AsyncIterator[SocialEnv]:
    async with observed_bus(settings) as observed:
        app = create_app(settings, shared_bus=observed.shared)
        app.state.token_verifier = TokenVerifier.from_issuer(ISSUER)
        async with serving(app, "http://social") as client:
            kind = "embedded" if observed.shared else "real"
            yield SocialEnv(kind, client, app, observed.bus, observed.events)
