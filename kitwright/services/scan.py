"""Issue by scan: a serial or lot number scanned at the bench becomes an issueItemToKit.

The domain (domain.scan) chooses the record and the item; the issue itself is
services.kits.issue_item_to_kit in the same unit of work, so a wrong scan raises before
anything is written and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, or_, select

from kitwright.domain.kits import remaining_quantity
from kitwright.domain.scan import ScanItem, ScannedRecord, choose_scan_target, clean_code
from kitwright.domain.status import PartInventoryStatus
from kitwright.services.kits import fresh_statuses, issue_item_to_kit, kitted_by_item
from kitwright.services.uow import UnitOfWork, get
from kitwright.store.models import Part, PartInventory, PartKit, status_is
from kitwright.store.models import PartKitItem as Item

MAX_MATCHES = 50


@dataclass(frozen=True)
class ScanResult:
    record: PartInventory
    item_id: int
    part_number: str
    code: str


def issue_scanned(
    uow: UnitOfWork, *, kit_id: int, code: object, quantity: object | None = None
) -> ScanResult:
    """Issue the record carrying serial or lot number `code` to the kit item that needs it."""
    scanned = clean_code(code)
    session = uow.session
    kit = get(session, PartKit, kit_id, field="id")
    rows = list(session.execute(
        select(Item.id, Item.part_id, Part.part_number, Item.quantity)
        .join(Part, Part.id == Item.part_id)
        .where(Item.part_kit_id == kit.id).order_by(Item.id)
    ))
    kitted = kitted_by_item(session, [row[0] for row in rows])
    items = [ScanItem(item_id, part_id, number, remaining_quantity(q, kitted[item_id]))
             for item_id, part_id, number, q in rows]
    carries = or_(PartInventory.serial_number == scanned, PartInventory.lot_number == scanned)
    columns = (PartInventory.id, PartInventory.part_id, PartInventory.part_number)
    # Only records of the parts the kit asks for, available ones first, then the limit: a code
    # that many other records carry (a busy lot, a supplier's date code) must not hide the one
    # the kit can use.
    available_first = case((status_is(PartInventoryStatus.AVAILABLE.value), 0), else_=1)
    found = list(session.execute(
        select(*columns)
        .where(carries, PartInventory.part_id.in_(sorted({item.part_id for item in items})))
        .order_by(available_first, PartInventory.id).limit(MAX_MATCHES)
    ))
    if not found:  # the domain says why: nothing carries the code, or only other parts do
        found = list(session.execute(select(*columns).where(carries).order_by(PartInventory.id)
                                     .limit(MAX_MATCHES)))
    statuses = fresh_statuses(session, [row[0] for row in found])
    target = choose_scan_target(
        scanned, [ScannedRecord(rid, part_id, number, statuses[rid]) for rid, part_id, number in found], items
    )
    held = issue_item_to_kit(uow, part_inventory_id=target.record_id, part_kit_item_id=target.item_id,
                             quantity=quantity)
    number = next(i.part_number for i in items if i.item_id == target.item_id)
    return ScanResult(record=held, item_id=target.item_id, part_number=number, code=scanned)

