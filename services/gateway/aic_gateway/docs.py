"""One OpenAPI document for the whole public API, merged from the services' own, and its docs page.

Fetched from the services through the same upstream clients the proxy uses, cached briefly. Schema
names that two services use for different shapes are prefixed with the service's name, with the
references inside that service's paths rewritten to match.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

log = logging.getLogger(__name__)
CACHE_SECONDS = 60.0


def merge_openapi(documents: dict[str, dict[str, Any]], own: dict[str, Any]) -> dict[str, Any]:
    """Merge the services' documents (name -> document) into ``own`` (the gateway's)."""
    merged: dict[str, Any] = {
        "openapi": own.get("openapi", "3.1.0"),
        "info": {"title": "AI Community API", "version": own.get("info", {}).get("version", "0.1.0")},
        "paths": dict(own.get("paths", {})),
        "components": {"schemas": dict(own.get("components", {}).get("schemas", {}))},
        "tags": [],
    }
    schemes: dict[str, Any] = dict(own.get("components", {}).get("securitySchemes", {}))
    for name, document in sorted(documents.items()):
        schemas = document.get("components", {}).get("schemas", {})
        renames = {
            schema: f"{name.capitalize()}{schema}"
            for schema, body in schemas.items()
            if schema in merged["components"]["schemas"] and merged["components"]["schemas"][schema] != body
        }
        text = json.dumps({"paths": document.get("paths", {}), "schemas": schemas})
        for old, new in renames.items():
            text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
        renamed = json.loads(text)
        for schema, body in renamed["schemas"].items():
            merged["components"]["schemas"][renames.get(schema, schema)] = body
        for path, item in renamed["paths"].items():
            if path.startswith("/api/"):  # health and metrics are not public API
                merged["paths"][path] = item
        schemes.update(document.get("components", {}).get("securitySchemes", {}))
        merged["tags"].append({"name": name, "description": f"served by the {name} service"})
    if schemes:
        merged["components"]["securitySchemes"] = schemes
    return merged


def docs_router(app_openapi: Any) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cache: dict[str, Any] = {"at": float("-inf"), "doc": None}

    @router.get("/api/openapi.json")
    async def openapi(request: Request) -> JSONResponse:
        if cache["doc"] is None or time.monotonic() - cache["at"] > CACHE_SECONDS:
            documents: dict[str, dict[str, Any]] = {}
            for name, upstream in request.app.state.gateway.upstreams.items():
                try:
                    response = await upstream.client.get("/openapi.json", timeout=5.0)
                    response.raise_for_status()
                    documents[name] = response.json()
                except Exception as exc:  # one service down must not hide the others' API
                    log.warning("no OpenAPI document from %s: %r", name, exc)
            cache["doc"], cache["at"] = merge_openapi(documents, app_openapi()), time.monotonic()
        return JSONResponse(cache["doc"])

    @router.get("/api/docs")
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="AI Community API",
            swagger_js_url="/api/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/api/docs/static/swagger-ui.css",
            swagger_favicon_url="/api/docs/static/favicon-32x32.png",
        )

    return router


def docs_static() -> StaticFiles:
    # Served by us, not a CDN: the docs work offline and under our CSP.
    return StaticFiles(directory=swagger_ui_path)
