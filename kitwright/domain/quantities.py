"""Exact quantities.

Quantities are `Decimal` everywhere and are stored as integers of millionths, so sums in SQL
are exact on every engine (SQLite has no exact decimal type) and issuing 0.1 three times from
0.3 leaves exactly 0.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from kitwright.domain.errors import BadInput

SCALE = 6
FACTOR = 10**SCALE
# Largest quantity of one record: 10^15 millionths, so a total of 9,223 such records still
# fits the signed 64-bit integers SQLite sums in (PostgreSQL sums into numeric); availability
# totals are summed in two exact halves and never overflow (store.queries.exact_sum).
MAX_QUANTITY = Decimal(10**9)
# Quantities as text: ASCII digits, an optional leading minus, at most one point. Not
# "1_000", "+3", " 5", "1e3" or other scripts' digits, which Decimal() would all accept.
PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
ZERO = Decimal(0)
ONE = Decimal(1)


def parse_quantity(
    value: object, *, field: str = "quantity", allow_negative: bool = False
) -> Decimal:
    """Turn user input into an exact quantity or raise BadInput naming the field."""
    if isinstance(value, bool) or value is None:
        raise BadInput(f"{field} must be a number", field=field)
    try:
        if isinstance(value, float):
            # repr gives the shortest text that round-trips: 11.21 stays 11.21, not 11.2099…
            number = Decimal(repr(value))
        elif isinstance(value, (int, Decimal)):
            number = Decimal(value)
        elif isinstance(value, str):
            if not PLAIN_DECIMAL.fullmatch(value):
                raise BadInput(f"{field} must be a number in plain decimal text (ASCII digits, one point), got "
                               f"{value[:40]!r}", field=field)
            number = Decimal(value)
        else:
            raise BadInput(f"{field} must be a number", field=field)
    except InvalidOperation:
        raise BadInput(f"{field} must be a number, got {str(value)[:40]!r}", field=field) from None
    if not number.is_finite():
        raise BadInput(f"{field} must be a finite number", field=field)
    if not allow_negative and number < 0:
        raise BadInput(f"{field} must not be negative", field=field)
    if abs(number) > MAX_QUANTITY:
        raise BadInput(f"{field} must be at most {MAX_QUANTITY}", field=field)
    if number != number.quantize(Decimal(1).scaleb(-SCALE)):
        raise BadInput(f"{field} has more than {SCALE} decimal places", field=field)
    return normalize(number)


def normalize(number: Decimal) -> Decimal:
    """One canonical form: no exponent, no trailing zeros (Decimal('1.500') -> 1.5)."""
    quantized = number.quantize(Decimal(1).scaleb(-SCALE))
    text = format(quantized, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal(text) if text not in ("-0", "") else ZERO


def to_units(quantity: Decimal) -> int:
    """Decimal -> integer millionths, for storage."""
    return int((quantity * FACTOR).to_integral_exact())


def from_units(units: int) -> Decimal:
    # Every quantity read goes through here: integer arithmetic, not normalize()'s text
    # round trip. Whole numbers first, so normalize() below never yields an exponent.
    whole, fraction = divmod(units, FACTOR)
    if not fraction:
        return Decimal(whole)
    return Decimal(units).scaleb(-SCALE).normalize()
