"""Scalars: exact decimals that travel as JSON numbers, and free JSON objects."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, NewType, TypeAlias

import strawberry
from strawberry.types.scalar import ScalarDefinition

from kitwright.domain.errors import BadInput
from kitwright.domain.limits import MAX_ID
from kitwright.domain.quantities import MAX_QUANTITY, PLAIN_DECIMAL, SCALE, normalize


def _serialize_decimal(value: Decimal) -> Decimal:
    # The HTTP layer writes Decimals as exact JSON number text (simplejson), never floats.
    return normalize(Decimal(value))


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError("expected a number")
    if isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, (int, Decimal)):
        number = Decimal(value)
    elif isinstance(value, str):
        if not PLAIN_DECIMAL.fullmatch(value):
            raise ValueError(f"{value[:40]!r} is not a plain decimal number (ASCII digits, one point)")
        number = Decimal(value)
    else:
        raise ValueError("expected a number")
    if not number.is_finite():
        raise ValueError("expected a finite number")
    if abs(number) > MAX_QUANTITY:
        raise ValueError(f"must be at most {MAX_QUANTITY}")
    if number != number.quantize(Decimal(1).scaleb(-SCALE)):
        raise ValueError(f"has more than {SCALE} decimal places")
    return normalize(number)


# Python-side names for the two custom scalars; their GraphQL definitions are in SCALARS,
# handed to the schema through StrawberryConfig.scalar_map.
DecimalScalar: TypeAlias = Decimal
JSONObject = NewType("JSONObject", dict[str, Any])

DECIMAL_DEFINITION = strawberry.scalar(
    name="Decimal",
    description=(
        "An exact decimal number (up to 6 decimal places), sent and received as a JSON number."
    ),
    serialize=_serialize_decimal,
    parse_value=_parse_decimal,
)


def _parse_json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


JSON_OBJECT_DEFINITION = strawberry.scalar(
    name="JSONObject",
    description="A JSON object of custom attributes: keys to text, numbers, booleans or null.",
    serialize=lambda value: value,
    parse_value=_parse_json_object,
)

SCALARS: dict[object, ScalarDefinition] = {
    Decimal: DECIMAL_DEFINITION,
    JSONObject: JSON_OBJECT_DEFINITION,
}


_INTEGER = re.compile(r"[0-9]{1,10}")


def parse_id(value: object, *, field: str = "id") -> int:
    """IDs are integers from 0 to 2^31-1; the API accepts 1 and "1" (ASCII digits only)."""
    if isinstance(value, bool):
        raise BadInput(f"{field} must be an integer id", field=field)
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
        number = int(value)
    if number is None or not 0 <= number <= MAX_ID:
        raise BadInput(f"{field} must be an integer id from 0 to {MAX_ID}, got {str(value)[:40]!r}", field=field)
    return number
