"""A deleted account's tokens are refused at the edge and its open live streams end at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from aic_common.bus import InProcessBus
from aic_common.messages import UserDeleted, make_envelope
from aic_common.testing import wait_for
from aic_gateway.app import create_app
from aic_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration


async def test_user_deleted_ends_the_accounts_streams_and_its_tokens(tmp_path: Path) -> None:
    bus = InProcessBus("t")
    app = create_app(GatewaySettings(data_dir=tmp_path), shared_bus=bus)
    state = app.state.gateway
    gone, stays = state.hub.events("u-gone"), state.hub.events("u-stays")
    await anext(gone)  # the first frame: each stream is open now
    await anext(stays)
    assert state.hub.subscriber_count == 2

    await bus.start()
    try:
        await bus.publish(make_envelope(UserDeleted(user_id="u-gone", username="gone"), producer="auth"))
        await wait_for(lambda: state.hub.subscriber_count == 1, timeout=5, what="the stream closed")
    finally:
        await bus.stop()
    with pytest.raises(StopAsyncIteration):
        await anext(gone)
    assert "u-gone" in state.verifier.deleted_accounts
    assert "u-stays" not in state.verifier.deleted_accounts
    await stays.aclose()
