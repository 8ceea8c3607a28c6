"""A test's view of the running community through its gateway: people with accounts, each speaking
from an address of their own, and the images they upload.

Synchronous (httpx.Client) so that module-wide fixtures can set up accounts once for many tests.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from aic_common.testing import wait_until

PASSWORD = "community test passphrase 🌙"  # noqa: S105 - the accounts of tests


def fake_ip() -> str:
    """A client address of its own, so that rate limits of one test never count another's requests."""
    value = uuid.uuid4().int
    return f"10.{value % 250}.{(value >> 8) % 250}.{(value >> 16) % 250 + 1}"


def png_bytes(width: int = 4, height: int = 3, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    password: str
    ip: str
    access_token: str
    refresh_token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "X-Forwarded-For": self.ip}


class Community:
    """Speaks to ``base_url`` (a gateway) for several people; a context manager."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def __enter__(self) -> Community:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()

    def register(self, prefix: str = "user", *, wait_for_profile: bool = True) -> Account:
        """A new person, signed in; with ``wait_for_profile`` also known to social (which learns of
        people from auth's events), so they can post at once."""
        username = f"{prefix}_{uuid.uuid4().hex[:10]}"
        ip = fake_ip()
        created = self.http.post(
            "/api/auth/register",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
            headers={"X-Forwarded-For": ip},
        )
        assert created.status_code == 201, created.text
        account = self.login(username, PASSWORD, ip=ip)
        if wait_for_profile:
            self.wait_for_profile(account)
        return account

    def login(self, username: str, password: str, *, ip: str | None = None) -> Account:
        ip = ip or fake_ip()
        response = self.http.post(
            "/api/auth/login",
            json={"username": username, "password": password},
            headers={"X-Forwarded-For": ip},
        )
        assert response.status_code == 200, response.text
        tokens = response.json()
        me = self.http.get(
            "/api/auth/me",
            headers={"Authorization": f"Bearer {tokens['access_token']}", "X-Forwarded-For": ip},
        )
        assert me.status_code == 200, me.text
        return Account(
            id=me.json()["id"],
            username=username,
            password=password,
            ip=ip,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
        )

    def wait_for_profile(self, account: Account, timeout: float = 20.0) -> None:
        wait_until(
            lambda: (
                self.http.get(f"/api/users/{account.username}", headers=account.headers).status_code == 200
            ),
            timeout=timeout,
            interval=0.1,
            what=f"social to know {account.username}",
        )

    def upload(
        self, account: Account, content: bytes | None = None, *, filename: str = "picture.png", **extra: Any
    ) -> httpx.Response:
        """POST /api/files with ``content`` (a small PNG by default) as the part ``file``."""
        content_type = extra.pop("content_type", "image/png")
        return self.http.post(
            "/api/files",
            files={"file": (filename, png_bytes() if content is None else content, content_type)},
            headers=account.headers,
            **extra,
        )
