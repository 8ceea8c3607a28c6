"""Response bodies of the files API, and the rules for the client's file name."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel

from aic_common.errors import InvalidInput
from aic_common.types import UtcDateTime

MAX_FILENAME_CHARS = 255


def clean_filename(raw: str) -> str:
    """The client's file name as display metadata: refused when it names a path, trimmed otherwise.

    It never reaches a storage key or a file system path; refusing ``../`` and separators still tells a
    client that sent one that it is doing something wrong, instead of silently renaming.
    """
    name = unicodedata.normalize("NFC", raw).strip()
    if "/" in name or "\\" in name or ".." in name:
        raise InvalidInput(
            "The file name must be a plain name, without '/', '\\' or '..'", code="invalid_filename"
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise InvalidInput("The file name must not contain control characters", code="invalid_filename")
    if len(name) > MAX_FILENAME_CHARS:
        raise InvalidInput(
            f"The file name must be at most {MAX_FILENAME_CHARS} characters", code="invalid_filename"
        )
    return name


class FilePublic(BaseModel):
    id: str
    url: str
    thumbnail_url: str
    content_type: str
    size: int
    width: int
    height: int
    filename: str


class FileMetadata(FilePublic):
    owner_id: str
    sha256: str
    thumbnail_content_type: str
    created_at: UtcDateTime
    attached: bool
