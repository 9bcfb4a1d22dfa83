"""Supply in SQL equals supply in Python (one source of truth), on both engines."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from kitwright.domain.availability import DEFAULT_VIEW, SupplyType, View, classify_supply
from kitwright.domain.errors import BadInput
from kitwright.domain.ledger import LedgerOperation
from kitwright.services import availability
from kitwright.services.ledger import record_change, snapshot
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import PartInventory
from tests import factories

FLAGS = list(itertools.product((True, False), repeat=3))


@pytest.mark.parametrize(("on_order", "available", "soon"), FLAGS)
def test_sql_case_equals_classify_supply(session: Session, on_order: bool, available: bool, soon: bool) -> None:
    expression = availability.supply_type_expression(literal(on_order), literal(available), literal(soon))
    in_sql = session.scalar(select(expression))
    assert in_sql == classify_supply(on_order=on_order, inventory_available=available, available_soon=soon).value


SUBSETS = [frozenset(c) for n in range(len(SupplyType) + 1) for c in itertools.combinations(SupplyType, n)]


@pytest.mark.parametrize(("on_order", "available", "soon"), FLAGS)
def test_sql_membership_equals_classify_supply(session: Session, on_order: bool, available: bool, soon: bool) -> None:
    """The short booleans the feed's aggregate filters on, for every set of supply types."""
    flags = (literal(on_order), literal(available), literal(soon))
    row = session.execute(select(*[availability.supply_type_in(types, *flags) for types in SUBSETS])).one()
    kind = classify_supply(on_order=on_order, inventory_available=available, available_soon=soon)
    assert [bool(flag) for flag in row] == [kind in types for types in SUBSETS]


def test_records_in_real_locations_classify_as_python_says(session: Session) -> None:
    part = factories.part(session, "P")
    site = factories.location(session, "Site")
    expected: dict[int, SupplyType] = {}
    for index, (on_order, available, soon) in enumerate(FLAGS):
        place = factories.location(
            session, f"L{index}", site, inventory_available=available, available_soon=soon
        )
        factories.record(
            session, part, 10**index, location_id=place.id, on_order=on_order,
            expected_at=dt.date(2026, 5, 1) if on_order else None,
        )
        kind = classify_supply(on_order=on_order, inventory_available=available, available_soon=soon)
        expected[10**index] = kind
    everything = View(supply_types=frozenset(SupplyType))
    lines = availability.supply_lines(session, [part.id], view=everything)
    totals: dict[SupplyType, Decimal] = {}
    for line in lines:
        assert line.site_id == site.id
        totals[line.supply_type] = totals.get(line.supply_type, Decimal(0)) + line.quantity
    wanted: dict[SupplyType, Decimal] = {}
    for quantity, kind in expected.items():
        wanted[kind] = wanted.get(kind, Decimal(0)) + quantity
    assert totals == wanted
    # Aggregated: one line per (site, part, type, ETA), not one per record.
    assert len(lines) == len(wanted)


def test_scrapped_records_never_count(session: Session) -> None:
    part = factories.part(session, "P")
    site = factories.location(session, "Site")
    factories.record(session, part, 5, location_id=site.id)
    scrapped = factories.record(session, part, 7, location_id=site.id)
    with UnitOfWork(session) as uow:
        row = uow.get(PartInventory, scrapped.id)
        before = snapshot(row)
        row.scrapped = True
        uow.flush()
        record_change(uow, LedgerOperation.UPDATE, row, before, snapshot(row))  # no scrap operation yet
        uow.commit()
    lines = availability.supply_lines(session, [part.id], view=DEFAULT_VIEW)
    assert [(line.supply_type, line.quantity) for line in lines] == [(SupplyType.ON_HAND_AVAILABLE, Decimal(5))]


def test_records_without_location_belong_to_no_site(session: Session) -> None:
    part = factories.part(session, "P")
    factories.record(session, part, 5)
    assert availability.supply_lines(session, [part.id]) == []


