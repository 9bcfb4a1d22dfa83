"""Kit services on SQLite and PostgreSQL: every status effect, issue / unissue, fulfilment,
staging, pick lists, the shortage report, and every refusal of the issue's "Bad input" list
(each asserting that nothing changed). The `engine` fixture ends each test with the invariant
check (rules 1-4)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kitwright.config import Settings, use_settings
from kitwright.domain.errors import BadInput, Conflict, KitwrightError, NotFound
from kitwright.domain.ledger import LedgerOperation
from kitwright.services import kits
from kitwright.services.ledger import record_change, snapshot
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import (
    LedgerEntry,
    PartInventory,
    PartKit,
    PartKitInventory,
    PartKitItem,
)
from tests import factories
from tests.factories import kit
from tests.factories import kit_item as item


def issue(session: Session, record: PartInventory | int, it: PartKitItem | int, quantity: Any = None,
          **kw: Any) -> PartInventory:
    with UnitOfWork(session) as uow:
        return kits.issue_item_to_kit(
            uow, part_inventory_id=record if isinstance(record, int) else record.id,
            part_kit_item_id=it if isinstance(it, int) else it.id, quantity=quantity, **kw,
        )


def unissue(session: Session, record: PartInventory | int, it: PartKitItem, quantity: Any = None,
            **kw: Any) -> PartInventory:
    with UnitOfWork(session) as uow:
        return kits.move_item_to_inventory(
            uow, part_inventory_id=record if isinstance(record, int) else record.id,
            part_kit_item_id=it.id, quantity=quantity, **kw,
        )


def set_status(session: Session, k: PartKit | int, status: str, **changes: Any) -> PartKit:
    kid = k if isinstance(k, int) else k.id
    current = session.get(PartKit, kid, populate_existing=True)
    assert current is not None
    with UnitOfWork(session) as uow:
        return kits.update_part_kit(uow, kid, current.etag, {"status": status, **changes})


def fresh(session: Session, model: type[Any], id: int) -> Any:
    session.rollback()
    return session.get(model, id, populate_existing=True)


def state(session: Session) -> tuple[Any, ...]:
    """Everything a refusal must leave untouched."""
    session.rollback()
    records = tuple(session.execute(
        select(PartInventory.id, PartInventory.quantity, PartInventory.location_id, PartInventory.etag)
        .order_by(PartInventory.id)
    ))
    links = tuple(session.execute(
        select(PartKitInventory.id, PartKitInventory.issued_quantity, PartKitInventory.released)
        .order_by(PartKitInventory.id)
    ))
    kit_rows = tuple(session.execute(select(PartKit.id, PartKit.status, PartKit.etag).order_by(PartKit.id)))
    ledger = session.scalar(select(func.count()).select_from(LedgerEntry))
    return records, links, kit_rows, ledger


def refused(session: Session, error: type[KitwrightError], field: str | None,
            action: Callable[[], object]) -> KitwrightError:
    before = state(session)
    with pytest.raises(error) as caught:
        action()
    if field is not None:
        fields = {caught.value.field} | {p.field for p in caught.value.details}
        assert field in fields, (caught.value.field, caught.value.message)
    assert state(session) == before, "a refused operation changed something"
    return caught.value


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    shelf = factories.location(session, "A-10")
    shelf2 = factories.location(session, "A-2")
    staging = factories.location(session, "Staging")
    line = factories.location(session, "Line 1")
    quarantine = factories.location(session, "Quarantine", inventory_available=False)
    return {
        "shelf": shelf, "shelf2": shelf2, "staging": staging, "line": line, "quarantine": quarantine,
        "motor": factories.part(session, "MOTOR", "SERIAL"),
        "bolt": factories.part(session, "BOLT", "LOT"),
        "glue": factories.part(session, "GLUE", "UNTRACKED"),
    }


# --------------------------------------------------------------------------- issue


def test_issue_serial_whole_moves_kit_to_in_progress(session: Session, world: dict[str, Any]) -> None:
    sn = factories.record(session, world["motor"], 1, serial_number="SN-1", location_id=world["shelf"].id)
    old_etag = sn.etag
    assembly = factories.part(session, "ASSY", "SERIAL")
    factories.mbom(session, assembly, (world["motor"], 2))
    k = kit(session, run_id=factories.run(session, assembly).id, status="REQUESTED")
    it = item(session, k, world["motor"], 2)
    held = issue(session, sn, it, etag=old_etag)
    assert held.id == sn.id
    record = fresh(session, PartInventory, sn.id)
    assert record.status == "KITTED" and record.etag != old_etag and record.location_id == world["shelf"].id
    assert fresh(session, PartKit, k.id).status == "IN_PROGRESS"
    assert kits.kitted_by_item(session, [it.id])[it.id] == 1
    ops = session.scalars(select(LedgerEntry.operation).where(LedgerEntry.part_inventory_id == sn.id)).all()
    assert ops == [LedgerOperation.CREATE, LedgerOperation.KIT_ISSUE]


def test_partial_lot_issue_splits_with_origin(session: Session, world: dict[str, Any]) -> None:
    lot = factories.record(session, world["bolt"], "10.5", lot_number="L1", location_id=world["shelf"].id)
    k = kit(session)
    it = item(session, k, world["bolt"], 4)
    held = issue(session, lot, it, "2.25")
    assert held.id != lot.id
    new = fresh(session, PartInventory, held.id)
    assert (new.quantity, new.how_created, new.origin_part_inventory_id) == (Decimal("2.25"), "PARTIAL_KIT", lot.id)
    assert new.lot_number == "L1" and new.status == "KITTED"
    assert fresh(session, PartInventory, lot.id).quantity == Decimal("8.25")
    # Default quantity: what the item still needs.
    held2 = issue(session, lot, it)
    assert fresh(session, PartInventory, held2.id).quantity == Decimal("1.75")
    assert kits.kitted_by_item(session, [it.id])[it.id] == 4


def test_exact_decimals_three_tenths(session: Session, world: dict[str, Any]) -> None:
    glue = factories.record(session, world["glue"], "0.3", location_id=world["shelf"].id)
    k = kit(session)
    it = item(session, k, world["glue"], "0.3")
    for _ in range(2):
        issue(session, glue, it, "0.1")
    last = issue(session, glue, it, "0.1")
    assert last.id == glue.id  # the last tenth moves the record itself
    assert fresh(session, PartInventory, glue.id).quantity == Decimal("0.1")
    assert kits.kitted_by_item(session, [it.id])[it.id] == Decimal("0.3")


def test_issue_moves_to_staging_location(session: Session, world: dict[str, Any]) -> None:
    lot = factories.record(session, world["bolt"], 10, lot_number="L1", location_id=world["shelf"].id)
    k = kit(session, staging_location_id=world["staging"].id)
    it = item(session, k, world["bolt"], 3)
    held = issue(session, lot, it, 3)
    assert fresh(session, PartInventory, held.id).location_id == world["staging"].id
    assert fresh(session, PartInventory, lot.id).location_id == world["shelf"].id


# --------------------------------------------------------------------------- statuses


def _kit_with_stock(session: Session, world: dict[str, Any], **kw: Any) -> tuple[PartKit, PartKitItem, list[int]]:
    sn = factories.record(session, world["motor"], 1, serial_number="SN-9", location_id=world["shelf"].id)
    lot = factories.record(session, world["bolt"], 10, lot_number="L9", location_id=world["shelf2"].id)
    k = kit(session, delivery_location_id=world["line"].id, **kw)
    i1 = item(session, k, world["motor"], 1)
    i2 = item(session, k, world["bolt"], 4)
    a = issue(session, sn, i1)
    b = issue(session, lot, i2, 4)
    return k, i2, [a.id, b.id]


def test_delivered_moves_everything_to_delivery(session: Session, world: dict[str, Any]) -> None:
    k, _, held = _kit_with_stock(session, world)
    before = session.scalar(select(func.count()).select_from(LedgerEntry))
    kit_after = set_status(session, k, "DELIVERED")
    assert kit_after.current_location_id == world["line"].id
    for rid in held:
        record = fresh(session, PartInventory, rid)
        assert record.location_id == world["line"].id and record.status == "KITTED"
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == before + 2
    # Issuing to a delivered kit lands at the delivery location.
    lot2 = factories.record(session, world["bolt"], 1, lot_number="L10", location_id=world["shelf"].id)
    it = item(session, k, world["bolt"], 1)
    assert fresh(session, PartInventory, issue(session, lot2, it).id).location_id == world["line"].id


def test_delivered_needs_a_delivery_location(session: Session, world: dict[str, Any]) -> None:
    k = kit(session)
    refused(session, BadInput, "deliveryLocationId", lambda: set_status(session, k, "DELIVERED"))


@pytest.mark.parametrize("closing", ["COMPLETED", "CANCELED"])
def test_closing_releases_and_keeps_history(session: Session, world: dict[str, Any], closing: str) -> None:
    k, i2, held = _kit_with_stock(session, world)
    set_status(session, k, "DELIVERED")
    set_status(session, k, closing)
    for rid in held:
        record = fresh(session, PartInventory, rid)
        assert record.status == "AVAILABLE" and record.location_id == world["line"].id
    links = session.scalars(select(PartKitInventory).where(PartKitInventory.part_kit_id == k.id)).all()
    assert len(links) == 2 and all(link.released for link in links)
    assert kits.kitted_by_item(session, [i2.id])[i2.id] == 0
    assert fresh(session, PartKit, k.id).current_location_id is None
    # Reopening never silently re-reserves.
    set_status(session, k, "IN_PROGRESS")
    for rid in held:
        assert fresh(session, PartInventory, rid).status == "AVAILABLE"
    assert kits.kitted_by_item(session, [i2.id])[i2.id] == 0
    # ... and the released stock can go to another kit.
    other = kit(session)
    it = item(session, other, world["bolt"], 4)
    issue(session, held[1], it)


def test_any_status_to_any_status(session: Session, world: dict[str, Any]) -> None:
    k = kit(session, delivery_location_id=world["line"].id)
    statuses = ["REQUESTED", "DRAFT", "DELIVERED", "IN_PROGRESS", "CANCELED", "COMPLETED", "DRAFT"]
    for status in statuses:
        assert set_status(session, k, status).status == status


def test_changing_staging_moves_held_inventory(session: Session, world: dict[str, Any]) -> None:
    k, _, held = _kit_with_stock(session, world)
    set_status(session, k, "IN_PROGRESS", staging_location_id=world["staging"].id)
    assert {fresh(session, PartInventory, rid).location_id for rid in held} == {world["staging"].id}


# --------------------------------------------------------------------------- unissue


def test_move_item_to_inventory_whole_and_partial(session: Session, world: dict[str, Any]) -> None:
    _k, i2, held = _kit_with_stock(session, world)
    lot_held = held[1]
    stock = unissue(session, lot_held, i2, "1.5", location_id=world["staging"].id)
    new = fresh(session, PartInventory, stock.id)
    assert (new.quantity, new.how_created, new.origin_part_inventory_id) == (Decimal("1.5"), "PARTIAL_UNKIT", lot_held)
    assert new.status == "AVAILABLE" and new.location_id == world["staging"].id
    assert fresh(session, PartInventory, lot_held).quantity == Decimal("2.5")
    assert kits.kitted_by_item(session, [i2.id])[i2.id] == Decimal("2.5")
    whole = unissue(session, lot_held, i2)
    assert whole.id == lot_held and fresh(session, PartInventory, lot_held).status == "AVAILABLE"
    assert kits.kitted_by_item(session, [i2.id])[i2.id] == 0
    refused(session, BadInput, "partInventoryId", lambda: unissue(session, lot_held, i2))
    refused(session, BadInput, "quantity", lambda: unissue(session, held[0], _item_of(session, held[0]), 2))


def _item_of(session: Session, record_id: int) -> PartKitItem:
    link = session.scalars(select(PartKitInventory).where(PartKitInventory.part_inventory_id == record_id)).one()
    return session.get(PartKitItem, link.part_kit_item_id)  # type: ignore[return-value]


# --------------------------------------------------------------------------- bad input


def test_bad_input_refusals_change_nothing(session: Session, world: dict[str, Any]) -> None:
    sn = factories.record(session, world["motor"], 1, serial_number="SN-1", location_id=world["shelf"].id)
    lot = factories.record(session, world["bolt"], 5, lot_number="L1", location_id=world["shelf"].id)
    held_k = kit(session)
    held_i = item(session, held_k, world["motor"], 1)
    issue(session, sn, held_i)
    k = kit(session)
    motors = item(session, k, world["motor"], 1)
    bolts = item(session, k, world["bolt"], 3)

    # a kitted record
    refused(session, BadInput, "partInventoryId", lambda: issue(session, sn, motors))
    # more than remains (item) and more than the record holds
    refused(session, BadInput, "quantity", lambda: issue(session, lot, bolts, 4))
    big = kit(session)
    big_i = item(session, big, world["bolt"], 100)
    refused(session, BadInput, "quantity", lambda: issue(session, lot, big_i, 6))
    # the wrong part
    refused(session, BadInput, "partInventoryId", lambda: issue(session, lot, motors))
    # a serial issued by a quantity other than 1
    sn2 = factories.record(session, world["motor"], 1, serial_number="SN-2", location_id=world["shelf"].id)
    refused(session, BadInput, "quantity", lambda: issue(session, sn2, motors, 2))
    refused(session, BadInput, "quantity", lambda: issue(session, lot, bolts, "-1"))
    # a stale etag
    refused(session, Conflict, "etag", lambda: issue(session, sn2, motors, etag="etag"))
    # unavailable: in a location whose stock does not count, empty, on order, scrapped
    quarantined = factories.record(session, world["bolt"], 5, lot_number="LQ", location_id=world["quarantine"].id)
    refused(session, BadInput, "partInventoryId", lambda: issue(session, quarantined, bolts, 1))
    empty = factories.record(session, world["bolt"], 0, lot_number="L0", location_id=world["shelf"].id)
    refused(session, BadInput, "partInventoryId", lambda: issue(session, empty, bolts, 1))
    ordered = factories.record(session, world["bolt"], 5, lot_number="LO", location_id=world["shelf"].id, on_order=True)
    refused(session, BadInput, "partInventoryId", lambda: issue(session, ordered, bolts, 1))
    scrapped = factories.record(session, world["bolt"], 5, lot_number="LS", location_id=world["shelf"].id)
    with UnitOfWork(session) as uow:
        row = uow.get(PartInventory, scrapped.id, lock=True)
        before = snapshot(row)
        row.scrapped = True
        record_change(uow, LedgerOperation.UPDATE, row, before, snapshot(row))  # no scrap operation yet
        uow.commit()
    refused(session, BadInput, "partInventoryId", lambda: issue(session, scrapped, bolts, 1))
    # to a closed kit
    set_status(session, k, "CANCELED")
    refused(session, BadInput, "partKitItemId", lambda: issue(session, lot, bolts, 1))
    set_status(session, k, "COMPLETED")
    refused(session, BadInput, "partKitItemId", lambda: issue(session, lot, bolts, 1))
    # unknown ids
    refused(session, NotFound, "partKitItemId", lambda: issue(session, lot, 999_999))
    refused(session, NotFound, "partInventoryId", lambda: issue(session, 999_999, big_i))
    # several reasons at once are all reported
    err = refused(session, BadInput, None, lambda: issue(session, sn, bolts, 2))
    assert len(err.details) >= 2


def test_other_revision_needs_the_setting(session: Session, world: dict[str, Any]) -> None:
    rev_a = factories.part(session, "PUMP", "LOT", revision="A")
    rev_b = factories.part(session, "PUMP", "LOT", revision="B")
    lot = factories.record(session, rev_b, 5, lot_number="PB", location_id=world["shelf"].id)
    k = kit(session)
    it = item(session, k, rev_a, 2)
    err = refused(session, BadInput, "partInventoryId", lambda: issue(session, lot, it))
    assert "revision" in err.message
    use_settings(Settings(allow_other_revision=True))
    try:
        held = issue(session, lot, it)
    finally:
        use_settings(Settings())
    assert fresh(session, PartInventory, held.id).quantity == 2


def test_item_quantity_never_below_kitted_and_deletes_refused(session: Session, world: dict[str, Any]) -> None:
    k, i2, _ = _kit_with_stock(session, world)
    i2 = fresh(session, PartKitItem, i2.id)
    def update(q: Any) -> object:
        with UnitOfWork(session) as uow:
            return kits.update_part_kit_item(uow, i2.id, i2.etag, {"quantity": q})
    refused(session, BadInput, "quantity", lambda: update(3))
    refused(session, BadInput, "quantity", lambda: update(0))
    assert update(6).quantity == 6  # type: ignore[attr-defined]
    i2 = fresh(session, PartKitItem, i2.id)
    def delete_item() -> object:
        with UnitOfWork(session) as uow:
            return kits.delete_part_kit_item(uow, i2.id, i2.etag)
    refused(session, BadInput, "id", delete_item)
    kit_row = fresh(session, PartKit, k.id)
    def delete_kit(etag: str) -> object:
        with UnitOfWork(session) as uow:
            return kits.delete_part_kit(uow, k.id, etag)
    refused(session, Conflict, "etag", lambda: delete_kit("stale"))
    refused(session, BadInput, "id", lambda: delete_kit(kit_row.etag))
    set_status(session, k, "COMPLETED")
    assert delete_kit(fresh(session, PartKit, k.id).etag) == k.id
    assert session.scalar(select(func.count()).select_from(PartKitItem)) == 0


def test_update_kit_stale_etag_and_unknown_status(session: Session, world: dict[str, Any]) -> None:
    k = kit(session)
    def update(etag: str, changes: dict[str, Any]) -> object:
        with UnitOfWork(session) as uow:
            return kits.update_part_kit(uow, k.id, etag, changes)
    refused(session, Conflict, "etag", lambda: update("nope", {"status": "REQUESTED"}))
    refused(session, BadInput, "status", lambda: update(k.etag, {"status": "LOST"}))
    refused(session, NotFound, "stagingLocationId", lambda: update(k.etag, {"staging_location_id": 9999}))


# --------------------------------------------------------------------------- fulfil


def _backdate(session: Session, ids_and_days: dict[int, int]) -> None:
    """Creation times are set through SQL on purpose: a test of FIFO needs old stock."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with UnitOfWork(session) as uow:
        for rid, days in ids_and_days.items():
            uow.session.execute(update(PartInventory).where(PartInventory.id == rid).values(
                created_at=base + timedelta(days=days)))
        uow.commit()


