"""The files service over HTTP, on SQLite + in-process bus + a local directory and on MariaDB +
RabbitMQ + S3 (moto_server)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import ExifTags, Image, PngImagePlugin
from sqlalchemy.exc import OperationalError

from aic_common.messages import Envelope, PostCreated, ProfileUpdated, UserDeleted
from aic_common.testing import wait_for
from aic_files.messaging import USER_DELETED_QUEUE
from aic_files.settings import FilesSettings
from aic_files.storage import ObjectStream, Storage, StorageUnavailable, StorageUnreachable

from .conftest import FilesEnv, bearer, decoded, jpeg_bytes, pattern_image, png_bytes, running_files

pytestmark = pytest.mark.integration
MB = 1 << 20


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose header claims ``width`` x ``height`` grey pixels, with a few rows of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")
    )


def assert_nothing_left(files: FilesEnv) -> None:
    assert files.rows() == []
    assert files.object_keys() == []
    assert files.spooled() == []


async def test_upload_metadata_download_delete(files: FilesEnv) -> None:
    source = png_bytes(64, 48)
    created = await files.upload(source, filename="我的照片.png")
    assert created.status_code == 201, created.text
    body = created.json()
    file_id = body["id"]
    assert body == {
        "id": file_id,
        "url": f"/api/files/{file_id}",
        "thumbnail_url": f"/api/files/{file_id}/thumbnail",
        "content_type": "image/png",
        "size": body["size"],
        "width": 64,
        "height": 48,
        "filename": "我的照片.png",
    }
    assert len(files.object_keys()) == 2 and all(file_id in key for key in files.object_keys())

    meta = await files.client.get(f"/api/files/{file_id}/meta", headers=bearer("bob"))
    assert meta.status_code == 200
    assert meta.json()["owner_id"] == "alice" and meta.json()["attached"] is False
    sha256 = meta.json()["sha256"]

    # Downloads are public: the id is the capability.
    download = await files.client.get(body["url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["etag"] == f'"{sha256}"'
    assert "max-age" in download.headers["cache-control"]
    assert download.headers["content-disposition"].startswith("inline; filename=")
    assert "filename*=UTF-8''%E6%88%91" in download.headers["content-disposition"]
    assert int(download.headers["content-length"]) == body["size"] == len(download.content)
    assert decoded(download.content).tobytes() == decoded(source).tobytes()

    cached = await files.client.get(body["url"], headers={"If-None-Match": f'"{sha256}"'})
    assert cached.status_code == 304 and cached.content == b""

    head = await files.client.head(body["url"])
    assert head.status_code == 200 and head.headers["content-length"] == str(body["size"])

    thumbnail = await files.client.get(body["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert max(decoded(thumbnail.content).size) <= files.settings.thumbnail_size

    deleted = await files.client.delete(body["url"], headers=bearer("alice"))
    assert deleted.status_code == 204
    assert (await files.client.get(body["url"])).status_code == 404
    assert (await files.client.delete(body["url"], headers=bearer("alice"))).status_code == 404
    assert_nothing_left(files)

    await wait_for(lambda: {e.type for e in files.events} >= {"file.uploaded", "file.deleted"})
    uploaded = next(e for e in files.events if e.type == "file.uploaded")
    assert uploaded.data["file_id"] == file_id and uploaded.data["sha256"] == sha256


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("html renamed .jpg", 415, "unsupported_image"),
        ("jpeg with html appended", 422, "trailing_data"),
        ("png with a zip appended", 422, "trailing_data"),
        ("pixel bomb 30000x30000", 422, "too_many_pixels"),
        ("over the pixel limit", 422, "too_many_pixels"),
        ("over the size limit", 413, "file_too_large"),
        ("name with ../", 422, "invalid_filename"),
        ("truncated jpeg", 422, "truncated_image"),
        ("no file part", 422, "missing_file"),
    ],
)
async def test_bad_uploads_are_refused_and_leave_nothing(
    files: FilesEnv, case: str, status: int, code: str
) -> None:
    filename, content_type = "photo.jpg", "image/jpeg"
    html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
    if case == "html renamed .jpg":
        data = html
    elif case == "jpeg with html appended":
        data = jpeg_bytes() + html
    elif case == "png with a zip appended":
        data = png_bytes() + b"PK\x03\x04" + b"\x00" * 40
    elif case == "pixel bomb 30000x30000":
        data = png_claiming(30000, 30000)
    elif case == "over the pixel limit":
        data = png_claiming(3000, 3000)  # 9 MP against the tests' 4 MP limit
    elif case == "over the size limit":
        data = png_bytes() + b"\x00" * (files.settings.max_upload_bytes + 1)
    elif case == "name with ../":
        data, filename = png_bytes(), "../../etc/cron.d/evil.png"
    elif case == "truncated jpeg":
        data = jpeg_bytes()[:-200]
    else:
        response = await files.client.post(
            "/api/files", files={"other": ("a.png", png_bytes(), "image/png")}, headers=bearer("alice")
        )
        assert response.status_code == status and response.json()["code"] == code
        assert_nothing_left(files)
        return
    response = await files.upload(data, filename=filename, content_type=content_type)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]
    assert_nothing_left(files)


async def test_a_huge_body_is_cut_at_the_limit_without_reading_it(files: FilesEnv) -> None:
    boundary = "x-boundary-42"
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        pulled += len(head)
        yield head
        chunk = b"\x89" * (64 * 1024)
        for _ in range(1024 * 1024 * 1024 // len(chunk)):  # "1 GB", sent without a Content-Length
            pulled += len(chunk)
            yield chunk

    response = await files.client.post(
        "/api/files",
        content=body(),
        headers={**bearer("alice"), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert pulled <= files.settings.max_upload_bytes + 256 * 1024
    assert_nothing_left(files)


async def test_exif_and_gps_are_gone_from_the_stored_image(files: FilesEnv) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: shown turned 90° clockwise
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update({1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 50.0)})
    source = io.BytesIO()
    pattern_image(64, 48).save(source, "JPEG", quality=95, exif=exif, comment=b"shot at home")
    assert Image.open(io.BytesIO(source.getvalue())).getexif().get_ifd(ExifTags.IFD.GPSInfo)

    created = await files.upload(source.getvalue(), filename="home.jpg", content_type="image/jpeg")
    assert created.status_code == 201, created.text
    assert (created.json()["width"], created.json()["height"]) == (48, 64)  # turned upright
    stored = (await files.client.get(created.json()["url"])).content
    image = decoded(stored)
    assert image.size == (48, 64)
    assert not image.getexif() and not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Exif" not in stored and b"SpyCam" not in stored and b"shot at home" not in stored

    png = io.BytesIO()
    text = PngImagePlugin.PngInfo()
    text.add_text("Location", "39.9075 N, 116.3972 E")
    pattern_image(32, 32).save(png, "PNG", pnginfo=text, exif=exif)
    created = await files.upload(png.getvalue(), filename="map.png")
    assert created.status_code == 201, created.text
    stored = (await files.client.get(created.json()["url"])).content
    assert b"eXIf" not in stored and b"Location" not in stored and b"116" not in stored


async def test_webp_and_animated_gif_are_accepted(files: FilesEnv) -> None:
    webp = io.BytesIO()
    pattern_image(40, 30).save(webp, "WEBP", lossless=True)
    created = await files.upload(webp.getvalue(), filename="a.webp", content_type="image/webp")
    assert created.status_code == 201, created.text
    assert created.json()["content_type"] == "image/webp"

    frames = [Image.new("RGB", (20, 20), color) for color in ("red", "green", "blue")]
    gif = io.BytesIO()
    frames[0].save(
        gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0, comment=b"secret"
    )
    created = await files.upload(gif.getvalue(), filename="a.gif", content_type="image/gif")
    assert created.status_code == 201, created.text
    stored = (await files.client.get(created.json()["url"])).content
    assert Image.open(io.BytesIO(stored)).n_frames == 3 and b"secret" not in stored


async def test_only_the_owner_or_an_admin_may_delete(files: FilesEnv) -> None:
    url = (await files.upload(png_bytes(), user_id="alice")).json()["url"]
    refused = await files.client.delete(url, headers=bearer("mallory"))
    assert refused.status_code == 403 and refused.json()["code"] == "not_owner"
    assert (await files.client.delete(url)).status_code == 401
    assert (await files.client.get(url)).status_code == 200

    url2 = (await files.upload(png_bytes(), user_id="alice")).json()["url"]
    assert (await files.client.delete(url2, headers=bearer("root", role="admin"))).status_code == 204
    assert (await files.client.get(url2)).status_code == 404
    assert len(files.rows()) == 1


async def test_uploads_need_a_valid_token(files: FilesEnv) -> None:
    anonymous = await files.upload(png_bytes(), headers={})
    assert anonymous.status_code == 401
    forged = await files.upload(png_bytes(), headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    assert_nothing_left(files)


class BreaksOnSecondWrite(Storage):
    """Real storage underneath, failing on the thumbnail: the storage going away mid-upload."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.writes = 0

    def ensure_ready(self) -> None:
        self.inner.ensure_ready()

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self.writes += 1
        if self.writes == 2:
            raise StorageUnavailable()
        self.inner.put_file(key, path, content_type)

    def open(self, key: str) -> ObjectStream:
        return self.inner.open(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def keys(self) -> list[str]:
        return self.inner.keys()

    def ping(self) -> None:
        self.inner.ping()


async def test_storage_failing_mid_upload_leaves_no_row_and_no_object(files: FilesEnv) -> None:
    service = files.app.state.files_service
    service.storage = BreaksOnSecondWrite(service.storage)
    response = await files.upload(png_bytes())
    assert response.status_code == 503 and response.json()["code"] == "storage_unavailable"
    assert_nothing_left(files)


async def test_database_failing_after_the_objects_were_written_removes_them(
    files: FilesEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_gone(*_: object, **__: object) -> None:
        raise OperationalError("INSERT INTO outbox", {}, ConnectionError("server has gone away"))

    monkeypatch.setattr(files.app.state.files_service.outbox, "add", database_gone)
    response = await files.upload(png_bytes())
    assert response.status_code == 503 and response.json()["code"] == "service_unavailable"
    assert_nothing_left(files)


async def test_quotas_refuse_with_a_code(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    small = settings.model_copy(update={"quota_max_files": 2})
    async with running_files(small) as files:
        for _ in range(2):
            assert (await files.upload(png_bytes())).status_code == 201
        third = await files.upload(png_bytes())
        assert third.status_code == 409 and third.json()["code"] == "quota_exceeded"
        assert (await files.upload(png_bytes(), user_id="bob")).status_code == 201  # per user
        assert len(files.rows()) == 3 and len(files.object_keys()) == 6

        size = files.rows()[0].size
        files.settings.quota_max_files = 100
        files.settings.quota_max_bytes = 2 * size + size // 2
        over = await files.upload(png_bytes())
        assert over.status_code == 409 and over.json()["code"] == "quota_exceeded"
        assert len(files.rows()) == 3 and len(files.object_keys()) == 6


async def test_user_deleted_removes_their_files_and_objects(files: FilesEnv) -> None:
    bob_ids = [(await files.upload(png_bytes(), user_id="bob")).json()["id"] for _ in range(2)]
    alice_id = (await files.upload(png_bytes(), user_id="alice")).json()["id"]

    await files.publish(UserDeleted(user_id="bob", username="bob"), producer="auth")
    await wait_for(lambda: [row.id for row in files.rows()] == [alice_id], what="bob's rows gone")
    assert all(alice_id in key for key in files.object_keys()) and len(files.object_keys()) == 2
    await wait_for(
        lambda: {e.data["file_id"] for e in files.events if e.type == "file.deleted"} == set(bob_ids)
    )


class DeletesFailWith(Storage):
    """Real storage underneath whose deletes raise ``error`` for the first ``times`` calls."""

    def __init__(self, inner: Storage, error: Exception, times: int) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.error = error
        self.times = times
        self.deletes = 0

    def ensure_ready(self) -> None:
        self.inner.ensure_ready()

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self.inner.put_file(key, path, content_type)

    def open(self, key: str) -> ObjectStream:
        return self.inner.open(key)

    def delete(self, key: str) -> None:
        self.deletes += 1
        if self.deletes <= self.times:
            raise self.error
        self.inner.delete(key)

    def keys(self) -> list[str]:
        return self.inner.keys()

    def ping(self) -> None:
        self.inner.ping()


# One redelivery allowed: a message failed three times would be in the DLQ twice over.
ONE_REDELIVERY = {"bus_delivery_limit": 1}


async def test_user_deleted_waits_for_unreachable_storage_not_failing(settings: FilesSettings) -> None:
    async with running_files(settings.model_copy(update=ONE_REDELIVERY)) as files:
        service = files.app.state.files_service
        bob_id = (await files.upload(png_bytes(), user_id="bob")).json()["id"]
        outage = DeletesFailWith(service.storage, StorageUnreachable(), times=3)
        service.storage = outage

        await files.publish(UserDeleted(user_id="bob", username="bob"), producer="auth")
        await wait_for(lambda: files.rows() == [], timeout=30, what="bob's rows gone after the outage")
        assert outage.deletes == 3 + 2  # three attempts held, then the image and its thumbnail
        assert files.object_keys() == []
        assert await files.app.state.runtime.bus.dead_letters(USER_DELETED_QUEUE) == []
        await wait_for(
            lambda: [e.data["file_id"] for e in files.events if e.type == "file.deleted"] == [bob_id]
        )


async def test_user_deleted_on_storage_that_refuses_is_dead_lettered(settings: FilesSettings) -> None:
    """Access denied or no such bucket is a configuration error, not an outage: no waiting it out."""
    async with running_files(settings.model_copy(update=ONE_REDELIVERY)) as files:
        service = files.app.state.files_service
        assert (await files.upload(png_bytes(), user_id="bob")).status_code == 201
        refusing = DeletesFailWith(service.storage, StorageUnavailable(), times=1_000)
        service.storage = refusing
        await files.publish(UserDeleted(user_id="bob", username="bob"), producer="auth")

        async def dead() -> list[Envelope]:
            return await files.app.state.runtime.bus.dead_letters(USER_DELETED_QUEUE)

        letters = await wait_for(dead, timeout=30, what="the message in the DLQ")
        assert [e.type for e in letters] == ["user.deleted"]
        assert refusing.deletes == 2  # the delivery and its one redelivery
        assert len(files.rows()) == 1


async def test_orphans_are_swept_but_attached_files_stay(files: FilesEnv) -> None:
    orphan = (await files.upload(png_bytes(), user_id="alice")).json()["id"]
    in_post = (await files.upload(png_bytes(), user_id="alice")).json()["id"]
    avatar = (await files.upload(png_bytes(), user_id="bob")).json()["id"]
    sweeper = files.app.state.orphan_sweeper
    assert await sweeper.run_once() == 0  # all young

    await files.publish(
        PostCreated(
            post_id="p1",
            author_id="alice",
            author_username="alice",
            content="看我的照片",
            image_ids=[in_post],
            created_at=files.clock(),
        )
    )
    await files.publish(ProfileUpdated(user_id="bob", avatar_file_id=avatar))
    await wait_for(lambda: sum(row.attached_at is not None for row in files.rows()) == 2, what="attached")

    files.clock.advance(files.settings.orphan_ttl_seconds + 1)
    assert await sweeper.run_once() == 1
    assert sorted(row.id for row in files.rows()) == sorted([in_post, avatar])
    assert not any(orphan in key for key in files.object_keys()) and len(files.object_keys()) == 4
    assert (await files.client.get(f"/api/files/{orphan}")).status_code == 404
    assert (await files.client.get(f"/api/files/{in_post}")).status_code == 200


async def test_unknown_and_malformed_ids_are_404(files: FilesEnv) -> None:
    for path in ("/api/files/00000000-0000-0000-0000-000000000000", "/api/files/..%2f..%2fetc",
                 "/api/files/not-an-id/thumbnail"):  # fmt: skip
        response = await files.client.get(path)
        assert response.status_code == 404, path
