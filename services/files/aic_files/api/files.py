"""Public routes under /api/files."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import anyio
from fastapi import APIRouter, Request, Response, status
from fastapi.responses import RedirectResponse, StreamingResponse

from aic_common.db import run_in_thread
from aic_common.errors import NotFound
from aic_common.principals import CurrentPrincipal
from aic_files.api.deps import Service
from aic_files.schemas import FileMetadata, FilePublic
from aic_files.service import FilesService, content_disposition, display_filename, thumbnail_filename
from aic_files.storage import ObjectMissing
from aic_files.upload import receive_upload

router = APIRouter(prefix="/api/files", tags=["files"])

_FILE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Even opened directly as a page, a stored file can run nothing.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FilePublic,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def upload(request: Request, principal: CurrentPrincipal, service: Service) -> FilePublic:
    """Upload a JPEG, PNG, WebP or GIF image as the multipart part ``file``."""
    return await store_upload(request, service, principal.user_id)


async def store_upload(request: Request, service: FilesService, owner_id: str) -> FilePublic:
    """Receive the request's ``file`` part and store it as ``owner_id``'s, within that owner's quota:
    a person's own upload and one a service makes for a character (aic_files.api.internal)."""
    settings = service.settings
    await run_in_thread(service.check_quota, owner_id)
    received = await receive_upload(
        request, max_bytes=settings.max_upload_bytes, spool_dir=settings.spool_dir
    )
    try:
        # Decoding takes memory in proportion to pixels: only a few at a time.
        async with request.app.state.processing_slots:
            record = await run_in_thread(service.upload, owner_id, received.path, received.filename)
    finally:
        await run_in_thread(lambda: received.path.unlink(missing_ok=True))
    return service.public(record)


@router.get("/{file_id}/meta", response_model=FileMetadata)
def metadata(file_id: str, _: CurrentPrincipal, service: Service) -> FileMetadata:
    return service.metadata(service.get(_checked_id(file_id)))


@router.get("/{file_id}", response_class=Response)
@router.head("/{file_id}", response_class=Response, include_in_schema=False)
async def download(file_id: str, request: Request, service: Service) -> Response:
    return await _serve(request, service, file_id, thumbnail=False)


@router.get("/{file_id}/thumbnail", response_class=Response)
@router.head("/{file_id}/thumbnail", response_class=Response, include_in_schema=False)
async def download_thumbnail(file_id: str, request: Request, service: Service) -> Response:
    return await _serve(request, service, file_id, thumbnail=True)


@router.delete("/{file_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(file_id: str, principal: CurrentPrincipal, service: Service) -> Response:
    service.delete(_checked_id(file_id), principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _checked_id(file_id: str) -> str:
    if not _FILE_ID.fullmatch(file_id):
        raise NotFound("No such file", code="file_not_found")
    return file_id


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [part.strip().removeprefix("W/") for part in header.split(",")]
    return "*" in candidates or etag in candidates


async def _serve(request: Request, service: FilesService, file_id: str, *, thumbnail: bool) -> Response:
    record = await run_in_thread(service.get, _checked_id(file_id))
    key = record.thumbnail_key if thumbnail else record.object_key
    content_type = record.thumbnail_content_type if thumbnail else record.content_type
    sha256 = record.thumbnail_sha256 if thumbnail else record.sha256
    size = record.thumbnail_size if thumbnail else record.size
    filename = thumbnail_filename(record) if thumbnail else display_filename(record)
    etag = f'"{sha256}"'
    settings = service.settings
    headers = {
        "ETag": etag,
        # A file id always names the same bytes: caches may keep it as long as they like.
        "Cache-Control": f"public, max-age={settings.cache_max_age_seconds}, immutable",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        "Content-Disposition": content_disposition(filename),
    }
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    if request.method == "HEAD":
        return Response(headers={**headers, "Content-Length": str(size)}, media_type=content_type)
    if settings.presigned_downloads:
        url = await run_in_thread(
            lambda: service.storage.presigned_url(
                key,
                ttl=timedelta(seconds=settings.presigned_url_ttl_seconds),
                content_type=content_type,
                disposition=headers["Content-Disposition"],
            )
        )
        if url is not None:
            # The URL expires: the redirect itself must not be cached longer than it lives.
            return RedirectResponse(url, status_code=status.HTTP_307_TEMPORARY_REDIRECT, headers={
                "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
            })  # fmt: skip
    try:
        stream = await run_in_thread(service.storage.open, key)
    except ObjectMissing as exc:
        raise NotFound("The file's content is gone", code="file_content_missing") from exc

    async def body() -> AsyncIterator[bytes]:
        iterator = iter(stream)
        try:
            while True:
                chunk = await anyio.to_thread.run_sync(next, iterator, None)
                if chunk is None:
                    return
                yield chunk
        finally:
            with contextlib.suppress(Exception):
                await run_in_thread(stream.close)

    return StreamingResponse(
        body(), media_type=content_type, headers={**headers, "Content-Length": str(size)}
    )
