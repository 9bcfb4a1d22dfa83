"""Part inventory records: create, update, delete, list, with ION's tracking rules.

Every change writes a ledger entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from kitwright.config import settings
from kitwright.domain.errors import BadInput, NotFound, Problems
from kitwright.domain.holds import RecordChange, check_held_change, check_installed_change
from kitwright.domain.kit_definitions import check_holds_stock
from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.limits import ID_CHUNK, MAX_ID, NUMBER_ATTEMPTS
from kitwright.domain.numbering import render_number
from kitwright.domain.quantities import ZERO, parse_quantity
from kitwright.domain.text import clean_attributes, clean_text
from kitwright.domain.tracking import Identity, TrackingType, check_identity, clean_number
from kitwright.services.holds import hold_of
from kitwright.services.ledger import record_change, snapshot
from kitwright.services.listing import Listing
from kitwright.services.parts import is_kit_part, kit_part_ids
from kitwright.services.uow import UnitOfWork, check_etag, check_updatable
from kitwright.store.models import (
    Location,
    NumberSequence,
    Part,
    PartInventory,
    Supplier,
    UnitOfMeasure,
    status_is,
    status_is_joined,
    with_status_joins,
)
from kitwright.store.queries import CountForm, MembershipFilter


@dataclass
class NewPartInventory:
    part_id: int
    location_id: int | None = None
    supplier_id: int | None = None
    serial_number: str | None = None
    lot_number: str | None = None
    quantity: Decimal | int | str | None = None
    cost: Decimal | int | str | None = None
    usage_type: str | None = None
    unit_of_measure_id: int | None = None
    autogenerate_serial_number: bool = False
    autogenerate_lot_number: bool = False
    segment: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    on_order: bool = False
    expected_at: date | None = None
    expiration_date: date | None = None
    how_created: str = "CREATED"


UPDATABLE = {
    "location_id", "supplier_id", "serial_number", "lot_number", "quantity", "cost", "usage_type",
    "unit_of_measure_id", "segment", "attributes", "on_order", "expected_at", "expiration_date",
}


def create_part_inventory(uow: UnitOfWork, new: NewPartInventory) -> PartInventory:
    record = build_part_inventory(uow, new)
    uow.session.add(record)
    uow.flush()
    record_change(uow, LedgerOperation.CREATE, record, None, snapshot(record))
    uow.commit()
    return record


def build_part_inventory(uow: UnitOfWork, new: NewPartInventory) -> PartInventory:
    """A validated, unsaved record (shared by create and the importers)."""
    problems = Problems()
    part, _location = _part_for_stock(uow, new.part_id, new.location_id)
    check_holds_stock(part.part_number, is_kit_part(uow.session, part.id))
    tracking = TrackingType(part.tracking_type)
    record = PartInventory(
        part_id=part.id,
        part_number=part.part_number,
        unit_of_measure_id=part.unit_of_measure_id,
        created_by_id=uow.actor.id,
        how_created=new.how_created,
        attributes={},
    )
    _apply_references(uow, record, new.location_id, new.supplier_id, new.unit_of_measure_id,
                      {"location_id", "supplier_id", "unit_of_measure_id"})
    record.serial_number = clean_number(new.serial_number, field="serialNumber")
    record.lot_number = clean_number(new.lot_number, field="lotNumber")
    if new.autogenerate_serial_number and tracking is not TrackingType.SERIAL:
        problems.add("autogenerateSerialNumber applies to serial-tracked parts only",
                     field="autogenerateSerialNumber")
    if new.autogenerate_lot_number and tracking is TrackingType.UNTRACKED:
        problems.add("autogenerateLotNumber does not apply to untracked parts",
                     field="autogenerateLotNumber")
    record.quantity = _quantity(new.quantity, problems) if new.quantity is not None else ZERO
    _apply_details(record, {
        "cost": new.cost, "usage_type": new.usage_type, "segment": new.segment,
        "attributes": new.attributes, "on_order": new.on_order, "expected_at": new.expected_at,
        "expiration_date": new.expiration_date,
    }, problems)
    # A number typed by the user wins over autogenerate (ION's examples send both).
    if record.serial_number is None and new.autogenerate_serial_number and not problems:
        record.serial_number = next_number(uow, "serial", part)
    if record.lot_number is None and new.autogenerate_lot_number and not problems:
        record.lot_number = next_number(uow, "lot", part)
    _check_tracking(tracking, record, problems)
    problems.raise_if_any()
    if record.serial_number is not None:
        _check_serial_free(uow.session, record)
    return record


# The record's location comes with its part (an outer join on the given id, None when there
# is none): `_apply_references` then finds it loaded instead of reading it on its own.
_PART_FOR_STOCK = (
    select(Part, Location).outerjoin(Location, Location.id == bindparam("location_id"))
    .where(Part.id == bindparam("part_id")).with_for_update(read=True, of=Part)
    .execution_options(populate_existing=True)
)


def _part_for_stock(uow: UnitOfWork, part_id: int, location_id: int | None = None) -> tuple[Part, Location | None]:
    """The part, share-locked so that it cannot be given components (updatePart locks it FOR
    UPDATE) between the check that it is no kit and the commit of its new record; and the
    location `location_id` if it exists (the caller holds it: the session keeps only weak
    references, so a location nobody holds would be read again)."""
    if not 0 < part_id <= MAX_ID:
        raise NotFound(f"Part {part_id} does not exist", field="partId")
    wanted = location_id if location_id is not None and 0 < location_id <= MAX_ID else None
    found = uow.session.execute(_PART_FOR_STOCK, {"part_id": part_id, "location_id": wanted}).first()
    if found is None:
        raise NotFound(f"Part {part_id} does not exist", field="partId")
    part: Part = found[0]
    location: Location | None = found[1]
    return part, location


_SHARE_PARTS = (select(Part.id).where(Part.id.in_(bindparam("ids", expanding=True))).order_by(Part.id)
                .with_for_update(read=True))


def lock_parts_for_stock(uow: UnitOfWork, part_ids: Collection[int]) -> set[int]:
    """For a bulk writer of new records (the importer): share-lock the parts, ascending id, as
    `_part_for_stock` locks one, and return the ids of those that are kits. Each new record's
    part then goes through `check_holds_stock`, the rule `build_part_inventory` applies."""
    ids = sorted(set(part_ids))
    for start in range(0, len(ids), ID_CHUNK):
        uow.session.execute(_SHARE_PARTS, {"ids": ids[start:start + ID_CHUNK]})
    # Read after the locks: components committed while we waited are seen.
    return kit_part_ids(uow.session, ids)


def update_part_inventory(
    uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]
) -> PartInventory:
    if "part_id" in changes:
        raise BadInput("the part of an inventory record cannot change", field="partId")
    check_updatable(changes, UPDATABLE)
    record = uow.get(PartInventory, id, lock=True)
    check_etag(record, etag)
    check_installed_change(id, record.status == "INSTALLED", [
        change for change, wanted in ((RecordChange.QUANTITY, "quantity" in changes),
                                      (RecordChange.LOCATION, changes.get("location_id", record.location_id)
                                       != record.location_id)) if wanted])
    before = snapshot(record)
    frozen_before = _frozen_values(record)
    part = uow.get(Part, record.part_id)
    problems = Problems()
    _apply_references(uow, record, changes.get("location_id"), changes.get("supplier_id"),
                      changes.get("unit_of_measure_id"), set(changes))
    if "serial_number" in changes:
        record.serial_number = clean_number(changes["serial_number"], field="serialNumber")
    if "lot_number" in changes:
        record.lot_number = clean_number(changes["lot_number"], field="lotNumber")
    if "quantity" in changes:
        if changes["quantity"] is None:
            problems.add("quantity must be a number", field="quantity")
        else:
            record.quantity = _quantity(changes["quantity"], problems)
    _apply_details(record, {k: v for k, v in changes.items() if k in _DETAILS}, problems)
    _check_tracking(TrackingType(part.tracking_type), record, problems)
    problems.raise_if_any()
    # A kit holds exactly what it was issued, where the kit put it (domain.holds).
    changed = [c for c, value in _frozen_values(record).items() if value != frozen_before[c]]
    check_held_change(record.id, hold_of(uow.session, record.id), changed)
    if record.serial_number is not None and before["serial_number"] != record.serial_number:
        _check_serial_free(uow.session, record)
    after = snapshot(record)
    uow.flush()
    if after != before:
        record_change(uow, LedgerOperation.UPDATE, record, before, after)
    uow.commit()
    return record


def delete_part_inventory(uow: UnitOfWork, id: int, etag: str) -> int:
    record = uow.get(PartInventory, id, lock=True)
    check_etag(record, etag)
    check_held_change(record.id, hold_of(uow.session, record.id), [RecordChange.DELETE])
    record_change(uow, LedgerOperation.DELETE, record, snapshot(record), None)
    uow.session.delete(record)
    uow.commit()
    return id


def get_part_inventory(session: Session, id: int) -> PartInventory:
    from kitwright.services.uow import get

    return get(session, PartInventory, id)


# -- pieces ---------------------------------------------------------------------------

def _frozen_values(record: PartInventory) -> dict[RecordChange, object]:
    """The fields a kit's hold freezes, as they stand (domain.holds.FROZEN_WHILE_HELD)."""
    return {
        RecordChange.QUANTITY: record.quantity, RecordChange.PART: record.part_id,
        RecordChange.ON_ORDER: record.on_order, RecordChange.LOCATION: record.location_id,
        RecordChange.UNIT_OF_MEASURE: record.unit_of_measure_id,
        RecordChange.SCRAP: record.scrapped,
    }


