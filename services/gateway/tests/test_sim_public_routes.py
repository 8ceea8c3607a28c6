"""Which simulator routes the gateway lets through without a token."""

from __future__ import annotations

from aic_gateway.edge import is_public


def test_a_characters_transcript_is_readable_signed_out_and_nothing_else_under_it() -> None:
    assert is_public("GET", "/api/sim/agents/lin_xiaoyu/transcript")
    assert is_public("GET", "/api/sim/agents/lin_xiaoyu")
    assert not is_public("POST", "/api/sim/agents/lin_xiaoyu/transcript")
    assert not is_public("GET", "/api/sim/agents/lin_xiaoyu/memories")
    assert not is_public("GET", "/api/sim/agents/lin_xiaoyu/transcript/more")
