"""A service uploading an image for a user (the simulator for its characters): the same checks,
re-encoding, thumbnail and quota as the user's own upload; service tokens alone."""

from __future__ import annotations

import uuid

import httpx
import pytest

from aic_common.testing import wait_for

from .conftest import FilesEnv, bearer, decoded, png_bytes, running_files

pytestmark = pytest.mark.integration

UPLOADS = "/api/files/internal/uploads"
SERVICE = bearer("service:simulator", role="service", username="simulator")  # as auth issues it


async def upload_for(
    files: FilesEnv,
    owner_id: str,
    data: bytes,
    *,
    headers: dict[str, str] | None = None,
    content_type: str = "image/png",
) -> httpx.Response:
    return await files.client.post(
        UPLOADS,
        params={"owner_id": owner_id},
        files={"file": ("picture.png", data, content_type)},
        headers=SERVICE if headers is None else headers,
    )


def owner() -> str:
    return str(uuid.uuid4())


async def test_a_service_uploads_an_image_as_its_owner(files: FilesEnv) -> None:
    character = owner()
    created = await upload_for(files, character, png_bytes(80, 60))
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["width"], body["height"], body["content_type"]) == (80, 60, "image/png")

    meta = await files.client.get(f"/api/files/{body['id']}/meta", headers=bearer(character))
    assert meta.json()["owner_id"] == character
    thumbnail = await files.client.get(body["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert max(decoded(thumbnail.content).size) <= files.settings.thumbnail_size
    assert [row.owner_id for row in files.rows()] == [character]

    # Social learns the owner from the usual event.
    uploaded = await wait_for(lambda: [e for e in files.events if e.type == "file.uploaded"])
    assert uploaded[0].data["file_id"] == body["id"] and uploaded[0].data["owner_id"] == character

    # The owner may delete it like any of their files.
    assert (await files.client.delete(body["url"], headers=bearer(character))).status_code == 204


async def test_the_owners_quota_counts(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    small = settings.model_copy(update={"quota_max_files": 2})
    async with running_files(small) as files:
        character = owner()
        assert (await files.upload(png_bytes(), user_id=character)).status_code == 201  # their own
        assert (await upload_for(files, character, png_bytes())).status_code == 201
        third = await upload_for(files, character, png_bytes())
        assert third.status_code == 409 and third.json()["code"] == "quota_exceeded"
        # The quota is the owner's, not the calling service's.
        assert (await upload_for(files, owner(), png_bytes())).status_code == 201
        assert len(files.rows()) == 3


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("not an image", 415, "unsupported_image"),
        ("over the size limit", 413, "file_too_large"),
        ("owner id of another shape", 422, "validation_error"),
        ("no owner id", 422, "validation_error"),
    ],
)
async def test_bad_uploads_are_refused_and_leave_nothing(
    files: FilesEnv, case: str, status: int, code: str
) -> None:
    if case == "not an image":
        response = await upload_for(files, owner(), b"<html><script>alert(1)</script></html>")
    elif case == "over the size limit":
        data = png_bytes() + b"\x00" * (files.settings.max_upload_bytes + 1)
        response = await upload_for(files, owner(), data)
    elif case == "owner id of another shape":
        response = await upload_for(files, "../alice", png_bytes())
    else:
        response = await files.client.post(
            UPLOADS, files={"file": ("a.png", png_bytes(), "image/png")}, headers=SERVICE
        )
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert files.rows() == [] and files.object_keys() == [] and files.spooled() == []


async def test_only_service_tokens_may_upload_for_someone(files: FilesEnv) -> None:
    character = owner()
    for role in ("user", "admin"):
        refused = await upload_for(files, character, png_bytes(), headers=bearer(owner(), role))
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "service_required"
    anonymous = await upload_for(files, character, png_bytes(), headers={})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    # Another service (social, say) has no business storing files in anyone's name.
    social = bearer("service:social", role="service", username="social")
    other_service = await upload_for(files, character, png_bytes(), headers=social)
    assert other_service.status_code == 403 and other_service.json()["code"] == "client_not_allowed"
    assert files.rows() == [] and files.spooled() == []


async def test_the_route_is_not_in_the_api_documents(files: FilesEnv) -> None:
    # The gateway publishes the services' documents and does not forward this route.
    document = (await files.client.get("/openapi.json")).json()
    assert "/api/files" in document["paths"]
    assert not [path for path in document["paths"] if path.startswith("/api/files/internal")]
