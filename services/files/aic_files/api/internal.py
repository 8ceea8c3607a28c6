"""Routes for the other services alone: they take a service principal, and the gateway does not forward
them (aic_gateway.edge); the network lets only the gateway and the simulator reach files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from aic_common.errors import Forbidden
from aic_common.principals import ServicePrincipal
from aic_files.api.deps import Service
from aic_files.api.files import store_upload
from aic_files.schemas import FilePublic

router = APIRouter(prefix="/api/files/internal", tags=["internal"])

UPLOADS_PATH = f"{router.prefix}/uploads"
# Auth's user ids: a UUID in its canonical form.
USER_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


# Not in the API's documents: the gateway, which publishes them, does not serve it.
@router.post(
    UPLOADS_PATH.removeprefix(router.prefix),
    status_code=status.HTTP_201_CREATED,
    response_model=FilePublic,
    include_in_schema=False,
)
async def upload_for(
    request: Request,
    principal: ServicePrincipal,
    service: Service,
    owner_id: Annotated[str, Query(pattern=USER_ID_PATTERN, description="The user the file is for")],
) -> FilePublic:
    """Upload an image as ``owner_id`` (the simulator, for its characters): checked, re-encoded and
    counted against that user's quota exactly as the user's own upload. Only the services named in
    AIC_UPLOAD_FOR_OTHERS_CLIENTS may: least privilege for the others' tokens."""
    if principal.username not in service.settings.upload_for_others_clients:
        raise Forbidden("This service may not store files for others", code="client_not_allowed")
    return await store_upload(request, service, owner_id)
