"""Scalars: exact decimals that travel as JSON numbers, and free JSON objects."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, NewType, TypeAlias

import strawberry
from strawberry.types.scalar import ScalarDefinition

from kitwright.domain.errors import BadInput
from kitwright.domain.quantities import MAX_QUANTITY, SCALE, normalize


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
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            raise ValueError(f"{value[:40]!r} is not a number") from None
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
JSONObject = NewType("JSONObject", object)

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


_INTEGER = re.compile(r"-?[0-9]{1,19}")


def parse_id(value: object, *, field: str = "id") -> int:
    """IDs are integers; the API accepts 1 and "1"."""
    if isinstance(value, bool):
        raise BadInput(f"{field} must be an integer id", field=field)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
        if _INTEGER.fullmatch(text):
            return int(text)
    raise BadInput(f"{field} must be an integer id, got {str(value)[:40]!r}", field=field)
