"""The gateway's FastAPI app: the single entry point of the system."""

from __future__ import annotations

from fastapi import FastAPI

from aic_common.web import create_service_app
from aic_gateway.settings import GatewaySettings


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    return create_service_app(settings, title="AI Community")
