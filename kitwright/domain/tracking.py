"""Tracking rules of ION's part inventory API.

SERIAL: needs a serial number (a lot number may be added), holds 0 or 1.
LOT:    needs a lot number and no serial number, holds >= 0.
UNTRACKED: neither a serial nor a lot number; any quantity >= 0.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from kitwright.domain.errors import Problems
from kitwright.domain.quantities import ONE, ZERO

MAX_NUMBER_LENGTH = 200


class TrackingType(enum.StrEnum):
    SERIAL = "SERIAL"
    LOT = "LOT"
    UNTRACKED = "UNTRACKED"


@dataclass(frozen=True)
class Identity:
    """What a record says about itself: the numbers it carries and how much it holds."""

    serial_number: str | None
    lot_number: str | None
    quantity: Decimal


def clean_number(value: str | None) -> str | None:
    """Blank numbers are no numbers; surrounding spaces never make two serials differ."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def check_identity(tracking: TrackingType, record: Identity, problems: Problems) -> None:
    """Add every way `record` breaks the tracking rules of its part to `problems`."""
    serial, lot, quantity = record.serial_number, record.lot_number, record.quantity
    for name, value in (("serialNumber", serial), ("lotNumber", lot)):
        if value is not None and len(value) > MAX_NUMBER_LENGTH:
            problems.add(f"{name} is longer than {MAX_NUMBER_LENGTH} characters", field=name)
        if value is not None and any(ord(ch) < 32 for ch in value):
            problems.add(f"{name} must not contain control characters", field=name)
    if quantity < ZERO:
        problems.add("quantity must not be negative", field="quantity")
    if tracking is TrackingType.SERIAL:
        if serial is None:
            problems.add(
                "a serial-tracked part needs a serialNumber (or autogenerateSerialNumber)",
                field="serialNumber",
            )
        if quantity not in (ZERO, ONE):
            problems.add("a serial-tracked record holds 0 or 1", field="quantity")
    elif tracking is TrackingType.LOT:
        if serial is not None:
            problems.add("a lot-tracked part takes no serialNumber", field="serialNumber")
        if lot is None:
            problems.add(
                "a lot-tracked part needs a lotNumber (or autogenerateLotNumber)",
                field="lotNumber",
            )
    else:
        if serial is not None:
            problems.add("an untracked part takes no serialNumber", field="serialNumber")
        if lot is not None:
            problems.add("an untracked part takes no lotNumber", field="lotNumber")