def test_fulfil_oldest_first_across_kit_with_shortages(session: Session, world: dict[str, Any]) -> None:
    new_lot = factories.record(session, world["bolt"], 10, lot_number="NEW", location_id=world["shelf"].id)
    old_lot = factories.record(session, world["bolt"], 3, lot_number="OLD", location_id=world["shelf"].id)
    bad = factories.record(session, world["bolt"], 50, lot_number="Q", location_id=world["quarantine"].id)
    sns = [factories.record(session, world["motor"], 1, serial_number=f"M{i}", location_id=world["shelf2"].id)
           for i in range(3)]
    _backdate(session, {new_lot.id: 5, old_lot.id: 1, bad.id: 0, sns[0].id: 9, sns[1].id: 2, sns[2].id: 3})
    k = kit(session, status="REQUESTED")
    a = item(session, k, world["bolt"], 2)
    b = item(session, k, world["bolt"], 4)
    m = item(session, k, world["motor"], 2)
    g = item(session, k, world["glue"], 1)
    with UnitOfWork(session) as uow:
        result = kits.fulfill_part_kit(uow, id=k.id)
    assert [s.item_id for s in result.shortages] == [g.id]
    issued = {(iid, fresh(session, PartInventory, rec.id).origin_part_inventory_id or rec.id) for iid, rec in result.issued}
    # the old lot (3) serves a (2) and b (1); the new lot serves the rest of b (3)
    assert issued == {(a.id, old_lot.id), (b.id, old_lot.id), (b.id, new_lot.id), (m.id, sns[1].id), (m.id, sns[2].id)}
    assert fresh(session, PartInventory, old_lot.id).quantity == 1  # the last unit moved whole to b
    assert fresh(session, PartInventory, new_lot.id).quantity == 7
    assert fresh(session, PartInventory, bad.id).quantity == 50
    assert fresh(session, PartKit, k.id).status == "IN_PROGRESS"
    # a second fulfil finds nothing more to do but the glue
    with UnitOfWork(session) as uow:
        again = kits.fulfill_part_kit(uow, id=k.id)
    assert again.issued == [] and [s.quantity for s in again.shortages] == [1]


