"""Fixtures of the fault tests: a RabbitMQ node of their own to restart, stacks to break on purpose."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aic_common.testing.fixtures import unavailable
from aic_common.testing.rabbitmq_node import RabbitNode, rabbitmq_commands
from aic_gateway.stack import Stack, StackConfig


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[RabbitNode]:
    """A RabbitMQ node for the fault tests alone: restarting the shared one would break everyone's tests.

    Needs a local RabbitMQ installation: skipped without one (failed with ``CI=true``).
    """
    if rabbitmq_commands() is None:
        unavailable("rabbitmq-server", "install RabbitMQ (the fault tests run a private node of it)")
    # Not pytest's tmp_path: the node runs as the rabbitmq user when we are root, and needs every
    # directory above its own to be traversable.
    with tempfile.TemporaryDirectory(prefix="aic-fault-rabbitmq-") as base:
        Path(base).chmod(0o755)
        with RabbitNode(Path(base)) as node:
            yield node


@pytest.fixture
def start_stack() -> Iterator[Callable[[StackConfig], Stack]]:
    """Starts a stack for this test alone; stopped, and its databases dropped, after the test."""
    started: list[Stack] = []

    def start(config: StackConfig) -> Stack:
        stack = Stack(config)
        started.append(stack)
        stack.start()
        return stack

    yield start
    for stack in reversed(started):
        stack.stop()
        stack.drop_databases()


@pytest.fixture
def stack_database() -> Iterator[Callable[[Stack, str], sa.Engine]]:
    """An engine on one service's database of a stack (disposed after the test), to check its state."""
    engines: list[sa.Engine] = []

    def engine_for(stack: Stack, service: str) -> sa.Engine:
        engine = sa.create_engine(stack.config.database_url(service), pool_pre_ping=True)
        engines.append(engine)
        return engine

    yield engine_for
    for engine in engines:
        engine.dispose()