def test_feed_matches_single_kit_queries(session: Session) -> None:
    table = factories.part(session, "T")
    chair = factories.part(session, "C")
    with UnitOfWork(session) as uow:
        from kitwright.services import parts

        kit = parts.create_part(uow, part_number="K", tracking_type="UNTRACKED",
                                components=[(table.id, Decimal(1)), (chair.id, Decimal(4))])
    dc1 = factories.location(session, "DC1")
    dc2 = factories.location(session, "DC2")
    factories.record(session, table, 3, location_id=dc1.id)
    factories.record(session, chair, 9, location_id=dc1.id)
    factories.record(session, table, 1, location_id=dc2.id)
    factories.record(session, chair, 40, location_id=dc2.id, on_order=True, expected_at=dt.date(2026, 5, 1))
    as_of = dt.date(2026, 4, 10)
    rows = list(availability.feed(session, as_of=as_of))
    single = availability.get_kit_availability(session, kit.id, as_of=as_of)
    assert [r.part_id for r in rows] == [kit.id]
    assert rows[0].network == single.network
    assert rows[0].sites == single.sites
    assert single.network.total == 3 and single.network.on_hand == 2


def test_view_input_errors_name_the_field() -> None:
    with pytest.raises(BadInput) as caught:
        availability.build_view(["ON_HAND_AVAILABLE", "NOPE"])
    assert caught.value.field == "view.supplyTypes[1]"
    with pytest.raises(BadInput) as caught:
        availability.build_view(None, [])
    assert caught.value.field == "view.segments"
    with pytest.raises(BadInput) as caught:
        availability.build_view(None, None, [availability.AttributeFilter(1, "a", [])])
    assert caught.value.field == "view.attributeFilters[0].values"


def _statements(session: Session) -> list[int]:
    from sqlalchemy import event

    counter = [0]
    engine = session.get_bind()

    def count(*_args: object) -> None:
        counter[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    return counter


def _kit_with_sites(session: Session, sites: int, components: int) -> int:
    from kitwright.services import parts

    leaves = [factories.part(session, f"C{sites}-{i}") for i in range(components)]
    with UnitOfWork(session) as uow:
        kit = parts.create_part(uow, part_number=f"K{sites}", tracking_type="UNTRACKED",
                                components=[(leaf.id, Decimal(1)) for leaf in leaves])
    for s in range(sites):
        site = factories.location(session, f"S{sites}-{s}")
        for leaf in leaves:
            factories.record(session, leaf, 3, location_id=site.id)
            factories.record(session, leaf, 2, location_id=site.id, on_order=True, expected_at=dt.date(2026, 5, 1))
    return kit.id


def test_query_count_does_not_grow_with_sites_or_components(session: Session) -> None:
    small = _kit_with_sites(session, 1, 1)
    large = _kit_with_sites(session, 4, 3)
    session.commit()
    session.execute(select(literal(1)))  # begin the read transaction (SQLite BEGIN is a statement)
    counter = _statements(session)
    counter[0] = 0
    availability.get_kit_availability(session, small, as_of=dt.date(2026, 4, 10))
    few = counter[0]
    counter[0] = 0
    result = availability.get_kit_availability(session, large, as_of=dt.date(2026, 4, 10))
    assert counter[0] == few
    assert len(result.sites) == 4 and result.network.total == 20
    counter[0] = 0
    assert len(list(availability.feed(session, as_of=dt.date(2026, 4, 10)))) == 2
    assert counter[0] <= 3


def test_receive_moves_on_order_supply_on_hand_with_a_ledger_entry(session: Session) -> None:
    from kitwright.domain.errors import Conflict
    from kitwright.services import inventory
    from kitwright.store.models import LedgerEntry

    part = factories.part(session, "P")
    site = factories.location(session, "Site")
    dock = factories.location(session, "Dock", site, available_soon=True)
    po = factories.record(session, part, 10, location_id=site.id, on_order=True, expected_at=dt.date(2026, 5, 1))
    with UnitOfWork(session) as uow, pytest.raises(Conflict):
        inventory.receive_part_inventory(uow, po.id, "stale")
    with UnitOfWork(session) as uow:
        received = inventory.receive_part_inventory(uow, po.id, po.etag, location_id=dock.id, quantity=8)
    assert (received.on_order, received.quantity, received.location_id) == (False, Decimal(8), dock.id)
    entry = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    assert entry is not None and entry.operation == LedgerOperation.RECEIVE
    assert entry.before is not None and entry.before["on_order"] is True
    lines = availability.supply_lines(session, [part.id], view=View(supply_types=frozenset(SupplyType)))
    assert [(line.supply_type, line.quantity) for line in lines] == [(SupplyType.ON_HAND_AVAILABLE_SOON, Decimal(8))]
    with UnitOfWork(session) as uow, pytest.raises(BadInput) as caught:
        inventory.receive_part_inventory(uow, po.id, None)
    assert caught.value.field == "id"
