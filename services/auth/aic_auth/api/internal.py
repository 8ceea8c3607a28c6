"""Routes for the other services: those that change something take a service principal; the list of
recent deletions, which every service loads before it can verify a token, is kept from the internet by
the gateway, which does not forward it (and by the network: only the gateway and services reach auth)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from aic_auth.api.deps import Service
from aic_auth.schemas import CreateAiAccountRequest, UserPublic
from aic_common.deleted_accounts import DELETED_ACCOUNTS_PATH, RecentDeletion, RecentDeletions
from aic_common.principals import ServicePrincipal

router = APIRouter(prefix="/api/auth/internal", tags=["internal"])


@router.post("/ai-accounts", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_ai_account(
    body: CreateAiAccountRequest, _: ServicePrincipal, service: Service, response: Response
) -> UserPublic:
    with service.session_factory.begin() as session:
        user, created = service.create_ai_account(
            session, username=body.username, display_name=body.display_name
        )
        if not created:
            response.status_code = status.HTTP_200_OK
        return UserPublic.model_validate(user)


# Not in the API's documents: the gateway, which publishes them, does not serve it.
@router.get(
    DELETED_ACCOUNTS_PATH.removeprefix(router.prefix), response_model=RecentDeletions, include_in_schema=False
)
def deleted_accounts(service: Service, response: Response) -> RecentDeletions:
    """The accounts deleted within the longest access-token lifetime, whose tokens every service refuses
    (aic_common.deleted_accounts)."""
    response.headers["Cache-Control"] = "no-store"
    return RecentDeletions(
        accounts=[
            RecentDeletion(user_id=row.user_id, deleted_at=row.deleted_at)
            for row in service.recent_deletions()
        ]
    )
