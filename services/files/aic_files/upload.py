"""Receiving a multipart upload: the ``file`` part streams to a spool file, capped as it arrives.

Parsed here rather than through ``request.form()`` so the cap holds while reading: a body over the
limit is cut after limit + one chunk, never read to its end, and never held in memory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from aic_common.db import run_in_thread
from aic_common.errors import AppError

FIELD = b"file"
# Room for the multipart envelope: boundaries, part headers, a few small form fields.
ENVELOPE_BYTES = 64 * 1024
FLUSH_BYTES = 256 * 1024


class FileTooLarge(AppError):
    status_code = 413
    code = "file_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The file is larger than the limit of {max_bytes:,} bytes")


@dataclass(frozen=True)
class ReceivedUpload:
    path: Path
    filename: str
    size: int


class _Receiver:
    """Callbacks for the push parser: collects the first ``file`` part's bytes, counts everything."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.in_file = False
        self.file_seen = False
        self.file_complete = False
        self.filename = ""
        self.size = 0
        self.other_bytes = 0
        self.pending: list[bytes] = []
        self.pending_bytes = 0

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": lambda data, start, end: self.header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self.header_value.extend(data[start:end]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.headers = {}

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        if options.get(b"name") == FIELD and not self.file_seen:
            self.in_file = self.file_seen = True
            self.filename = options.get(b"filename", b"").decode("utf-8", errors="replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            self.other_bytes += end - start
            if self.other_bytes > ENVELOPE_BYTES:
                raise AppError("Only a 'file' part is expected", code="unexpected_fields", status_code=413)
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise FileTooLarge(self.max_bytes)
        self.pending.append(data[start:end])
        self.pending_bytes += end - start

    def on_part_end(self) -> None:
        if self.in_file:
            self.in_file = False
            self.file_complete = True

    def take_pending(self) -> bytes:
        data = b"".join(self.pending)
        self.pending.clear()
        self.pending_bytes = 0
        return data


async def receive_upload(request: Request, *, max_bytes: int, spool_dir: Path | None) -> ReceivedUpload:
    """Spool the ``file`` part of a multipart/form-data request; the caller deletes ``path``."""
    mime, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise AppError(
            "Send the image as multipart/form-data with a part named 'file'",
            code="multipart_required",
            status_code=415,
        )
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes + ENVELOPE_BYTES:
        raise FileTooLarge(max_bytes)  # refused before a byte of the body is read

    receiver = _Receiver(max_bytes)
    try:
        parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    except FormParserError as exc:
        raise AppError(f"Malformed multipart body: {exc}", code="invalid_multipart") from exc
    path, out = await run_in_thread(_open_spool_file, spool_dir)
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise AppError(f"Malformed multipart body: {exc}", code="invalid_multipart") from exc
            if receiver.pending_bytes >= FLUSH_BYTES:
                await run_in_thread(out.write, receiver.take_pending())
        try:
            parser.finalize()
        except FormParserError as exc:
            raise AppError(f"Malformed multipart body: {exc}", code="invalid_multipart") from exc
        if receiver.pending_bytes:
            await run_in_thread(out.write, receiver.take_pending())
        await run_in_thread(out.close)
        if not receiver.file_complete:
            raise AppError(
                "The request has no complete part named 'file'", code="missing_file", status_code=422
            )
        if receiver.size == 0:
            raise AppError("The file is empty", code="empty_file", status_code=422)
    except BaseException:
        # Not awaited: this also runs when the request is cancelled.
        _discard(path, out)
        raise
    return ReceivedUpload(path, receiver.filename, receiver.size)


def _open_spool_file(spool_dir: Path | None) -> tuple[Path, IO[bytes]]:
    if spool_dir is not None:
        spool_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="upload-", dir=spool_dir)
    return Path(name), os.fdopen(fd, "wb")


def _discard(path: Path, out: IO[bytes]) -> None:
    out.close()
    with contextlib.suppress(OSError):
        path.unlink()
