"""Settings of the simulator."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from aic_common.settings import ServiceSettings

DEFAULT_WORLD = Path(__file__).parent / "data" / "default_world.json"
DEFAULT_COMFYUI_WORKFLOW = Path(__file__).parent / "data" / "comfyui_workflow.json"


class SimulatorSettings(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ()
    service_name: str = "simulator"

    world_file: Path = DEFAULT_WORLD
    seed: int = 7
    # Simulated seconds per wall-clock second; 0 runs as fast as it can.
    speed: float = Field(default=60.0, ge=0, le=100_000)
    # The clock never jumps further than this in one step, so time-based events are not skipped.
    max_time_jump_seconds: int = Field(default=900, ge=1)
    sim_start: datetime = datetime(2026, 6, 1, 7, 0)
    # Start running as soon as this instance leads (dev mode); otherwise wait for an operator.
    autostart: bool = False
    # A world that starts itself for the first time (autostart) first lives this many simulated days as
    # fast as it can, so that the first people find a town with a history; then it runs at ``speed``.
    prelive_days: float = Field(default=2.0, ge=0, le=30)
    # Each step's commands are applied and their results perceived before the next step (lockstep), so
    # a seed gives the same story at any speed; a result that does not come in this long is not awaited.
    lockstep: bool = True
    lockstep_timeout_seconds: float = Field(default=10.0, gt=0)

    # A decision's time from the moment the LLM takes it up (its first free slot), retries included.
    decision_timeout_seconds: float = Field(default=10.0, gt=0)
    llm_base_url: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr = SecretStr("")
    llm_concurrency: int = Field(default=4, ge=1, le=256)
    llm_max_attempts: int = Field(default=3, ge=1, le=10)
    # How long a decision may wait for a free slot; one that waited longer is decided by the rules.
    llm_queue_timeout_seconds: float = Field(default=30.0, gt=0)
    # What the answer's structure is asked with: negotiated per server and model (auto), or one of them.
    llm_response_format: Literal["auto", "json_schema", "json_object", "prompt"] = "auto"
    # Sampling; "none" (or empty) leaves a parameter out, for servers that refuse it.
    llm_temperature: float | None = Field(default=0.8, ge=0, le=2)
    llm_top_p: float | None = Field(default=None, gt=0, le=1)
    llm_seed: int | None = None
    # Room for one decision's answer and for a day's plan (a thinking model needs more; the LLM tier
    # doubles it, up to four times this, when answers come back cut off).
    llm_max_tokens: int = Field(default=400, ge=16)
    llm_plan_max_tokens: int = Field(default=1500, ge=64)
    llm_request_timeout_seconds: float = Field(default=120.0, gt=0)
    # Sent as reasoning_effort when set (OpenAI, DeepSeek; Ollama takes "none" to stop thinking).
    llm_reasoning_effort: str = ""
    # JSON merged into every request body last, e.g. {"enable_thinking": false} (Qwen on DashScope),
    # {"chat_template_kwargs": {"enable_thinking": false}} (vLLM, llama.cpp). Ollama's OpenAI-compatible
    # endpoint ignores "options": set its context on the Ollama server, stop thinking with reasoning effort.
    llm_extra_body: dict[str, Any] = Field(default_factory=dict)
    # Tokens the LLM may spend per simulated day, in all and per character (0: no budget); past them
    # the rules decide, with the reason logged.
    llm_daily_token_budget: int = Field(default=0, ge=0)
    llm_character_daily_token_budget: int = Field(default=0, ge=0)
    # live: ask the server; record: ask it and keep every exchange (answers this run already has are
    # given again); replay: answer from what was recorded, never calling a server (aic_simulator.recording).
    llm_mode: Literal["live", "record", "replay"] = "live"

    # Pictures with characters' posts (aic_simulator.pictures, docs/images.md). auto: ComfyUI when
    # AIC_COMFYUI_URL is set, else the images API when AIC_IMAGES_API_URL is, else the built-in renderer.
    image_backend: Literal["auto", "builtin", "comfyui", "images-api", "off"] = "auto"
    # A ComfyUI server and a workflow in its API format whose inputs hold the placeholders
    # {{prompt}}, {{negative_prompt}}, {{seed}}, {{width}} and {{height}}.
    comfyui_url: str = ""
    comfyui_workflow: Path = DEFAULT_COMFYUI_WORKFLOW
    # An OpenAI-compatible images API (POST {url}/images/generations), e.g. https://api.openai.com/v1.
    images_api_url: str = ""
    images_api_key: SecretStr = SecretStr("")
    images_api_model: str = "gpt-image-1"
    picture_width: int = Field(default=1024, ge=256, le=2048)
    picture_height: int = Field(default=768, ge=256, le=2048)
    # One picture's wall time from the moment a backend takes it up; then the post goes out without it.
    picture_timeout_seconds: float = Field(default=120.0, gt=0)
    picture_concurrency: int = Field(default=2, ge=1, le=32)  # pictures made at once
    # Caps: the share of a character's posts that carry a picture, and pictures made per simulated hour
    # (the whole town's).
    picture_share: float = Field(default=0.5, ge=0, le=1)
    pictures_per_sim_hour: int = Field(default=6, ge=0)
    # Where the files service and auth are (pictures are uploaded as the character with a service token
    # from auth); in dev mode both are reached in-process.
    files_url: str = ""
    auth_url: str = ""

    # What a character reads when it browses: this many posts, and under each the newest this many comments.
    ai_browse_post_limit: int = Field(default=10, ge=1, le=100)
    ai_browse_comment_limit: int = Field(default=10, ge=1, le=100)
    memory_limit: int = Field(default=200, ge=10)
    # What the retention sweep deletes (docs/deploy.md, "Data that grows"): posts perceived this long ago
    # (a comment on an older post no longer wakes its author) and stimuli handled this long ago.
    seen_post_retention_days: float = Field(default=90, gt=0)
    handled_stimulus_retention_days: float = Field(default=30, gt=0)
    reflection_threshold: float = Field(default=40.0, gt=0)
    # Leadership: one simulator acts at a time; a standby takes over when the lease expires.
    lease_ttl_seconds: float = Field(default=10.0, gt=1)
    # How often (wall seconds) a running engine writes its state (a checkpoint) while running.
    checkpoint_seconds: float = Field(default=1.0, gt=0)
    publish_action_events: bool = True
    # Broker users whose control messages (aic sim ..., another instance's HTTP control) are obeyed,
    # besides this service's own: the deployment gives the CLI a user of its own and lists it here.
    # RabbitMQ vouches for a message's user (see aic_common.bus.rabbit).
    sim_control_broker_users: list[str] = Field(default_factory=list)

    @field_validator("llm_temperature", "llm_top_p", "llm_seed", mode="before")
    @classmethod
    def _left_out(cls, value: Any) -> Any:
        """ "none" or "" in the environment: the parameter is not sent."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "none", "null") else value
