"""Upload abuse through the gateway: what is not a plain image, or is one with a dangerous name, is
refused with the right 4xx and leaves nothing behind (no object in storage, no row); what is accepted
is typed by its content alone and served so that no browser can run it.

Multipart bodies are built by hand: a client library would escape the file names this test sends.
"""

from __future__ import annotations

import io
import struct
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import boto3
import pytest
import sqlalchemy as sa
from PIL import Image

from aic_common.testing.community import Account, Community, png_bytes
from aic_gateway.stack import Stack

pytestmark = pytest.mark.e2e
MB = 1 << 20


# --------------------------------------------------------------------- the bytes


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 4), (10, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (5, 5)).save(buffer, "GIF")
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.html", "<script>alert(document.domain)</script>")
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pixel_bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A well-formed PNG header claiming billions of grey pixels, with a few KB of (compressed) zeros."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 64, 9)  # the first rows; the header alone must refuse it
    chunks = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


HTML = b"<!DOCTYPE html><html><body><script>fetch('/api/auth/me')</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>"
)


def multipart(
    content: bytes, *, filename: str, content_type: str = "image/png", field: str = "file"
) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --------------------------------------------------------------------- what must be refused


@dataclass(frozen=True)
class Abuse:
    name: str
    content: bytes
    filename: str
    status: int
    code: str
    content_type: str = "image/png"
    field: str = "file"


ABUSES = [
    Abuse("html with an image name", HTML, "photo.png", 415, "unsupported_image"),
    Abuse("svg with a script", SVG, "logo.svg", 415, "unsupported_image", "image/svg+xml"),
    Abuse("svg named png", SVG, "logo.png", 415, "unsupported_image"),
    Abuse("png with a zip appended (polyglot)", png_bytes() + zip_bytes(), "x.png", 422, "trailing_data"),
    Abuse("jpeg with html appended", jpeg_bytes() + HTML, "x.jpg", 422, "trailing_data", "image/jpeg"),
    Abuse("gif with html appended", gif_bytes() + HTML, "x.gif", 422, "trailing_data", "image/gif"),
    Abuse("pixel bomb", pixel_bomb_png(), "bomb.png", 422, "too_many_pixels"),
    Abuse("truncated png", png_bytes()[:40], "cut.png", 422, "truncated_image"),
    Abuse("empty file", b"", "empty.png", 422, "empty_file"),
    Abuse("no part named file", png_bytes(), "x.png", 422, "missing_file", field="upload"),
    Abuse("path traversal", png_bytes(), "../../etc/passwd.png", 422, "invalid_filename"),
    Abuse("windows path traversal", png_bytes(), "..\\..\\boot.png", 422, "invalid_filename"),
    Abuse("absolute path", png_bytes(), "/etc/cron.d/job.png", 422, "invalid_filename"),
    Abuse("NUL in the name", png_bytes(), "a\x00b.png", 422, "invalid_filename"),
    Abuse("escape character in the name", png_bytes(), "a\x1b[31mb.png", 422, "invalid_filename"),
    Abuse("right-to-left override in the name", png_bytes(), "cute\u202egnp.exe", 422, "invalid_filename"),
    Abuse("a name of 300 characters", png_bytes(), "n" * 296 + ".png", 422, "invalid_filename"),
]


@pytest.fixture(scope="module")
def uploader(community: Community) -> Account:
    """Whose uploads are all refused: any row of theirs is one too many."""
    return community.register("abuser", wait_for_profile=False)


@pytest.fixture(scope="module")
def bucket(stack: Stack) -> Iterator[object]:
    s3 = boto3.resource(
        "s3",
        endpoint_url=stack.config.s3_endpoint_url,
        aws_access_key_id=stack.config.s3_access_key,
        aws_secret_access_key=stack.config.s3_secret_key,
        region_name="us-east-1",
    )
    yield s3.Bucket(stack.config.s3_bucket)


def stored_keys(bucket: object) -> set[str]:
    return {item.key for item in bucket.objects.all()}  # type: ignore[attr-defined]


def rows_of(stack: Stack, account: Account) -> int:
    engine = sa.create_engine(stack.config.database_url("files"))
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT COUNT(*) FROM files WHERE owner_id = :owner")
            return int(connection.execute(query, {"owner": account.id}).scalar() or 0)
    finally:
        engine.dispose()


