"""A fake ComfyUI server on loopback, for the tests of the ComfyUI image backend.

It speaks the part of ComfyUI's HTTP API a client uses to make a picture, in ComfyUI's shapes, failures
included: ``POST /prompt`` validates the workflow as ComfyUI does (a node class it does not know, a node
without class_type, no output node: 400 with ``{"error": {...}, "node_errors": {...}}``; a checkpoint
that is not installed or a number that is not one: 400 ``prompt_outputs_failed_validation`` with the
node's errors) and queues it; ``GET /history/{prompt_id}`` is ``{}`` until the job has been polled
``polls_until_done`` times, then holds its outputs and status; ``GET /view`` gives the PNG the job made
(Pillow, the latent's size, a colour from the seed); ``GET /queue``, ``POST /queue`` (delete, clear) and
``POST /interrupt`` (for one prompt id, or whatever runs) work on the queue. One job runs at a time,
the others wait behind it, as on a server with one GPU.

Modes: ``ok``; ``never_finishes`` (the running job never ends unless interrupted); ``broken_image``
(``/view`` gives a PNG signature and then garbage); ``execution_error`` (the job ends in error, a CUDA
out-of-memory in the KSampler, as ComfyUI's history reports it). ``busy=True`` puts another client's
never-ending job in front of every job, so ours waits in the queue.

Every request is recorded. The server runs in its own thread (its own event loop)::

    with FakeComfyUI(mode="never_finishes") as comfy:
        backend = ComfyUIBackend(comfy.base_url, workflow, timeout_seconds=1)
"""

from __future__ import annotations

import io
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aic_simulator.testing_server import LoopbackServer

Mode = Literal["ok", "never_finishes", "broken_image", "execution_error"]

# The core nodes a plain text-to-image workflow uses, and a few more; a workflow naming any other class
# is refused as ComfyUI refuses a node whose custom node pack is not installed.
KNOWN_NODES = frozenset(
    {
        "CheckpointLoaderSimple",
        "CLIPTextEncode",
        "CLIPSetLastLayer",
        "EmptyLatentImage",
        "EmptySD3LatentImage",
        "KSampler",
        "KSamplerAdvanced",
        "LoraLoader",
        "VAEDecode",
        "VAELoader",
        "SaveImage",
        "PreviewImage",
        "ImageScale",
    }
)
OUTPUT_NODES = frozenset({"SaveImage", "PreviewImage"})
CHECKPOINTS = ("sd_xl_base_1.0.safetensors", "v1-5-pruned-emaonly.safetensors")
# Inputs ComfyUI converts to integers (the INT widgets of the nodes above).
_INT_INPUTS = frozenset(
    {"seed", "noise_seed", "steps", "width", "height", "batch_size", "stop_at_clip_layer"}
)

BROKEN_PNG = b"\x89PNG\r\n\x1a\n" + b"this is not the rest of a PNG file" * 8


@dataclass
class FakeJob:
    prompt_id: str
    number: int
    prompt: dict[str, Any]
    client_id: str | None
    foreign: bool = False  # another client's job (busy=True)
    state: Literal["queued", "done", "error", "interrupted", "deleted"] = "queued"
    polls: int = 0  # GET /history/{id} while it was running
    image: tuple[str, str, str] | None = None  # (filename, subfolder, type) of what it saved

    def queue_item(self) -> list[Any]:
        # What ComfyUI keeps (and /queue lists) for a job: number, id, prompt, extra data, outputs.
        outputs = [i for i, n in self.prompt.items() if n.get("class_type") in OUTPUT_NODES]
        return [self.number, self.prompt_id, self.prompt, {"client_id": self.client_id}, outputs]


@dataclass
class Recorded:
    method: str
    path: str
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)


