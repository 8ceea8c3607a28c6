"""Object storage behind one interface: S3/MinIO through the ``minio`` SDK, or a local directory.

Methods are blocking (the SDK is); callers run them in a worker thread. Keys are made by the service
(:func:`object_key`), never from anything a client sent, and are checked again here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.error import MinioException, S3Error, ServerError

from aic_common.bus import DependencyUnavailable
from aic_common.errors import ServiceUnavailable
from aic_files.settings import FilesSettings

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
# The SDK holds one part in memory while it uploads it; 5 MiB is the smallest S3 allows.
PART_BYTES = 5 * 1024 * 1024
_KEY = re.compile(r"^[a-z]+/[0-9a-f]{2}/[0-9a-f-]{36}$")
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NotFound"})
# Refusals that pass: the storage is busy or timed the request out (5xx statuses pass too).
_PASSING_STATUSES = frozenset({408, 429})


class StorageUnavailable(ServiceUnavailable):
    """The storage cannot do what was asked: a 503 for the client, whatever the cause."""

    code = "storage_unavailable"

    def __init__(self, detail: str = "The file storage is unavailable; try again shortly") -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


class StorageUnreachable(StorageUnavailable, DependencyUnavailable):
    """... because it cannot be reached right now (refused, timed out, a 5xx): the same call succeeds
    once it is back, so a message that needs it waits for it. A refusal (access denied, no such bucket)
    is a configuration error instead, a plain :class:`StorageUnavailable`, and fails the message."""

    dependency = "object storage"


class ObjectMissing(LookupError):
    """The row exists but its object does not (deleted underneath, or a half-finished delete)."""


def object_key(kind: str, file_id: str) -> str:
    """``originals/ab/<uuid>``: a short fan-out prefix keeps directories (local mode) small."""
    key = f"{kind}/{file_id[:2]}/{file_id}"
    _check_key(key)
    return key


def _check_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key this service makes: {key!r}")


class ObjectStream:
    """An object's bytes as an iterator of chunks; close() releases the connection or file."""

    def __init__(self, chunks: Iterator[bytes], close: Callable[[], None]) -> None:
        self._chunks = chunks
        self._close: Callable[[], None] | None = close

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        finally:
            self.close()

    def close(self) -> None:
        close, self._close = self._close, None
        if close is not None:
            close()


class Storage(ABC):
    kind: str

    @abstractmethod
    def ensure_ready(self) -> None:
        """Create the bucket (or directory) when it is missing; called at start-up."""

    @abstractmethod
    def put_file(self, key: str, path: Path, content_type: str) -> None: ...

    @abstractmethod
    def open(self, key: str) -> ObjectStream:
        """Start reading an object; raises :class:`ObjectMissing` or :class:`StorageUnavailable`."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; removing one that is not there is not an error."""

    @abstractmethod
    def keys(self) -> list[str]:
        """Every key stored (for tests and reconciliation)."""

    @abstractmethod
    def ping(self) -> None: ...

    def presigned_url(self, key: str, *, ttl: timedelta, content_type: str, disposition: str) -> str | None:
        """A short-lived URL a browser can fetch the object from directly; None when not supported."""
        return None


class LocalStorage(Storage):
    """Objects as files under one directory (embedded mode)."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        _check_key(key)
        return self.root / key

    def ensure_ready(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: a reader never sees half an object.
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
        try:
            shutil.copyfile(path, partial)
            os.replace(partial, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise StorageUnavailable(f"Could not write the file: {exc.strerror or exc}") from exc

    def open(self, key: str) -> ObjectStream:
        try:
            fh = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc
        except OSError as exc:
            raise StorageUnavailable() from exc
        return ObjectStream(iter(lambda: fh.read(CHUNK_BYTES), b""), fh.close)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable() from exc

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def ping(self) -> None:
        if not self.root.is_dir() or not os.access(self.root, os.W_OK):
            raise StorageUnavailable(f"{self.root} is not a writable directory")


class _RetryUnlessSilent(urllib3.Retry):
    """Retries what a second try can mend (a refused or dropped connection, a 5xx), not a read timeout:
    a storage that took the whole timeout to say nothing will not answer the next try either, and three
    waits would outlast the gateway's own timeout while the upload holds its slot."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[no-untyped-def]
        if isinstance(error, urllib3.exceptions.ReadTimeoutError):
            raise urllib3.exceptions.MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


