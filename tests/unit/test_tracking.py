"""Tracking rules (docs/rules.md#r2)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain.errors import BadInput, Problems
from kitwright.domain.tracking import Identity, TrackingType, check_identity, clean_number


def problems_for(tracking: TrackingType, serial: str | None, lot: str | None, quantity: str) -> list[str]:
    found = Problems()
    check_identity(tracking, Identity(serial, lot, Decimal(quantity)), found)
    return [f"{p.field}: {p.message}" for p in found.items]


def test_serial_with_a_lot_holding_one_is_fine() -> None:
    assert problems_for(TrackingType.SERIAL, "sn-1", "123", "1") == []
    assert problems_for(TrackingType.SERIAL, "sn-1", None, "0") == []


@pytest.mark.parametrize("quantity", ["2", "0.5", "-1"])
def test_serial_holds_zero_or_one(quantity: str) -> None:
    assert any("holds 0 or 1" in p for p in problems_for(TrackingType.SERIAL, "sn-1", None, quantity))


def test_serial_needs_a_serial_number() -> None:
    assert problems_for(TrackingType.SERIAL, None, None, "1") == [
        "serialNumber: a serial-tracked part needs a serialNumber (or autogenerateSerialNumber)"
    ]


def test_lot_needs_a_lot_and_no_serial() -> None:
    assert problems_for(TrackingType.LOT, None, "L1", "1000.25") == []
    assert problems_for(TrackingType.LOT, None, None, "1")[0].startswith("lotNumber")
    assert problems_for(TrackingType.LOT, "s", "L1", "1")[0].startswith("serialNumber")


def test_untracked_has_neither() -> None:
    assert problems_for(TrackingType.UNTRACKED, None, None, "12.5") == []
    assert len(problems_for(TrackingType.UNTRACKED, "s", "l", "1")) == 2


def test_every_reason_is_reported_at_once() -> None:
    found = problems_for(TrackingType.SERIAL, None, "x" * 201, "3")
    assert len(found) == 3
    collected = Problems()
    check_identity(TrackingType.SERIAL, Identity(None, None, Decimal(3)), collected)
    with pytest.raises(BadInput) as caught:
        collected.raise_if_any()
    assert len(caught.value.details) == 2


def test_blank_numbers_are_no_numbers() -> None:
    assert clean_number("  ") is None
    assert clean_number(" sn-1 ") == "sn-1"


@given(
    st.sampled_from(list(TrackingType)),
    st.one_of(st.none(), st.text(max_size=5)),
    st.one_of(st.none(), st.text(max_size=5)),
    st.decimals(min_value=-2, max_value=5, places=2),
)
def test_accepted_records_always_satisfy_their_tracking(
    tracking: TrackingType, serial: str | None, lot: str | None, quantity: Decimal
) -> None:
    try:
        serial, lot = clean_number(serial), clean_number(lot)
    except BadInput:
        return  # invisible or control characters: refused outright (docs/security.md)
    found = Problems()
    check_identity(tracking, Identity(serial, lot, quantity), found)
    if found:
        return
    assert quantity >= 0
    if tracking is TrackingType.SERIAL:
        assert serial is not None and quantity in (0, 1)
    elif tracking is TrackingType.LOT:
        assert lot is not None and serial is None
    else:
        assert serial is None and lot is None