class FakeComfyUI(LoopbackServer):
    thread_name = "fake-comfyui"

    def __init__(
        self,
        *,
        mode: Mode = "ok",
        polls_until_done: int = 2,
        nodes: frozenset[str] = KNOWN_NODES,
        checkpoints: tuple[str, ...] = CHECKPOINTS,
        busy: bool = False,
        honours_prompt_id: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.mode = mode
        self.polls_until_done = polls_until_done
        self.nodes = nodes
        self.checkpoints = checkpoints
        self.busy = busy
        # Newer servers take the prompt id a client sends; older ones always choose their own.
        self.honours_prompt_id = honours_prompt_id
        self.host = host
        self.requests: list[Recorded] = []
        self.submitted: list[dict[str, Any]] = []  # bodies of POST /prompt, accepted or not
        self.jobs: dict[str, FakeJob] = {}
        self.interrupted: list[str] = []  # prompt ids stopped by /interrupt
        self.deleted: list[str] = []  # prompt ids taken out of the queue by POST /queue
        self.files: dict[tuple[str, str, str], bytes] = {}
        self._number = 0
        self._lock = threading.Lock()
        routes = [
            Route("/prompt", self._post_prompt, methods=["POST"]),
            Route("/history/{prompt_id}", self._history, methods=["GET"]),
            Route("/view", self._view, methods=["GET"]),
            Route("/queue", self._get_queue, methods=["GET"]),
            Route("/queue", self._post_queue, methods=["POST"]),
            Route("/interrupt", self._interrupt, methods=["POST"]),
        ]
        # ComfyUI serves every route under /api as well.
        routes += [Route("/api" + r.path, r.endpoint, methods=list(r.methods or [])) for r in list(routes)]
        self.app = Starlette(routes=routes)
        if busy:
            self._add_job({"0": {"class_type": "SaveImage", "inputs": {}}}, "another-client", foreign=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ what the tests read

    def job(self, prompt_id: str) -> FakeJob:
        with self._lock:
            return self.jobs[prompt_id]

    def own_jobs(self) -> list[FakeJob]:
        with self._lock:
            return [job for job in self.jobs.values() if not job.foreign]

    def dropped(self, prompt_id: str) -> bool:
        """Whether the job was taken out of the queue or interrupted."""
        with self._lock:
            return prompt_id in self.deleted or prompt_id in self.interrupted

    def calls(self, method: str, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # ------------------------------------------------------------------ running

    # ------------------------------------------------------------------ the queue

    def _add_job(
        self,
        prompt: dict[str, Any],
        client_id: str | None,
        *,
        foreign: bool = False,
        prompt_id: str | None = None,
    ) -> FakeJob:
        # The caller holds the lock (or is the constructor).
        job = FakeJob(prompt_id or str(uuid.uuid4()), self._number, prompt, client_id, foreign=foreign)
        self._number += 1
        self.jobs[job.prompt_id] = job
        return job

    def _running(self) -> FakeJob | None:
        """The job the GPU works on: the first one still queued. The caller holds the lock."""
        return next((job for job in self.jobs.values() if job.state == "queued"), None)

    def _record(self, request: Request, body: Any = None) -> None:
        with self._lock:
            self.requests.append(
                Recorded(
                    request.method, request.url.path.removeprefix("/api"), body, dict(request.query_params)
                )
            )

    # ------------------------------------------------------------------ handlers

    async def _post_prompt(self, request: Request) -> Response:
        body = await request.json()
        self._record(request, body)
        with self._lock:
            self.submitted.append(body)
        if not isinstance(body, dict) or "prompt" not in body:
            return _refusal(_error("no_prompt", "No prompt provided", "No prompt provided"), {})
        prompt = body["prompt"]
        refusal = self._validate(prompt)
        if refusal is not None:
            return refusal
        with self._lock:
            wanted = body.get("prompt_id") if self.honours_prompt_id else None
            job = self._add_job(prompt, body.get("client_id"), prompt_id=str(wanted) if wanted else None)
        return JSONResponse({"prompt_id": job.prompt_id, "number": job.number, "node_errors": {}})

    def _validate(self, prompt: Any) -> Response | None:
        """ComfyUI's validate_prompt, for the nodes this server knows."""
        if not isinstance(prompt, dict):
            return _refusal(
                _error("invalid_prompt", "Cannot execute because the prompt is not an object"), {}
            )
        outputs = []
        for node_id, node in prompt.items():
            if not isinstance(node, dict) or "class_type" not in node:
                message = "Cannot execute because a node is missing the class_type property."
                return _refusal(_error("invalid_prompt", message, f"Node ID '#{node_id}'"), {})
            if node["class_type"] not in self.nodes:
                message = f"Cannot execute because node {node['class_type']} does not exist."
                return _refusal(_error("invalid_prompt", message, f"Node ID '#{node_id}'"), {})
            if node["class_type"] in OUTPUT_NODES:
                outputs.append(node_id)
        if not outputs:
            return _refusal(_error("prompt_no_outputs", "Prompt has no outputs"), {})
        node_errors: dict[str, Any] = {}
        for node_id, node in prompt.items():
            reasons = self._input_errors(node)
            if reasons:
                node_errors[node_id] = {
                    "errors": reasons,
                    "dependent_outputs": outputs,
                    "class_type": node["class_type"],
                }
        if node_errors:
            details = "\n".join(
                f"{r['message']}: {r['details']}" for e in node_errors.values() for r in e["errors"]
            )
            error = _error("prompt_outputs_failed_validation", "Prompt outputs failed validation", details)
            return _refusal(error, node_errors)
        return None

    def _input_errors(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        reasons = []
        for name, value in (node.get("inputs") or {}).items():
            if (
                name == "ckpt_name"
                and node["class_type"] == "CheckpointLoaderSimple"
                and value not in self.checkpoints
            ):
                reasons.append(
                    {
                        "type": "value_not_in_list",
                        "message": "Value not in list",
                        "details": f"ckpt_name: '{value}' not in {list(self.checkpoints)}",
                        "extra_info": {"input_name": name, "received_value": value},
                    }
                )
            elif name in _INT_INPUTS and not isinstance(value, list):
                try:
                    int(value)
                except (TypeError, ValueError) as exc:
                    reasons.append(
                        {
                            "type": "invalid_input_type",
                            "message": "Failed to convert an input value to a INT value",
                            "details": f"{name}, {value}, {exc}",
                            "extra_info": {"input_name": name, "received_value": value},
                        }
                    )
        return reasons

    async def _history(self, request: Request) -> Response:
        self._record(request)
        prompt_id = request.path_params["prompt_id"]
        with self._lock:
            job = self.jobs.get(prompt_id)
            if job is None or job.state == "deleted":
                return JSONResponse({})
            if job.state == "queued" and job is self._running():
                job.polls += 1
                if self.mode != "never_finishes" and job.polls >= self.polls_until_done:
                    self._finish(job)
            if job.state == "queued":
                return JSONResponse({})
            return JSONResponse({prompt_id: self._history_entry(job)})

    def _finish(self, job: FakeJob) -> None:
        """The job runs to its end (the caller holds the lock)."""
        if self.mode == "execution_error":
            job.state = "error"
            return
        job.state = "done"
        save = next(i for i, n in job.prompt.items() if n.get("class_type") in OUTPUT_NODES)
        prefix = job.prompt[save].get("inputs", {}).get("filename_prefix", "ComfyUI")
        kind = "output" if job.prompt[save]["class_type"] == "SaveImage" else "temp"
        job.image = (f"{prefix}_{job.number + 1:05d}_.png", "", kind)
        self.files[job.image] = BROKEN_PNG if self.mode == "broken_image" else _png_for(job.prompt)

    def _history_entry(self, job: FakeJob) -> dict[str, Any]:
        now = int(time.time() * 1000)
        started = ["execution_start", {"prompt_id": job.prompt_id, "timestamp": now}]
        sampler = next((i for i, n in job.prompt.items() if n["class_type"].startswith("KSampler")), "0")
        outputs: dict[str, Any] = {}
        if job.state == "done" and job.image is not None:
            filename, subfolder, kind = job.image
            save = next(i for i, n in job.prompt.items() if n.get("class_type") in OUTPUT_NODES)
            outputs[save] = {"images": [{"filename": filename, "subfolder": subfolder, "type": kind}]}
            status = {
                "status_str": "success",
                "completed": True,
                "messages": [started, ["execution_success", {"prompt_id": job.prompt_id, "timestamp": now}]],
            }
        elif job.state == "interrupted":
            stop = {
                "prompt_id": job.prompt_id,
                "node_id": sampler,
                "node_type": "KSampler",
                "executed": [],
                "timestamp": now,
            }
            status = {
                "status_str": "error",
                "completed": False,
                "messages": [started, ["execution_interrupted", stop]],
            }
        else:
            failure = {
                "prompt_id": job.prompt_id,
                "node_id": sampler,
                "node_type": job.prompt.get(sampler, {}).get("class_type", "KSampler"),
                "executed": [],
                "exception_message": "Allocation on device 0 would exceed allowed memory. (out of memory)",
                "exception_type": "torch.OutOfMemoryError",
                "traceback": ['  File "execution.py", line 323, in execute\n'],
                "current_inputs": {},
                "current_outputs": {},
                "timestamp": now,
            }
            status = {
                "status_str": "error",
                "completed": False,
                "messages": [started, ["execution_error", failure]],
            }
        return {"prompt": job.queue_item(), "outputs": outputs, "status": status, "meta": {}}

    async def _view(self, request: Request) -> Response:
        self._record(request)
        query = request.query_params
        filename = query.get("filename", "")
        if not filename:
            return Response(status_code=404)
        if filename.startswith("/") or ".." in filename:
            return Response(status_code=400)
        with self._lock:
            data = self.files.get((filename, query.get("subfolder", ""), query.get("type", "output")))
        if data is None:
            return Response(status_code=404)
        return Response(
            data, media_type="image/png", headers={"Content-Disposition": f'filename="{filename}"'}
        )

    async def _get_queue(self, request: Request) -> Response:
        self._record(request)
        with self._lock:
            running = self._running()
            pending = [j.queue_item() for j in self.jobs.values() if j.state == "queued" and j is not running]
            return JSONResponse(
                {"queue_running": [running.queue_item()] if running else [], "queue_pending": pending}
            )

    async def _post_queue(self, request: Request) -> Response:
        body = await request.json()
        self._record(request, body)
        with self._lock:
            running = self._running()
            waiting = [j for j in self.jobs.values() if j.state == "queued" and j is not running]
            if body.get("clear"):
                for job in waiting:
                    job.state = "deleted"
                    self.deleted.append(job.prompt_id)
            for prompt_id in body.get("delete", []):
                # Only a job still waiting can be deleted; the running one goes on (as in ComfyUI).
                job = self.jobs.get(prompt_id)
                if job is not None and job in waiting and job.state == "queued":
                    job.state = "deleted"
                    self.deleted.append(prompt_id)
        return Response(status_code=200)

    async def _interrupt(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        self._record(request, body)
        with self._lock:
            running = self._running()
            wanted = body.get("prompt_id") if isinstance(body, dict) else None
            # With a prompt id only that job is stopped, and only if it runs; without one, whatever runs.
            if running is not None and (not wanted or running.prompt_id == wanted):
                running.state = "interrupted"
                self.interrupted.append(running.prompt_id)
        return Response(status_code=200)


def _error(kind: str, message: str, details: str = "") -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": {}}


def _refusal(error: dict[str, Any], node_errors: dict[str, Any]) -> Response:
    return JSONResponse({"error": error, "node_errors": node_errors}, status_code=400)


def _png_for(prompt: dict[str, Any]) -> bytes:
    """A PNG of the workflow's latent size, its colour chosen by the sampler's seed."""
    from PIL import Image

    width, height, seed = 512, 512, 0
    for node in prompt.values():
        inputs = node.get("inputs") or {}
        if node.get("class_type", "").startswith("Empty") and "width" in inputs:
            width, height = int(inputs["width"]), int(inputs["height"])
        if "seed" in inputs and not isinstance(inputs["seed"], list):
            seed = int(inputs["seed"])
    colour = tuple(random.Random(seed).randrange(256) for _ in range(3))  # noqa: S311 - a picture's colour
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()
