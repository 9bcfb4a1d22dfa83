"""ION's key/value attributes of parts and suppliers (domain.attributes)."""

from __future__ import annotations

from typing import Any

import strawberry

from kitwright.domain.attributes import DEFAULT_TYPE


@strawberry.type(name="KeyValueAttribute", description="A custom attribute: key, value (text) and type.")
class KeyValueAttributeType:
    key: str
    value: str | None
    type: str = strawberry.field(description="How to read the value: TEXT, NUMERIC, BOOLEAN, DATE, URL, "
                                 "FILE_ATTACHMENT (a URL), …")


@strawberry.input(name="KeyValueAttributeInput", description="A custom attribute; keys are unique per object.")
class KeyValueAttributeInput:
    key: str
    value: str | None = None
    type: str | None = strawberry.field(default=None, description=f"Default {DEFAULT_TYPE}.")


def attribute_triples(items: list[KeyValueAttributeInput] | None) -> list[tuple[object, object, object]]:
    return [(item.key, item.value, item.type) for item in items or []]


def attribute_list(stored: list[dict[str, Any]] | None) -> list[KeyValueAttributeType]:
    return [
        KeyValueAttributeType(key=str(a.get("key")), value=a.get("value"), type=str(a.get("type") or DEFAULT_TYPE))
        for a in stored or []
    ]
