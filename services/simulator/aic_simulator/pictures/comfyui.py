"""Pictures from a ComfyUI server: a workflow in its API format, filled in and queued over HTTP.

ComfyUI's API (its ``server.py``): ``POST /prompt`` queues a workflow and answers its prompt id, or 400
with ``{"error": {...}, "node_errors": {...}}`` when a node class is unknown or an input is invalid (a
checkpoint that is not installed, say). ``GET /history/{prompt_id}`` is ``{}`` until the job has run,
then holds its outputs (the images a SaveImage node wrote) and its status (``status_str`` success or
error, with the execution messages). ``GET /view?filename=&subfolder=&type=`` gives an image's bytes.
``POST /queue {"delete": [...]}`` drops a job still waiting, ``POST /interrupt {"prompt_id"}`` stops the
one running (older servers ignore the id and stop whatever runs, so it is only sent for our own job).

The workflow is the JSON ComfyUI's "Save (API Format)" writes, with placeholders in its inputs:
``{{prompt}}``, ``{{negative_prompt}}``, ``{{seed}}``, ``{{width}}``, ``{{height}}``. An input whose
whole value is ``{{seed}}``, ``{{width}}`` or ``{{height}}`` becomes a number; elsewhere a placeholder is
replaced in the text (``"35mm photo, {{prompt}}"``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any

import httpx

from aic_simulator.pictures.base import Picture, PictureFailed, PictureRequest, checked_image

logger = logging.getLogger(__name__)

PLACEHOLDERS = ("prompt", "negative_prompt", "seed", "width", "height")
NUMERIC_PLACEHOLDERS = frozenset({"seed", "width", "height"})
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")
# ComfyUI's seeds are unsigned 64-bit; latents are an eighth of the picture, so sizes are multiples of 8.
_SEED_MASK = 0xFFFF_FFFF_FFFF_FFFF
_SIZE_STEP = 8
# A node that writes images ComfyUI lists in the history: SaveImage, PreviewImage and custom savers.
_SAVES_IMAGES = re.compile(r"save|preview", re.IGNORECASE)
# Dropping a job is best effort and must not hold up a timeout or a cancellation for long.
_DROP_TIMEOUT_SECONDS = 5.0


class WorkflowError(ValueError):
    """A workflow file ComfyUI could not run as a picture's workflow (said when the backend is built)."""


def load_workflow(path: Path | str) -> dict[str, dict[str, Any]]:
    """The workflow in ``path``, checked: ComfyUI's API format, a {{prompt}} somewhere, an output node."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkflowError(f"cannot read the ComfyUI workflow {path}: {exc.strerror or exc}") from exc
    try:
        workflow = json.loads(text)
    except ValueError as exc:
        raise WorkflowError(f"the ComfyUI workflow {path} is not JSON: {exc}") from exc
    check_workflow(workflow, str(path))
    return workflow


def check_workflow(workflow: Any, where: str = "the workflow") -> None:
    if isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list) and "links" in workflow:
        raise WorkflowError(
            f"{where} is in ComfyUI's UI format (a saved workflow with nodes and links), not its API "
            "format: in ComfyUI enable the dev mode options in the settings, then use "
            '"Save (API Format)" (newer frontends: File > Export Workflow (API))'
        )
    if not isinstance(workflow, dict) or not workflow:
        raise WorkflowError(f"{where} is not a ComfyUI workflow in API format (an object of nodes by id)")
    for node_id, node in workflow.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            raise WorkflowError(
                f"{where}: node {node_id!r} has no class_type; is this ComfyUI's API format "
                '("Save (API Format)")?'
            )
        if not isinstance(node.get("inputs", {}), dict):
            raise WorkflowError(
                f"{where}: node {node_id!r} ({node['class_type']}) has inputs that are not an object"
            )
    named = set(placeholders_in(workflow))
    unknown = named - set(PLACEHOLDERS)
    if unknown:
        known = ", ".join("{{" + name + "}}" for name in PLACEHOLDERS)
        raise WorkflowError(
            f"{where} has unknown placeholders: {', '.join(sorted(unknown))} (known: {known})"
        )
    if "prompt" not in named:
        raise WorkflowError(
            f"{where} has no {{{{prompt}}}} placeholder: put it in the positive prompt's text input "
            "(a CLIPTextEncode node's text), or the pictures would never show what the character saw"
        )
    if not any(_saves_images(node) for node in workflow.values()):
        raise WorkflowError(
            f"{where} has no node that saves an image (SaveImage or PreviewImage, fed the decoded images)"
        )


def _saves_images(node: dict[str, Any]) -> bool:
    return bool(_SAVES_IMAGES.search(node["class_type"])) and "images" in node.get("inputs", {})


def placeholders_in(value: Any) -> list[str]:
    """The placeholders named in the strings of ``value`` (a workflow or a part of it), in order."""
    if isinstance(value, str):
        return _PLACEHOLDER.findall(value)
    if isinstance(value, dict):
        return [name for item in value.values() for name in placeholders_in(item)]
    if isinstance(value, list):
        return [name for item in value for name in placeholders_in(item)]
    return []


def fill_workflow(workflow: dict[str, Any], values: dict[str, str | int]) -> dict[str, Any]:
    """A copy of ``workflow`` with its placeholders replaced by ``values``."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            whole = _PLACEHOLDER.fullmatch(value.strip())
            if whole and whole.group(1) in NUMERIC_PLACEHOLDERS:
                return int(values[whole.group(1)])
            # One pass, so a prompt that happens to contain "{{seed}}" stays as it was written.
            return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), value)
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    return {
        node_id: {**node, "inputs": fill(copy.deepcopy(node.get("inputs", {})))}
        for node_id, node in workflow.items()
    }


