"""Deciding what an upload is, and re-encoding it so that only its pixels survive.

The type comes from the content alone: the magic bytes, then the format's own structure walked to its
end (so nothing hides after the image: an HTML or ZIP payload appended to a JPEG is refused), then
Pillow decoding it. The image is re-encoded from its pixels, which drops EXIF (GPS included), XMP,
comments and text chunks, and a thumbnail is made. Everything here is blocking: run it in a thread.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from aic_common.errors import AppError

CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class ImageFormat:
    name: str  # Pillow's format name
    content_type: str
    extension: str


FORMATS: dict[str, ImageFormat] = {
    "JPEG": ImageFormat("JPEG", "image/jpeg", ".jpg"),
    "PNG": ImageFormat("PNG", "image/png", ".png"),
    "WEBP": ImageFormat("WEBP", "image/webp", ".webp"),
    "GIF": ImageFormat("GIF", "image/gif", ".gif"),
}
EXTENSIONS = {fmt.content_type: fmt.extension for fmt in FORMATS.values()}
# Kept through re-encoding: they change how the pixels look or move, and say nothing about anyone.
_KEPT_INFO = frozenset({"icc_profile", "transparency", "duration", "loop", "background", "disposal", "blend"})
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError)


class UnsupportedImage(AppError):
    status_code = 415
    code = "unsupported_media_type"


class InvalidImage(AppError):
    status_code = 422
    code = "invalid_image"


class TooManyPixels(AppError):
    status_code = 422
    code = "too_many_pixels"


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int
    max_frames: int
    max_animation_pixels: int
    jpeg_quality: int = 88
    thumbnail_size: int = 320


@dataclass(frozen=True)
class EncodedFile:
    path: Path
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ProcessedImage:
    image: EncodedFile
    thumbnail: EncodedFile
    width: int
    height: int
    frames: int


# ---------------------------------------------------------------- what the bytes are


def sniff(head: bytes) -> ImageFormat | None:
    """The format the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return FORMATS["JPEG"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FORMATS["PNG"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FORMATS["GIF"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FORMATS["WEBP"]
    return None


def _read_exact(fp: IO[bytes], n: int) -> bytes:
    data = fp.read(n)
    if len(data) != n:
        raise InvalidImage("The image is truncated", code="truncated_image")
    return data


def _jpeg_end(fp: IO[bytes]) -> int:
    """Offset just past the EOI marker, walking segments and skipping entropy-coded data."""
    fp.seek(2)
    while True:
        if _read_exact(fp, 1) != b"\xff":
            raise InvalidImage("The JPEG structure is broken")
        marker = _read_exact(fp, 1)[0]
        while marker == 0xFF:  # fill bytes
            marker = _read_exact(fp, 1)[0]
        if marker == 0xD9:
            return fp.tell()
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            continue
        (length,) = struct.unpack(">H", _read_exact(fp, 2))
        if length < 2:
            raise InvalidImage("The JPEG structure is broken")
        fp.seek(length - 2, 1)
        if marker == 0xDA:  # start of scan: entropy-coded data runs until the next real marker
            fp.seek(_next_marker(fp))


def _next_marker(fp: IO[bytes]) -> int:
    """Offset of the next marker after entropy-coded data (0xFF not followed by 0x00, RSTn or 0xFF)."""
    base = fp.tell()
    buffer = b""
    while True:
        chunk = fp.read(CHUNK_BYTES)
        if not chunk:
            raise InvalidImage("The image is truncated", code="truncated_image")
        buffer += chunk
        index = buffer.find(b"\xff")
        while index != -1 and index + 1 < len(buffer):
            following = buffer[index + 1]
            if following != 0x00 and following != 0xFF and not 0xD0 <= following <= 0xD7:
                return base + index
            index = buffer.find(b"\xff", index + 1)
        # Keep a trailing 0xFF: its partner byte is in the next chunk.
        keep = 1 if buffer.endswith(b"\xff") else 0
        base += len(buffer) - keep
        buffer = buffer[len(buffer) - keep :]


def _png_end(fp: IO[bytes]) -> int:
    fp.seek(8)
    while True:
        length, kind = struct.unpack(">I4s", _read_exact(fp, 8))
        if length > 0x7FFFFFFF:
            raise InvalidImage("The PNG structure is broken")
        fp.seek(length + 4, 1)  # data and CRC
        if kind == b"IEND":
            return fp.tell()


def _gif_skip_sub_blocks(fp: IO[bytes]) -> None:
    while size := _read_exact(fp, 1)[0]:
        fp.seek(size, 1)


def _gif_end(fp: IO[bytes], file_size: int) -> int:
    fp.seek(10)
    flags = _read_exact(fp, 3)[0]
    if flags & 0x80:
        fp.seek(3 << ((flags & 0x07) + 1), 1)
    while True:
        if fp.tell() == file_size:
            return file_size  # no trailer byte: browsers and Pillow accept that, so do we
        block = _read_exact(fp, 1)[0]
        if block == 0x3B:  # trailer
            return fp.tell()
        if block == 0x21:  # extension: label, then sub-blocks
            _read_exact(fp, 1)
            _gif_skip_sub_blocks(fp)
        elif block == 0x2C:  # image descriptor, local colour table, LZW code size, data
            flags = _read_exact(fp, 9)[8]
            if flags & 0x80:
                fp.seek(3 << ((flags & 0x07) + 1), 1)
            _read_exact(fp, 1)
            _gif_skip_sub_blocks(fp)
        else:
            raise InvalidImage("The GIF structure is broken")


def _webp_end(fp: IO[bytes]) -> int:
    fp.seek(4)
    (size,) = struct.unpack("<I", _read_exact(fp, 4))
    return 8 + size + (size & 1)


def image_end(fp: IO[bytes], fmt: ImageFormat, file_size: int) -> int:
    """Where the image's own structure ends; raises :class:`InvalidImage` when it is broken or cut."""
    end = {
        "JPEG": _jpeg_end,
        "PNG": _png_end,
        "GIF": lambda f: _gif_end(f, file_size),
        "WEBP": _webp_end,
    }[fmt.name](fp)
    if end > file_size:
        raise InvalidImage("The image is truncated", code="truncated_image")
    return end


def check_nothing_appended(fp: IO[bytes], fmt: ImageFormat, file_size: int) -> None:
    """Refuse files that carry something after the image (polyglots: image + HTML, image + ZIP)."""
    end = image_end(fp, fmt, file_size)
    if end == file_size:
        return
    fp.seek(end)
    head = fp.read(64)
    # Phones append further JPEGs after the first (MPF previews, HDR gain maps); re-encoding drops them.
    if fmt.name == "JPEG" and head.startswith(b"\xff\xd8\xff"):
        return
    if not head.strip(b"\x00\r\n\t "):
        rest = fp.read(CHUNK_BYTES)
        while rest:
            if rest.strip(b"\x00\r\n\t "):
                break
            rest = fp.read(CHUNK_BYTES)
        else:
            return  # padding only
    raise InvalidImage(
        f"The file has {file_size - end} bytes of other data after the image; upload the image alone",
        code="trailing_data",
    )


# ---------------------------------------------------------------- re-encoding


def _digest_file(path: Path, content_type: str) -> EncodedFile:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return EncodedFile(path, content_type, size, digest.hexdigest())


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _save_image(im: Image.Image, path: Path, fmt: ImageFormat, limits: ImageLimits, animated: bool) -> None:
    # Only pixels and what shapes them stay; exif/xmp/comment are never passed to the encoder.
    im.info = {k: v for k, v in im.info.items() if k in _KEPT_INFO}
    stripped: dict[str, object] = {"exif": b"", "xmp": b""}
    if fmt.name == "JPEG":
        if im.mode not in ("L", "RGB", "CMYK"):
            im = im.convert("RGB")
        im.save(path, "JPEG", quality=limits.jpeg_quality, icc_profile=im.info.get("icc_profile"), **stripped)
    elif fmt.name == "PNG":
        im.save(path, "PNG", save_all=animated, compress_level=6, **stripped)
    elif fmt.name == "WEBP":
        im.save(path, "WEBP", save_all=animated, quality=limits.jpeg_quality, **stripped)
    else:
        # A GIF's per-frame comments are copied from the source unless one is given explicitly.
        im.save(path, "GIF", save_all=animated, comment=b"")


def _save_thumbnail(im: Image.Image, path_stem: Path, size: int) -> EncodedFile:
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)
    alpha = _has_alpha(im)
    if im.mode in ("1", "P"):
        im = im.convert("RGBA" if alpha else "RGB")  # palette images only resize by nearest pixel
    # Shrunk in place (the full image is saved already), then converted: never a full-size copy.
    im.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumb = im.convert("RGBA" if alpha else "RGB")
    if alpha:
        path = path_stem.with_suffix(".png")
        thumb.save(path, "PNG")
        return _digest_file(path, "image/png")
    path = path_stem.with_suffix(".jpg")
    thumb.save(path, "JPEG", quality=85)
    return _digest_file(path, "image/jpeg")


def process_image(source: Path, work_dir: Path, limits: ImageLimits) -> ProcessedImage:
    """Check ``source`` and write its re-encoded image and thumbnail into ``work_dir``."""
    file_size = source.stat().st_size
    with source.open("rb") as fp:
        fmt = sniff(fp.read(16))
        if fmt is None:
            raise UnsupportedImage(
                "Only JPEG, PNG, WebP and GIF images are accepted", code="unsupported_image"
            )
        check_nothing_appended(fp, fmt, file_size)
    try:
        with Image.open(source, formats=[fmt.name]) as im:
            width, height = im.size
            if width < 1 or height < 1:
                raise InvalidImage("The image has no pixels")
            if width * height > limits.max_pixels:
                raise TooManyPixels(
                    f"The image is {width}x{height}; at most {limits.max_pixels:,} pixels are accepted"
                )
            frames = getattr(im, "n_frames", 1)
            if frames > limits.max_frames or width * height * frames > limits.max_animation_pixels:
                raise TooManyPixels(
                    f"The animation has {frames} frames of {width}x{height}; that is too many pixels"
                )
            animated = frames > 1
            im.load()
            if not animated:
                # The orientation tag goes with the EXIF: turn the pixels so the picture stays upright.
                ImageOps.exif_transpose(im, in_place=True)
                width, height = im.size
            stem = work_dir / uuid.uuid4().hex
            image_path = stem.with_suffix(fmt.extension)
            _save_image(im, image_path, fmt, limits, animated)
            thumbnail = _save_thumbnail(im, stem.with_name(stem.name + "-thumb"), limits.thumbnail_size)
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling, checked as the header is read
        raise TooManyPixels(f"The image has too many pixels: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage(f"The file is not a readable {fmt.name} image") from exc
    except AppError:
        raise
    except _DECODE_ERRORS as exc:
        raise InvalidImage(f"The {fmt.name} image could not be decoded: {exc}") from exc
    return ProcessedImage(
        image=_digest_file(image_path, fmt.content_type),
        thumbnail=thumbnail,
        width=width,
        height=height,
        frames=frames,
    )
