"""Fixtures shared by the tests of libs/common."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Logging set-up is process-wide; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    uvicorn = {
        name: (list(lg.handlers), lg.propagate, lg.disabled)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        for lg in [logging.getLogger(name)]
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (saved_handlers, propagate, disabled) in uvicorn.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = saved_handlers
        lg.propagate, lg.disabled = propagate, disabled
