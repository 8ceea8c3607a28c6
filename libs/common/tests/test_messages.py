"""The message catalogue, the envelope and the generated AsyncAPI document."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from aic_common.asyncapi import asyncapi_document, render
from aic_common.bus import topic_matches
from aic_common.messages import (
    CATALOGUE,
    Envelope,
    MessageKind,
    PostCreated,
    SimCommand,
    SimControl,
    exchange_for,
    make_envelope,
    parse_data,
)

pytestmark = pytest.mark.unit
REPO_ROOT = Path(__file__).resolve().parents[3]


def test_envelope_round_trips_through_bytes_with_chinese_text() -> None:
    data = PostCreated(
        post_id="p1",
        author_id="u1",
        author_username="lin",
        content="雨后的西湖 🌧️",
        mentions=["mei"],
        created_at=datetime.now(UTC),
    )
    envelope = make_envelope(data, "social", correlation_id="req-1")
    back = Envelope.from_bytes(envelope.to_bytes())
    assert back == envelope
    assert back.type == "post.created" and back.version == 1 and back.producer == "social"
    assert parse_data(back, PostCreated).content == "雨后的西湖 🌧️"


def test_parse_data_refuses_the_wrong_type_and_bad_payloads() -> None:
    envelope = make_envelope(SimControl(command=SimCommand.pause), "cli")
    with pytest.raises(ValueError, match=r"expected post\.created"):
        parse_data(envelope, PostCreated)
    envelope.data["command"] = "explode"
    with pytest.raises(ValidationError):
        parse_data(envelope, SimControl)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    envelope = make_envelope(SimControl(command=SimCommand.step, steps=3), "cli")
    envelope.data["added_in_a_later_version"] = True
    assert parse_data(envelope, SimControl).steps == 3


def test_every_kind_goes_to_its_exchange() -> None:
    assert exchange_for("post.created") == "events"
    assert exchange_for("social.command.create_post") == "commands"
    assert exchange_for("sim.control") == "control"
    kinds = {cls.message_kind for cls in CATALOGUE.values()}
    assert kinds == set(MessageKind)


def test_envelope_ids_are_unique() -> None:
    ids = {make_envelope(SimControl(command=SimCommand.status), "cli").id for _ in range(100)}
    assert len(ids) == 100 and all(isinstance(i, uuid.UUID) for i in ids)


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("user.*", "user.registered", True),
        ("user.*", "user.registered.extra", False),
        ("user.*", "user", False),
        ("#", "anything.at.all", True),
        ("#", "x", True),
        ("social.command.#", "social.command", True),
        ("social.command.#", "social.command.create_post", True),
        ("#.created", "post.created", True),
        ("#.created", "comment.created", True),
        ("#.created", "created", True),
        ("post.#.liked", "post.liked", True),
        ("post.#.liked", "post.a.b.liked", True),
        ("post.*.liked", "post.liked", False),
        ("post.created", "post.created", True),
        ("post.created", "post.deleted", False),
    ],
)
def test_topic_matching_follows_amqp(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected


def test_asyncapi_lists_every_message_with_its_schema() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(CATALOGUE)
    message = document["components"]["messages"]["post_created"]
    assert message["payload"]["properties"]["type"]["const"] == "post.created"
    schema = document["components"]["schemas"]["PostCreated"]
    assert {"post_id", "author_id", "content"} <= set(schema["required"])
    control = document["channels"]["sim_control"]["bindings"]["amqp"]["exchange"]["name"]
    assert control == "aic.control"


def test_committed_asyncapi_document_is_current() -> None:
    committed = (REPO_ROOT / "docs" / "asyncapi.json").read_text(encoding="utf-8")
    assert committed == render(), "run: make asyncapi"
