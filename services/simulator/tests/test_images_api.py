"""The images-api picture backend against a fake OpenAI images API on loopback: pictures as b64_json and
as a URL, sizes each model takes, no response_format for the gpt-image models, the key sent only when
set, and every failure mapped to its reason."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from aic_common.testing import wait_for
from aic_simulator.pictures import images_api
from aic_simulator.pictures.base import Moment, PictureFailed, PictureRequest, checked_image
from aic_simulator.pictures.images_api import ImagesApiBackend, api_size
from aic_simulator.testing_images_api import FakeImagesApiServer, Mode, png

KEY = "sk-test-key"
MOMENT = Moment(place_id="harbor", place_name="Old Harbor", place_kind="harbor", hour=18, minute=30)


def picture_request(width: int = 1024, height: int = 768, seed: int = 4242) -> PictureRequest:
    return PictureRequest(
        prompt="a fishing boat at the old harbor at dusk, watercolor",
        moment=MOMENT,
        seed=seed,
        width=width,
        height=height,
    )


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


@pytest.fixture
async def server() -> AsyncIterator[FakeImagesApiServer]:
    async with FakeImagesApiServer(api_key=KEY) as fake:
        yield fake


async def generate(backend: ImagesApiBackend, request: PictureRequest | None = None):
    try:
        return await backend.generate(request or picture_request())
    finally:
        await backend.aclose()


async def failure(backend: ImagesApiBackend, request: PictureRequest | None = None) -> PictureFailed:
    with pytest.raises(PictureFailed) as caught:
        await generate(backend, request)
    return caught.value


# ---------------------------------------------------------------------- pictures


async def test_gpt_image_answers_b64_json_without_response_format(server: FakeImagesApiServer) -> None:
    picture = await generate(ImagesApiBackend(server.base_url, KEY, "gpt-image-1", timeout_seconds=30))

    assert picture.content_type == "image/png"
    assert size_of(picture.data) == (1536, 1024)  # 4:3 asked, the nearest gpt-image-1 size made
    assert picture.backend == "images-api"
    assert picture.seed == 4242
    assert picture.detail == {"model": "gpt-image-1", "size": "1536x1024"}
    [call] = server.generations()
    assert call.status == 200
    assert call.body == {
        "model": "gpt-image-1",
        "prompt": "a fishing boat at the old harbor at dusk, watercolor",
        "n": 1,
        "size": "1536x1024",
    }
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert server.downloads() == []


async def test_dall_e_3_is_asked_for_b64_json(server: FakeImagesApiServer) -> None:
    # A trailing slash on the URL is tolerated.
    backend = ImagesApiBackend(server.base_url + "/", KEY, "dall-e-3", timeout_seconds=30)
    picture = await generate(backend, picture_request(width=768, height=1024))

    assert size_of(picture.data) == (1024, 1792)
    [call] = server.generations()
    assert call.path == "/v1/images/generations"
    assert call.body is not None
    assert call.body["response_format"] == "b64_json"
    assert call.body["size"] == "1024x1792"
    assert "seed" not in call.body
    assert picture.detail["revised_prompt"].startswith("A picture of a fishing boat")
    assert server.downloads() == []


async def test_url_answer_is_downloaded_without_the_key() -> None:
    # A compatible server that answers with a URL whatever it is asked.
    async with FakeImagesApiServer(api_key=KEY, answers="url") as server:
        picture = await generate(ImagesApiBackend(server.base_url, KEY, "dall-e-3", timeout_seconds=30))

        assert picture.content_type == "image/png"
        assert size_of(picture.data) == (1792, 1024)
        [download] = server.downloads()
        assert download.status == 200
        assert download.path.startswith("/files/img-")
        assert server.files[download.path.removeprefix("/files/")] == picture.data
        # The URL points at storage: the API key must not go there.
        assert "authorization" not in download.headers


async def test_other_models_get_the_exact_size_and_their_default_answer() -> None:
    async with FakeImagesApiServer() as server:  # a local server: no key, DALL-E's default (a URL)
        backend = ImagesApiBackend(server.base_url, "", "local-sdxl", timeout_seconds=30)
        picture = await generate(backend, picture_request(width=1000, height=700))

        assert size_of(picture.data) == (1000, 700)
        [call] = server.generations()
        assert call.body is not None
        assert call.body["size"] == "1000x700"
        assert "response_format" not in call.body
        assert "authorization" not in call.headers  # no key set, none sent
        assert len(server.downloads()) == 1


@pytest.mark.parametrize(
    ("model", "width", "height", "size"),
    [
        ("dall-e-3", 1024, 768, (1792, 1024)),
        ("dall-e-3", 768, 1024, (1024, 1792)),
        ("dall-e-3", 1100, 1000, (1024, 1024)),
        ("dall-e-3", 2048, 256, (1792, 1024)),
        ("gpt-image-1", 1024, 768, (1536, 1024)),
        ("gpt-image-1", 768, 1024, (1024, 1536)),
        ("gpt-image-1", 1024, 1024, (1024, 1024)),
        ("gpt-image-1-mini", 1280, 720, (1536, 1024)),
        ("dall-e-2", 200, 256, (256, 256)),
        ("dall-e-2", 300, 200, (512, 512)),
        ("dall-e-2", 2048, 1536, (1024, 1024)),
        ("flux-schnell", 1000, 700, (1000, 700)),
    ],
)
def test_size_mapping(model: str, width: int, height: int, size: tuple[int, int]) -> None:
    assert api_size(model, width, height) == size


@pytest.mark.parametrize("model", ["dall-e-2", "dall-e-3", "gpt-image-1"])
async def test_every_mapped_size_is_taken_by_the_model(server: FakeImagesApiServer, model: str) -> None:
    # The fake refuses what the real API refuses; every shape a character may ask for gets a picture.
    backend = ImagesApiBackend(server.base_url, KEY, model, timeout_seconds=30)
    try:
        for width, height in [(1024, 768), (768, 1024), (1024, 1024), (2048, 256), (256, 2048), (300, 200)]:
            picture = await backend.generate(picture_request(width, height))
            assert size_of(picture.data) == api_size(model, width, height)
    finally:
        await backend.aclose()
    assert {call.status for call in server.generations()} == {200}


async def test_fake_server_refuses_as_openai_does(server: FakeImagesApiServer) -> None:
    """The refusals the backend is built to avoid: the fake makes them, so the tests above mean something."""
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(timeout=30) as client:
        url = server.base_url + "/images/generations"
        body = {"model": "gpt-image-1", "prompt": "a boat", "n": 1, "size": "1024x1024"}
        answer = await client.post(url, json={**body, "response_format": "b64_json"}, headers=headers)
        assert answer.status_code == 400
        assert answer.json()["error"]["message"] == "Unknown parameter: 'response_format'."
        assert answer.json()["error"]["param"] == "response_format"

        answer = await client.post(
            url, json={**body, "model": "dall-e-3", "size": "1024x768"}, headers=headers
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_size"

        answer = await client.post(url, json=body, headers={"Authorization": "Bearer sk-wrong"})
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_api_key"


# ---------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("mode", "model", "reason", "said"),
    [
        ("content_policy", "dall-e-3", "refused", "content_policy_violation: Your request was rejected"),
        ("content_policy", "gpt-image-1", "refused", "moderation_blocked: Your request was rejected"),
        ("unverified", "gpt-image-1", "refused", "403: Your organization must be verified"),
        ("rate_limited", "gpt-image-1", "rate_limited", "429 rate_limit_exceeded"),
        ("server_error", "dall-e-3", "server_error", "500: The server had an error"),
        ("not_an_image", "gpt-image-1", "bad_image", "not a PNG, JPEG or WebP"),
        ("not_an_image", "dall-e-2", "bad_image", "not a PNG, JPEG or WebP"),
        ("truncated_image", "gpt-image-1", "bad_image", "does not decode"),
    ],
)
async def test_failures_map_to_reasons(
    server: FakeImagesApiServer, mode: Mode, model: str, reason: str, said: str
) -> None:
    server.script(mode)
    failed = await failure(ImagesApiBackend(server.base_url, KEY, model, timeout_seconds=30))

    assert failed.reason == reason
    assert said in str(failed)
    assert [call.mode for call in server.generations()] == [mode]


async def test_not_an_image_behind_a_url() -> None:
    async with FakeImagesApiServer(mode="not_an_image", answers="url") as server:
        failed = await failure(ImagesApiBackend(server.base_url, "", "dall-e-3", timeout_seconds=30))
        assert failed.reason == "bad_image"
        assert len(server.downloads()) == 1


async def test_a_failure_does_not_stick(server: FakeImagesApiServer) -> None:
    backend = ImagesApiBackend(server.base_url, KEY, "gpt-image-1", timeout_seconds=30)
    server.script("rate_limited")
    try:
        with pytest.raises(PictureFailed):
            await backend.generate(picture_request())
        picture = await backend.generate(picture_request())
    finally:
        await backend.aclose()
    assert picture.content_type == "image/png"


@pytest.mark.parametrize(
    ("key", "message"), [("sk-wrong", "Incorrect API key"), ("", "didn't provide an API key")]
)
async def test_a_wrong_or_missing_key_is_refused(server: FakeImagesApiServer, key: str, message: str) -> None:
    failed = await failure(ImagesApiBackend(server.base_url, key, "gpt-image-1", timeout_seconds=30))

    assert failed.reason == "refused"
    assert message in str(failed)
    [call] = server.generations()
    assert call.status == 401
    assert ("authorization" in call.headers) == bool(key)


async def test_a_request_the_server_does_not_take_is_a_bad_request(server: FakeImagesApiServer) -> None:
    empty = PictureRequest(prompt="", moment=MOMENT, seed=1)
    failed = await failure(ImagesApiBackend(server.base_url, KEY, "gpt-image-1", timeout_seconds=30), empty)

    assert failed.reason == "bad_request"
    assert "400 missing_required_parameter: Missing required parameter: 'prompt'." in str(failed)


async def test_slow_server_times_out_and_the_request_is_abandoned(server: FakeImagesApiServer) -> None:
    server.script("slow")
    failed = await failure(ImagesApiBackend(server.base_url, KEY, "gpt-image-1", timeout_seconds=0.5))

    assert failed.reason == "timeout"
    # The connection was closed with the timeout: the server sees its client go away.
    await wait_for(lambda: server.generations()[0].disconnected, timeout=30, what="the client to go away")


async def test_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.
    backend = ImagesApiBackend(f"http://127.0.0.1:{port}/v1", KEY, "gpt-image-1", timeout_seconds=30)
    failed = await failure(backend)
    assert failed.reason == "unreachable"


async def test_image_over_the_cap_is_not_read_whole(
    monkeypatch: pytest.MonkeyPatch, server: FakeImagesApiServer
) -> None:
    monkeypatch.setattr(images_api, "MAX_IMAGE_BYTES", 100)
    server.answers = "url"
    failed = await failure(ImagesApiBackend(server.base_url, KEY, "dall-e-3", timeout_seconds=30))
    assert failed.reason == "bad_image"
    assert "over 100" in str(failed)


async def test_image_over_the_cap_without_a_length_is_cut_off() -> None:
    # Chunked, with no Content-Length to judge it by: reading stops at the cap, not at the end.
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(1000):
            sent.append(1)
            yield b"\x89PNG\r\n\x1a\n" + b"\0" * (64 * 1024 - 8)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, content=chunks())
        return httpx.Response(200, json={"created": 0, "data": [{"url": "https://files.example.test/a.png"}]})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    try:
        backend = ImagesApiBackend(
            "https://api.example.test/v1", "", "dall-e-3", timeout_seconds=30, client=client
        )
        failed = await failure(backend)
    finally:
        await client.aclose()
    assert failed.reason == "bad_image"
    assert f"over {images_api.MAX_IMAGE_BYTES} bytes" in str(failed)
    assert len(sent) < 1000  # 20 MB is 320 of the 64 KiB chunks; the rest were never asked for


async def test_the_whole_picture_is_bounded_by_the_timeout() -> None:
    # An answer that never finishes within the bound, where no read timeout of httpx's applies.
    async def answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        return httpx.Response(500)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    try:
        backend = ImagesApiBackend(
            "https://api.example.test/v1", "", "dall-e-3", timeout_seconds=0.5, client=client
        )
        failed = await failure(backend)
    finally:
        await client.aclose()
    assert failed.reason == "timeout"
    assert "within 0.5s" in str(failed)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x.png", "data:image/png;base64,AAAA"])
async def test_only_http_urls_are_fetched(url: str) -> None:
    fetched: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            fetched.append(str(request.url))
            return httpx.Response(200, content=png(8, 8, "x"))
        return httpx.Response(200, json={"created": 0, "data": [{"url": url}]})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    try:
        failed = await failure(
            ImagesApiBackend(
                "https://api.example.test/v1", KEY, "dall-e-3", timeout_seconds=30, client=client
            ),
        )
    finally:
        await client.aclose()
    assert failed.reason == "bad_image"
    assert "not http(s)" in str(failed)
    assert fetched == []


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        ({"created": 0, "data": []}, "no data[0]"),
        ({"created": 0, "data": [{"revised_prompt": "x"}]}, "neither b64_json nor url"),
        ({"created": 0, "data": [{"b64_json": "%%% not base64 %%%"}]}, "not base64"),
    ],
)
async def test_answers_without_an_image_are_bad_images(payload: dict, said: str) -> None:
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=payload))
    )
    try:
        failed = await failure(
            ImagesApiBackend(
                "https://api.example.test/v1", "", "gpt-image-1", timeout_seconds=30, client=client
            )
        )
    finally:
        await client.aclose()
    assert failed.reason == "bad_image"
    assert said in str(failed)


def test_checked_image_knows_png_jpeg_and_webp() -> None:
    for kind, content_type in [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]:
        out = io.BytesIO()
        Image.new("RGB", (16, 16), (200, 100, 50)).save(out, kind)
        assert checked_image(out.getvalue(), "a test") == content_type
    with pytest.raises(PictureFailed) as caught:
        checked_image(b"GIF89a" + b"\0" * 64, "a test")
    assert caught.value.reason == "bad_image"