def test_fulfil_within_a_source_subtree(session: Session, world: dict[str, Any]) -> None:
    site = factories.location(session, "Site B")
    bin_ = factories.location(session, "Bin", parent=site)
    outside = factories.record(session, world["bolt"], 5, lot_number="OUT", location_id=world["shelf"].id)
    inside = factories.record(session, world["bolt"], 5, lot_number="IN", location_id=bin_.id)
    _backdate(session, {outside.id: 1, inside.id: 2})
    k = kit(session)
    it = item(session, k, world["bolt"], 7)
    with UnitOfWork(session) as uow:
        result = kits.fulfill_part_kit(uow, id=k.id, source_location_id=site.id)
    assert [rec.id for _, rec in result.issued] == [inside.id]
    assert [s.quantity for s in result.shortages] == [2]
    assert fresh(session, PartInventory, outside.id).quantity == 5
    assert kits.kitted_by_item(session, [it.id])[it.id] == 5


def test_fulfil_closed_kit_refused(session: Session, world: dict[str, Any]) -> None:
    k = kit(session, status="CANCELED")
    def run() -> object:
        with UnitOfWork(session) as uow:
            return kits.fulfill_part_kit(uow, id=k.id)
    refused(session, BadInput, "id", run)


# --------------------------------------------------------------------------- stage, pick list, report


