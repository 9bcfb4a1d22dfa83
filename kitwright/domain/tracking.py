"""Tracking rules of ION's part inventory API.

SERIAL: needs a serial number (a lot number may be added), holds 0 or 1.
LOT:    needs a lot number and no serial number, holds >= 0.
UNTRACKED: neither a serial nor a lot number; any quantity >= 0.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from kitwright.domain.errors import BadInput, Problems
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


# Characters a serial or lot number may never hold: controls (Cc), invisible formatting such
# as zero-width spaces, soft hyphens and bidi overrides/isolates (Cf), line and paragraph
# separators (Zl, Zp), private-use, surrogate and unassigned code points (Co, Cs, Cn).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})


def clean_number(value: str | None, *, field: str = "serialNumber") -> str | None:
    """The one form a serial or lot number is stored and compared in (docs/security.md):
    Unicode NFKC (full-width and other compatibility forms become their plain letters and
    digits, a no-break space a space), every dash (Unicode Pd, and the minus sign) becomes
    "-", surrounding spaces go; invisible and direction-changing characters are refused.
    Comparison is then exact (case-sensitive) on that form. Blank is no number."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value)
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise BadInput(f"{field} must not contain control, invisible or direction characters "
                           f"(found U+{ord(char):04X})", field=field)
    text = "".join("-" if char == "\u2212" or unicodedata.category(char) == "Pd" else char for char in text)
    text = text.strip()
    return text or None


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
