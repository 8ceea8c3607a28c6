"""Storing a character's picture through the files service, as the character.

The picture goes to files' internal upload route (``POST /api/files/internal/uploads?owner_id=``) with
the simulator's service token from auth: the file is the character's, checked, re-encoded, given a
thumbnail and counted against the character's quota as a person's upload is. files announces it with
``file.uploaded``, from which social learns that the character may attach it to a post.

Every failure is a :class:`PictureFailed` with one of these reasons: quota_exceeded (the character has
too many files or bytes), rejected (files refused the image itself: not an image it takes, too large,
too many pixels) and store_failed (files or auth unreachable or failing, the token refused).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx

from aic_common.service_tokens import ServiceTokenError, ServiceTokens
from aic_simulator.pictures.base import Picture, PictureFailed

if TYPE_CHECKING:
    from aic_simulator.settings import SimulatorSettings

log = logging.getLogger(__name__)

UPLOADS_PATH = "/api/files/internal/uploads"
MAX_MESSAGE_CHARS = 300
# Statuses with which files refuses the image itself (aic_files.upload, aic_files.images).
REJECTED_STATUSES = frozenset({400, 413, 415, 422})
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


class FilesPictureStore:
    """Implements the studio's PictureStore (aic_simulator.pictures.studio) with the files service.

    ``files`` is a client whose base URL is the files service's (in dev mode an in-process one), ``tokens``
    the simulator's service tokens; :meth:`aclose` closes both when this store made them."""

    def __init__(
        self,
        files: httpx.AsyncClient,
        tokens: ServiceTokens,
        *,
        timeout_seconds: float = 60.0,
        owns_clients: bool = False,
    ) -> None:
        self.files = files
        self.tokens = tokens
        self.timeout_seconds = timeout_seconds
        self._owns_clients = owns_clients

    @classmethod
    def from_settings(
        cls,
        settings: SimulatorSettings,
        *,
        files_client: httpx.AsyncClient | None = None,
        auth_client: httpx.AsyncClient | None = None,
    ) -> FilesPictureStore | None:
        """From AIC_FILES_URL, AIC_AUTH_URL and the service client's credentials, or in dev mode from
        in-process clients to files and auth (their base URLs stand for the settings'). None when it is
        not said where files or auth are: pictures cannot be stored."""
        files_url = settings.files_url or (str(files_client.base_url) if files_client else "")
        auth_url = settings.auth_url or (str(auth_client.base_url) if auth_client else "")
        if not files_url or not auth_url:
            return None
        secret = settings.service_client_secret.get_secret_value()
        if not settings.service_client_id or not secret:
            raise ValueError(
                "storing pictures through files needs AIC_SERVICE_CLIENT_ID and AIC_SERVICE_CLIENT_SECRET"
            )
        owns_files = files_client is None
        files = files_client or httpx.AsyncClient(base_url=files_url)
        tokens = ServiceTokens(auth_url, settings.service_client_id, secret, http_client=auth_client)
        # An upload is a few hundred kB, re-encoded by files: within the picture's own time.
        store = cls(files, tokens, timeout_seconds=settings.picture_timeout_seconds, owns_clients=owns_files)
        return store

    async def store(self, owner_id: str, picture: Picture) -> str:
        """Upload ``picture`` as ``owner_id``'s file; the file's id. A token refused with 401 (auth's
        keys rotated, say) is fetched anew and the upload tried once more."""
        response: httpx.Response | None = None
        for attempt in range(2):
            token = await self._token()
            response = await self._upload(owner_id, picture, token)
            if response.status_code != 401 or attempt:
                break
            log.info("files refused the service token; fetching a new one")
            self.tokens.invalidate(token)
        assert response is not None
        if response.status_code == 201:
            try:
                return str(response.json()["id"])
            except (ValueError, KeyError, TypeError) as exc:
                raise PictureFailed("store_failed", f"files answered {response.text[:200]!r}") from exc
        code, detail = _error_of(response)
        message = f"files answered {response.status_code} {code}: {detail}"[:MAX_MESSAGE_CHARS]
        if code == "quota_exceeded":
            raise PictureFailed("quota_exceeded", message)
        if response.status_code in REJECTED_STATUSES:
            raise PictureFailed("rejected", message)
        raise PictureFailed("store_failed", message)

    async def aclose(self) -> None:
        await self.tokens.aclose()
        if self._owns_clients:
            await self.files.aclose()

    async def _token(self) -> str:
        try:
            return await self.tokens.token()
        except ServiceTokenError as exc:
            raise PictureFailed("store_failed", str(exc)[:MAX_MESSAGE_CHARS]) from exc

    async def _upload(self, owner_id: str, picture: Picture, token: str) -> httpx.Response:
        extension = _EXTENSIONS.get(picture.content_type, "img")
        filename = f"{picture.backend}-{picture.seed}.{extension}"
        try:
            return await self.files.post(
                UPLOADS_PATH,
                params={"owner_id": owner_id},
                files={"file": (filename, picture.data, picture.content_type)},
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            raise PictureFailed(
                "store_failed", f"files could not be reached: {exc!r}"[:MAX_MESSAGE_CHARS]
            ) from exc


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
        return str(body.get("code", "")), str(body.get("detail", ""))
    except (ValueError, AttributeError):
        return "", response.text[:200]
