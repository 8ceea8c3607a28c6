"""Dependencies shared by the social routes.

Each is ``async`` although none awaits: FastAPI runs a plain ``def`` dependency on the thread pool, a
thread hop per dependency per request for what is a lookup (tests/test_app_dependencies.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from aic_common.errors import Forbidden
from aic_common.principals import CurrentPrincipal, OptionalPrincipal
from aic_social.service import Actor, SocialService


async def get_service(request: Request) -> SocialService:
    return request.app.state.social_service


Service = Annotated[SocialService, Depends(get_service)]


async def current_actor(principal: CurrentPrincipal) -> Actor:
    if principal.is_service:
        raise Forbidden("Services act through commands on the broker, not this API", code="not_a_person")
    return Actor(user_id=principal.user_id, role=principal.role, is_ai=principal.is_ai)


async def viewer_id(principal: OptionalPrincipal) -> str | None:
    return principal.user_id if principal is not None and not principal.is_service else None


async def viewer(principal: OptionalPrincipal) -> Actor | None:
    """Who reads, when a person is signed in (their role decides what else they see)."""
    if principal is None or principal.is_service:
        return None
    return Actor(user_id=principal.user_id, role=principal.role, is_ai=principal.is_ai)


CurrentActor = Annotated[Actor, Depends(current_actor)]
ViewerId = Annotated[str | None, Depends(viewer_id)]
Viewer = Annotated[Actor | None, Depends(viewer)]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")]


async def page_limit(request: Request, limit: int | None = Query(default=None, ge=1, le=200)) -> int:
    settings = request.app.state.social_service.settings
    return min(limit or settings.page_size_default, settings.page_size_max)


Limit = Annotated[int, Depends(page_limit)]
