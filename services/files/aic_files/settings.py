"""Settings of the files service."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from aic_common.settings import PLACEHOLDER_SECRETS, ServiceSettings

MB = 1 << 20


class FilesSettings(ServiceSettings):
    service_name: str = "files"

    # Object storage. An S3 endpoint (MinIO, S3, moto) when s3_endpoint_url is set; otherwise a local
    # directory (embedded mode), storage_dir or <data_dir>/files.
    s3_endpoint_url: str = ""
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = Field(default="aic-files", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    s3_region: str = "us-east-1"
    s3_timeout_seconds: float = Field(default=10.0, gt=0)
    storage_dir: Path | None = None
    # Where an upload is spooled while it is checked; a writable emptyDir in a read-only container.
    spool_dir: Path | None = None

    # Downloads redirect to a short-lived presigned URL instead of streaming through the service.
    presigned_downloads: bool = False
    presigned_url_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    cache_max_age_seconds: int = Field(default=86400, ge=0)

    max_upload_bytes: int = Field(default=10 * MB, ge=1024)
    # Decoded pixels cost ~4 bytes each: 36 MP is ~150 MB while one image is re-encoded.
    max_image_pixels: int = Field(default=36_000_000, ge=1)
    max_animation_frames: int = Field(default=300, ge=1)
    max_animation_pixels: int = Field(default=100_000_000, ge=1)  # width * height * frames
    max_concurrent_processing: int = Field(default=2, ge=1)  # bounds the memory decoding takes
    jpeg_quality: int = Field(default=88, ge=50, le=95)
    thumbnail_size: int = Field(default=320, ge=32, le=2048)

    # Service clients that may store a file in someone else's name (files' internal upload): the simulator,
    # for its characters' pictures. Another service's token is refused there.
    upload_for_others_clients: list[str] = Field(default_factory=lambda: ["simulator"])

    quota_max_files: int = Field(default=1000, ge=1)
    quota_max_bytes: int = Field(default=500 * MB, ge=1024)

    # Uploads never attached to a post or a profile are removed after this long.
    orphan_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    orphan_sweep_interval_seconds: float = Field(default=600.0, gt=0)
    orphan_sweep_batch: int = Field(default=200, ge=1)

    @property
    def uses_s3(self) -> bool:
        return bool(self.s3_endpoint_url)

    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "files"

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError("s3_endpoint_url must look like http(s)://host:port, without a path")
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_s3_keys(self) -> FilesSettings:
        # Checked here rather than through secret_fields: the keys are only secrets when S3 is used.
        if self.is_dev or not self.uses_s3:
            return self
        for name in ("s3_access_key", "s3_secret_key"):
            if getattr(self, name).get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    f"AIC_{name.upper()} must be set to a real secret when AIC_ENV={self.env.value}"
                )
        return self
