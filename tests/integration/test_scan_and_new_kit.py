"""Issue by scan and a new kit with its items, through the services on both engines: a good
scan issues exactly what the domain chose; every wrong scan, and every bad item, changes
nothing. The `engine` fixture ends each test with the invariant check."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput, KitwrightError
from kitwright.services import kits, scan
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import Part, PartKit, PartKitItem
from tests import factories
from tests.integration.test_kits_service import state


def setup(session: Session) -> tuple[int, int, int]:
    shelf = factories.location(session)
    computer = factories.part(session, "FC-100", "SERIAL")
    bolt = factories.part(session, "BOLT", "LOT")
    other = factories.part(session, "IMU-7", "SERIAL")
    factories.record(session, computer, 1, serial_number="FC-1", location_id=shelf.id)
    factories.record(session, bolt, 50, lot_number="L-1", location_id=shelf.id)
    factories.record(session, other, 1, serial_number="SN-1", location_id=shelf.id)
    with UnitOfWork(session) as uow:
        kit = kits.create_part_kit(uow, status="REQUESTED", items=[(computer.id, 1), (bolt.id, 20)])
    items = list(session.scalars(select(PartKitItem.id).where(PartKitItem.part_kit_id == kit.id)
                                 .order_by(PartKitItem.id)))
    return kit.id, items[0], items[1]


def scanned(session: Session, kit_id: int, code: str, quantity: str | None = None) -> scan.ScanResult:
    with UnitOfWork(session) as uow:
        return scan.issue_scanned(uow, kit_id=kit_id, code=code, quantity=quantity)


def test_a_serial_scan_issues_it_and_a_lot_scan_issues_what_the_item_needs(session: Session) -> None:
    kit_id, computer_item, bolt_item = setup(session)
    result = scanned(session, kit_id, " FC-1\n")
    assert (result.item_id, result.part_number, result.code) == (computer_item, "FC-100", "FC-1")
    result = scanned(session, kit_id, "L-1")
    assert result.item_id == bolt_item
    assert kits.kitted_by_item(session, [computer_item, bolt_item]) == {computer_item: Decimal(1),
                                                                       bolt_item: Decimal(20)}
    kit = session.get(PartKit, kit_id, populate_existing=True)
    assert kit is not None and kit.status == "IN_PROGRESS"


@pytest.mark.parametrize(("code", "words"), [
    ("NOPE", "Nothing carries"), ("SN-1", "does not ask for that part"), ("", "Scan or type"),
])
def test_a_wrong_scan_changes_nothing(session: Session, code: str, words: str) -> None:
    kit_id, _, _ = setup(session)
    before = state(session)
    with pytest.raises(BadInput, match=words):
        scanned(session, kit_id, code)
    assert state(session) == before


def test_scanning_a_kitted_serial_again_or_too_much_of_a_lot_changes_nothing(session: Session) -> None:
    kit_id, _, _ = setup(session)
    scanned(session, kit_id, "FC-1")
    before = state(session)
    with pytest.raises(KitwrightError):
        scanned(session, kit_id, "FC-1")
    with pytest.raises(KitwrightError):
        scanned(session, kit_id, "L-1", "21")
    assert state(session) == before


def test_a_new_kit_with_a_bad_item_leaves_no_kit_behind(session: Session) -> None:
    part = factories.part(session, "P-1")
    for items, field in (([(part.id, 2), (part.id, "-1")], "items[1].quantity"),
                         ([(part.id, 2), (999_999, 1)], "items[1].partId"),
                         ([(part.id, "0")], "items[0].quantity")):
        with pytest.raises(KitwrightError) as error, UnitOfWork(session) as uow:
            kits.create_part_kit(uow, items=items)
        assert error.value.field == field
        assert session.scalar(select(func.count()).select_from(PartKit)) == 0
        assert session.scalar(select(func.count()).select_from(PartKitItem)) == 0


@pytest.mark.parametrize("crowd", ["another part", "the same part, unavailable"])
def test_a_scan_finds_the_record_however_many_older_records_share_its_lot(session: Session, crowd: str) -> None:
    """More than MAX_MATCHES older records carry the code: of a part the kit does not ask for
    (a supplier's date code), or of the kit's own part but not available (a busy lot's splits
    held elsewhere, a quarantine). The scan still issues the available record of the kit's part."""
    kit_id, _, bolt_item = setup(session)
    bolt = session.scalars(select(Part).join(PartKitItem, PartKitItem.part_id == Part.id)
                           .where(PartKitItem.id == bolt_item)).one()
    shelf = factories.location(session, "Shelf 2")
    if crowd == "another part":
        washer, where = factories.part(session, "WASHER", "LOT"), shelf
    else:
        washer, where = bolt, factories.location(session, "Quarantine", inventory_available=False)
    for _ in range(scan.MAX_MATCHES):
        factories.record(session, washer, 2, lot_number="DC-2026", location_id=where.id)
    wanted = factories.record(session, bolt, 5, lot_number="DC-2026", location_id=shelf.id).id
    result = scanned(session, kit_id, "DC-2026")
    assert (result.item_id, result.record.id) == (bolt_item, wanted)
    assert kits.kitted_by_item(session, [bolt_item])[bolt_item] == Decimal(5)
