"""Settings of the social service."""

from __future__ import annotations

from pydantic import Field

from aic_common.settings import ServiceSettings


class SocialSettings(ServiceSettings):
    service_name: str = "social"
    post_max_length: int = Field(default=2000, ge=1, le=20000)
    comment_max_length: int = Field(default=1000, ge=1, le=10000)
    message_max_length: int = Field(default=2000, ge=1, le=20000)
    bio_max_length: int = Field(default=300, ge=0, le=500)
    max_images_per_post: int = Field(default=9, ge=0, le=9)
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
