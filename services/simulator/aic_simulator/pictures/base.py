"""What every image backend takes and gives: the moment a character photographs, a request, a picture.

A backend turns a :class:`PictureRequest` into a :class:`Picture` (encoded image bytes) or raises
:class:`PictureFailed` with a short reason code that the decision's trace keeps. Backends never store
anything: the studio (aic_simulator.pictures.studio) uploads what they make through the files service.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image, UnidentifiedImageError


@dataclass(frozen=True)
class Moment:
    """What is in front of the character's camera, taken from the world (all names in English)."""

    place_id: str
    place_name: str
    place_kind: str  # the location's kind in the world file: cafe, park, harbor, market, home...
    hour: int  # simulated local time, 0-23
    minute: int
    weather: str = "clear"  # clear, rain, storm, snow, fog (from the hazards on at the place)
    event_title: str | None = None  # an event on at the place
    event_kind: str | None = None  # market, show, gathering, hazard...
    item_name: str | None = None  # an item the character holds or just used
    item_kind: str | None = None  # food, tool, book, instrument, toy, game...
    subject: str = "place"  # what the picture is of: place, event, item, food, sky
    activity: str | None = None  # what its plan has it doing here: meal, work, leisure...
    people: int = 0  # how many others are there


@dataclass(frozen=True)
class PictureRequest:
    prompt: str  # what the picture shows, in the character's visual style (English for most models)
    moment: Moment
    seed: int  # a backend given the same request and seed makes the same picture, where it can
    width: int = 1024
    height: int = 768
    negative_prompt: str = "text, watermark, signature, blurry, deformed hands"
    style: str = ""  # the persona's visual style, already part of the prompt; kept for the trace


@dataclass(frozen=True)
class Picture:
    data: bytes  # an encoded image (PNG, JPEG or WebP); the files service checks and re-encodes it
    content_type: str
    backend: str  # the backend's name: builtin, comfyui, images-api
    seed: int
    detail: dict[str, str] = field(default_factory=dict)  # e.g. ComfyUI's prompt id, the model


class PictureFailed(Exception):
    """A picture that could not be made; ``reason`` is a short code for the trace (timeout,
    unreachable, bad_workflow, bad_image, refused, ...), the message says more."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


def image_type(data: bytes) -> str | None:
    """The content type of encoded image bytes by their magic number: PNG, JPEG, WebP, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def checked_image(data: bytes, source: str) -> str:
    """The content type of ``data`` when it is a whole PNG, JPEG or WebP image; PictureFailed
    ("bad_image") naming ``source`` otherwise. Runs Pillow's decoder: call it off the event loop."""
    content_type = image_type(data)
    if content_type is None:
        raise PictureFailed(
            "bad_image", f"{source} gave {len(data)} bytes that are not a PNG, JPEG or WebP image"
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every pixel: a truncated file fails here, not at upload
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PictureFailed("bad_image", f"{source}'s {content_type} does not decode: {exc}") from None
    return content_type


class ImageBackend(Protocol):
    name: str

    async def generate(self, request: PictureRequest) -> Picture:
        """Make the picture; PictureFailed when it cannot. Cancellation must abandon the work."""

    async def aclose(self) -> None:
        """Release connections (a backend without any does nothing)."""
