"""Fixtures of the cross-service tests: the real topology, one process per service, gateway in front."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from aic_common.testing import free_port
from aic_common.testing.fixtures import S3Endpoint
from aic_gateway.stack import Stack, StackConfig


@pytest.fixture(scope="session")
def stack(
    mysql_server_url: str,
    rabbitmq_url: str,
    moto_s3: S3Endpoint,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Every service started from :data:`aic_gateway.stack.SERVICES`, on databases and a bus namespace of
    this session alone; stopped, and its databases dropped, when the session ends.

    Needs MySQL/MariaDB and RabbitMQ: skipped without them (failed with ``CI=true``), like their fixtures.
    """
    run = uuid.uuid4().hex[:8]
    config = StackConfig(
        mysql_url=mysql_server_url,
        broker_url=rabbitmq_url,
        redis_url=os.environ.get("AIC_TEST_REDIS_URL", ""),
        s3_endpoint_url=moto_s3.url,
        s3_access_key=moto_s3.access_key,
        s3_secret_key=moto_s3.secret_key,
        s3_bucket=f"aic-files-{run}",  # the files service creates it at start-up
        bus_namespace=f"s{run}",
        db_prefix=f"aic_s{run}",
        state_dir=tmp_path_factory.mktemp("stack"),
        gateway_port=free_port(),
        # An admin for the tests that need one (simulation control); its password is generated.
        admin_username="stackadmin",
        # Tests speak for many clients from one machine: each names its own address in X-Forwarded-For.
        extra_env={"gateway": {"AIC_TRUSTED_PROXIES": '["127.0.0.1"]'}},
    )
    running = Stack(config)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        running.drop_databases()
