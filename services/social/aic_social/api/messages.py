"""Direct messages and notifications."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from aic_social.api.deps import CurrentActor, Cursor, Limit, Service
from aic_social.schemas import (
    ConversationPublic,
    MarkRead,
    MessageCreate,
    MessagePublic,
    NotificationPage,
    Page,
    UnreadConversations,
)
from aic_social.views import Presenter

router = APIRouter(tags=["messages"])


@router.post("/api/messages", status_code=status.HTTP_201_CREATED, response_model=MessagePublic)
def send_message(body: MessageCreate, actor: CurrentActor, service: Service) -> MessagePublic:
    with service.transaction() as session:
        recipient = service.profile_by_username(session, body.to)
        message = service.send_message(
            session, actor, to=recipient, content=body.content, image_ids=body.image_ids
        )
        return Presenter(session, service.settings, actor.user_id).message(message)


@router.get("/api/conversations", response_model=Page[ConversationPublic])
def conversations(
    actor: CurrentActor, service: Service, limit: Limit, cursor: Cursor = None
) -> Page[ConversationPublic]:
    with service.reading() as session:
        members, next_cursor = service.conversations(session, actor, cursor=cursor, limit=limit)
        return Page(
            items=Presenter(session, service.settings, actor.user_id).conversations(members),
            next_cursor=next_cursor,
        )


@router.get("/api/conversations/unread", response_model=UnreadConversations)
def unread_conversations(actor: CurrentActor, service: Service) -> UnreadConversations:
    with service.reading() as session:
        return UnreadConversations(unread_conversations=service.unread_conversations(session, actor))


@router.get("/api/conversations/{username}/messages", response_model=Page[MessagePublic])
def history(
    username: str, actor: CurrentActor, service: Service, limit: Limit, cursor: Cursor = None
) -> Page[MessagePublic]:
    # Only one's own conversations exist here: the pair is (caller, username), never anyone else's.
    with service.transaction() as session:
        other = service.profile_by_username(session, username)
        messages, next_cursor = service.history(session, actor, other, cursor=cursor, limit=limit)
        return Page(
            items=Presenter(session, service.settings, actor.user_id).messages(messages),
            next_cursor=next_cursor,
        )


@router.get("/api/notifications", response_model=NotificationPage)
def notifications(
    actor: CurrentActor, service: Service, limit: Limit, cursor: Cursor = None
) -> NotificationPage:
    with service.reading() as session:
        items, next_cursor, unread = service.notifications(session, actor, cursor=cursor, limit=limit)
        return NotificationPage(
            items=Presenter(session, service.settings, actor.user_id).notifications(items),
            next_cursor=next_cursor,
            unread_count=unread,
        )


@router.post("/api/notifications/read", status_code=status.HTTP_204_NO_CONTENT)
def mark_read(body: MarkRead, actor: CurrentActor, service: Service) -> Response:
    with service.transaction() as session:
        service.mark_read(session, actor, body.ids)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