@pytest.mark.parametrize("abuse", ABUSES, ids=lambda abuse: abuse.name)
def test_abusive_uploads_are_refused_and_leave_nothing(
    stack: Stack, community: Community, uploader: Account, bucket: object, abuse: Abuse
) -> None:
    keys_before = stored_keys(bucket)
    body, content_type = multipart(
        abuse.content, filename=abuse.filename, content_type=abuse.content_type, field=abuse.field
    )
    response = community.http.post(
        "/api/files", content=body, headers={**uploader.headers, "Content-Type": content_type}
    )
    assert response.status_code == abuse.status, response.text
    assert response.json()["code"] == abuse.code, response.text
    assert stored_keys(bucket) - keys_before == set()
    assert rows_of(stack, uploader) == 0


def test_a_body_that_is_not_multipart_is_refused(community: Community, uploader: Account) -> None:
    raw = community.http.post(
        "/api/files", content=png_bytes(), headers={**uploader.headers, "Content-Type": "image/png"}
    )
    assert raw.status_code == 415 and raw.json()["code"] == "multipart_required"


def test_an_oversized_body_is_cut_off_with_413(
    stack: Stack, community: Community, uploader: Account, bucket: object
) -> None:
    keys_before = stored_keys(bucket)
    body, content_type = multipart(png_bytes() + b"\x00" * (10 * MB + 1), filename="huge.png")

    def in_pieces() -> Iterator[bytes]:  # no Content-Length: only reading can tell the size
        for start in range(0, len(body), MB):
            yield body[start : start + MB]

    response = community.http.post(
        "/api/files", content=in_pieces(), headers={**uploader.headers, "Content-Type": content_type}
    )
    assert response.status_code == 413 and response.json()["code"] == "file_too_large", response.text
    assert stored_keys(bucket) - keys_before == set()
    assert rows_of(stack, uploader) == 0


# --------------------------------------------------------------------- what is accepted, and how it is served


@pytest.fixture(scope="module")
def photographer(community: Community) -> Account:
    return community.register("photos", wait_for_profile=False)


@pytest.mark.parametrize(
    ("content", "filename", "declared", "served_type", "served_name"),
    [
        (png_bytes(), "photo.jpg", "image/jpeg", "image/png", "photo.png"),
        (png_bytes(), "page.html", "text/html", "image/png", "page.png"),
        (jpeg_bytes(), "照片.png", "application/octet-stream", "image/jpeg", "照片.jpg"),
        (gif_bytes(), "anim.svg", "image/svg+xml", "image/gif", "anim.gif"),
    ],
    ids=["png named jpg", "png declared html", "jpeg named png", "gif named svg"],
)
def test_an_image_is_typed_by_its_content_and_served_safely(
    community: Community,
    photographer: Account,
    content: bytes,
    filename: str,
    declared: str,
    served_type: str,
    served_name: str,
) -> None:
    body, content_type = multipart(content, filename=filename, content_type=declared)
    created = community.http.post(
        "/api/files", content=body, headers={**photographer.headers, "Content-Type": content_type}
    )
    assert created.status_code == 201, created.text
    assert created.json()["content_type"] == served_type
    for path in (f"/api/files/{created.json()['id']}", f"/api/files/{created.json()['id']}/thumbnail"):
        served = community.http.get(path, headers={"X-Forwarded-For": photographer.ip})
        assert served.status_code == 200, served.text
        assert served.headers["content-type"].startswith("image/")
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]  # the files service's own policy
        assert served.headers["content-security-policy"].startswith("default-src 'none'")
        disposition = served.headers["content-disposition"]
        assert disposition.startswith("inline; filename=")
        assert "\r" not in disposition and "\n" not in disposition
    original = community.http.get(
        f"/api/files/{created.json()['id']}", headers={"X-Forwarded-For": photographer.ip}
    )
    assert original.headers["content-type"] == served_type
    # The client's name, with the extension of what the bytes really are.
    assert original.headers["content-disposition"].endswith("filename*=UTF-8''" + quote(served_name, safe=""))
