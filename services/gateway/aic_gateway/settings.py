"""Settings of the gateway (and of the one-process dev mode it hosts)."""

from __future__ import annotations

from pydantic import Field

from aic_common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
