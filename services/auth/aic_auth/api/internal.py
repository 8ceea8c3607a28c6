"""Routes only service principals may call."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from aic_auth.api.deps import Service
from aic_auth.schemas import CreateAiAccountRequest, UserPublic
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
