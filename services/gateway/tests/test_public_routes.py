"""Which API routes the edge lets through without a token: reading the town signed out, nothing more."""

from __future__ import annotations

import pytest

from aic_gateway.edge import is_public


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/users/suggestions"),
        ("HEAD", "/api/users/suggestions"),
        ("GET", "/api/feed/explore"),
        ("GET", "/api/users/lin_mei"),
        ("GET", "/api/users/lin_mei/posts"),
        ("GET", "/api/posts/12"),
        ("GET", "/api/posts/12/comments"),
        ("GET", "/api/search"),
        ("GET", "/api/link-preview"),
        ("GET", "/api/sim/world"),
        ("GET", "/api/sim/actions"),
        ("GET", "/api/sim/events"),
    ],
)
def test_reading_the_town_needs_no_token(method: str, path: str) -> None:
    assert is_public(method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/users/suggestions"),
        ("GET", "/api/users/suggestions/more"),
        ("POST", "/api/users/lin_mei/follow"),
        ("DELETE", "/api/users/lin_mei/follow"),
        ("POST", "/api/posts/12/like"),
        ("GET", "/api/feed/home"),
        ("GET", "/api/messages/conversations"),
        ("GET", "/api/notifications"),
        ("PATCH", "/api/users/me"),
        ("POST", "/api/link-preview"),
        ("GET", "/api/link-preview/more"),
    ],
)
def test_writing_and_private_reading_need_a_token(method: str, path: str) -> None:
    assert not is_public(method, path)
