"""The simulator's retention sweep: posts perceived long ago and stimuli handled long ago go; a stimulus
still waiting and recent rows stay."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from aic_common.db import utc_now
from aic_common.testing import app_lifespan
from aic_simulator.app import create_app
from aic_simulator.models import SeenPost, Stimulus
from aic_simulator.settings import SimulatorSettings

pytestmark = pytest.mark.unit


def seen(post_id: str, age: timedelta) -> SeenPost:
    return SeenPost(
        post_id=post_id, author_id="u1", author_username="someone", content="hi", created_at=utc_now() - age
    )


def stimulus(ref_id: str, age: timedelta, *, handled: bool) -> Stimulus:
    return Stimulus(
        agent_id="lin_xiaoyu",
        kind="message",
        ref_id=ref_id,
        from_user_id="u1",
        from_username="someone",
        content="hello",
        handled=handled,
        received_at=utc_now() - age,
    )


async def test_old_perceived_posts_and_handled_stimuli_are_swept(tmp_path: Path) -> None:
    settings = SimulatorSettings(
        data_dir=tmp_path, bus_namespace=f"t{uuid.uuid4().hex[:8]}", handled_stimulus_retention_days=30
    )
    app = create_app(settings)
    async with app_lifespan(app):
        runtime = app.state.runtime
        with runtime.session_factory.begin() as session:
            session.add_all(
                [
                    seen("old", timedelta(days=settings.seen_post_retention_days + 1)),
                    seen("recent", timedelta(days=1)),
                    stimulus("old-handled", timedelta(days=31), handled=True),
                    stimulus("old-waiting", timedelta(days=31), handled=False),
                    stimulus("recent-handled", timedelta(days=1), handled=True),
                ]
            )
        deleted = await runtime.retention.sweep()
        with runtime.session_factory() as session:
            posts = set(session.scalars(sa.select(SeenPost.post_id).where(SeenPost.author_id == "u1")))
            stimuli = set(session.scalars(sa.select(Stimulus.ref_id).where(Stimulus.from_user_id == "u1")))
    assert posts == {"recent"}
    assert stimuli == {"old-waiting", "recent-handled"}
    assert deleted["seen_posts"] == 1 and deleted["stimuli_handled"] == 1
