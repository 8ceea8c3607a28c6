"""Previews of pages that posts and messages link to (aic_social.link_previews)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from aic_common.errors import NotFound
from aic_social.link_previews import LinkPreviewer
from aic_social.schemas import LinkPreviewPublic

router = APIRouter(tags=["link previews"])


async def get_previewer(request: Request) -> LinkPreviewer:
    return request.app.state.link_previewer


@router.get(
    "/api/link-preview",
    response_model=LinkPreviewPublic,
    responses={404: {"description": "no preview: the page cannot or may not be fetched, or has no title"}},
)
def link_preview(
    previewer: Annotated[LinkPreviewer, Depends(get_previewer)],
    response: Response,
    url: Annotated[str, Query(min_length=1, max_length=2048, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://")],
) -> LinkPreviewPublic:
    # A plain def: the fetch blocks (within its time limit) on the thread pool, not the event loop.
    preview = previewer.preview(url)
    if preview is None:
        # Every refusal is the same answer, so that nobody learns through it what answers where.
        raise NotFound("No preview of this link", code="no_preview")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return LinkPreviewPublic(
        url=preview.url, site_name=preview.site_name, title=preview.title, description=preview.description
    )
