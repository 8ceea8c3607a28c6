"""Settings of the gateway (and of the one-process dev mode it hosts)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from aic_common.settings import ServiceSettings

# Where each service answers, by the path prefixes it owns (DESIGN.md, "Public API").
UPSTREAM_PREFIXES: dict[str, tuple[str, ...]] = {
    "auth": ("/api/auth",),
    "social": (
        "/api/users",
        "/api/posts",
        "/api/comments",
        "/api/feed",
        "/api/conversations",
        "/api/messages",
        "/api/notifications",
        "/api/search",
        "/api/link-preview",
        "/api/reports",
        "/api/admin",
        "/api/bookmarks",
    ),
    "files": ("/api/files",),
    "simulator": ("/api/sim",),
}


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # Base URLs of the services (http://host:port). Empty in dev mode: the apps run in this process.
    auth_url: str = ""
    social_url: str = ""
    files_url: str = ""
    simulator_url: str = ""

    # Timeouts per upstream call; uploads and downloads get longer ones.
    upstream_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    upstream_timeout_seconds: float = Field(default=15.0, gt=0)
    upstream_upload_timeout_seconds: float = Field(default=120.0, gt=0)
    upstream_retries: int = Field(default=2, ge=0, le=5)
    upstream_max_connections: int = Field(default=200, ge=1)

    # Browsers on these origins may call the API (the UI itself is same-origin and needs none).
    cors_origins: list[str] = Field(default_factory=list)

    # Rate limits: requests per minute. Shared by all replicas through Redis when redis_url is set.
    # Counted per client address: the peer, or what a proxy in AIC_TRUSTED_PROXIES says it is.
    redis_url: str = ""
    rate_limit_per_ip: int = Field(default=600, ge=1)
    rate_limit_per_user: int = Field(default=600, ge=1)
    rate_limit_login_per_ip: int = Field(default=20, ge=1)
    rate_limit_register_per_ip: int = Field(default=10, ge=1)
    rate_limit_window_seconds: int = Field(default=60, ge=1)

    # The largest upload body (POST /api/files) let through to the files service: its max_upload_bytes
    # (10 MiB by default) and room for the multipart envelope. Other bodies: max_request_body_bytes.
    max_upload_body_bytes: int = Field(default=10 * 1024 * 1024 + 64 * 1024, ge=1024)

    # Live stream: heartbeat interval and how much history a reconnecting client can catch up on.
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    stream_replay_events: int = Field(default=2000, ge=0)
    stream_replay_seconds: float = Field(default=300.0, ge=0)
    # Open streams at once: per person and per client address on all replicas together (through Redis
    # when redis_url is set), anonymous ones per replica (what one replica's memory and fan-out carry).
    stream_max_per_person: int = Field(default=5, ge=1)
    stream_max_per_address: int = Field(default=20, ge=1)
    stream_max_anonymous: int = Field(default=500, ge=1)
    # A replica renews its streams' places in Redis every third of this; a replica that dies without
    # giving them back loses them after it.
    stream_lease_seconds: float = Field(default=60.0, ge=1)
    # How long a ticket from POST /api/stream/ticket opens a stream (once).
    stream_ticket_seconds: float = Field(default=30.0, gt=0, le=300)

    # The built web UI (services/gateway/web/dist); a placeholder page is served while it is absent.
    web_dist_dir: Path = Path(__file__).resolve().parent.parent / "web" / "dist"

    def upstream_url(self, service: str) -> str:
        return getattr(self, f"{service}_url")