def _message(error: Any) -> str:
    """ComfyUI's error object as one line: its message and details."""
    if isinstance(error, dict):
        message = str(error.get("message", "")).strip()
        details = error.get("details")
        if isinstance(details, list):
            details = "; ".join(str(d).strip() for d in details)
        details = str(details or "").strip()
        return f"{message}: {details}" if message and details else message or details or json.dumps(error)
    return str(error)


def _node_errors(node_errors: Any) -> str:
    """What each node was refused for, as ComfyUI lists it (``node_errors`` of a 400)."""
    if not isinstance(node_errors, dict):
        return ""
    lines = []
    for node_id, entry in node_errors.items():
        if not isinstance(entry, dict):
            continue
        reasons = "; ".join(_message(reason) for reason in entry.get("errors", []))
        lines.append(f"node {node_id} ({entry.get('class_type', '?')}): {reasons}")
    return " | ".join(lines)


def _execution_failure(status: dict[str, Any]) -> str:
    """Why a job ended in error, from the execution messages its history keeps."""
    for message in status.get("messages") or []:
        if not (isinstance(message, list | tuple) and len(message) == 2 and isinstance(message[1], dict)):
            continue
        event, data = message
        if event == "execution_error":
            return (
                f"{data.get('node_type', '?')} (node {data.get('node_id', '?')}) failed: "
                f"{data.get('exception_type', 'error')}: {data.get('exception_message', '').strip()}"
            )
        if event == "execution_interrupted":
            return f"interrupted at {data.get('node_type', '?')} (node {data.get('node_id', '?')})"
    return f"the job ended with status {status.get('status_str', '?')!r}"