_DETAILS = {"cost", "usage_type", "segment", "attributes", "on_order", "expected_at", "expiration_date"}


def _quantity(value: object, problems: Problems) -> Decimal:
    try:
        return parse_quantity(value, field="quantity")
    except BadInput as error:
        problems.add(error.message, field="quantity")
        return ZERO


def _apply_references(
    uow: UnitOfWork, record: PartInventory, location_id: int | None, supplier_id: int | None,
    unit_of_measure_id: int | None, given: set[str],
) -> None:
    if "location_id" in given:
        if location_id is None:
            record.location_id = None
        else:
            location = uow.get(Location, location_id, field="locationId")
            if location.archived:
                raise BadInput(f"location {location.id} is archived", field="locationId")
            record.location_id = location.id
    if "supplier_id" in given:
        record.supplier_id = (
            uow.get(Supplier, supplier_id, field="supplierId").id if supplier_id is not None else None
        )
    if "unit_of_measure_id" in given and unit_of_measure_id is not None:
        record.unit_of_measure_id = uow.get(UnitOfMeasure, unit_of_measure_id, field="unitOfMeasureId").id


def _apply_details(record: PartInventory, values: Mapping[str, Any], problems: Problems) -> None:
    try:
        if "cost" in values:
            cost = values["cost"]
            record.cost = parse_quantity(cost, field="cost") if cost is not None else None
        if "usage_type" in values:
            record.usage_type = clean_text(values["usage_type"], field="usageType", max_length=50)
        if "segment" in values:
            record.segment = clean_text(values["segment"], field="segment", max_length=100)
        if "attributes" in values:
            record.attributes = clean_attributes(values["attributes"])
        if "on_order" in values:
            record.on_order = bool(values["on_order"])
        if "expected_at" in values:
            expected = values["expected_at"]
            if expected is not None and not isinstance(expected, date):
                raise BadInput("expectedAt must be a date (YYYY-MM-DD)", field="expectedAt")
            record.expected_at = expected
        if "expiration_date" in values:
            expires = values["expiration_date"]
            if expires is not None and not isinstance(expires, date):
                raise BadInput("expirationDate must be a date (YYYY-MM-DD)", field="expirationDate")
            record.expiration_date = expires
    except BadInput as error:
        problems.add(error.message, field=error.field)


