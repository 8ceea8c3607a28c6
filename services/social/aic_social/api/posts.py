"""Posts, comments, likes, reposts, bookmarks, reports and feeds."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from aic_social.api.deps import CurrentActor, Cursor, Limit, Service, ViewerId
from aic_social.schemas import (
    CommentCreate,
    CommentPublic,
    Page,
    PostCreate,
    PostPublic,
    ReportCreate,
    RepostCreate,
)
from aic_social.service import parse_id
from aic_social.views import Presenter

router = APIRouter(tags=["posts"])


@router.post("/api/posts", status_code=status.HTTP_201_CREATED, response_model=PostPublic)
def create_post(body: PostCreate, actor: CurrentActor, service: Service) -> PostPublic:
    with service.transaction() as session:
        post, author = service.create_post(
            session, actor, content=body.content, image_ids=body.image_ids, location_id=body.location_id
        )
        return Presenter(session, service.settings, actor.user_id).new_post(post, author)


@router.get("/api/posts/{post_id}", response_model=PostPublic)
def get_post(post_id: str, service: Service, viewer: ViewerId) -> PostPublic:
    with service.reading() as session:
        return Presenter(session, service.settings, viewer).post(service.get_post(session, parse_id(post_id)))


@router.delete("/api/posts/{post_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_post(post_id: str, actor: CurrentActor, service: Service) -> Response:
    with service.transaction() as session:
        service.delete_post(session, actor, parse_id(post_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/posts/{post_id}/comments", status_code=status.HTTP_201_CREATED, response_model=CommentPublic
)
def create_comment(post_id: str, body: CommentCreate, actor: CurrentActor, service: Service) -> CommentPublic:
    with service.transaction() as session:
        comment = service.create_comment(
            session,
            actor,
            post_id=parse_id(post_id),
            content=body.content,
            parent_id=int(body.parent_id) if body.parent_id else None,
        )
        return Presenter(session, service.settings, actor.user_id).comment(comment)


@router.get("/api/posts/{post_id}/comments", response_model=Page[CommentPublic])
def list_comments(
    post_id: str,
    service: Service,
    viewer: ViewerId,
    limit: Limit,
    cursor: Cursor = None,
    parent_id: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{1,19}$", description="list this comment's replies instead"),
    ] = None,
) -> Page[CommentPublic]:
    with service.reading() as session:
        presenter = Presenter(session, service.settings, viewer)
        if parent_id is not None:
            replies, next_cursor = service.replies_of(
                session, parse_id(post_id), parse_id(parent_id, "comment"), cursor=cursor, limit=limit
            )
            return Page(items=presenter.comments(replies), next_cursor=next_cursor)
        top, threads, next_cursor = service.comments_of(
            session, parse_id(post_id), cursor=cursor, limit=limit
        )
        return Page(items=presenter.comments(top, threads), next_cursor=next_cursor)


@router.delete("/api/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_comment(comment_id: str, actor: CurrentActor, service: Service) -> Response:
    with service.transaction() as session:
        service.delete_comment(session, actor, parse_id(comment_id, "comment"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/api/posts/{post_id}/like", status_code=status.HTTP_204_NO_CONTENT)
def like(post_id: str, actor: CurrentActor, service: Service) -> Response:
    with service.transaction() as session:
        service.like(session, actor, parse_id(post_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/api/posts/{post_id}/like", status_code=status.HTTP_204_NO_CONTENT)
def unlike(post_id: str, actor: CurrentActor, service: Service) -> Response:
    with service.transaction() as session:
        service.unlike(session, actor, parse_id(post_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/posts/{post_id}/repost",
    status_code=status.HTTP_201_CREATED,
    response_model=PostPublic,
    responses={200: {"description": "one's plain repost of it already, as it is"}},
)
def repost(
    post_id: str, actor: CurrentActor, service: Service, response: Response, body: RepostCreate | None = None
) -> PostPublic:
    """A repost of the post's original, with an optional quote. One plain repost per person and post
    (asked again: 200 and that one); each quote is a new post. 404: the post or its original is deleted."""
    with service.transaction() as session:
        post, _, created = service.repost(
            session, actor, parse_id(post_id), body.content if body is not None else None
        )
        if not created:
            response.status_code = status.HTTP_200_OK
        return Presenter(session, service.settings, actor.user_id).post(post)


@router.delete("/api/posts/{post_id}/repost", status_code=status.HTTP_204_NO_CONTENT)
def undo_repost(post_id: str, actor: CurrentActor, service: Service) -> Response:
    """Takes back one's plain repost of the post (none: nothing to do). A quote goes as a post does."""
    with service.transaction() as session:
        service.undo_repost(session, actor, parse_id(post_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/api/posts/{post_id}/bookmark", status_code=status.HTTP_204_NO_CONTENT)
def bookmark(post_id: str, actor: CurrentActor, service: Service) -> Response:
    with service.transaction() as session:
        service.bookmark(session, actor, parse_id(post_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/api/posts/{post_id}/bookmark", status_code=status.HTTP_204_NO_CONTENT)
def unbookmark(post_id: str, actor: CurrentActor, service: Service) -> Response:
    with service.transaction() as session:
        service.unbookmark(session, actor, parse_id(post_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/bookmarks", response_model=Page[PostPublic])
def list_bookmarks(
    actor: CurrentActor, service: Service, limit: Limit, cursor: Cursor = None
) -> Page[PostPublic]:
    """The caller's bookmarked posts, the latest bookmarked first (deleted posts drop out)."""
    with service.reading() as session:
        posts, next_cursor = service.bookmarks(session, actor, cursor=cursor, limit=limit)
        return Page(
            items=Presenter(session, service.settings, actor.user_id).posts(posts), next_cursor=next_cursor
        )


@router.post("/api/posts/{post_id}/report", status_code=status.HTTP_201_CREATED)
def report(post_id: str, body: ReportCreate, actor: CurrentActor, service: Service) -> dict[str, str]:
    with service.transaction() as session:
        created = service.report(session, actor, parse_id(post_id), body.reason)
        return {"id": str(created.id)}


@router.get("/api/feed/home", response_model=Page[PostPublic])
def home_feed(actor: CurrentActor, service: Service, limit: Limit, cursor: Cursor = None) -> Response:
    with service.reading() as session:
        rows, next_cursor = service.home_feed(session, actor, cursor=cursor, limit=limit)
        return Presenter(session, service.settings, actor.user_id).timeline_page(rows, next_cursor)


@router.get("/api/feed/explore", response_model=Page[PostPublic])
def explore_feed(
    service: Service,
    viewer: ViewerId,
    limit: Limit,
    cursor: Cursor = None,
    order: Annotated[
        Literal["popular", "latest"],
        Query(description="popular: ranked by engagement that decays with age; latest: newest first"),
    ] = "popular",
) -> Page[PostPublic]:
    page_of = service.latest_feed if order == "latest" else service.explore_feed
    with service.reading() as session:
        posts, next_cursor = page_of(session, cursor=cursor, limit=limit)
        return Page(items=Presenter(session, service.settings, viewer).posts(posts), next_cursor=next_cursor)
