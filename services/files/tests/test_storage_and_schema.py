"""Storage over the S3 protocol (moto_server here, MinIO where Docker runs), a storage outage through a
cut connection, presigned downloads, migrations that match the models, and production settings."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from aic_common.bus.base import DependencyUnavailable
from aic_common.bus.tables import messaging_metadata
from aic_common.migrations import schema_drift
from aic_common.testing import TcpProxy
from aic_common.testing.fixtures import S3Endpoint
from aic_files.app import MIGRATIONS
from aic_files.models import Base
from aic_files.settings import FilesSettings
from aic_files.storage import LocalStorage, ObjectMissing, S3Storage, Storage, StorageUnavailable, object_key

from .conftest import decoded, files_settings, png_bytes, running_files, s3_overrides

pytestmark = pytest.mark.integration


def s3_storage(endpoint: S3Endpoint, bucket: str, url: str | None = None) -> S3Storage:
    return S3Storage(
        url or endpoint.url,
        access_key=endpoint.access_key,
        secret_key=endpoint.secret_key,
        bucket=bucket,
        region=endpoint.region,
        timeout_seconds=3,
    )


@pytest.fixture(params=["moto", "minio", "local"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "objects")
    endpoint: S3Endpoint = request.getfixturevalue(f"{request.param}_s3")  # MinIO skips without Docker
    return s3_storage(endpoint, f"t-{uuid.uuid4().hex[:12]}")


def test_storage_round_trip_creates_its_bucket(storage: Storage, tmp_path: Path) -> None:
    storage.ensure_ready()  # creates the bucket
    storage.ensure_ready()  # and finds it the second time
    source = tmp_path / "source.bin"
    source.write_bytes(b"\x00\x01" * 100_000)
    key = object_key("originals", str(uuid.uuid4()))
    storage.put_file(key, source, "application/octet-stream")
    assert storage.keys() == [key]
    assert b"".join(storage.open(key)) == source.read_bytes()
    storage.delete(key)
    storage.delete(key)  # gone already: not an error
    assert storage.keys() == []
    with pytest.raises(ObjectMissing):
        b"".join(storage.open(key))
    with pytest.raises(ValueError):
        storage.put_file("../../etc/passwd", source, "text/plain")


def test_an_unreachable_s3_endpoint_is_storage_unavailable(moto_s3: S3Endpoint, tmp_path: Path) -> None:
    dead = s3_storage(moto_s3, "t-dead", url="http://127.0.0.1:9")
    with pytest.raises(StorageUnavailable):
        dead.ping()
    source = tmp_path / "x"
    source.write_bytes(b"x")
    with pytest.raises(DependencyUnavailable):  # an outage: a message waits for it
        dead.put_file(object_key("originals", str(uuid.uuid4())), source, "image/png")


def test_a_bucket_that_is_not_there_is_a_refusal_not_an_outage(moto_s3: S3Endpoint) -> None:
    misconfigured = s3_storage(moto_s3, f"t-never-made-{uuid.uuid4().hex[:8]}")
    with pytest.raises(StorageUnavailable) as raised:
        misconfigured.delete(object_key("originals", str(uuid.uuid4())))
    assert not isinstance(raised.value, DependencyUnavailable)


def test_a_storage_that_says_nothing_is_given_up_on_after_one_wait(
    moto_s3: S3Endpoint, tmp_path: Path
) -> None:
    # A hung storage (it takes the connection and never answers) must cost one read timeout, not one per
    # retry: three would outlast the gateway's timeout while the upload holds its place.
    requests: list[bytes] = []
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)

    def accept_and_stay_silent() -> None:
        held: list[socket.socket] = []
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.settimeout(5)
            requests.append(connection.recv(65536))  # the request's head: then silence
            held.append(connection)
        for connection in held:
            connection.close()

    silent = threading.Thread(target=accept_and_stay_silent, daemon=True)
    silent.start()
    try:
        storage = S3Storage(
            f"http://127.0.0.1:{listener.getsockname()[1]}",
            access_key=moto_s3.access_key,
            secret_key=moto_s3.secret_key,
            bucket="t-silent",
            region=moto_s3.region,
            timeout_seconds=0.5,
        )
        source = tmp_path / "x"
        source.write_bytes(b"x")
        with pytest.raises(DependencyUnavailable):
            storage.put_file(object_key("originals", str(uuid.uuid4())), source, "image/png")
        assert len(requests) == 1, f"the silent storage was asked {len(requests)} times"
        assert requests[0].startswith(b"PUT ")
    finally:
        stop.set()
        silent.join(timeout=5)
        listener.close()


@pytest.fixture
def answering() -> Iterator[Callable[[int, bytes], str]]:
    """An endpoint that answers every request with one status and body, as a broken S3 might."""
    servers: list[ThreadingHTTPServer] = []

    def serve(status: int, body: bytes) -> str:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(status)
                self.send_header("Content-Type", "application/xml" if body.startswith(b"<") else "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_DELETE = do_HEAD = _answer

            def log_message(self, *_: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def _s3_error(code: str) -> bytes:
    return f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()


@pytest.mark.parametrize(
    ("status", "body", "passes"),
    [
        (403, _s3_error("AccessDenied"), False),  # wrong keys or policy: fix the configuration
        (400, _s3_error("InvalidBucketName"), False),
        (503, _s3_error("SlowDown"), True),  # retried, then given up on: an outage
        (500, _s3_error("InternalError"), True),
        (502, b"<html>Bad Gateway</html>", True),  # a proxy in front of the storage, not the storage
        (429, _s3_error("TooManyRequests"), True),
    ],
)
def test_what_the_storage_answers_says_whether_it_is_an_outage(
    answering: Callable[[int, bytes], str], moto_s3: S3Endpoint, status: int, body: bytes, passes: bool
) -> None:
    storage = s3_storage(moto_s3, "t-answered", url=answering(status, body))
    with pytest.raises(StorageUnavailable) as raised:
        storage.delete(object_key("originals", str(uuid.uuid4())))
    assert isinstance(raised.value, DependencyUnavailable) == passes


async def test_storage_outage_mid_service_leaves_no_row(
    tmp_path: Path, mysql_url: str, rabbitmq_url: str, moto_s3: S3Endpoint, bus_namespace: str
) -> None:
    host, port = moto_s3.url.removeprefix("http://").split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    overrides = {**s3_overrides(moto_s3), "s3_endpoint_url": f"http://127.0.0.1:{proxy.port}"}
    settings = files_settings(
        tmp_path,
        database_url=mysql_url,
        broker_url=rabbitmq_url,
        bus_namespace=bus_namespace,
        s3_timeout_seconds=2,
        **overrides,
    )
    try:
        async with running_files(settings) as files:
            assert (await files.upload(png_bytes())).status_code == 201
            await proxy.stop()
            response = await files.upload(png_bytes())
            assert response.status_code == 503 and response.json()["code"] == "storage_unavailable"
            assert response.headers["retry-after"]
            assert len(files.rows()) == 1
            ready = await files.client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["detail"]["checks"]["storage"].startswith("error")
            await proxy.start()
            # In a thread: the proxy runs on this event loop.
            keys = await asyncio.to_thread(files.object_keys)
            assert len(keys) == 2  # the first file's image and thumbnail only
            assert files.spooled() == []
    finally:
        await proxy.stop()


async def test_presigned_downloads_redirect_to_the_object(
    tmp_path: Path, mysql_url: str, rabbitmq_url: str, moto_s3: S3Endpoint, bus_namespace: str
) -> None:
    settings = files_settings(
        tmp_path,
        database_url=mysql_url,
        broker_url=rabbitmq_url,
        bus_namespace=bus_namespace,
        presigned_downloads=True,
        **s3_overrides(moto_s3),
    )
    async with running_files(settings) as files:
        source = png_bytes()
        url = (await files.upload(source)).json()["url"]
        redirect = await files.client.get(url)
        assert redirect.status_code == 307 and redirect.headers["cache-control"] == "private, no-store"
        location = redirect.headers["location"]
        assert "X-Amz-Expires=300" in location
        async with httpx.AsyncClient() as browser:
            fetched = await browser.get(location)
        assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
        assert decoded(fetched.content).tobytes() == decoded(source).tobytes()


def test_presigned_urls_are_not_offered_by_local_storage(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    key = object_key("originals", str(uuid.uuid4()))
    assert (
        local.presigned_url(key, ttl=timedelta(minutes=5), content_type="image/png", disposition="") is None
    )


def test_migrations_match_the_models(database_url: str) -> None:
    assert schema_drift(MIGRATIONS, database_url, [Base.metadata, messaging_metadata]) == []


def test_production_settings_refuse_placeholder_s3_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("AIC_ENV", "prod")
    monkeypatch.setenv("AIC_METRICS_TOKEN", "a-long-random-metrics-token-0123456789")
    monkeypatch.setenv("AIC_S3_ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("AIC_S3_ACCESS_KEY", "aic-files")
    monkeypatch.setenv("AIC_S3_SECRET_KEY", "changeme")
    with pytest.raises(ValidationError, match="AIC_S3_SECRET_KEY"):
        FilesSettings()
    monkeypatch.setenv("AIC_S3_SECRET_KEY", "a-long-random-secret-0123456789")
    assert FilesSettings().uses_s3
    monkeypatch.setenv("AIC_S3_ENDPOINT_URL", "minio:9000/path")
    with pytest.raises(ValidationError, match="s3_endpoint_url"):
        FilesSettings()
    # Without S3 (embedded storage) there is no key to refuse.
    monkeypatch.delenv("AIC_S3_ENDPOINT_URL")
    monkeypatch.delenv("AIC_S3_SECRET_KEY")
    assert not FilesSettings().uses_s3