def _check_tracking(tracking: TrackingType, record: PartInventory, problems: Problems) -> None:
    check_identity(
        tracking, Identity(record.serial_number, record.lot_number, record.quantity), problems
    )


def _check_serial_free(session: Session, record: PartInventory) -> None:
    # Checked here for a clear message; the unique constraint holds it under races.
    taken = session.scalar(
        select(
            exists().where(
                PartInventory.part_number == record.part_number,
                PartInventory.serial_number == record.serial_number,
                PartInventory.id != (record.id or 0),
            )
        )
    )
    if taken:
        raise BadInput(
            f"serial number {record.serial_number!r} already exists for part number "
            f"{record.part_number!r}",
            field="serialNumber",
        )


def next_number(uow: UnitOfWork, kind: str, part: Part) -> str:
    """The next autogenerated serial or lot number, skipping any already in use."""
    pattern = settings().serial_pattern if kind == "serial" else settings().lot_pattern
    column = PartInventory.serial_number if kind == "serial" else PartInventory.lot_number
    sequence = uow.session.scalars(
        select(NumberSequence).where(NumberSequence.name == kind).with_for_update()
    ).one()
    today = datetime.now(UTC).date()
    for _ in range(NUMBER_ATTEMPTS):
        candidate = render_number(pattern, seq=sequence.next_value, today=today,
                                  part_number=part.part_number)
        sequence.next_value += 1
        taken = uow.session.scalar(
            select(exists().where(PartInventory.part_number == part.part_number, column == candidate))
        )
        if not taken:
            return candidate
    raise BadInput(f"could not find a free {kind} number with pattern {pattern!r}")


