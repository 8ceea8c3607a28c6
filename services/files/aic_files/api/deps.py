"""Dependencies shared by the files routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aic_files.service import FilesService


async def get_service(request: Request) -> FilesService:
    return request.app.state.files_service


Service = Annotated[FilesService, Depends(get_service)]
