"""Issuing by scan: which record and which kit item a scanned serial or lot number means.

At the kitting bench a person scans (or types) the number printed on a label. The number is a
serial number or a lot number; this module decides, from the records carrying that number and
the kit's items, which record to issue to which item, or says in plain words why the scan
cannot be used. It decides nothing about the issue itself: the issue rules (domain.kits) still
check the record's status, the revision and the quantities. See docs/web.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kitwright.domain.errors import BadInput
from kitwright.domain.quantities import ZERO
from kitwright.domain.status import PartInventoryStatus

MAX_CODE_LENGTH = 200


@dataclass(frozen=True)
class ScannedRecord:
    """A record whose serial or lot number equals the scanned code."""

    record_id: int
    part_id: int
    part_number: str
    status: PartInventoryStatus


@dataclass(frozen=True)
class ScanItem:
    """One kit item as the scan sees it."""

    item_id: int
    part_id: int
    part_number: str
    remaining: Decimal


@dataclass(frozen=True)
class ScanTarget:
    record_id: int
    item_id: int


def clean_code(raw: object) -> str:
    """The scanned text without the spaces and line ends scanners add; refuses empty codes."""
    code = raw.strip() if isinstance(raw, str) else ""
    if not code:
        raise BadInput("Scan or type a serial or lot number.", field="code")
    if len(code) > MAX_CODE_LENGTH or any(ord(c) < 32 for c in code):
        raise BadInput("That does not look like a serial or lot number.", field="code")
    return code


def choose_scan_target(
    code: str, records: Sequence[ScannedRecord], items: Sequence[ScanItem]
) -> ScanTarget:
    """Pick the record and the item for a scanned `code`.

    Among the records of a part the kit asks for, an available one is preferred (lowest id
    first, so the choice is repeatable); the item is the first one (by id) of that part that
    still needs something, else the first of that part (the issue rules then say it is full).
    """
    if not records:
        raise BadInput(f"Nothing carries the serial or lot number “{code}”. Check the label and scan again.",
                       field="code")
    wanted = {item.part_id for item in items}
    usable = [r for r in records if r.part_id in wanted]
    if not usable:
        numbers = ", ".join(sorted({r.part_number for r in records}))
        raise BadInput(f"“{code}” is {numbers}; this kit does not ask for that part.", field="code")
    usable.sort(key=lambda r: (r.status is not PartInventoryStatus.AVAILABLE, r.record_id))
    record = usable[0]
    same_part = sorted((i for i in items if i.part_id == record.part_id), key=lambda i: i.item_id)
    open_items = [i for i in same_part if i.remaining > ZERO]
    item = (open_items or same_part)[0]
    return ScanTarget(record_id=record.record_id, item_id=item.item_id)
