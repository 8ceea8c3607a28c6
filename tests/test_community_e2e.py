"""The community on the real topology, through the gateway: people and AI characters together."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from aic_common.testing import wait_for
from aic_gateway.stack import Stack

pytestmark = pytest.mark.e2e
PASSWORD = "community e2e passphrase 🌿"


def fake_ip() -> str:
    value = uuid.uuid4().int
    return f"10.{value % 250}.{(value >> 8) % 250}.{(value >> 16) % 250 + 1}"


class Person:
    def __init__(self, client: httpx.AsyncClient, username: str, ip: str) -> None:
        self.client, self.username, self.ip = client, username, ip
        self.token = ""
        self.id = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Forwarded-For": self.ip}

    async def sign_up(self, display_name: str | None = None) -> Person:
        body = {"username": self.username, "email": f"{self.username}@example.com", "password": PASSWORD}
        if display_name:
            body["display_name"] = display_name
        created = await self.client.post(
            "/api/auth/register", json=body, headers={"X-Forwarded-For": self.ip}
        )
        assert created.status_code == 201, created.text
        self.id = created.json()["id"]
        return await self.sign_in(PASSWORD)

    async def sign_in(self, password: str) -> Person:
        login = await self.client.post(
            "/api/auth/login",
            json={"username": self.username, "password": password},
            headers={"X-Forwarded-For": self.ip},
        )
        assert login.status_code == 200, login.text
        self.token = login.json()["access_token"]
        return self

    async def until_known_to_social(self) -> None:
        async def known() -> bool:
            return (await self.client.get(f"/api/users/{self.username}")).status_code == 200

        await wait_for(known, timeout=30, interval=0.2, what=f"{self.username}'s profile in social")


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        yield client


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_a_post_with_an_image_gets_a_comment_and_its_author_is_notified_live(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    ip = fake_ip()
    alice = await Person(gateway, f"alice_{uuid.uuid4().hex[:6]}", ip).sign_up()
    bob = await Person(gateway, f"bob_{uuid.uuid4().hex[:6]}", ip).sign_up()
    await alice.until_known_to_social()
    await bob.until_known_to_social()
    upload = await gateway.post(
        "/api/files", files={"file": ("sunset.png", png_bytes(), "image/png")}, headers=alice.headers
    )
    assert upload.status_code == 201, upload.text
    image_id = upload.json()["id"]

    async def posted() -> httpx.Response | None:
        response = await gateway.post(
            "/api/posts", json={"content": "旧港的日落 🌅", "image_ids": [image_id]}, headers=alice.headers
        )
        # social learns about the file from file.uploaded a moment after the upload answers
        return response if response.status_code == 201 else None

    post = (await wait_for(posted, timeout=30, interval=0.2, what="the post with its image")).json()
    assert post["images"][0]["id"] == image_id
    image = await gateway.get(post["images"][0]["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"

    live: list[dict] = []

    async def listen() -> None:
        timeout = httpx.Timeout(30, read=None)
        async with (
            httpx.AsyncClient(base_url=stack.gateway_url, timeout=timeout) as client,
            client.stream("GET", "/api/stream", headers=alice.headers) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    live.append(json.loads(line[5:]))

    listener = asyncio.create_task(listen())
    try:

        async def subscribed() -> bool:
            metrics = (await gateway.get("/metrics", headers=stack.secrets.metrics_authorization)).text
            return any(
                line.startswith("aic_stream_subscribers") and not line.endswith(" 0.0")
                for line in metrics.splitlines()
            )

        await wait_for(subscribed, timeout=20, what="alice's live stream")
        comment = await gateway.post(
            f"/api/posts/{post['id']}/comments", json={"content": "太美了!"}, headers=bob.headers
        )
        assert comment.status_code == 201
        notified = await wait_for(
            lambda: [
                e for e in live if e["type"] == "notification.created" and e["data"]["kind"] == "comment"
            ],
            timeout=30,
            what="alice's notification",
        )
        assert (
            notified[0]["data"]["user_id"] == alice.id
            and notified[0]["data"]["actor_username"] == bob.username
        )
    finally:
        listener.cancel()


Control = Callable[..., Awaitable[dict[str, Any]]]


async def operator(stack: Stack, gateway: httpx.AsyncClient, ip: str) -> tuple[Person, Control]:
    """The stack's admin signed in, and a control of the simulation through the gateway, once every
    character has its account."""
    admin = await Person(gateway, "stackadmin", ip).sign_in(stack.secrets.admin_password)

    async def sim(command: str, **extra: object) -> dict[str, Any]:
        response = await gateway.post(
            "/api/sim/control", json={"command": command, **extra}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def accounts_ready() -> bool:
        return (await sim("status")).get("agents_with_accounts") == 10

    await wait_for(accounts_ready, timeout=60, interval=0.5, what="the AI characters' accounts")
    return admin, sim


async def test_ai_characters_post_through_commands_and_answer_a_person_in_character(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    ip = fake_ip()
    _, sim = await operator(stack, gateway, ip)
    await sim("step", steps=40)

    async def ai_posts() -> list[dict]:
        feed = (await gateway.get("/api/feed/explore", params={"limit": 50})).json()["items"]
        return [p for p in feed if p["author"]["is_ai"]]

    posts = await wait_for(ai_posts, timeout=30, interval=0.5, what="posts by AI characters in social")
    assert posts[0]["author"]["username"].startswith("ai_")

    async def learned() -> list[dict]:
        actions = (await gateway.get("/api/sim/actions", params={"action": "post", "limit": 50})).json()[
            "items"
        ]
        return [a for a in actions if (a["result"] or "").startswith("applied: post.created")]

    # The simulator learns the outcome of its commands from social's events.
    await wait_for(learned, timeout=30, interval=0.5, what="the simulator learning its posts were applied")

    person = await Person(gateway, f"visitor_{uuid.uuid4().hex[:6]}", ip).sign_up(display_name="小访客")
    await person.until_known_to_social()
    await sim("start")
    try:
        sent = await gateway.post(
            "/api/messages",
            json={"to": "ai_lin_xiaoyu", "content": "小雨你好!今天咖啡馆人多吗?"},
            headers=person.headers,
        )
        assert sent.status_code == 201, sent.text

        async def reply() -> list[dict]:
            history = await gateway.get("/api/conversations/ai_lin_xiaoyu/messages", headers=person.headers)
            return [m for m in history.json()["items"] if m["sender"]["username"] == "ai_lin_xiaoyu"]

        # At the default speed, a person gets an answer within 30 seconds of wall time.
        answer = (await wait_for(reply, timeout=30, interval=0.5, what="the AI character's reply"))[0]
        assert answer["sender"]["is_ai"] is True
        assert person.username not in answer["content"], "a person is called by display name, never username"
    finally:
        await sim("pause")


async def test_ai_characters_post_pictures_of_their_moment_stored_as_themselves(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    """The built-in renderer draws, the files service stores it as the character (over S3), social shows
    it on the post, and the operator's action log says how it was made."""
    admin, sim = await operator(stack, gateway, fake_ip())

    async def pictured_post() -> dict | None:
        feed = (await gateway.get("/api/feed/explore", params={"limit": 50})).json()["items"]
        found = next((p for p in feed if p["author"]["is_ai"] and p["images"]), None)
        if found is None:
            await sim("step", steps=20)  # the town lives on until a character posts a photo
        return found

    post = await wait_for(pictured_post, timeout=240, interval=0.2, what="an AI post with a picture")
    image = post["images"][0]
    picture = await gateway.get(image["url"])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(picture.content)) as decoded:
        assert decoded.width > decoded.height  # the landscape the simulator asked for, re-encoded
    thumbnail = await gateway.get(image["thumbnail_url"])
    assert thumbnail.status_code == 200 and len(thumbnail.content) < len(picture.content)

    async def attached() -> dict | None:
        meta = (await gateway.get(f"/api/files/{image['id']}/meta", headers=admin.headers)).json()
        return meta if meta["attached"] else None  # files heard of the post: no orphan sweep takes it

    meta = await wait_for(attached, timeout=30, interval=0.5, what="files learning the picture is attached")
    assert meta["owner_id"] == post["author"]["id"]

    async def traced() -> dict | None:
        actions = (
            await gateway.get(
                "/api/sim/actions", params={"action": "post", "limit": 100}, headers=admin.headers
            )
        ).json()["items"]
        return next(
            (a for a in actions if (a["trace"].get("picture") or {}).get("file_id") == image["id"]), None
        )

    action = await wait_for(traced, timeout=30, interval=0.5, what="the picture in the action log")
    made = action["trace"]["picture"]
    assert made["status"] == "attached" and made["backend"] == "builtin"
    assert made["generate_ms"] > 0 and made["seed"] >= 0
    assert action["content"] == post["content"]
    await sim("pause")
