"""Serving the built web UI: hashed assets cached for a year, everything else falls back to index.html;
each file sent precompressed when the build wrote a .br or .gz beside it and the request accepts it."""

from __future__ import annotations

import mimetypes
from collections.abc import Collection
from pathlib import Path

from starlette.responses import FileResponse, HTMLResponse, Response

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>AI Community</title></head>
<body><main><h1>AI Community</h1>
<p>The community is running. The web app has not been built yet;
the API is at <a href="/api/docs">/api/docs</a>.</p>
</main></body></html>"""

IMMUTABLE = "public, max-age=31536000, immutable"
# The siblings the build writes (vite.config.ts), by content coding; on a tie in the request's q-values
# brotli, the smaller, wins.
COMPRESSED_SUFFIXES = {"br": ".br", "gzip": ".gz"}
ALIASES = {"x-gzip": "gzip"}


def preferred_encoding(accept_encoding: str | None, available: Collection[str]) -> str | None:
    """The coding of ``available`` the Accept-Encoding header prefers, or None for the file as it is.

    A coding's q-value is its own entry's, else that of ``*``, else 0; q=0 means refused. Identity is
    kept only where the header prefers it (a higher q than the best coding) or when no coding is
    acceptable. No header: identity, as the header's absence promises nothing."""
    weights: dict[str, float] = {}
    for entry in (accept_encoding or "").split(","):
        coding, *parameters = (part.strip() for part in entry.split(";"))
        if not coding:
            continue
        q: float | None = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                q = _q_value(value.strip())
        if q is not None:
            weights[ALIASES.get(coding.lower(), coding.lower())] = q

    def q_of(coding: str) -> float:
        return weights.get(coding, weights.get("*", 0.0))

    # max() keeps the first of equals: COMPRESSED_SUFFIXES is in order of preference.
    best = max((coding for coding in COMPRESSED_SUFFIXES if coding in available), key=q_of, default=None)
    if best is None or q_of(best) <= 0 or weights.get("identity", 0.0) > q_of(best):
        return None
    return best


def _q_value(text: str) -> float | None:
    """A q-value (0 to 1, at most three decimals); None when it is not one, which drops the entry."""
    try:
        q = float(text)
    except ValueError:
        return None
    return q if 0 <= q <= 1 and len(text) <= 5 else None


class WebUi:
    def __init__(self, dist: Path) -> None:
        self.dist = dist.resolve()

    def response_for(self, path: str, accept_encoding: str | None = None) -> Response:
        index = self.dist / "index.html"
        if not index.is_file():
            return HTMLResponse(PLACEHOLDER, headers={"Cache-Control": "no-cache"})
        candidate = (self.dist / path.lstrip("/")).resolve()
        # Only files inside dist/ (no ../ escapes); a path that is not a file is a client-side route.
        if candidate.is_file() and candidate.is_relative_to(self.dist):
            hashed = candidate.parent.name == "assets"
            return _file_response(candidate, IMMUTABLE if hashed else "no-cache", accept_encoding)
        return _file_response(index, "no-cache", accept_encoding)


def _file_response(file: Path, cache_control: str, accept_encoding: str | None) -> Response:
    """``file``, or its compressed sibling in the coding the request prefers."""
    siblings = {
        coding: sibling
        for coding, suffix in COMPRESSED_SUFFIXES.items()
        if (sibling := file.with_name(file.name + suffix)).is_file()
    }
    headers = {"Cache-Control": cache_control}
    if not siblings:
        return FileResponse(file, headers=headers)
    headers["Vary"] = "Accept-Encoding"
    coding = preferred_encoding(accept_encoding, siblings)
    if coding is None:
        return FileResponse(file, headers=headers)
    headers["Content-Encoding"] = coding
    # The type of the file itself, as FileResponse would guess it for ``file``.
    media_type = mimetypes.guess_type(file.name)[0] or "text/plain"
    return FileResponse(siblings[coding], media_type=media_type, headers=headers)
