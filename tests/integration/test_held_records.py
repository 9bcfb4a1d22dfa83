"""A record held by an open kit is frozen except through its kit (docs/kit-rules.md): every
change of quantity, on-order state, location, unit, receiving and deleting is refused with
CONFLICT naming the kit and changes nothing; descriptive fields stay editable; the way out
is moveItemToInventory. Both engines; each test ends with the invariant check, which holds
"a held record's quantity is what its kit issued"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from kitwright.domain.errors import Conflict
from kitwright.services import catalog, inventory, kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import PartInventory, PartKit, PartKitItem
from tests import factories
from tests.integration.test_kits_service import fresh, refused


@pytest.fixture
def held(session: Session) -> dict[str, Any]:
    """A 20-unit lot, 12.5 of it issued to a kit item (a PARTIAL_KIT record the kit holds)."""
    shelf = factories.location(session, "A-1")
    quarantine = factories.location(session, "Quarantine", inventory_available=False)
    bolt = factories.part(session, "BOLT", "LOT")
    lot = factories.record(session, bolt, "20", lot_number="L-1", location_id=shelf.id)
    with UnitOfWork(session) as uow:
        kit = kits.create_part_kit(uow)
    with UnitOfWork(session) as uow:
        item = kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=bolt.id, quantity="12.5")
    with UnitOfWork(session) as uow:
        record = kits.issue_item_to_kit(uow, part_inventory_id=lot.id, part_kit_item_id=item.id,
                                        quantity=Decimal("12.5"))
    return {"kit": kit.id, "item": item.id, "record": record.id, "lot": lot.id,
            "shelf": shelf.id, "quarantine": quarantine.id}


def update(session: Session, record_id: int, **changes: Any) -> Callable[[], object]:
    def run() -> object:
        etag = fresh(session, PartInventory, record_id).etag
        with UnitOfWork(session) as uow:
            return inventory.update_part_inventory(uow, record_id, etag, changes)
    return run


def receive(session: Session, record_id: int, **kw: Any) -> Callable[[], object]:
    def run() -> object:
        with UnitOfWork(session) as uow:
            return inventory.receive_part_inventory(uow, record_id, None, **kw)
    return run


def delete(session: Session, record_id: int) -> Callable[[], object]:
    def run() -> object:
        etag = fresh(session, PartInventory, record_id).etag
        with UnitOfWork(session) as uow:
            return inventory.delete_part_inventory(uow, record_id, etag)
    return run


def names_the_kit(error: Any, held: dict[str, Any]) -> None:
    assert f"kit {held['kit']}" in error.message and "moveItemToInventory" in error.message


def test_the_reported_on_order_then_receive_is_refused(session: Session, held: dict[str, Any]) -> None:
    rid = held["record"]
    names_the_kit(refused(session, Conflict, "onOrder", update(session, rid, on_order=True)), held)
    for quantity in ("0", "1000", None):
        names_the_kit(refused(session, Conflict, "id", receive(session, rid, quantity=quantity)), held)
    record = fresh(session, PartInventory, rid)
    assert (record.quantity, record.on_order, record.status) == (Decimal("12.5"), False, "KITTED")
    assert [line.quantity for line in kits.pick_list(session, held["kit"])] == [Decimal("12.5")]


@pytest.mark.parametrize(("field", "changes"), [
    ("quantity", {"quantity": Decimal(1000)}),
    ("quantity", {"quantity": Decimal(0)}),
    ("onOrder", {"on_order": True}),
    ("locationId", {"location_id": "quarantine"}),
    ("locationId", {"location_id": None}),
    ("unitOfMeasureId", {"unit_of_measure_id": "unit"}),
])
def test_every_frozen_change_is_refused(
    session: Session, held: dict[str, Any], field: str, changes: dict[str, Any],
) -> None:
    if changes.get("unit_of_measure_id") == "unit":
        with UnitOfWork(session) as uow:
            changes = {"unit_of_measure_id": catalog.create_unit_of_measure(uow, name="box").id}
    if changes.get("location_id") == "quarantine":
        changes = {"location_id": held["quarantine"]}
    error = refused(session, Conflict, field, update(session, held["record"], **changes))
    names_the_kit(error, held)


def test_all_refused_fields_are_named_at_once(session: Session, held: dict[str, Any]) -> None:
    error = refused(session, Conflict, None, update(
        session, held["record"], quantity=Decimal(3), location_id=held["quarantine"], on_order=True))
    assert [p.field for p in error.details] == ["quantity", "onOrder", "locationId"]


def test_deleting_a_held_record_is_a_conflict(session: Session, held: dict[str, Any]) -> None:
    names_the_kit(refused(session, Conflict, "id", delete(session, held["record"])), held)


def test_descriptive_fields_and_unchanged_values_stay_editable(session: Session, held: dict[str, Any]) -> None:
    rid = held["record"]
    update(session, rid, cost=Decimal("1.25"), segment="B2B", lot_number="L-1b",
           expected_at=date(2027, 1, 1), attributes={"bin": "7"})()
    # Sending the current quantity and location (scripts send whole records) changes nothing.
    update(session, rid, quantity=Decimal("12.5"), location_id=held["shelf"], on_order=False)()
    record = fresh(session, PartInventory, rid)
    assert (record.cost, record.segment, record.lot_number) == (Decimal("1.25"), "B2B", "L-1b")
    assert (record.quantity, record.status) == (Decimal("12.5"), "KITTED")


def test_the_way_out_is_move_item_to_inventory(session: Session, held: dict[str, Any]) -> None:
    rid = held["record"]
    with UnitOfWork(session) as uow:
        kits.move_item_to_inventory(uow, part_inventory_id=rid, part_kit_item_id=held["item"])
    update(session, rid, quantity=Decimal(3), on_order=True)()
    receive(session, rid, quantity="4")()
    record = fresh(session, PartInventory, rid)
    assert (record.quantity, record.status) == (Decimal(4), "AVAILABLE")
    assert fresh(session, PartKitItem, held["item"]).quantity == Decimal("12.5")


@pytest.mark.parametrize("closing", ["COMPLETED", "CANCELED"])
def test_a_closed_kit_frees_its_records(session: Session, held: dict[str, Any], closing: str) -> None:
    etag = fresh(session, PartKit, held["kit"]).etag
    with UnitOfWork(session) as uow:
        kits.update_part_kit(uow, held["kit"], etag, {"status": closing})
    update(session, held["record"], quantity=Decimal(2), location_id=held["quarantine"])()
    assert fresh(session, PartInventory, held["record"]).status == "UNAVAILABLE"


def test_the_kits_own_moves_still_move_it(session: Session, held: dict[str, Any]) -> None:
    with UnitOfWork(session) as uow:
        kits.stage_part_kit_inventory(uow, id=held["kit"], location_id=held["quarantine"])
    record = fresh(session, PartInventory, held["record"])
    assert (record.location_id, record.status) == (held["quarantine"], "KITTED")