class ComfyUIBackend:
    """An :class:`~aic_simulator.pictures.base.ImageBackend` queueing a workflow on a ComfyUI server."""

    name = "comfyui"

    def __init__(
        self,
        base_url: str,
        workflow_path: Path | str,
        *,
        timeout_seconds: float = 120.0,
        http: httpx.AsyncClient | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        if not base_url:
            raise ValueError("ComfyUI needs its URL (AIC_COMFYUI_URL), e.g. http://127.0.0.1:8188")
        self.base_url = base_url.rstrip("/")
        self.workflow_path = Path(workflow_path)
        self.workflow = load_workflow(self.workflow_path)
        self.timeout_seconds = timeout_seconds
        self.poll_interval = poll_interval
        # ComfyUI tells a client's websocket about its jobs by this id; one per backend, as the UI does.
        self.client_id = uuid.uuid4().hex
        self._own_http = http is None
        # Each request is short (timeout_seconds bounds the whole picture); connecting is quick or never.
        request_timeout = min(30.0, max(timeout_seconds, 1.0))
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(request_timeout, connect=min(10.0, request_timeout))
        )

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    def _values(self, request: PictureRequest) -> dict[str, str | int]:
        return {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "seed": request.seed & _SEED_MASK,
            "width": max(64, request.width // _SIZE_STEP * _SIZE_STEP),
            "height": max(64, request.height // _SIZE_STEP * _SIZE_STEP),
        }

    def filled(self, request: PictureRequest) -> dict[str, Any]:
        """The workflow as it is queued for ``request``."""
        return fill_workflow(self.workflow, self._values(request))

    async def generate(self, request: PictureRequest) -> Picture:
        workflow = self.filled(request)
        # Newer servers take the id the client chooses, so even a job whose answer never came can be dropped.
        prompt_id = str(uuid.uuid4())
        try:
            async with asyncio.timeout(self.timeout_seconds):
                prompt_id = await self._queue(workflow, prompt_id)
                image = await self._wait_for_image(prompt_id)
                data = await self._get(
                    "/view",
                    params={
                        "filename": str(image.get("filename", "")),
                        "subfolder": str(image.get("subfolder", "")),
                        "type": str(image.get("type", "output")),
                    },
                )
        except TimeoutError:
            await self._drop(prompt_id)
            raise PictureFailed(
                "timeout", f"ComfyUI made no picture within {self.timeout_seconds:g} s (prompt {prompt_id})"
            ) from None
        except asyncio.CancelledError:
            await self._drop(prompt_id)
            raise
        if data.status_code != 200:
            raise PictureFailed("no_image", f"ComfyUI's /view answered {data.status_code} for {image}")
        content_type = await asyncio.to_thread(checked_image, data.content, "ComfyUI")
        detail = {"prompt_id": prompt_id, "filename": str(image.get("filename", ""))}
        checkpoint = self._checkpoint()
        if checkpoint:
            detail["checkpoint"] = checkpoint
        return Picture(
            data=data.content, content_type=content_type, backend=self.name, seed=request.seed, detail=detail
        )

    def _checkpoint(self) -> str:
        for node in self.workflow.values():
            name = node.get("inputs", {}).get("ckpt_name")
            if isinstance(name, str):
                return name
        return ""

    # ------------------------------------------------------------------ HTTP

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, self.base_url + path, **kwargs)
        except httpx.TimeoutException as exc:
            raise PictureFailed(
                "unreachable", f"ComfyUI at {self.base_url} did not answer {path}: {exc!r}"
            ) from exc
        except httpx.TransportError as exc:  # refused, DNS, reset
            raise PictureFailed("unreachable", f"cannot reach ComfyUI at {self.base_url}: {exc!r}") from exc

    async def _get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self._request("GET", path, **kwargs)

    async def _json(self, response: httpx.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise PictureFailed(
                "server_error",
                f"ComfyUI's {path} answered {response.status_code} with no JSON: {response.text[:200]!r}",
            ) from exc

    async def _queue(self, workflow: dict[str, Any], prompt_id: str) -> str:
        body = {"prompt": workflow, "client_id": self.client_id, "prompt_id": prompt_id}
        response = await self._request("POST", "/prompt", json=body)
        answer = await self._json(response, "/prompt")
        if response.status_code == 400:
            error = answer.get("error") if isinstance(answer, dict) else answer
            nodes = _node_errors(answer.get("node_errors")) if isinstance(answer, dict) else ""
            text = _message(error) + (f" [{nodes}]" if nodes else "")
            raise PictureFailed(
                "bad_workflow", f"ComfyUI refused the workflow {self.workflow_path.name}: {text}"
            )
        if response.status_code != 200 or not isinstance(answer, dict) or not answer.get("prompt_id"):
            raise PictureFailed(
                "server_error", f"ComfyUI's /prompt answered {response.status_code}: {str(answer)[:300]}"
            )
        return str(answer["prompt_id"])

    async def _wait_for_image(self, prompt_id: str) -> dict[str, Any]:
        """The first image the job saved, once its history shows it finished."""
        path = f"/history/{prompt_id}"
        while True:
            response = await self._get(path)
            history = await self._json(response, path) if response.status_code == 200 else {}
            entry = history.get(prompt_id) if isinstance(history, dict) else None
            if isinstance(entry, dict):
                return self._image_of(prompt_id, entry)
            await asyncio.sleep(self.poll_interval)

    def _image_of(self, prompt_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
        if status.get("status_str") == "error" or status.get("completed") is False:
            raise PictureFailed(
                "execution_error", f"ComfyUI prompt {prompt_id}: {_execution_failure(status)}"
            )
        images = [
            image
            for output in (entry.get("outputs") or {}).values()
            if isinstance(output, dict)
            for image in output.get("images") or []
            if isinstance(image, dict) and image.get("filename")
        ]
        if not images:
            raise PictureFailed("no_image", f"ComfyUI prompt {prompt_id} finished without saving an image")
        # A saved image before a preview (temp) one, when the workflow has both.
        return next((image for image in images if image.get("type") == "output"), images[0])

    async def _drop(self, prompt_id: str) -> None:
        """Take the job off the server: out of the queue if it waits, interrupted if it runs (best effort)."""
        try:
            async with asyncio.timeout(_DROP_TIMEOUT_SECONDS):
                await self._http.post(self.base_url + "/queue", json={"delete": [prompt_id]})
                queue = await self._http.get(self.base_url + "/queue")
                running = queue.json().get("queue_running", []) if queue.status_code == 200 else []
                # Items are [number, prompt_id, prompt, extra_data, outputs]: interrupt only our own job,
                # since an older server stops whatever runs.
                if any(isinstance(item, list) and len(item) > 1 and item[1] == prompt_id for item in running):
                    await self._http.post(self.base_url + "/interrupt", json={"prompt_id": prompt_id})
        except (TimeoutError, httpx.HTTPError, ValueError, AttributeError) as exc:
            logger.info("could not drop ComfyUI prompt %s: %r", prompt_id, exc)
