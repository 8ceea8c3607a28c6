"""Object storage out of reach for longer than the delivery limit would survive: a deleted account's
files wait for it instead of going to the DLQ, uploads meanwhile answer 503, and once the storage is
back the account's objects and rows are gone by themselves.

The files service reaches moto_server through a TCP proxy of this test's own; cutting it refuses new
connections and breaks the open ones, as a stopped MinIO would. The test sees the held message in the
files service's log (one line per attempt), so it waits for the outage to outlast the delivery limit
rather than for a fixed time.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from aic_common.bus.rabbit import RabbitBus
from aic_common.settings import ServiceSettings
from aic_common.testing import ThreadedTcpProxy, wait_for
from aic_common.testing.fixtures import S3Endpoint
from aic_common.testing.rabbitmq_node import RabbitNode
from aic_files.messaging import USER_DELETED_QUEUE
from aic_files.storage import S3Storage
from aic_gateway.stack import Stack

from .conftest import PASSWORD, Person, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

DELIVERY_LIMIT = ServiceSettings.model_fields["bus_delivery_limit"].default
# Attempts of the user.deleted handler that the storage outage must outlast: more than the first
# delivery and every redelivery together, after which a failing message would be in the DLQ.
HELD_ATTEMPTS = DELIVERY_LIMIT + 2
HOLD_LOGGED = "object storage unavailable while handling user.deleted"


@pytest.fixture
def storage_proxy(moto_s3: S3Endpoint) -> Iterator[ThreadedTcpProxy]:
    target = urlsplit(moto_s3.url)
    with ThreadedTcpProxy(target.hostname or "127.0.0.1", target.port or 80) as proxy:
        yield proxy


@pytest.fixture
def outage_stack(
    storage_proxy: ThreadedTcpProxy, moto_s3: S3Endpoint, start_stack: Callable[..., Stack]
) -> Stack:
    return start_stack(s3=dataclasses.replace(moto_s3, url=f"http://127.0.0.1:{storage_proxy.port}"))


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 90, 40)).save(buffer, "PNG")
    return buffer.getvalue()


async def upload(gateway: httpx.AsyncClient, person: Person) -> httpx.Response:
    return await gateway.post(
        "/api/files", files={"file": ("tile.png", png(), "image/png")}, headers=person.headers
    )


def holds_logged(stack: Stack) -> int:
    """How often the files service put the user.deleted message aside to wait for its storage."""
    count = 0
    for line in stack.log_path("files").read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        count += isinstance(record, dict) and str(record.get("msg", "")).startswith(HOLD_LOGGED)
    return count


async def test_a_storage_outage_holds_a_deleted_accounts_files_until_the_storage_is_back(
    outage_stack: Stack,
    storage_proxy: ThreadedTcpProxy,
    private_rabbitmq: RabbitNode,
    moto_s3: S3Endpoint,
    stack_database: Callable[[Stack, str], sa.Engine],
) -> None:
    stack = outage_stack
    # The bucket as the storage itself holds it, past the proxy.
    bucket = S3Storage(
        moto_s3.url,
        access_key=moto_s3.access_key,
        secret_key=moto_s3.secret_key,
        bucket=stack.config.s3_bucket,
        region=moto_s3.region,
    )
    files_db = stack_database(stack, "files")

    def rows_of(owner: Person) -> int:
        with files_db.connect() as connection:
            query = sa.text("SELECT COUNT(*) FROM files WHERE owner_id = :owner")
            return int(connection.execute(query, {"owner": owner.user_id}).scalar_one())

    def objects_of(file_ids: list[str]) -> list[str]:
        stored = bucket.keys()
        return [key for key in stored if any(key.endswith(file_id) for file_id in file_ids)]

    watcher = RabbitBus(private_rabbitmq.url, stack.config.bus_namespace)
    await watcher.start()
    try:
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=20) as gateway:
            leaving, staying = await sign_up(gateway, "leaving"), await sign_up(gateway, "staying")
            leaving_files = [(await upload(gateway, leaving)).json()["id"] for _ in range(2)]
            staying_file = (await upload(gateway, staying)).json()["id"]
            assert len(objects_of(leaving_files)) == 4  # each image and its thumbnail

            storage_proxy.cut()
            cut_at = time.monotonic()
            gone = await gateway.request(
                "DELETE", "/api/auth/me", json={"password": PASSWORD}, headers=leaving.headers
            )
            assert gone.status_code == 204, gone.text

            refused = await upload(gateway, staying)
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "storage_unavailable" and refused.json()["detail"]
            assert refused.headers["retry-after"]

            await wait_for(
                lambda: holds_logged(stack) >= HELD_ATTEMPTS,
                timeout=120,
                interval=0.5,
                what=f"the user.deleted message held {HELD_ATTEMPTS} times",
            )
            held_for = time.monotonic() - cut_at
            # Past the delivery limit, and still waiting: nothing dead-lettered, nothing removed.
            assert await watcher.dead_letters(USER_DELETED_QUEUE) == []
            assert rows_of(leaving) == 2

            storage_proxy.restore()
            restored_at = time.monotonic()
            await wait_for(
                lambda: rows_of(leaving) == 0 and objects_of(leaving_files) == [],
                timeout=60,
                interval=0.2,
                what="the deleted account's rows and objects removed",
            )
            cleaned_after = time.monotonic() - restored_at

            assert len(objects_of([staying_file])) == 2
            assert (await upload(gateway, staying)).status_code == 201
        assert await watcher.dead_letters(USER_DELETED_QUEUE) == []
    finally:
        await watcher.stop()

    # No process died, and none was restarted.
    assert {name: stack.returncode(name) for name in stack.names} == dict.fromkeys(stack.names)
    print(
        f"\nuser.deleted held {holds_logged(stack)} times over {held_for:.1f}s of outage "
        f"(delivery limit {DELIVERY_LIMIT}); files removed {cleaned_after:.1f}s after the storage returned"
    )