class S3Storage(Storage):
    """One bucket on an S3-compatible endpoint (MinIO in production, moto in tests)."""

    kind = "s3"

    def __init__(
        self,
        endpoint_url: str,
        *,
        access_key: str,
        secret_key: str,
        bucket: str,
        region: str = "us-east-1",
        timeout_seconds: float = 10.0,
    ) -> None:
        parts = urlsplit(endpoint_url)
        secure = parts.scheme == "https"
        # Our own pool: the SDK's default waits minutes on a dead endpoint and retries five times.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout_seconds, 5.0), read=timeout_seconds),
            maxsize=16,
            retries=_RetryUnlessSilent(total=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
            **({"cert_reqs": "CERT_REQUIRED", "ca_certs": certifi.where()} if secure else {}),
        )
        self.client = Minio(
            parts.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self.bucket = bucket
        self.region = region

    def ensure_ready(self) -> None:
        with self._errors():
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket, location=self.region)
                except S3Error as exc:  # another replica made it first
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
                log.info("created bucket %s", self.bucket)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        _check_key(key)
        with self._errors():
            self.client.fput_object(
                self.bucket,
                key,
                str(path),
                content_type=content_type,
                part_size=PART_BYTES,
                num_parallel_uploads=1,  # one part in memory at a time
            )

    def open(self, key: str) -> ObjectStream:
        _check_key(key)
        with self._errors():
            response = self.client.get_object(self.bucket, key)

        def close() -> None:
            response.close()
            response.release_conn()

        def chunks() -> Iterator[bytes]:
            try:
                yield from response.stream(CHUNK_BYTES)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise StorageUnreachable("The file storage broke off mid-download") from exc

        return ObjectStream(chunks(), close)

    def delete(self, key: str) -> None:
        _check_key(key)
        with self._errors():
            self.client.remove_object(self.bucket, key)

    def keys(self) -> list[str]:
        with self._errors():
            return sorted(obj.object_name for obj in self.client.list_objects(self.bucket, recursive=True))

    def ping(self) -> None:
        with self._errors():
            if not self.client.bucket_exists(self.bucket):
                raise StorageUnavailable(f"bucket {self.bucket} does not exist")

    def presigned_url(self, key: str, *, ttl: timedelta, content_type: str, disposition: str) -> str | None:
        _check_key(key)
        with self._errors():
            return self.client.presigned_get_object(
                self.bucket,
                key,
                expires=ttl,
                # The storage answers with our headers, not whatever it recorded.
                response_headers={
                    "response-content-type": content_type,
                    "response-content-disposition": disposition,
                },
            )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (S3Error, ServerError) as exc:  # ServerError: a status without an S3 error document
            if isinstance(exc, S3Error) and exc.code in _MISSING_CODES:
                raise ObjectMissing(exc.code) from exc
            status = exc.response.status if isinstance(exc, S3Error) else exc.status_code
            if status >= 500 or status in _PASSING_STATUSES:
                log.warning("storage failed: %s %s", status, exc)
                raise StorageUnreachable() from exc
            log.error("storage refused (check its configuration): %s %s", status, exc)
            raise StorageUnavailable() from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            # No answer at all, the connection broken off, or an answer that is not S3's (the error
            # page of a proxy in front of it): gone for now, as far as we can tell.
            log.warning("storage unreachable: %r", exc)
            raise StorageUnreachable() from exc


def create_storage(settings: FilesSettings) -> Storage:
    if settings.uses_s3:
        return S3Storage(
            settings.s3_endpoint_url,
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            timeout_seconds=settings.s3_timeout_seconds,
        )
    return LocalStorage(settings.resolved_storage_dir())
