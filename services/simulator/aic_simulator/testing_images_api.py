"""A fake OpenAI images API on loopback, for the tests of the images-api picture backend.

``POST /v1/images/generations`` answers as OpenAI's does, its refusals included: a wrong or missing
bearer key (when the server has one) is a 401, ``response_format`` sent to a gpt-image model is a 400
("Unknown parameter: 'response_format'."), a size the model does not take is a 400 (dall-e-2,
dall-e-3 and the gpt-image models; any other model takes any size). A picture is a PNG of the size
asked, answered as ``b64_json`` or as a ``url`` served by ``GET /files/<name>``: the gpt-image models
always answer b64_json, DALL-E a URL unless asked for b64_json (``answers`` makes a compatible server
that ignores what it is asked). Each call takes the next scripted :data:`Mode` (or ``mode`` once the
script is used up)::

    with FakeImagesApiServer(api_key="sk-test") as server:
        server.script("rate_limited")
        backend = ImagesApiBackend(server.base_url, "sk-test", "dall-e-3", timeout_seconds=30)

Every request (the downloads too) is recorded. The server runs in its own thread and event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aic_simulator.testing_server import LoopbackServer

Mode = Literal[
    "ok",
    "content_policy",  # the safety system refuses the prompt (400)
    "unverified",  # 403: the organization may not use the model
    "rate_limited",  # 429 with Retry-After
    "server_error",  # 500
    "slow",  # holds the request until the client goes away (or hold_seconds pass)
    "not_an_image",  # an HTML page where the image should be
    "truncated_image",  # a PNG cut short: right magic number, does not decode
]
MODES: tuple[str, ...] = get_args(Mode)
Answers = Literal["asked", "b64_json", "url"]

# The sizes OpenAI's models take (its images API reference).
MODEL_SIZES = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image": ("1024x1024", "1536x1024", "1024x1536", "auto"),
}
NOT_AN_IMAGE = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"


def sizes_for(model: str) -> tuple[str, ...] | None:
    """The sizes ``model`` takes, or None for a model that takes any size."""
    return next((sizes for family, sizes in MODEL_SIZES.items() if model.startswith(family)), None)


def png(width: int, height: int, prompt: str) -> bytes:
    """A PNG of ``width`` x ``height`` whose colours follow from the prompt."""
    digest = hashlib.sha256(prompt.encode()).digest()
    image = Image.new("RGB", (width, height), tuple(digest[:3]))
    image.paste(tuple(digest[3:6]), (0, height // 2, width, height))  # a horizon, so it is no flat colour
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def openai_error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error in OpenAI's shape."""
    error = {"message": message, "type": type_, "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=status, headers=headers)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None
    mode: str = ""
    status: int = 0
    disconnected: bool = False  # the client went away before the answer (its timeout)
    extra: dict[str, Any] = field(default_factory=dict)


class FakeImagesApiServer(LoopbackServer):
    thread_name = "fake-images-api"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        mode: Mode = "ok",
        answers: Answers = "asked",
        hold_seconds: float = 600.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.api_key = api_key  # None: any request is let in, with a key or without
        self.mode: Mode = mode
        self.answers: Answers = answers
        self.hold_seconds = hold_seconds  # how long "slow" holds a request its client keeps waiting for
        self.host = host
        self.requests: list[RecordedRequest] = []
        self.files: dict[str, bytes] = {}
        self._modes: deque[Mode] = deque()
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/images/generations", self._generations, methods=["POST"]),
                Route("/files/{name}", self._file, methods=["GET"]),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *modes: Mode) -> None:
        """Modes for the next calls, in order."""
        for mode in modes:
            if mode not in MODES:
                raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            self._modes.extend(modes)

    def generations(self) -> list[RecordedRequest]:
        """The recorded ``POST .../images/generations`` requests."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    def downloads(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET"]

    # ------------------------------------------------------------------ running

    # ------------------------------------------------------------------ handlers

    async def _generations(self, request: Request) -> Response:
        record = RecordedRequest("POST", request.url.path, dict(request.headers))
        with self._lock:
            self.requests.append(record)
        response = await self._generate(request, record)
        record.status = response.status_code
        return response

    async def _generate(self, request: Request, record: RecordedRequest) -> Response:
        # OpenAI checks the key before it reads the body.
        if self.api_key is not None:
            given = request.headers.get("authorization", "")
            if not given.startswith("Bearer "):
                return openai_error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an Authorization "
                    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                )
            if given.removeprefix("Bearer ") != self.api_key:
                return openai_error(401, "Incorrect API key provided: sk-...fake.", code="invalid_api_key")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return openai_error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return openai_error(400, "We could not parse the JSON body of your request.")
        record.body = body
        refusal = self._invalid(body)
        if refusal is not None:
            record.mode = "invalid"
            return refusal
        with self._lock:
            mode: Mode = self._modes.popleft() if self._modes else self.mode
        record.mode = mode
        model = str(body.get("model", ""))
        if mode == "content_policy":
            if model.startswith("gpt-image"):
                return openai_error(
                    400,
                    "Your request was rejected by the safety system. If you believe this is an error, "
                    "contact us and include the request ID req_fake.",
                    type_="image_generation_user_error",
                    code="moderation_blocked",
                )
            return openai_error(
                400,
                "Your request was rejected as a result of our safety system. Your prompt may contain text "
                "that is not allowed by our safety system.",
                code="content_policy_violation",
            )
        if mode == "unverified":
            return openai_error(
                403,
                f"Your organization must be verified to use the model `{model}`. Please go to "
                "https://platform.openai.com/settings/organization/general and click on Verify Organization.",
            )
        if mode == "rate_limited":
            return openai_error(
                429,
                "Rate limit exceeded for images per minute in organization org-fake. Limits: 5 img/min. "
                "Please try again in 12s.",
                type_="requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": "12"},
            )
        if mode == "server_error":
            return openai_error(
                500,
                "The server had an error processing your request. Sorry about that!",
                type_="server_error",
            )
        if mode == "slow" and not await _hold(request, self.hold_seconds):
            record.disconnected = True
            return Response(status_code=499)
        return self._picture(request, body, mode)

    def _invalid(self, body: dict[str, Any]) -> Response | None:
        """OpenAI's 400 for a request it does not take, or None."""
        model = str(body.get("model", ""))
        if not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return openai_error(
                400,
                "Missing required parameter: 'prompt'.",
                param="prompt",
                code="missing_required_parameter",
            )
        if model.startswith("gpt-image") and "response_format" in body:
            return openai_error(
                400,
                "Unknown parameter: 'response_format'.",
                param="response_format",
                code="unknown_parameter",
            )
        if body.get("response_format", "url") not in ("url", "b64_json"):
            return openai_error(
                400,
                f"Invalid value: '{body['response_format']}'. Supported values are: 'url' and 'b64_json'.",
                param="response_format",
                code="invalid_value",
            )
        sizes = sizes_for(model)
        size = str(body.get("size", "1024x1024"))
        if sizes is not None and size not in sizes:
            if model.startswith("dall-e"):
                return openai_error(400, "The size is not supported by this model.", code="invalid_size")
            listed = ", ".join(f"'{s}'" for s in sizes)
            return openai_error(
                400,
                f"Invalid value: '{size}'. Supported values are: {listed}.",
                param="size",
                code="invalid_value",
            )
        if sizes is None and _dimensions(size) is None:
            return openai_error(400, f"Invalid size '{size}'.", param="size", code="invalid_value")
        return None

    def _picture(self, request: Request, body: dict[str, Any], mode: Mode) -> Response:
        model = str(body.get("model", ""))
        width, height = _dimensions(str(body.get("size", "1024x1024"))) or (1024, 1024)
        if mode == "not_an_image":
            data = NOT_AN_IMAGE
        else:
            data = png(width, height, str(body["prompt"]))
            if mode == "truncated_image":
                data = data[: max(len(data) // 2, 40)]
        if model.startswith("gpt-image"):
            answer = "b64_json"  # the only way the gpt-image models answer
        elif self.answers == "asked":
            answer = str(body.get("response_format") or "url")
        else:
            answer = self.answers
        image: dict[str, Any]
        if answer == "b64_json":
            image = {"b64_json": base64.b64encode(data).decode()}
        else:
            name = f"img-{uuid.uuid4().hex[:16]}.png"
            with self._lock:
                self.files[name] = data
            image = {"url": f"http://{self.host}:{self.port}/files/{name}"}
        if model.startswith("dall-e-3"):
            image["revised_prompt"] = f"A picture of {body['prompt']}"
        payload: dict[str, Any] = {"created": int(time.time()), "data": [image]}
        if model.startswith("gpt-image"):
            prompt_tokens = max(len(str(body["prompt"])) // 4, 1)
            payload["usage"] = {
                "input_tokens": prompt_tokens,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": prompt_tokens},
                "output_tokens": 1056,
                "total_tokens": prompt_tokens + 1056,
            }
        return JSONResponse(payload)

    async def _file(self, request: Request) -> Response:
        record = RecordedRequest("GET", request.url.path, dict(request.headers))
        with self._lock:
            self.requests.append(record)
            data = self.files.get(request.path_params["name"])
        if data is None:
            record.status = 404
            return Response(b"Not found", status_code=404, media_type="text/plain")
        record.status = 200
        media_type = "text/html" if data == NOT_AN_IMAGE else "image/png"
        return Response(data, media_type=media_type)


def _dimensions(size: str) -> tuple[int, int] | None:
    width, x, height = size.partition("x")
    if not x or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        return None
    return int(width), int(height)


async def _hold(request: Request, seconds: float) -> bool:
    """Wait ``seconds``; False as soon as the client disconnects (so a held request ends with it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(left, 0.05))
        if await request.is_disconnected():
            return False
    return True
