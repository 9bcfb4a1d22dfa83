"""The kit holding an inventory record, read for the rule of domain.holds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kitwright.domain.holds import Hold
from kitwright.domain.kits import PartKitStatus
from kitwright.store.models import PartKit, PartKitInventory


def hold_of(session: Session, record_id: int) -> Hold | None:
    """The record's unreleased link and its kit's status. Call it after locking the record:
    it is a new statement, so it sees an issue or a release that committed while we waited."""
    row = session.execute(
        select(PartKitInventory.part_kit_id, PartKitInventory.part_kit_item_id, PartKit.status)
        .join(PartKit, PartKit.id == PartKitInventory.part_kit_id)
        .where(PartKitInventory.part_inventory_id == record_id,
               PartKitInventory.released == False)  # noqa: E712
    ).first()
    if row is None:
        return None
    kit_id, item_id, status = row
    return Hold(kit_id=kit_id, item_id=item_id, kit_status=PartKitStatus(status))