def test_stage_open_and_completed_kit(session: Session, world: dict[str, Any]) -> None:
    k, _, held = _kit_with_stock(session, world)
    with UnitOfWork(session) as uow:
        kits.stage_part_kit_inventory(uow, id=k.id, location_id=world["staging"].id)
    assert {fresh(session, PartInventory, rid).location_id for rid in held} == {world["staging"].id}
    set_status(session, k, "COMPLETED")
    # one of the released records is kitted elsewhere meanwhile: staging leaves it alone
    other = kit(session)
    it = item(session, other, world["motor"], 1)
    issue(session, held[0], it)
    with UnitOfWork(session) as uow:
        kits.stage_part_kit_inventory(uow, id=k.id, location_id=world["shelf"].id)
    assert fresh(session, PartInventory, held[1]).location_id == world["shelf"].id
    assert fresh(session, PartInventory, held[0]).location_id == world["staging"].id


def test_pick_list_in_pick_path_order(session: Session, world: dict[str, Any]) -> None:
    k = kit(session)
    it = item(session, k, world["bolt"], 3)
    for name, loc in (("X", world["shelf"]), ("Y", world["shelf2"]), ("Z", world["line"])):
        issue(session, factories.record(session, world["bolt"], 1, lot_number=name, location_id=loc.id), it)
    from kitwright.api.rest_kits import pick_list_csv

    assert [line.location_name for line in kits.pick_list(session, k.id)] == ["A-2", "A-10", "Line 1"]
    rows = pick_list_csv(session, k.id).splitlines()
    assert rows[0].startswith("part_kit_id,") and [r.split(",")[2] for r in rows[1:]] == ["A-2", "A-10", "Line 1"]


