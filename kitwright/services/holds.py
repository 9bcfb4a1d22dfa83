"""The kit holding an inventory record, read for the rule of domain.holds."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kitwright.domain.holds import Hold
from kitwright.domain.kits import PartKitStatus
from kitwright.domain.limits import ID_CHUNK
from kitwright.store.models import PartKit, PartKitInventory


def hold_of(session: Session, record_id: int) -> Hold | None:
    """The record's unreleased link and its kit's status. Call it after locking the record:
    it is a new statement, so it sees an issue or a release that committed while we waited."""
    return holds_of(session, [record_id]).get(record_id)


def holds_of(session: Session, record_ids: Iterable[int]) -> dict[int, Hold]:
    """`hold_of` for many records: one statement per ID_CHUNK of them."""
    found: dict[int, Hold] = {}
    wanted = sorted(set(record_ids))
    for start in range(0, len(wanted), ID_CHUNK):
        for record_id, kit_id, item_id, status in session.execute(
            select(PartKitInventory.part_inventory_id, PartKitInventory.part_kit_id,
                   PartKitInventory.part_kit_item_id, PartKit.status)
            .join(PartKit, PartKit.id == PartKitInventory.part_kit_id)
            .where(PartKitInventory.part_inventory_id.in_(wanted[start:start + ID_CHUNK]),
                   PartKitInventory.released == False)  # noqa: E712
        ):
            found[record_id] = Hold(kit_id=kit_id, item_id=item_id, kit_status=PartKitStatus(status))
    return found
