"""Exact quantities: no float drift (docs/rules.md#r2)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain.errors import BadInput
from kitwright.domain.quantities import (
    MAX_QUANTITY,
    from_units,
    normalize,
    parse_quantity,
    to_units,
)

quantities = st.decimals(min_value=0, max_value=MAX_QUANTITY, places=6, allow_nan=False, allow_infinity=False)


def test_issuing_a_tenth_three_times_from_three_tenths_leaves_exactly_zero() -> None:
    stock = parse_quantity(0.3)
    for _ in range(3):
        stock -= parse_quantity(0.1)
    assert stock == 0
    assert from_units(to_units(parse_quantity("0.3")) - 3 * to_units(parse_quantity("0.1"))) == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1, "1"), ("2.50", "2.5"), (11.21, "11.21"), (Decimal("1E+2"), "100"), ("0.000001", "0.000001")],
)
def test_parses_numbers_and_text_exactly(raw: object, expected: str) -> None:
    assert str(parse_quantity(raw)) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (-1, "must not be negative"),
        ("abc", "must be a number"),
        (None, "must be a number"),
        (True, "must be a number"),
        ("NaN", "plain decimal"),
        ("Infinity", "plain decimal"),
        (float("inf"), "finite"),
        ("1e400", "plain decimal"),
        (10**13, "at most"),
        ("0.0000001", "decimal places"),
        ([1], "must be a number"),
    ],
)
def test_refuses_bad_quantities_naming_the_field(raw: object, message: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_quantity(raw, field="quantity")
    assert message in caught.value.message
    assert caught.value.field == "quantity"


@given(quantities)
def test_storage_round_trip_is_exact(value: Decimal) -> None:
    assert from_units(to_units(value)) == value


@given(quantities, quantities)
def test_sums_in_storage_units_equal_decimal_sums(a: Decimal, b: Decimal) -> None:
    assert from_units(to_units(a) + to_units(b)) == normalize(a + b)


@given(st.lists(quantities, min_size=1, max_size=20))
def test_splitting_and_merging_conserves_quantity(parts: list[Decimal]) -> None:
    total = sum(parts, Decimal(0))
    remaining = total
    for part in parts:
        remaining -= part
    assert remaining == 0
