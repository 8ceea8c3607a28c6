"""One error shape for every service: ``{"detail": ..., "code": ...}``.

Service code raises :class:`AppError` (or one of its subclasses); :func:`install_error_handlers`
turns it, FastAPI's validation errors, Starlette's HTTP errors and database outages into that shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def code_for_status(status: int) -> str:
    return _CODE_OF_STATUS.get(status, "error")


class AppError(Exception):
    """An error the client caused or should know about, with a stable machine-readable code."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: Any,
        *,
        code: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, detail: Any = "Not authenticated", *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": "Bearer"})


class InvalidInput(AppError):
    status_code = 422
    code = "validation_error"


class TooManyRequests(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: Any, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"


def error_response(
    status_code: int, detail: Any, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "code": code or code_for_status(status_code)},
        status_code=status_code,
        headers=headers,
    )


# The error shape in OpenAPI terms: every operation documents it for 422 and as its default response.
_ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "title": "Error",
        "description": "Every error: what went wrong for people, a stable code for programs.",
        "type": "object",
        "required": ["detail", "code"],
        "properties": {
            "detail": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"$ref": "#/components/schemas/ValidationIssue"}},
                ]
            },
            "code": {"type": "string"},
        },
    },
    "ValidationIssue": {
        "title": "ValidationIssue",
        "type": "object",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
    },
}
# FastAPI's own description of a 422, which our handlers never send (they send the shape above).
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def document_error_responses(openapi: dict[str, Any]) -> dict[str, Any]:
    """``openapi`` with the common error shape documented on every operation: as the body of a 422
    (instead of FastAPI's, which our handlers do not send) and as the default response (401, 403, 404,
    409, 429, 503 ... all share it)."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for item in openapi.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses["422"] = {"description": "The request is not valid", "content": error}
            responses.setdefault(
                "default", {"description": "An error, in the common shape", "content": error}
            )
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas.update(_ERROR_SCHEMAS)
    return openapi


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Keep what helps a client fix the request; drop the echoed input (it may be a password).
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return error_response(exc.status_code, exc.detail, exc.code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_detail(exc), "validation_error")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, exc.detail, None, getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.orig)
        return error_response(
            503, "The database is unavailable; try again shortly", "service_unavailable", {"Retry-After": "5"}
        )

    @app.exception_handler(DBAPIError)
    async def _db_error(_: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return error_response(503, "The database connection was lost; try again", "service_unavailable")
        log.exception("database error")
        return error_response(500, "Internal error", "internal_error")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "Internal error", "internal_error")
