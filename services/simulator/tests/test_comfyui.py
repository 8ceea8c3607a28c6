"""The ComfyUI image backend against a fake ComfyUI on loopback that speaks its API and fails as it does:
the workflow goes out filled in (numbers as numbers), the picture comes back decoded; a refused workflow,
an execution error, a broken image, a server that never finishes or is not there each end in their
reason; a job that timed out or was cancelled is taken off the server, and a job of someone else's is
never interrupted; a workflow file ComfyUI could not run is refused when the backend is built."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from aic_common.testing import wait_for
from aic_simulator.pictures.base import Moment, PictureFailed, PictureRequest
from aic_simulator.pictures.comfyui import ComfyUIBackend, WorkflowError, fill_workflow, load_workflow
from aic_simulator.settings import DEFAULT_COMFYUI_WORKFLOW, SimulatorSettings
from aic_simulator.testing_comfyui import FakeComfyUI

MOMENT = Moment(place_id="harbor", place_name="Harbor", place_kind="harbor", hour=18, minute=40)


def picture_request(**changes: Any) -> PictureRequest:
    values: dict[str, Any] = {
        "prompt": "fishing boats at the harbor at dusk, warm light, film photo",
        "moment": MOMENT,
        "seed": 123456789,
        "width": 1024,
        "height": 768,
        "negative_prompt": "text, watermark",
    }
    return PictureRequest(**{**values, **changes})


@pytest.fixture
def comfy(request: pytest.FixtureRequest) -> Iterator[FakeComfyUI]:
    options = getattr(request, "param", {})
    with FakeComfyUI(**options) as server:
        yield server


@pytest.fixture
async def backend(comfy: FakeComfyUI) -> AsyncIterator[ComfyUIBackend]:
    made = ComfyUIBackend(comfy.base_url, DEFAULT_COMFYUI_WORKFLOW, timeout_seconds=30, poll_interval=0.01)
    yield made
    await made.aclose()


def nodes_of(workflow: dict[str, Any], class_type: str) -> list[dict[str, Any]]:
    return [node for node in workflow.values() if node["class_type"] == class_type]


def write_workflow(tmp_path: Path, workflow: Any) -> Path:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflow) if not isinstance(workflow, str) else workflow)
    return path


def default_workflow() -> dict[str, Any]:
    return json.loads(DEFAULT_COMFYUI_WORKFLOW.read_text())


async def test_picture_from_the_default_workflow(comfy: FakeComfyUI, backend: ComfyUIBackend) -> None:
    picture = await backend.generate(picture_request())

    with Image.open(io.BytesIO(picture.data)) as image:
        image.load()
        # The fake draws the latent's size: the request's width and height reached the EmptyLatentImage.
        assert image.size == (1024, 768)
    assert picture.content_type == "image/png"
    assert picture.backend == "comfyui" and picture.seed == 123456789
    [job] = comfy.own_jobs()
    assert picture.detail["prompt_id"] == job.prompt_id
    assert picture.detail["checkpoint"] == "sd_xl_base_1.0.safetensors"

    [body] = comfy.submitted
    assert body["client_id"] == backend.client_id
    workflow = body["prompt"]
    texts = [node["inputs"]["text"] for node in nodes_of(workflow, "CLIPTextEncode")]
    assert texts == ["fishing boats at the harbor at dusk, warm light, film photo", "text, watermark"]
    [sampler] = nodes_of(workflow, "KSampler")
    assert sampler["inputs"]["seed"] == 123456789 and type(sampler["inputs"]["seed"]) is int
    [latent] = nodes_of(workflow, "EmptyLatentImage")
    assert (latent["inputs"]["width"], latent["inputs"]["height"]) == (1024, 768)
    assert type(latent["inputs"]["width"]) is int and type(latent["inputs"]["height"]) is int
    # Links between nodes are left as they were.
    assert sampler["inputs"]["model"] == ["4", 0]
    # Nothing was dropped: the job ran to its end.
    assert not comfy.calls("POST", "/interrupt") and not comfy.calls("POST", "/queue")


def test_placeholders_inside_text_and_sizes_on_the_latent_grid() -> None:
    workflow = {
        "1": {"class_type": "CLIPTextEncode", "inputs": {"text": "35mm photo, {{prompt}}, seed {{seed}}"}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": "{{width}}", "height": "{{ height }}"}},
    }
    filled = fill_workflow(workflow, {"prompt": "a {{seed}} sign", "seed": 5, "width": 640, "height": 480})
    # The prompt's own braces are not filled in a second time.
    assert filled["1"]["inputs"]["text"] == "35mm photo, a {{seed}} sign, seed 5"
    assert filled["2"]["inputs"] == {"width": 640, "height": 480}
    assert workflow["1"]["inputs"]["text"].startswith("35mm photo, {{prompt}}")  # the template is untouched

    backend = ComfyUIBackend("http://127.0.0.1:1", DEFAULT_COMFYUI_WORKFLOW)
    [latent] = nodes_of(backend.filled(picture_request(width=1000, height=766)), "EmptyLatentImage")
    assert (latent["inputs"]["width"], latent["inputs"]["height"]) == (1000, 760)


async def test_an_unknown_node_is_a_bad_workflow_with_the_servers_words(
    comfy: FakeComfyUI, tmp_path: Path
) -> None:
    workflow = default_workflow()
    workflow["10"] = {"class_type": "FancyUpscaler", "inputs": {"image": ["8", 0]}}
    backend = ComfyUIBackend(comfy.base_url, write_workflow(tmp_path, workflow), poll_interval=0.01)
    try:
        with pytest.raises(PictureFailed) as failed:
            await backend.generate(picture_request())
    finally:
        await backend.aclose()
    assert failed.value.reason == "bad_workflow"
    assert "Cannot execute because node FancyUpscaler does not exist." in str(failed.value)
    assert not comfy.own_jobs()


async def test_a_checkpoint_not_installed_is_a_bad_workflow_naming_it(
    comfy: FakeComfyUI, tmp_path: Path
) -> None:
    workflow = default_workflow()
    workflow["4"]["inputs"]["ckpt_name"] = "dreamshaper_8.safetensors"
    backend = ComfyUIBackend(comfy.base_url, write_workflow(tmp_path, workflow), poll_interval=0.01)
    try:
        with pytest.raises(PictureFailed) as failed:
            await backend.generate(picture_request())
    finally:
        await backend.aclose()
    assert failed.value.reason == "bad_workflow"
    message = str(failed.value)
    assert "Prompt outputs failed validation" in message
    assert "node 4 (CheckpointLoaderSimple): Value not in list" in message
    assert "dreamshaper_8.safetensors" in message


@pytest.mark.parametrize("comfy", [{"mode": "never_finishes"}], indirect=True)
async def test_a_job_that_never_finishes_times_out_and_is_interrupted(comfy: FakeComfyUI) -> None:
    backend = ComfyUIBackend(
        comfy.base_url, DEFAULT_COMFYUI_WORKFLOW, timeout_seconds=0.5, poll_interval=0.01
    )
    try:
        with pytest.raises(PictureFailed) as failed:
            await backend.generate(picture_request())
    finally:
        await backend.aclose()
    assert failed.value.reason == "timeout"
    [job] = comfy.own_jobs()
    assert job.polls > 0  # it was followed until the time was up
    assert job.prompt_id in str(failed.value)
    # It was running, so it was interrupted, by its id (a newer ComfyUI stops only that job).
    assert comfy.interrupted == [job.prompt_id] and job.state == "interrupted"
    assert [call.body for call in comfy.calls("POST", "/interrupt")] == [{"prompt_id": job.prompt_id}]


@pytest.mark.parametrize("comfy", [{"busy": True}], indirect=True)
async def test_a_job_waiting_behind_anothers_is_deleted_and_the_other_left_running(
    comfy: FakeComfyUI,
) -> None:
    backend = ComfyUIBackend(
        comfy.base_url, DEFAULT_COMFYUI_WORKFLOW, timeout_seconds=0.5, poll_interval=0.01
    )
    try:
        with pytest.raises(PictureFailed) as failed:
            await backend.generate(picture_request())
    finally:
        await backend.aclose()
    assert failed.value.reason == "timeout"
    [job] = comfy.own_jobs()
    assert comfy.deleted == [job.prompt_id] and job.state == "deleted"
    # Interrupting now would stop the other client's picture (an older server stops whatever runs).
    assert not comfy.calls("POST", "/interrupt") and not comfy.interrupted


@pytest.mark.parametrize("comfy", [{"mode": "never_finishes"}], indirect=True)
async def test_cancelling_takes_the_job_off_the_server(comfy: FakeComfyUI, backend: ComfyUIBackend) -> None:
    task = asyncio.create_task(backend.generate(picture_request()))
    job = await wait_for(
        lambda: next((j for j in comfy.own_jobs() if j.polls > 0), None), what="the job followed"
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert comfy.dropped(job.prompt_id) and job.state == "interrupted"


@pytest.mark.parametrize("comfy", [{"mode": "never_finishes"}], indirect=True)
async def test_a_timeout_around_generate_takes_the_job_off_too(
    comfy: FakeComfyUI, backend: ComfyUIBackend
) -> None:
    # The studio bounds each picture with its own timeout, which reaches the backend as a cancellation.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await backend.generate(picture_request())
    [job] = comfy.own_jobs()
    assert comfy.interrupted == [job.prompt_id]


@pytest.mark.parametrize("comfy", [{"mode": "broken_image"}], indirect=True)
async def test_bytes_that_do_not_decode_are_a_bad_image(comfy: FakeComfyUI, backend: ComfyUIBackend) -> None:
    with pytest.raises(PictureFailed) as failed:
        await backend.generate(picture_request())
    assert failed.value.reason == "bad_image"
    assert comfy.calls("GET", "/view")  # it was fetched, and its PNG signature did not fool the check


@pytest.mark.parametrize("comfy", [{"mode": "execution_error"}], indirect=True)
async def test_an_execution_error_says_which_node_failed(comfy: FakeComfyUI, backend: ComfyUIBackend) -> None:
    with pytest.raises(PictureFailed) as failed:
        await backend.generate(picture_request())
    assert failed.value.reason == "execution_error"
    assert "KSampler (node 3) failed: torch.OutOfMemoryError" in str(failed.value)
    assert not comfy.calls("GET", "/view")


@pytest.mark.parametrize("comfy", [{"honours_prompt_id": False}], indirect=True)
async def test_an_older_server_choosing_its_own_prompt_id(
    comfy: FakeComfyUI, backend: ComfyUIBackend
) -> None:
    picture = await backend.generate(picture_request())
    [job] = comfy.own_jobs()
    assert job.prompt_id != comfy.submitted[0]["prompt_id"]
    assert picture.detail["prompt_id"] == job.prompt_id


async def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens there now: the connection is refused.
    backend = ComfyUIBackend(f"http://127.0.0.1:{port}", DEFAULT_COMFYUI_WORKFLOW, timeout_seconds=30)
    try:
        with pytest.raises(PictureFailed) as failed:
            await backend.generate(picture_request())
    finally:
        await backend.aclose()
    assert failed.value.reason == "unreachable"
    assert f"127.0.0.1:{port}" in str(failed.value)


UI_FORMAT = {
    "last_node_id": 9,
    "last_link_id": 9,
    "nodes": [{"id": 3, "type": "KSampler"}],
    "links": [],
    "version": 0.4,
}


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "is not JSON"),
        (UI_FORMAT, "UI format"),
        ([1, 2], "not a ComfyUI workflow in API format"),
        ({"3": {"inputs": {}}}, "node '3' has no class_type"),
        ({k: v for k, v in default_workflow().items() if k != "9"}, "no node that saves an image"),
        (
            {**default_workflow(), "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a photo"}}},
            "no {{prompt}} placeholder",
        ),
        (
            {**default_workflow(), "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{negative}}"}}},
            "unknown placeholders: negative",
        ),
    ],
    ids=[
        "not-json",
        "ui-format",
        "not-an-object",
        "no-class-type",
        "no-output",
        "no-prompt",
        "unknown-placeholder",
    ],
)
def test_a_workflow_comfyui_could_not_run_is_refused_at_construction(
    tmp_path: Path, content: Any, said: str
) -> None:
    path = write_workflow(tmp_path, content)
    with pytest.raises(WorkflowError) as refused:
        ComfyUIBackend("http://127.0.0.1:8188", path)
    assert said in str(refused.value)


def test_the_default_workflow_is_the_settings_default() -> None:
    assert SimulatorSettings().comfyui_workflow == DEFAULT_COMFYUI_WORKFLOW
    workflow = load_workflow(DEFAULT_COMFYUI_WORKFLOW)
    assert {node["class_type"] for node in workflow.values()} == {
        "CheckpointLoaderSimple",
        "CLIPTextEncode",
        "EmptyLatentImage",
        "KSampler",
        "VAEDecode",
        "SaveImage",
    }
    with pytest.raises(WorkflowError, match="cannot read"):
        ComfyUIBackend("http://127.0.0.1:8188", DEFAULT_COMFYUI_WORKFLOW.with_name("missing.json"))
