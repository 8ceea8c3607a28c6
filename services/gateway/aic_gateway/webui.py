"""Serving the built web UI: hashed assets cached for a year, everything else falls back to index.html."""

from __future__ import annotations

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


class WebUi:
    def __init__(self, dist: Path) -> None:
        self.dist = dist.resolve()

    def response_for(self, path: str) -> Response:
        index = self.dist / "index.html"
        if not index.is_file():
            return HTMLResponse(PLACEHOLDER, headers={"Cache-Control": "no-cache"})
        candidate = (self.dist / path.lstrip("/")).resolve()
        # Only files inside dist/ (no ../ escapes); a path that is not a file is a client-side route.
        if candidate.is_file() and candidate.is_relative_to(self.dist):
            hashed = candidate.parent.name == "assets"
            return FileResponse(candidate, headers={"Cache-Control": IMMUTABLE if hashed else "no-cache"})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
