"""FIFO and FEFO beside each other on both engines: the same stock, two parts that differ only
in their fulfilment order, and the lots each issues, in order. The SQL candidate search takes
just enough records per part in that order, so a wrong order in SQL shows as wrong lots here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput
from kitwright.services import kits, parts
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import Part, PartInventory, PartKitInventory
from tests import factories

# lot: (created, days after 2026-01-01; expires, or None)
LOTS: dict[str, tuple[int, date | None]] = {
    "OLD-UNDATED": (0, None),
    "OLD-LATE": (1, date(2030, 6, 1)),
    "NEW-SOON": (2, date(2030, 1, 1)),
    "NEWEST-SOONEST": (3, date(2029, 12, 1)),
    "NEWER-UNDATED": (4, None),
}


def _stock(session: Session, part: Part, shelf: int) -> dict[str, int]:
    ids = {}
    for lot, (_, expires) in LOTS.items():
        ids[lot] = factories.record(session, part, 2, lot_number=lot, location_id=shelf,
                                  expiration_date=expires).id
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with UnitOfWork(session) as uow:  # stock age is set through SQL: FIFO needs old stock
        for lot, rid in ids.items():
            uow.session.execute(update(PartInventory).where(PartInventory.id == rid).values(
                created_at=base + timedelta(days=LOTS[lot][0])))
        uow.commit()
    return ids


def _issued_lots(session: Session, kit_id: int, part_id: int) -> list[str]:
    """The lots the kit holds of `part_id`, in the order they were linked."""
    session.rollback()
    rows = session.execute(
        select(PartInventory.lot_number)
        .join(PartKitInventory, PartKitInventory.part_inventory_id == PartInventory.id)
        .where(PartKitInventory.part_kit_id == kit_id, PartInventory.part_id == part_id)
        .order_by(PartKitInventory.id)
    )
    return [lot for (lot,) in rows]


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    shelf = factories.location(session, "Shelf").id
    fifo = factories.part(session, "GEL-FIFO", "LOT")
    fefo = factories.part(session, "GEL-FEFO", "LOT", fulfilment_order="FEFO")
    return {"fifo": fifo, "fefo": fefo, "stock": {
        "fifo": _stock(session, fifo, shelf), "fefo": _stock(session, fefo, shelf)}}


def _fulfil(session: Session, world: dict[str, Any], quantity: int) -> int:
    with UnitOfWork(session) as uow:
        kit = kits.create_part_kit(uow, status="REQUESTED", items=[
            (world["fifo"].id, quantity), (world["fefo"].id, quantity)])
    with UnitOfWork(session) as uow:
        kits.fulfill_part_kit(uow, id=kit.id)
    return kit.id


def test_fifo_and_fefo_issue_different_lots_from_the_same_stock(
    session: Session, world: dict[str, Any]
) -> None:
    kit_id = _fulfil(session, world, 5)
    assert _issued_lots(session, kit_id, world["fifo"].id) == ["OLD-UNDATED", "OLD-LATE", "NEW-SOON"]
    assert _issued_lots(session, kit_id, world["fefo"].id) == ["NEWEST-SOONEST", "NEW-SOON", "OLD-LATE"]
    # The third lot of each was split: 1 of its 2 issued, 1 left in stock.
    left = dict(session.execute(select(PartInventory.id, PartInventory.quantity)).tuples().all())
    assert left[world["stock"]["fifo"]["NEW-SOON"]] == 1
    assert left[world["stock"]["fefo"]["OLD-LATE"]] == 1


def test_fefo_uses_records_without_an_expiry_date_last_oldest_first(
    session: Session, world: dict[str, Any]
) -> None:
    kit_id = _fulfil(session, world, 10)  # everything
    assert _issued_lots(session, kit_id, world["fefo"].id) == [
        "NEWEST-SOONEST", "NEW-SOON", "OLD-LATE", "OLD-UNDATED", "NEWER-UNDATED"]
    assert _issued_lots(session, kit_id, world["fifo"].id) == list(LOTS)


def test_a_split_keeps_its_expiry_date_and_fefo_place(session: Session, world: dict[str, Any]) -> None:
    kit_id = _fulfil(session, world, 1)
    session.rollback()
    held_id = session.scalars(
        select(PartInventory.id)
        .join(PartKitInventory, PartKitInventory.part_inventory_id == PartInventory.id)
        .where(PartKitInventory.part_kit_id == kit_id, PartInventory.part_id == world["fefo"].id)
    ).one()
    held = session.get(PartInventory, held_id)
    assert held is not None
    assert held.how_created == "PARTIAL_KIT" and held.expiration_date == date(2029, 12, 1)


def test_a_part_switched_to_fefo_is_fulfilled_by_expiry_from_then_on(
    session: Session, world: dict[str, Any]
) -> None:
    with UnitOfWork(session) as uow:
        parts.update_part(uow, world["fifo"].id, world["fifo"].etag, {"fulfilment_order": "FEFO"})
    kit_id = _fulfil(session, world, 2)
    assert _issued_lots(session, kit_id, world["fifo"].id) == ["NEWEST-SOONEST"]


@pytest.mark.parametrize("value", ["LIFO", None, ""])
def test_an_unknown_fulfilment_order_is_refused(session: Session, world: dict[str, Any], value: Any) -> None:
    with pytest.raises(BadInput) as exc, UnitOfWork(session) as uow:
        parts.update_part(uow, world["fifo"].id, world["fifo"].etag, {"fulfilment_order": value})
    assert exc.value.field == "fulfilmentOrder"
    session.rollback()
    assert session.get(Part, world["fifo"].id, populate_existing=True).fulfilment_order == "FIFO"  # type: ignore[union-attr]


@pytest.mark.parametrize("which", ["fifo", "fefo"])
def test_a_kit_of_one_order_only(session: Session, world: dict[str, Any], which: str) -> None:
    """The candidate search has a form per mix of orders: FIFO only, FEFO only, both."""
    with UnitOfWork(session) as uow:
        kit = kits.create_part_kit(uow, status="REQUESTED", items=[(world[which].id, 3)])
    with UnitOfWork(session) as uow:
        kits.fulfill_part_kit(uow, id=kit.id)
    expected = {"fifo": ["OLD-UNDATED", "OLD-LATE"], "fefo": ["NEWEST-SOONEST", "NEW-SOON"]}[which]
    assert _issued_lots(session, kit.id, world[which].id) == expected
