"""Pictures from an OpenAI-compatible images API: ``POST {base_url}/images/generations``.

OpenAI's models take only some sizes, so the request's aspect is mapped to the nearest one they take
(dall-e-3, dall-e-2, the gpt-image models); any other model (a compatible server of one's own) is asked
for the exact size. The image comes back as ``b64_json`` or as a ``url`` fetched here (http/https only,
up to :data:`MAX_IMAGE_BYTES`, without the API key: the URL points at storage, not at the API). DALL-E
answers with a URL unless asked for ``b64_json``; the gpt-image models always answer ``b64_json`` and
refuse the ``response_format`` parameter, so it is sent to DALL-E only. OpenAI takes no seed: the
request's seed is only kept in the picture.

Every failure is a :class:`PictureFailed` with one of these reasons: refused (401/403, a safety system's
400), rate_limited (429), server_error (5xx), bad_request (any other 4xx, e.g. a size or parameter the
server does not take), timeout, unreachable, bad_image (no image in the answer, or bytes that are not
a PNG, JPEG or WebP that decodes).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
from typing import Any

import httpx

from aic_simulator.pictures.base import Picture, PictureFailed, PictureRequest, checked_image

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_MESSAGE_CHARS = 300

# The sizes each known model family takes (OpenAI's images API reference), as (width, height).
DALL_E_3_SIZES = ((1024, 1024), (1792, 1024), (1024, 1792))
GPT_IMAGE_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
DALL_E_2_SIDES = (256, 512, 1024)

# error.code of a 400 from a safety system: DALL-E's and the gpt-image models'.
REFUSAL_CODES = frozenset({"content_policy_violation", "moderation_blocked"})


def api_size(model: str, width: int, height: int) -> tuple[int, int]:
    """The size to ask ``model`` for, for a picture of ``width`` x ``height``."""
    family = model.lower()
    if family.startswith("dall-e-2"):
        # Square only: the smallest that covers the longer side, so nothing is upscaled needlessly.
        longest = max(width, height)
        side = next((s for s in DALL_E_2_SIDES if s >= longest), DALL_E_2_SIDES[-1])
        return side, side
    if family.startswith("dall-e-3"):
        sizes = DALL_E_3_SIZES
    elif family.startswith("gpt-image"):
        sizes = GPT_IMAGE_SIZES
    else:
        return width, height
    # Nearest aspect on a log scale, so that 2:1 and 1:2 are equally far from square.
    aspect = math.log(width / height)
    return min(sizes, key=lambda size: abs(math.log(size[0] / size[1]) - aspect))


def asks_for_b64(model: str) -> bool:
    """Whether to send ``response_format: b64_json``: DALL-E answers with a URL otherwise, and the
    gpt-image models refuse the parameter (they always answer b64_json)."""
    return model.lower().startswith("dall-e")


class ImagesApiBackend:
    name = "images-api"

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        model: str = "gpt-image-1",
        *,
        timeout_seconds: float = 120.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/images/generations"
        self.api_key = api_key or None
        self.model = model
        self.timeout_seconds = timeout_seconds
        self._client = client
        self._own_client = client is None

    def _http(self) -> httpx.AsyncClient:
        # Created on first use so that the client belongs to the loop that makes the pictures.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_seconds)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    async def generate(self, request: PictureRequest) -> Picture:
        width, height = api_size(self.model, request.width, request.height)
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "n": 1,
            "size": f"{width}x{height}",
        }
        if asks_for_b64(self.model):
            body["response_format"] = "b64_json"
        try:
            # One bound for the whole picture: httpx's timeout is per read, and a URL is fetched after.
            async with asyncio.timeout(self.timeout_seconds):
                data, detail = await self._make(body)
                content_type = await asyncio.to_thread(checked_image, data, "the images API")
        except TimeoutError:
            raise PictureFailed("timeout", f"no picture within {self.timeout_seconds:g}s") from None
        except httpx.TimeoutException as exc:
            raise PictureFailed("timeout", f"{type(exc).__name__} from {self.base_url}") from None
        except httpx.TransportError as exc:
            raise PictureFailed("unreachable", f"{type(exc).__name__}: {exc}") from None
        return Picture(
            data=data,
            content_type=content_type,
            backend=self.name,
            seed=request.seed,
            detail={"model": self.model, "size": body["size"], **detail},
        )

    async def _make(self, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        response = await self._http().post(self.url, json=body, headers=headers)
        if response.status_code != 200:
            raise failure_of(response)
        try:
            payload = response.json()
            image = payload["data"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise PictureFailed("bad_image", f"no data[0] in the answer: {_snippet(response.text)}") from None
        if not isinstance(image, dict):
            raise PictureFailed("bad_image", "data[0] is not an object")
        detail = {}
        if isinstance(image.get("revised_prompt"), str):
            detail["revised_prompt"] = _snippet(image["revised_prompt"])
        if isinstance(image.get("b64_json"), str):
            try:
                return base64.b64decode(image["b64_json"], validate=True), detail
            except (binascii.Error, ValueError):
                raise PictureFailed("bad_image", "b64_json is not base64") from None
        if isinstance(image.get("url"), str):
            return await self._download(image["url"]), detail
        raise PictureFailed("bad_image", "data[0] has neither b64_json nor url")

    async def _download(self, url: str) -> bytes:
        try:
            # A compatible server may answer a path of its own ("/files/x.png"): it is relative to the API.
            parsed = httpx.URL(self.base_url + "/").join(url)
        except (httpx.InvalidURL, ValueError):
            raise PictureFailed("bad_image", "the image URL is not a URL") from None
        if parsed.scheme not in ("http", "https"):
            raise PictureFailed("bad_image", f"the image URL's scheme {parsed.scheme!r} is not http(s)")
        # No Authorization header: the URL is storage's (signed), and the key must not leave for it.
        async with self._http().stream("GET", parsed) as response:
            if response.status_code != 200:
                reason = "server_error" if response.status_code >= 500 else "bad_image"
                raise PictureFailed(reason, f"the image URL answered {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
                raise PictureFailed("bad_image", f"the image is {declared} bytes, over {MAX_IMAGE_BYTES}")
            chunks = bytearray()
            async for chunk in response.aiter_bytes():
                chunks += chunk
                if len(chunks) > MAX_IMAGE_BYTES:
                    raise PictureFailed("bad_image", f"the image is over {MAX_IMAGE_BYTES} bytes")
            return bytes(chunks)


def failure_of(response: httpx.Response) -> PictureFailed:
    """The PictureFailed for an error answer, from its status and OpenAI's
    ``{"error": {"message", "type", "param", "code"}}``."""
    status = response.status_code
    code, message = _error_of(response)
    said = f"{status} {code}: {message}" if code else f"{status}: {message}"
    if status in (401, 403):
        return PictureFailed("refused", said)
    if status == 429:
        return PictureFailed("rate_limited", said)
    if status >= 500:
        return PictureFailed("server_error", said)
    if status == 400 and (code in REFUSAL_CODES or "safety system" in message.lower()):
        return PictureFailed("refused", said)
    return PictureFailed("bad_request", said)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(error.code, error.message) of an error answer; the message is the body's text when it is not
    OpenAI's shape."""
    try:
        payload = response.json()
    except ValueError:
        return "", _snippet(response.text)
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        return (str(code) if code is not None else ""), _snippet(str(message or response.text))
    if isinstance(error, str):
        return "", _snippet(error)
    return "", _snippet(response.text)


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"
