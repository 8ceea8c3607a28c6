"""A stand-in upstream for streaming tests: swallows uploads and streams large downloads, in O(1) memory."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

app = FastAPI()
CHUNK = b"\x5a" * 65536


@app.post("/api/files")
async def swallow(request: Request) -> dict[str, object]:
    digest, size = hashlib.sha256(), 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


@app.get("/api/files/{megabytes}")
async def download(megabytes: int) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(megabytes * 16):
            yield CHUNK

    return StreamingResponse(
        body(), media_type="application/octet-stream", headers={"Content-Length": str(megabytes << 20)}
    )


@app.get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}
