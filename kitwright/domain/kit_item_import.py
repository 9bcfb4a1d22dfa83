"""The Kit Items importer's rules (docs/importers.md): what each row means and what it changes.

Pure: the service reads the file, fetches the facts named here with a few set-based queries,
calls `plan_kit_item_import`, and writes the changes it returns. The quantity rules are the
ones `createPartKitItem` / `updatePartKitItem` apply (`kits.check_item_quantity`), so a row
is accepted exactly when the same change made one item at a time would be.

- A row names a kit (`kit_id`, required: the importer never creates kits), a part number, an
  optional revision (blank: the part number's latest revision, the most recently created) and
  a quantity.
- The kit already has an item for that part (revision included): its quantity is updated and
  the inventory already kitted to it stays; otherwise a new item is created.
- Two rows for the same kit and part (after resolving blank revisions) are an error.
- Every problem is reported with its row (header = row 1) and column; one problem anywhere
  means nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kitwright.domain.errors import BadInput, Problems
from kitwright.domain.kits import check_item_quantity
from kitwright.domain.limits import MAX_ID
from kitwright.domain.quantities import ZERO, parse_quantity
from kitwright.domain.tracking import TrackingType

COLUMNS = ("kit_id", "part_number", "revision", "quantity")
# Other header names accepted for the same columns (ION's screens and scripts use these).
ALIASES: dict[str, tuple[str, ...]] = {
    "kit_id": ("kit", "kitid", "part_kit_id", "partkitid", "kit id"),
    "part_number": ("partnumber", "part", "part no", "part_no"),
    "revision": ("rev", "part_revision"),
    "quantity": ("qty",),
}
MAX_PART_NUMBER = 200
MAX_REVISION = 50


@dataclass(frozen=True, slots=True)
class KitItemRow:
    row: int
    kit_id: int
    part_number: str
    revision: str | None  # None: the latest revision
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class PartFacts:
    id: int
    part_number: str
    revision: str
    tracking: TrackingType


@dataclass(frozen=True, slots=True)
class ExistingItem:
    id: int
    kit_id: int
    part_id: int
    quantity: Decimal
    kitted: Decimal


@dataclass(frozen=True, slots=True)
class ItemChange:
    """Create (item_id None) or update one kit item to `quantity`."""

    row: int
    kit_id: int
    part_id: int
    quantity: Decimal
    item_id: int | None = None
    old_quantity: Decimal | None = None
    kitted: Decimal = ZERO

    @property
    def created(self) -> bool:
        return self.item_id is None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet shows 7, not 7.0
    text = str(value).strip()
    return text or None


def parse_row(number: int, values: Mapping[str, Any], problems: Problems) -> KitItemRow | None:
    """One row's cells, checked on their own; None (with problems added) when any is bad."""
    before = len(problems.items)
    kit_id: int | None = None
    raw_kit = values.get("kit_id")
    if raw_kit is None or (isinstance(raw_kit, str) and not raw_kit.strip()):
        problems.add("kit_id is required: the importer adds items to existing kits only",
                     row=number, column="kit_id")
    else:
        kit_id = _whole_id(raw_kit)
        if kit_id is None:
            problems.add(f"kit_id must be a kit's id (a whole number), got {str(raw_kit)[:40]!r}",
                         row=number, column="kit_id")
    part_number = _text(values.get("part_number"))
    if part_number is None:
        problems.add("part_number is required", row=number, column="part_number")
    elif len(part_number) > MAX_PART_NUMBER:
        problems.add(f"part_number is longer than {MAX_PART_NUMBER} characters", row=number,
                     column="part_number")
    revision = _text(values.get("revision"))
    if revision is not None and len(revision) > MAX_REVISION:
        problems.add(f"revision is longer than {MAX_REVISION} characters", row=number, column="revision")
    quantity: Decimal | None = None
    raw_quantity = values.get("quantity")
    if raw_quantity is None:
        problems.add("quantity is required", row=number, column="quantity")
    else:
        try:
            quantity = parse_quantity(raw_quantity, field="quantity", allow_negative=True)
        except BadInput as error:
            problems.add(error.message, row=number, column="quantity")
    if len(problems.items) > before:
        return None
    assert kit_id is not None and part_number is not None and quantity is not None
    return KitItemRow(number, kit_id, part_number, revision, quantity)


def _whole_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def resolve_part(
    row: KitItemRow, revisions: Sequence[PartFacts], problems: Problems
) -> PartFacts | None:
    """The part a row names: its revision, or the latest (highest id) when blank.

    `revisions` are every part with the row's part number, in ascending id order."""
    if not revisions:
        problems.add(f"no part has part number {row.part_number!r}", row=row.row, column="part_number")
        return None
    if row.revision is None:
        return revisions[-1]
    for part in revisions:
        if part.revision == row.revision:
            return part
    known = ", ".join(repr(p.revision) for p in revisions[-5:])
    problems.add(
        f"part {row.part_number!r} has no revision {row.revision!r} (it has {known})",
        row=row.row, column="revision",
    )
    return None


def plan_kit_item_import(
    rows: Sequence[KitItemRow],
    parts_by_number: Mapping[str, Sequence[PartFacts]],
    kit_ids: set[int],
    existing: Mapping[tuple[int, int], Sequence[ExistingItem]],
    problems: Problems,
    refused: Mapping[int, str] | None = None,
) -> list[ItemChange]:
    """Every row's change, and every problem (added to `problems`) across all rows.

    `kit_ids` are the kits that exist; `existing` holds the items of those kits by
    (kit id, part id); `refused` says why the caller may not edit a kit's items, per kit
    (domain.kit_access, the rule createPartKitItem / updatePartKitItem apply)."""
    changes: list[ItemChange] = []
    first_row: dict[tuple[int, int], int] = {}
    for row in rows:
        part = resolve_part(row, parts_by_number.get(row.part_number, ()), problems)
        kit_ok = row.kit_id in kit_ids
        if not kit_ok:
            problems.add(
                f"kit {row.kit_id} does not exist (the importer never creates kits)",
                row=row.row, column="kit_id",
            )
        elif refused and row.kit_id in refused:
            problems.add(refused[row.kit_id], row=row.row, column="kit_id")
            kit_ok = False
        if part is None or not kit_ok:
            continue
        key = (row.kit_id, part.id)
        ok = True
        if key in first_row:
            problems.add(
                f"duplicate: row {first_row[key]} already sets kit {row.kit_id}'s item for part "
                f"{part.part_number} rev {part.revision!r}; keep one row per kit and part",
                row=row.row, column="part_number",
            )
            ok = False
        else:
            first_row[key] = row.row
        items = existing.get(key, ())
        if len(items) > 1:
            problems.add(
                f"kit {row.kit_id} has {len(items)} items for part {part.part_number} rev "
                f"{part.revision!r}; update them one by one",
                row=row.row, column="part_number",
            )
            ok = False
        current = items[0] if len(items) == 1 else None
        kitted = current.kitted if current is not None else ZERO
        try:
            check_item_quantity(row.quantity, kitted, tracking=part.tracking)
        except BadInput as error:
            for problem in error.details or []:
                problems.add(problem.message, row=row.row, column="quantity")
            ok = False
        if not ok:
            continue
        changes.append(ItemChange(
            row=row.row, kit_id=row.kit_id, part_id=part.id, quantity=row.quantity,
            item_id=current.id if current is not None else None,
            old_quantity=current.quantity if current is not None else None, kitted=kitted,
        ))
    return changes
