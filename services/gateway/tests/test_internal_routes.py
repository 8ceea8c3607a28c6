"""Routes for the services alone are not forwarded by the gateway, however their path is spelt."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from aic_common.bus import InProcessBus
from aic_common.testing import app_lifespan
from aic_gateway.app import create_app
from aic_gateway.edge import is_internal
from aic_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration

FILE_ID = "0b7f3c1e-2a4d-4e8f-9c6b-5d1a2e3f4a5b"


def recording_files() -> FastAPI:
    """Stands in for the files service: answers every path and keeps what reached it."""
    app = FastAPI(openapi_url=None)
    app.state.received = []

    @app.api_route("/api/files/{rest:path}", methods=["GET", "POST"])
    async def anything(request: Request, rest: str) -> JSONResponse:
        app.state.received.append(f"{request.method} {request.url.path}")
        return JSONResponse({"path": request.url.path}, status_code=201 if request.method == "POST" else 200)

    return app


@pytest.mark.parametrize(
    "path",
    [
        "/api/files/internal/uploads",
        "/api/files/internal/uploads/",
        "/api/files/internal",
        "/api/files/internal%2Fuploads",  # the service decodes %2F into a slash
        "/api/files/internal/other-route",
    ],
)
async def test_files_internal_routes_are_404_at_the_gateway(tmp_path: Path, path: str) -> None:
    files = recording_files()
    app = create_app(
        GatewaySettings(data_dir=tmp_path), service_apps={"files": files}, shared_bus=InProcessBus("t")
    )
    async with (
        app_lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        for method in ("POST", "GET"):
            response = await client.request(
                method,
                path,
                params={"owner_id": FILE_ID},
                files={"file": ("a.png", b"\x89PNG", "image/png")} if method == "POST" else None,
            )
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["code"] == "not_found"
        assert files.state.received == [], "nothing reached the files service"

        # The public routes of files still go through.
        assert (await client.get(f"/api/files/{FILE_ID}")).status_code == 200
        assert files.state.received == [f"GET /api/files/{FILE_ID}"]


def test_which_routes_are_internal() -> None:
    assert is_internal("/api/files/internal/uploads") and is_internal("/api/files/internal/")
    assert is_internal("/api/auth/internal/deleted-accounts/")
    assert not is_internal("/api/files/internals") and not is_internal(f"/api/files/{FILE_ID}")
    assert not is_internal("/api/files")
