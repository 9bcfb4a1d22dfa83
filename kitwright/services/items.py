"""Manhattan item documents: a kit item and its components, by part number.

`{"ItemId": "ItemA", "ItemComponent": [{"ComponentItemId": "ItemB", "ComponentQty": 4}, …]}`.
Items are resolved by part number; when a number has several revisions the latest one (the
most recently created, i.e. highest id) is meant. ComponentQty is a *composition* of whole
kits (4/2/2 = 2 kits of 2/1/1, domain.kit_definitions.ratios_from_composition). The kit item
is created (UNTRACKED, no revision) when no part has its number, like an item-master upsert;
every component must exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from kitwright.domain.errors import KitwrightError, NotFound, Problem, Problems
from kitwright.domain.kit_definitions import ratios_from_composition
from kitwright.services import parts
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import Part, PartComponent


@dataclass(frozen=True)
class SavedItem:
    part: Part
    created: bool
    kits: int
    components: list[tuple[PartComponent, str]]  # (row, component part number)


def latest_parts(uow: UnitOfWork, numbers: Sequence[str]) -> dict[str, Part]:
    """Part number -> its latest revision (highest id), in one query."""
    found: dict[str, Part] = {}
    stmt = select(Part).where(Part.part_number.in_(set(numbers))).order_by(Part.id)
    for part in uow.session.scalars(stmt):
        found[part.part_number] = part
    return found


def _rename(field: str | None) -> str | None:
    if field is None:
        return None
    return (
        field.replace("components", "ItemComponent")
        .replace(".partId", ".ComponentItemId")
        .replace(".quantity", ".ComponentQty")
    )


def save_item_document(
    uow: UnitOfWork, item_id: str, components: Sequence[tuple[str, Decimal]]
) -> SavedItem:
    """Define (or redefine) the kit `item_id` from its composition; all or nothing."""
    kits, ratios = ratios_from_composition([q for _, q in components], field="ItemComponent")
    found = latest_parts(uow, [item_id, *(number for number, _ in components)])
    missing = Problems()
    for index, (number, _) in enumerate(components):
        if number not in found:
            missing.add(f"item {number!r} does not exist", field=f"ItemComponent[{index}].ComponentItemId")
    if missing.items:
        first = missing.items[0]
        raise NotFound(
            first.message if len(missing.items) == 1 else f"{len(missing.items)} items do not exist",
            field=first.field,
            details=missing.items,
        )
    part = found.get(item_id)
    created = part is None
    if part is None:
        part = Part(part_number=item_id, revision="", tracking_type="UNTRACKED")
        uow.session.add(part)
        uow.flush()
    pairs = [(found[number].id, ratio) for (number, _), ratio in zip(components, ratios, strict=True)]
    try:
        rows = parts.set_components(uow, part, pairs)
    except KitwrightError as error:
        details = [Problem(p.message, field=_rename(p.field), row=p.row, column=p.column) for p in error.details]
        message = error.message.replace("components", "ItemComponent")
        raise type(error)(message, field=_rename(error.field), details=details) from None
    numbers = {p.id: p.part_number for p in found.values()}
    uow.commit()
    return SavedItem(part, created, kits, [(row, numbers.get(row.component_part_id, "")) for row in rows])
