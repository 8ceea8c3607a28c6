"""Pictures with characters' posts: the backends that make them and the studio that has them made.

One interface (base.ImageBackend), three backends chosen by AIC_IMAGE_BACKEND: ComfyUI (comfyui.py), an
OpenAI-compatible images API (images_api.py) and the built-in renderer (renderer.py), which needs no
server and is the default. docs/images.md tells how to set each up.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aic_simulator.pictures.base import ImageBackend
from aic_simulator.pictures.studio import PictureStore, PictureStudio

if TYPE_CHECKING:
    from aic_simulator.settings import SimulatorSettings

log = logging.getLogger(__name__)


def studio_from_settings(settings: SimulatorSettings, store: PictureStore | None) -> PictureStudio | None:
    """The studio that has characters' pictures made and stored; None (posts are text only) when
    pictures are off or there is no files service to store them in."""
    backend = backend_from_settings(settings)
    if backend is None:
        return None
    if store is None:
        log.warning("characters' posts carry no pictures: set AIC_FILES_URL and AIC_AUTH_URL to store them")
        return None
    return PictureStudio(
        backend,
        store,
        concurrency=settings.picture_concurrency,
        timeout_seconds=settings.picture_timeout_seconds,
    )


def backend_name(settings: SimulatorSettings) -> str:
    """The backend the settings choose: auto takes ComfyUI, then the images API, then the built-in one."""
    if settings.image_backend != "auto":
        return settings.image_backend
    if settings.comfyui_url:
        return "comfyui"
    if settings.images_api_url:
        return "images-api"
    return "builtin"


def backend_from_settings(settings: SimulatorSettings) -> ImageBackend | None:
    """The image backend to use; None when pictures are off. A wrong ComfyUI workflow fails here, at
    start-up, with what is wrong with it."""
    match backend_name(settings):
        case "comfyui":
            from aic_simulator.pictures.comfyui import ComfyUIBackend

            if not settings.comfyui_url:
                raise ValueError("AIC_IMAGE_BACKEND=comfyui needs AIC_COMFYUI_URL")
            return ComfyUIBackend(
                settings.comfyui_url,
                settings.comfyui_workflow,
                timeout_seconds=settings.picture_timeout_seconds,
            )
        case "images-api":
            from aic_simulator.pictures.images_api import ImagesApiBackend

            if not settings.images_api_url:
                raise ValueError("AIC_IMAGE_BACKEND=images-api needs AIC_IMAGES_API_URL")
            return ImagesApiBackend(
                settings.images_api_url,
                settings.images_api_key.get_secret_value(),
                settings.images_api_model,
                timeout_seconds=settings.picture_timeout_seconds,
            )
        case "builtin":
            from aic_simulator.pictures.renderer import BuiltinRenderer

            return BuiltinRenderer()
    return None
