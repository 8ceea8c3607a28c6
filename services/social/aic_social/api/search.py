"""Search and moderation."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query

from aic_social import search as index
from aic_social.api.deps import CurrentActor, Cursor, Limit, Service, Viewer
from aic_social.models import Post
from aic_social.schemas import Page, ReportPublic, ReportResolve, SearchResults
from aic_social.service import parse_id
from aic_social.views import Presenter

router = APIRouter(tags=["search"])


@router.get("/api/search", response_model=SearchResults)
def search(
    q: Annotated[str, Query(min_length=1, max_length=100)],
    service: Service,
    viewer: Viewer,
    limit: Limit,
    type: Literal["all", "posts", "users"] = "all",
) -> SearchResults:
    with service.reading() as session:
        presenter = Presenter.for_viewer(session, service.settings, viewer)
        posts, users = [], []
        if type in ("all", "posts"):
            ranked = [int(doc) for doc, _ in index.search(session, index.POST, q, limit=limit)]
            found = {
                p.id: p
                for p in session.scalars(
                    sa.select(Post).where(Post.id.in_(ranked), Post.deleted_at.is_(None))
                )
            }
            posts = presenter.posts([found[i] for i in ranked if i in found])
        if type in ("all", "users"):
            users = presenter.profiles(service.search_people(session, q, limit=limit))
        return SearchResults(posts=posts, users=users)


@router.get("/api/admin/reports", response_model=Page[ReportPublic])
def reports(
    actor: CurrentActor, service: Service, limit: Limit, cursor: Cursor = None, open_only: bool = True
) -> Page[ReportPublic]:
    with service.reading() as session:
        items, next_cursor = service.reports(session, actor, open_only=open_only, cursor=cursor, limit=limit)
        return Page(
            items=Presenter(session, service.settings, actor.user_id).reports(items), next_cursor=next_cursor
        )


@router.post("/api/admin/reports/{report_id}/resolve", response_model=ReportPublic)
def resolve(report_id: str, body: ReportResolve, actor: CurrentActor, service: Service) -> ReportPublic:
    with service.transaction() as session:
        report = service.resolve_report(session, actor, parse_id(report_id, "report"), body.action)
        return Presenter(session, service.settings, actor.user_id).reports([report])[0]