INVENTORY_COLUMNS = {
    "id": PartInventory.id,
    "partId": PartInventory.part_id,
    "partNumber": PartInventory.part_number,
    "locationId": PartInventory.location_id,
    "supplierId": PartInventory.supplier_id,
    "serialNumber": PartInventory.serial_number,
    "lotNumber": PartInventory.lot_number,
    "quantity": PartInventory.quantity,
    "cost": PartInventory.cost,
    "usageType": PartInventory.usage_type,
    "segment": PartInventory.segment,
    "onOrder": PartInventory.on_order,
    "expectedAt": PartInventory.expected_at,
    "expirationDate": PartInventory.expiration_date,
    "howCreated": PartInventory.how_created,
    "originPartInventoryId": PartInventory.origin_part_inventory_id,
    "createdAt": PartInventory.created_at,
    "createdById": PartInventory.created_by_id,
}
INVENTORY_SORTS = {
    "ID": PartInventory.id,
    "CREATED_AT": PartInventory.created_at,
    "QUANTITY": PartInventory.quantity,
    "PART_ID": PartInventory.part_id,
    "PART_NUMBER": PartInventory.part_number,
    "LOCATION_ID": PartInventory.location_id,
    "SERIAL_NUMBER": PartInventory.serial_number,
    "LOT_NUMBER": PartInventory.lot_number,
    "COST": PartInventory.cost,
    "EXPECTED_AT": PartInventory.expected_at,
    "EXPIRATION_DATE": PartInventory.expiration_date,
}


def inventory_columns() -> dict[str, Any]:
    return {**INVENTORY_COLUMNS, "status": STATUS_FILTER}


# Counted on SQLite over joined rows (store.models.with_status_joins): there each correlated
# NOT EXISTS of the status rule runs as a subprogram per record, and counting a part's available
# records took ~35% less time joined. Not for the page itself (walking an index in order and
# stopping at the page's end, SQLite could not with the joins: a stockroom's page 1.5 -> 27 ms),
# nor on PostgreSQL (which plans NOT EXISTS as anti-joins already, and planned the joined
# stockroom page at 1.8 s instead of 74 ms). bench/README.md.
STATUS_FILTER = MembershipFilter(status_is, CountForm(status_is_joined, with_status_joins, frozenset({"sqlite"})))


list_part_inventories = Listing(PartInventory, inventory_columns, INVENTORY_SORTS)


def receive_part_inventory(
    uow: UnitOfWork,
    id: int,
    etag: str | None,
    *,
    location_id: int | None = None,
    quantity: Decimal | int | str | None = None,
) -> PartInventory:
    """Turn an on-order record (FUTURE supply) into on-hand stock, with a ledger entry.

    `location_id` moves it where it was received (default: where it is); `quantity` is the
    quantity actually received (default: the ordered quantity). The ETA is kept as history.
    """
    record = uow.get(PartInventory, id, lock=True)
    check_etag(record, etag, required=False)
    check_held_change(record.id, hold_of(uow.session, record.id), [RecordChange.RECEIVE])
    if not record.on_order:
        raise BadInput(f"part inventory {record.id} is not on order (already received)", field="id")
    before = snapshot(record)
    part = uow.get(Part, record.part_id)
    problems = Problems()
    if location_id is not None:
        _apply_references(uow, record, location_id, None, None, {"location_id"})
    if record.location_id is None:
        problems.add("a received record needs a location: give locationId", field="locationId")
    if quantity is not None:
        record.quantity = _quantity(quantity, problems)
    _check_tracking(TrackingType(part.tracking_type), record, problems)
    problems.raise_if_any()
    record.on_order = False
    record.received_at = datetime.now(UTC)
    uow.flush()
    record_change(uow, LedgerOperation.RECEIVE, record, before, snapshot(record))
    uow.commit()
    return record
