"""What the browser tests set up through the public API rather than the browser: accounts, posts and
the simulator under an admin's control. The browser then shows and does what a test is about."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image

from aic_common.testing import wait_until

PASSWORD = "browser e2e passphrase 🌿"
ADMIN_USERNAME = "stackadmin"  # the stack fixture's bootstrap admin


def fake_ip() -> str:
    """A client address of its own: the gateway limits sign-ups and sign-ins per address."""
    value = uuid.uuid4().int
    return f"10.{value % 250}.{(value >> 8) % 250}.{(value >> 16) % 250 + 1}"


def unique_username(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def png_bytes(width: int = 96, height: int = 64, color: tuple[int, int, int] = (200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Account:
    username: str
    password: str
    ip: str
    id: str = ""
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Forwarded-For": self.ip}


class Api:
    """The gateway's public API, synchronous, as the tests' own client."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)

    def close(self) -> None:
        self.client.close()

    def sign_up(self, prefix: str = "person", *, display_name: str | None = None) -> Account:
        """A new account, signed in, whose profile social already knows."""
        account = Account(unique_username(prefix), PASSWORD, fake_ip())
        body: dict[str, Any] = {
            "username": account.username,
            "email": f"{account.username}@example.com",
            "password": account.password,
        }
        if display_name:
            body["display_name"] = display_name
        created = self.client.post("/api/auth/register", json=body, headers={"X-Forwarded-For": account.ip})
        assert created.status_code == 201, created.text
        account.id = created.json()["id"]
        self.sign_in(account)
        self.until_known_to_social(account.username)
        return account

    def sign_in(self, account: Account) -> Account:
        login = self.client.post(
            "/api/auth/login",
            json={"username": account.username, "password": account.password},
            headers={"X-Forwarded-For": account.ip},
        )
        assert login.status_code == 200, login.text
        account.token = login.json()["access_token"]
        return account

    def until_known_to_social(self, username: str) -> None:
        # social builds its profiles from auth's user.registered events, a moment after registration.
        wait_until(
            lambda: self.client.get(f"/api/users/{username}").status_code == 200,
            timeout=30,
            interval=0.2,
            what=f"{username}'s profile in social",
        )

    def post(self, account: Account, content: str, image_ids: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"content": content, "image_ids": image_ids or []}

        def created() -> httpx.Response | None:
            response = self.client.post("/api/posts", json=body, headers=account.headers)
            # social learns of an upload from file.uploaded, a moment after the upload answered
            if response.status_code == 422 and response.json().get("code") == "image_not_found":
                return None
            assert response.status_code == 201, response.text
            return response

        return wait_until(created, timeout=30, interval=0.2, what="the post").json()

    def upload_png(self, account: Account, png: bytes) -> str:
        upload = self.client.post(
            "/api/files", files={"file": ("picture.png", png, "image/png")}, headers=account.headers
        )
        assert upload.status_code == 201, upload.text
        return upload.json()["id"]

    def comment(self, account: Account, post_id: str, content: str) -> dict[str, Any]:
        created = self.client.post(
            f"/api/posts/{post_id}/comments", json={"content": content}, headers=account.headers
        )
        assert created.status_code == 201, created.text
        return created.json()

    def message(self, account: Account, to: str, content: str) -> dict[str, Any]:
        sent = self.client.post("/api/messages", json={"to": to, "content": content}, headers=account.headers)
        assert sent.status_code == 201, sent.text
        return sent.json()


class Simulator:
    """The simulation as its operator drives it through /api/sim."""

    def __init__(self, api: Api, admin: Account) -> None:
        self.api, self.admin = api, admin

    def control(self, command: str, **extra: Any) -> dict[str, Any]:
        response = self.api.client.post(
            "/api/sim/control", json={"command": command, **extra}, headers=self.admin.headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    def status(self) -> dict[str, Any]:
        response = self.api.client.get("/api/sim/status", headers=self.admin.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def characters(self) -> list[dict[str, Any]]:
        """Every AI character, once each has its account in the social network (a moment after the
        simulator seeded them)."""

        def with_accounts() -> list[dict[str, Any]] | None:
            response = self.api.client.get("/api/sim/agents")
            assert response.status_code == 200, response.text
            agents = response.json()
            return agents if agents and all(agent["user_id"] for agent in agents) else None

        return wait_until(with_accounts, timeout=60, interval=0.5, what="the AI characters' accounts")


@dataclass
class Showcase:
    """What the page walks show (the screenshots, dark mode): a person's post with an image, bookmarked, a
    comment on it (so a notification), each on the other's follower list, and a conversation with an AI
    character."""

    person: Account
    post: dict[str, Any]
    comment: str
    commenter_name: str
    character: dict[str, Any]
    message: str
