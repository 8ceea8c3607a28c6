"""Fixtures of the cross-service tests: the real topology, one process per service, gateway in front."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aic_common.testing import free_port
from aic_common.testing.fixtures import S3Endpoint
from aic_gateway.stack import Stack, StackConfig


def stack_config(
    mysql_server_url: str, broker_url: str, state_dir: Path, s3: S3Endpoint | None = None, **changes: Any
) -> StackConfig:
    """A stack on databases and a bus namespace of its own (a new run id), as the tests run it;
    ``changes`` override any other :class:`StackConfig` field."""
    run = uuid.uuid4().hex[:8]
    config = StackConfig(
        mysql_url=mysql_server_url,
        broker_url=broker_url,
        redis_url=os.environ.get("AIC_TEST_REDIS_URL", ""),
        s3_endpoint_url=s3.url if s3 else "",
        s3_access_key=s3.access_key if s3 else "",
        s3_secret_key=s3.secret_key if s3 else "",
        s3_bucket=f"aic-files-{run}",  # the files service creates it at start-up
        bus_namespace=f"s{run}",
        db_prefix=f"aic_s{run}",
        state_dir=state_dir,
        gateway_port=free_port(),
        # An admin for the tests that need one (simulation control); its password is generated.
        admin_username="stackadmin",
        # Tests speak for many clients from one machine: each names its own address in X-Forwarded-For.
        extra_env={
            "gateway": {"AIC_TRUSTED_PROXIES": '["127.0.0.1"]', **_web_dist_override()},
            # Link previews of pages the tests serve themselves, on loopback (refused outside tests).
            "social": {"AIC_LINK_PREVIEW_ALLOW_LOOPBACK": "true"},
        },
    )
    return dataclasses.replace(config, **changes)


def _web_dist_override() -> dict[str, str]:
    """AIC_WEB_DIST_DIR, when set, is passed on to the gateway: the browser tests can then measure another
    build of the web UI (an earlier one, for a before/after comparison) against the same stack."""
    dist = os.environ.get("AIC_WEB_DIST_DIR")
    return {"AIC_WEB_DIST_DIR": dist} if dist else {}


@pytest.fixture(scope="session")
def stack_config_factory() -> Callable[..., StackConfig]:
    """:func:`stack_config`, for tests in other folders that start stacks of their own."""
    return stack_config


@pytest.fixture(scope="session")
def stack(
    mysql_server_url: str,
    rabbitmq_url: str,
    rabbitmq_management_url: str,
    moto_s3: S3Endpoint,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Every service started from :data:`aic_gateway.stack.SERVICES`, on databases and a bus namespace of
    this session alone; stopped, and its databases dropped, when the session ends.

    Needs MySQL/MariaDB and RabbitMQ: skipped without them (failed with ``CI=true``), like their fixtures.
    """
    # Each service connects as a broker user of its own, with only its permissions, as deployed.
    config = stack_config(
        mysql_server_url,
        rabbitmq_url,
        tmp_path_factory.mktemp("stack"),
        moto_s3,
        broker_management_url=rabbitmq_management_url,
    )
    running = Stack(config)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        running.drop_databases()
        running.drop_broker_namespace()