def test_shortage_report_priority_order(session: Session, world: dict[str, Any]) -> None:
    factories.record(session, world["bolt"], 5, lot_number="L", location_id=world["shelf"].id)
    first = kit(session, status="REQUESTED")
    item(session, first, world["bolt"], 4)
    urgent = kit(session, status="REQUESTED", priority=1)
    item(session, urgent, world["bolt"], 3)
    draft = kit(session)
    item(session, draft, world["bolt"], 100)
    report = kits.shortage_report(session)
    assert [o.kit_id for o in report.kits] == [urgent.id, first.id]
    assert report.kits[0].can_fulfil_now and not report.kits[1].can_fulfil_now
    assert report.missing_by_part == {world["bolt"].id: Decimal(2)}



def test_kitted_record_quantity_and_delete_refused(session: Session, world: dict[str, Any]) -> None:
    from kitwright.services import inventory

    k, _, held = _kit_with_stock(session, world)
    record = fresh(session, PartInventory, held[1])

    def update() -> object:
        with UnitOfWork(session) as uow:
            return inventory.update_part_inventory(uow, record.id, record.etag, {"quantity": Decimal(9)})

    def remove() -> object:
        with UnitOfWork(session) as uow:
            return inventory.delete_part_inventory(uow, record.id, record.etag)

    refused(session, Conflict, "quantity", update)
    refused(session, Conflict, "id", remove)
    assert fresh(session, PartKit, k.id).status == "IN_PROGRESS"
