"""The AsyncAPI 3.0 document of every message on the bus, generated from the catalogue.

``python -m aic_common.asyncapi [path]`` writes it (``docs/asyncapi.json`` is kept up to date by a
test), so the document can never drift from the schemas the services validate with.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aic_common.messages import CATALOGUE, EXCHANGE_OF_KIND, Envelope


def _channel_id(message_type: str) -> str:
    return message_type.replace(".", "_")


def asyncapi_document(namespace: str = "aic") -> dict[str, Any]:
    envelope_schema = Envelope.model_json_schema()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for message_type, model in sorted(CATALOGUE.items()):
        name = _channel_id(message_type)
        data_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in data_schema.pop("$defs", {}).items():
            schemas[def_name] = definition
        schemas[model.__name__] = data_schema
        payload = {
            **{k: v for k, v in envelope_schema.items() if k not in ("title", "$defs")},
            "title": f"{model.__name__}Envelope",
        }
        payload["properties"] = {
            **envelope_schema["properties"],
            "type": {"const": message_type, "type": "string"},
            "version": {"const": model.message_version, "type": "integer"},
            "data": {"$ref": f"#/components/schemas/{model.__name__}"},
        }
        exchange = f"{namespace}.{EXCHANGE_OF_KIND[model.message_kind]}"
        messages[name] = {
            "name": message_type,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else message_type,
            "contentType": "application/json",
            "payload": payload,
            "x-kind": model.message_kind.value,
            "x-version": model.message_version,
        }
        channels[name] = {
            "address": message_type,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": exchange, "type": "topic", "durable": True, "autoDelete": False},
                }
            },
        }
        operations[f"publish_{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "bindings": {"amqp": {"deliveryMode": 2, "mandatory": False}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "AI Community messages",
            "version": "1.0.0",
            "description": "Events, commands and control messages exchanged by the AI Community services. "
            "Every message is a JSON envelope whose `type` is also its routing key.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render(namespace: str = "aic") -> str:
    return json.dumps(asyncapi_document(namespace), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    text = render()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
