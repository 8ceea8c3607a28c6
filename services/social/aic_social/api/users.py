"""Profiles and follows: /api/users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from aic_social.api.deps import CurrentActor, Cursor, Limit, Service, Viewer, ViewerId
from aic_social.schemas import Page, PostPublic, ProfilePublic, ProfileUpdate
from aic_social.service import Actor
from aic_social.views import Presenter

router = APIRouter(prefix="/api/users", tags=["users"])


@router.patch("/me", response_model=ProfilePublic)
def update_me(body: ProfileUpdate, actor: CurrentActor, service: Service) -> ProfilePublic:
    with service.transaction() as session:
        profile = service.update_profile(
            session, actor, bio=body.bio, avatar_file_id=body.avatar_file_id, remove_avatar=body.remove_avatar
        )
        return Presenter(session, service.settings, actor.user_id).profile(profile)


# Declared before /{username}: otherwise "suggestions" would be looked up as a username.
@router.get("/suggestions", response_model=list[ProfilePublic])
def suggestions(
    service: Service, viewer: Viewer, limit: Annotated[int, Query(ge=1, le=20)] = 10
) -> list[ProfilePublic]:
    """Whom to follow: characters and active people the caller does not follow yet (anyone may ask)."""
    with service.reading() as session:
        people = service.suggestions(session, viewer.user_id if viewer else None, limit=limit)
        return Presenter.for_viewer(session, service.settings, viewer).profiles(people)


@router.get("/{username}", response_model=ProfilePublic)
def get_profile(username: str, service: Service, viewer: Viewer) -> ProfilePublic:
    with service.reading() as session:
        return Presenter.for_viewer(session, service.settings, viewer).profile(
            service.profile_by_username(session, username)
        )


@router.get("/{username}/posts", response_model=Page[PostPublic])
def user_posts(
    username: str, service: Service, viewer: ViewerId, limit: Limit, cursor: Cursor = None
) -> Response:
    with service.reading() as session:
        author = service.profile_by_username(session, username)
        rows, next_cursor = service.user_posts(session, author, viewer, cursor=cursor, limit=limit)
        return Presenter(session, service.settings, viewer).timeline_page(rows, next_cursor)


@router.post("/{username}/follow", status_code=status.HTTP_204_NO_CONTENT)
def follow(username: str, actor: CurrentActor, service: Service) -> Response:
    with service.transaction() as session:
        service.follow(session, actor, service.profile_by_username(session, username))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{username}/follow", status_code=status.HTTP_204_NO_CONTENT)
def unfollow(username: str, actor: CurrentActor, service: Service) -> Response:
    with service.transaction() as session:
        service.unfollow(session, actor, service.profile_by_username(session, username))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _follow_list(
    username: str, service: Service, viewer: Actor | None, limit: int, cursor: str | None, *, followers: bool
) -> Page[ProfilePublic]:
    with service.reading() as session:
        profile = service.profile_by_username(session, username)
        people, next_cursor = service.connections(
            session, profile, followers=followers, cursor=cursor, limit=limit
        )
        return Page(
            items=Presenter.for_viewer(session, service.settings, viewer).profiles(people),
            next_cursor=next_cursor,
        )


@router.get("/{username}/followers", response_model=Page[ProfilePublic])
def followers(
    username: str, service: Service, viewer: Viewer, limit: Limit, cursor: Cursor = None
) -> Page[ProfilePublic]:
    return _follow_list(username, service, viewer, limit, cursor, followers=True)


@router.get("/{username}/following", response_model=Page[ProfilePublic])
def following(
    username: str, service: Service, viewer: Viewer, limit: Limit, cursor: Cursor = None
) -> Page[ProfilePublic]:
    return _follow_list(username, service, viewer, limit, cursor, followers=False)
