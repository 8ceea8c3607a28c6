"""Uploads: image uploads per second (validation, decoding, thumbnail, two objects stored, metadata and
event) against raw S3 PUTs of the same bytes to the same object store, at the same concurrency."""

from __future__ import annotations

import io
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench.harness import Context, latency_line, noise_jpeg
from bench.loadgen import LoadSpec
from bench.report import Result, Section

TITLE = "Uploads"
CONCURRENCY = 4
METHOD = (
    "`POST /api/files` through the gateway with a 1 MB JPEG (the files service checks the type and size, "
    "decodes the image, writes the original and a thumbnail to S3 and records them), "
    f"{CONCURRENCY} uploads in flight, against raw S3 PUTs of the same bytes with the same client library "
    f"(MinIO's) to the same endpoint (moto's S3 server), {CONCURRENCY} in flight."
)


def raw_put_rate(endpoint: str, access_key: str, secret_key: str, data: bytes, seconds: float) -> float:
    from minio import Minio

    host = endpoint.split("://", 1)[1]
    client = Minio(host, access_key=access_key, secret_key=secret_key, secure=False)
    bucket = f"bench-raw-{uuid.uuid4().hex[:8]}"
    client.make_bucket(bucket)
    counter = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(number: int) -> None:
        nonlocal counter
        index = 0
        while time.perf_counter() < deadline:
            client.put_object(
                bucket, f"{number}/{index}", io.BytesIO(data), len(data), content_type="image/jpeg"
            )
            index += 1
            with lock:
                counter += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(worker, range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    for item in client.list_objects(bucket, recursive=True):
        client.remove_object(bucket, item.object_name)
    client.remove_bucket(bucket)
    return counter / elapsed


def run(ctx: Context) -> Section:
    from bench.gateway_overhead import Endpoint

    section = Section("uploads", TITLE, METHOD)
    stack = ctx.stack
    assert stack.s3 is not None
    image = noise_jpeg(1_000_000)
    people = stack.humans(40 if ctx.quick else 200)
    endpoint = Endpoint(
        stack.url("gateway"),
        "upload",
        tuple(stack.token(p) for p in people),
        tuple(p.username for p in people),
        image,
    )
    seconds = ctx.seconds(20)
    raw = raw_put_rate(stack.s3.url, stack.s3.access_key, stack.s3.secret_key, image, seconds)
    print(f"  raw S3 PUT of {len(image):,} bytes: {raw:.1f}/s", flush=True)
    spec = LoadSpec("closed", seconds=seconds, concurrency=CONCURRENCY, warmup_seconds=ctx.warmup(2))
    result, cpu = ctx.measure(endpoint, spec, ["gateway", "files"])
    section.results.append(
        Result(
            TITLE,
            "image uploads with validation and thumbnails",
            result.throughput,
            "uploads/s",
            reference_name="raw S3 PUTs of the same bytes",
            reference_value=raw,
            details=[
                f"{len(image):,} bytes a JPEG; uploads: {latency_line(result)}",
                f"CPU during the uploads: {cpu.summary(result.throughput)}",
            ],
        )
    )
    print(section.results[-1].line(), flush=True)
    return section
