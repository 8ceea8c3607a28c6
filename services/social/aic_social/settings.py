"""Settings of the social service."""

from __future__ import annotations

from pydantic import Field, model_validator

from aic_common.settings import Environment, ServiceSettings


class SocialSettings(ServiceSettings):
    service_name: str = "social"
    post_max_length: int = Field(default=2000, ge=1, le=20000)
    comment_max_length: int = Field(default=1000, ge=1, le=10000)
    message_max_length: int = Field(default=2000, ge=1, le=20000)
    bio_max_length: int = Field(default=300, ge=0, le=500)
    max_images_per_post: int = Field(default=9, ge=0, le=9)
    max_images_per_message: int = Field(default=4, ge=0, le=9)
    # A character's post command may come before the file.uploaded of its pictures (another queue): it
    # waits this long for them to be known before it is judged (aic_social.messaging).
    command_image_wait_seconds: float = Field(default=15.0, ge=0, le=300)
    page_size_default: int = Field(default=20, ge=1, le=100)
    page_size_max: int = Field(default=50, ge=1, le=200)
    # A comment in a page of comments carries this many of its replies; the rest come a page at a time.
    replies_per_comment: int = Field(default=3, ge=1, le=50)
    # Explore ranks posts of this many recent hours by engagement that decays with age.
    explore_window_hours: int = Field(default=72, ge=1)
    explore_gravity: float = Field(default=1.5, gt=0)
    # The ranking is made at most once per this many seconds and kept (aic_social.explore): how long
    # a new post or like may wait to move explore.
    explore_refresh_seconds: float = Field(default=10.0, gt=0)
    # How many posts a ranking holds: how deep explore goes.
    explore_ranking_size: int = Field(default=500, ge=1, le=10_000)
    # A ranking stays this long for readers paging through it (a cursor of one gone goes on in the newest).
    explore_ranking_retention_minutes: float = Field(default=30.0, gt=0)
    # A notification its reader has seen goes this long after it was read; unread ones stay.
    read_notification_retention_days: float = Field(default=90.0, gt=0)
    # Where the files service serves an image; social only builds links to it.
    files_url_prefix: str = "/api/files"

    # Link previews (aic_social.link_previews): the social service fetches a page a post links to, within
    # these limits; docs/security.md explains each.
    link_preview_enabled: bool = True
    link_preview_timeout_seconds: float = Field(default=3.0, gt=0, le=10)
    link_preview_max_bytes: int = Field(default=256 * 1024, ge=1024, le=2 * 1024 * 1024)
    link_preview_max_redirects: int = Field(default=3, ge=0, le=5)
    link_preview_cache_size: int = Field(default=1000, ge=0, le=100_000)
    link_preview_cache_seconds: float = Field(default=3600.0, ge=0)
    link_preview_failure_cache_seconds: float = Field(default=300.0, ge=0)
    # For tests alone: lets the fetcher reach loopback addresses (127.0.0.0/8, ::1) on any port, so a
    # test can serve the page itself. Every other refused range stays refused; never set in production.
    link_preview_allow_loopback: bool = False

    @model_validator(mode="after")
    def _loopback_previews_only_in_tests(self) -> SocialSettings:
        if self.link_preview_allow_loopback and self.env == Environment.prod:
            raise ValueError(
                "AIC_LINK_PREVIEW_ALLOW_LOOPBACK is for tests and cannot be set when AIC_ENV=prod"
            )
        return self
