"""Fixtures of the security suite: people and an admin on the shared stack, and extra gateway processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from aic_common.testing import free_port, wait_until_serving
from aic_common.testing.community import Account, Community
from aic_gateway.stack import GATEWAY, GATEWAY_SPEC, Stack, serve_command

ExtraGateway = Callable[..., contextlib.AbstractContextManager[str]]


@pytest.fixture(scope="module")
def community(stack: Stack) -> Iterator[Community]:
    with Community(stack.gateway_url) as client:
        yield client


@pytest.fixture(scope="module")
def admin(stack: Stack, community: Community) -> Account:
    account = community.login(stack.config.admin_username, stack.secrets.admin_password)
    # Auth announced the bootstrap admin before social had a queue to hear it, so social learns of
    # the admin only from an account change, as it would in a deployment started in that order.
    renamed = community.http.patch(
        "/api/auth/me", json={"display_name": "Stack admin"}, headers=account.headers
    )
    assert renamed.status_code == 200, renamed.text
    community.wait_for_profile(account)
    return account


@pytest.fixture(scope="module")
def extra_gateway(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtraGateway]:
    """Starts more gateway processes in front of the stack's services, as more replicas would be:
    ``with extra_gateway(AIC_RATE_LIMIT_PER_USER="100000") as url: ...``. Each gets the stack
    gateway's own settings (the same services, Redis and broker), changed by the keyword arguments."""
    tmp_path = tmp_path_factory.mktemp("gateways")
    started: list[subprocess.Popen[bytes]] = []

    @contextlib.contextmanager
    def start(**settings: str) -> Iterator[str]:
        port = free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIC_")}
        env.update(stack.env_for(GATEWAY))
        env.update({"AIC_PORT": str(port), "AIC_DATA_DIR": str(tmp_path), **settings})
        log_path = tmp_path / f"gateway-{port}.log"
        command = [
            sys.executable,
            *serve_command(GATEWAY_SPEC, host="127.0.0.1", port=port, graceful_shutdown_seconds=5),
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{url}/health/ready", process=process, log_path=log_path)
        try:
            yield url
        finally:
            _stop(process)

    yield start
    for process in started:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
