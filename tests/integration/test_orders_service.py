"""Retail orders through the services on SQLite and PostgreSQL (each test ends with the
invariant check: ledger replay, allocation links, no quantity created by allocation)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput, Conflict, NotFound
from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.orders import release_number
from kitwright.services import availability, orders
from kitwright.services.orders import NewEvent, NewLine
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import LedgerEntry, Location, Part, PartInventory
from tests import factories


def dining_world(session: Session, tables: tuple[int, ...] = (10,), chairs: tuple[int, ...] = (40,)
                 ) -> tuple[Part, Part, Part, list[Location]]:
    table = factories.part(session, "Table")
    chair = factories.part(session, "Chair")
    dining = factories.part(session, "DiningSet", components=[(table.id, Decimal(1)), (chair.id, Decimal(4))])
    sites = []
    for index, (t, c) in enumerate(zip(tables, chairs, strict=True)):
        site = factories.location(session, f"DC{index + 1}")
        sites.append(site)
        if t:
            factories.record(session, table, t, location_id=site.id)
        if c:
            factories.record(session, chair, c, location_id=site.id)
    return table, chair, dining, sites


def order_of(session: Session, number: str, *lines: tuple[Part, int]) -> int:
    with UnitOfWork(session) as uow:
        order = orders.create_order(uow, number, [NewLine(str(i + 1), p.id, q) for i, (p, q) in enumerate(lines)])
    return order.id


def settings(session: Session, **changes: object) -> None:
    with UnitOfWork(session) as uow:
        orders.update_order_settings(uow, changes)


def detail(session: Session, order_id: int) -> list[orders.QuantityDetail]:
    lines = orders.lines_of(session, [order_id])[order_id]
    details = orders.quantity_details(session, lines)
    return [details[line.id] for line in lines]


def kits_available(session: Session, dining: Part) -> Decimal:
    return availability.get_kit_availability(session, dining.id).network.on_hand


def test_allocation_commits_inventory_and_leaves_availability(session: Session) -> None:
    _, _, dining, _ = dining_world(session)
    assert kits_available(session, dining) == 10
    order_id = order_of(session, "ORD-1", (dining, 3))
    with UnitOfWork(session) as uow:
        result = orders.allocate_order(uow, order_id)
    assert [(a.kits) for a in result.allocations] == [3]
    assert kits_available(session, dining) == 7
    statuses = sorted(r.status for r in session.scalars(select(PartInventory)))
    assert statuses.count("ALLOCATED") == 2
    assert detail(session, order_id)[0].allocated == 3


def test_default_backorders_a_line_no_single_site_can_fill(session: Session) -> None:
    _, _, dining, _ = dining_world(session, (2, 2), (8, 8))
    order_id = order_of(session, "ORD-1", (dining, 3))
    with UnitOfWork(session) as uow:
        assert orders.allocate_order(uow, order_id).allocations == []
    d = detail(session, order_id)[0]
    assert (d.allocated, d.backordered) == (0, 3)
    assert not session.scalars(select(PartInventory).where(PartInventory.how_created == "ORDER_ALLOCATION")).all()
    settings(session, enable_kits=True)
    with UnitOfWork(session) as uow:
        allocations = orders.allocate_order(uow, order_id).allocations
    assert sorted(a.kits for a in allocations) == [1, 2]
    assert len({a.site_id for a in allocations}) == 2
    d = detail(session, order_id)[0]
    assert (d.allocated, d.backordered) == (3, 0)


def test_a_later_allocation_retries_backordered_kits(session: Session) -> None:
    table, chair, dining, sites = dining_world(session, (1,), (4,))
    settings(session, enable_kits=True)
    order_id = order_of(session, "ORD-1", (dining, 2))
    with UnitOfWork(session) as uow:
        orders.allocate_order(uow, order_id)
    assert (detail(session, order_id)[0].allocated, detail(session, order_id)[0].backordered) == (1, 1)
    factories.record(session, table, 1, location_id=sites[0].id)
    factories.record(session, chair, 4, location_id=sites[0].id)
    with UnitOfWork(session) as uow:
        orders.allocate_order(uow, order_id)
    assert (detail(session, order_id)[0].allocated, detail(session, order_id)[0].backordered) == (2, 0)


def test_lines_sharing_a_component_never_oversell(session: Session) -> None:
    _, chair, dining, _ = dining_world(session, (2,), (6,))
    order_id = order_of(session, "ORD-1", (dining, 1), (chair, 3))
    with UnitOfWork(session) as uow:
        orders.allocate_order(uow, order_id)
    kit_line, chair_line = detail(session, order_id)
    assert (kit_line.allocated, chair_line.allocated, chair_line.backordered) == (1, 0, 3)


def released_dining(session: Session, kits: int = 3) -> tuple[Part, Part, int, dict[int, int]]:
    table, chair, dining, _ = dining_world(session)
    order_id = order_of(session, "ORD-1", (dining, kits))
    with UnitOfWork(session) as uow:
        orders.allocate_order(uow, order_id)
    with UnitOfWork(session) as uow:
        (release,) = orders.release_order(uow, order_id)
    from kitwright.store.models import OrderReleaseLine
    lines = {r.part_id: r.id for r in session.scalars(
        select(OrderReleaseLine).where(OrderReleaseLine.release_id == release.id))}
    return table, chair, order_id, lines


def send(session: Session, message: str, *events: NewEvent) -> orders.EventOutcome:
    with UnitOfWork(session) as uow:
        return orders.process_order_events(uow, message, list(events))


def test_ship_consumes_allocated_inventory_with_ledger_entries(session: Session) -> None:
    settings(session, partial_kit_supported=True)
    table, chair, order_id, rl = released_dining(session)
    outcome = send(session, "M1",
                   NewEvent("SHIP", table.id, 1, release_line_id=rl[table.id], package_id="P1"),
                   NewEvent("SHIP", chair.id, 4, release_line_id=rl[chair.id], package_id="P1"),
                   NewEvent("SHIP", table.id, 1, release_line_id=rl[table.id], package_id="P2"),
                   NewEvent("SHIP", chair.id, 4, release_line_id=rl[chair.id], package_id="P2"))
    assert outcome.processed and len(outcome.invoices) == 2
    d = detail(session, order_id)[0]
    assert (d.shipped, d.released) == (2, 1)
    ships = session.scalars(select(LedgerEntry).where(LedgerEntry.operation == LedgerOperation.ORDER_SHIP)).all()
    assert {e.part_id for e in ships} == {table.id, chair.id}
    total_tables = sum(r.quantity for r in session.scalars(select(PartInventory).where(PartInventory.part_id == table.id)))
    assert total_tables == 8


def test_a_failing_message_processes_nothing_and_stores_every_event(session: Session) -> None:
    settings(session, partial_kit_supported=True)
    table, chair, order_id, rl = released_dining(session)
    outcome = send(session, "M1",
                   NewEvent("SHORT", table.id, 1, release_line_id=rl[table.id], short_reason_id="R"),
                   NewEvent("SHORT", chair.id, 8, release_line_id=rl[chair.id], short_reason_id="R"))
    assert not outcome.processed
    assert [(e.part_id, e.quantity, e.release_line_id) for e in outcome.unprocessed] == [
        (table.id, 1, rl[table.id]), (chair.id, 8, rl[chair.id])]
    assert detail(session, order_id)[0].released == 3
    again = send(session, "M1", NewEvent("SHIP", table.id, 1, release_line_id=rl[table.id], package_id="X"))
    assert again.duplicate and not again.processed and len(again.unprocessed) == 2


def test_reconciler_processes_stored_events_once_they_form_whole_kits(session: Session) -> None:
    settings(session, partial_kit_supported=True)
    table, chair, order_id, rl = released_dining(session)
    send(session, "M1", NewEvent("PICK", table.id, 1, release_line_id=rl[table.id]))
    with UnitOfWork(session) as uow:
        result = orders.reconcile_order_events(uow)
    assert not result.processed and len(result.stuck) == 1 and result.stuck[0].age_seconds >= 0
    send(session, "M2", NewEvent("PICK", chair.id, 4, release_line_id=rl[chair.id]))
    with UnitOfWork(session) as uow:
        result = orders.reconcile_order_events(uow)
    assert len(result.processed) == 2 and not result.stuck
    assert detail(session, order_id)[0].picked == 1


def test_short_cancels_or_backorders_per_reason(session: Session) -> None:
    settings(session, partial_kit_supported=True, backorder_short_reasons=["BO"])
    table, chair, order_id, rl = released_dining(session)
    send(session, "M1", NewEvent("SHORT", table.id, 1, release_line_id=rl[table.id], short_reason_id="X"),
         NewEvent("SHORT", chair.id, 4, release_line_id=rl[chair.id], short_reason_id="X"))
    send(session, "M2", NewEvent("SHORT", table.id, 1, release_line_id=rl[table.id], short_reason_id="BO"),
         NewEvent("SHORT", chair.id, 4, release_line_id=rl[chair.id], short_reason_id="BO"))
    d = detail(session, order_id)[0]
    assert (d.shorted, d.canceled, d.backordered, d.released) == (2, 1, 1, 1)


def test_unknown_lines_and_parts_are_errors_and_store_nothing(session: Session) -> None:
    table, _chair, _order_id, rl = released_dining(session)
    with pytest.raises(NotFound):
        send(session, "M1", NewEvent("SHIP", table.id, 1, release_line_id=99999, package_id="P"))
    with pytest.raises(NotFound) as error:
        send(session, "M1", NewEvent("SHIP", 99999, 1, release_line_id=rl[table.id], package_id="P"))
    assert error.value.field == "events[0].partId"
    with pytest.raises(BadInput) as bad:
        send(session, "M1", NewEvent("SHIP", table.id, "lots", release_line_id=rl[table.id], package_id="P"))
    assert bad.value.field == "events[0].quantity"
    assert send(session, "M1", NewEvent("SHIP", table.id, 4, release_line_id=rl[table.id],
                                        package_id="P")).unprocessed[0].reason


def test_returns_resolve_into_complete_kits(session: Session) -> None:
    settings(session, partial_kit_supported=True)
    table, chair, order_id, rl = released_dining(session)
    send(session, "M1", NewEvent("SHIP", table.id, 3, release_line_id=rl[table.id], package_id="P1"),
         NewEvent("SHIP", chair.id, 12, release_line_id=rl[chair.id], package_id="P1"))
    line_id = orders.lines_of(session, [order_id])[order_id][0].id
    with UnitOfWork(session) as uow, pytest.raises(BadInput):
        orders.create_return_order(uow, order_id, [orders.NewReturnLine(line_id, 4)])
    with UnitOfWork(session) as uow:
        ret = orders.create_return_order(uow, order_id, [orders.NewReturnLine(line_id, 3)])
    from kitwright.store.models import ReturnLine
    return_line = session.scalars(select(ReturnLine).where(ReturnLine.return_order_id == ret.id)).one()
    with UnitOfWork(session) as uow:
        orders.record_return_verification(uow, return_line.id, table.id, 3)
    with UnitOfWork(session) as uow:
        held = orders.record_return_verification(uow, return_line.id, chair.id, 8)
    assert held.status == "HELD" and held.quantity_variance
    with UnitOfWork(session) as uow:
        resolved = orders.resolve_return_line(uow, return_line.id)
    assert (resolved.invoiced_quantity, resolved.canceled_quantity, resolved.status) == (2, 1, "RESOLVED")


# -- a return line is received back once ------------------------------------------------


def returned_dining(session: Session, returned: int, *, partial: bool) -> tuple[Part, Part, int, int]:
    """3 dining sets shipped, `returned` of them returned: (table, chair, kit part id, return line id)."""
    settings(session, partial_kit_supported=True)
    table, chair, order_id, rl = released_dining(session)
    assert send(session, "SHIP", NewEvent("SHIP", table.id, 3, release_line_id=rl[table.id], package_id="P"),
                NewEvent("SHIP", chair.id, 12, release_line_id=rl[chair.id], package_id="P")).processed
    settings(session, partial_kit_supported=partial)
    line = orders.lines_of(session, [order_id])[order_id][0]
    with UnitOfWork(session) as uow:
        ret = orders.create_return_order(uow, order_id, [orders.NewReturnLine(line.id, returned)])
    from kitwright.store.models import ReturnLine
    return_line = session.scalars(select(ReturnLine).where(ReturnLine.return_order_id == ret.id)).one()
    return table, chair, line.part_id, return_line.id


def on_hand(session: Session, part: Part) -> Decimal:
    return sum((r.quantity for r in session.scalars(select(PartInventory).where(
        PartInventory.part_id == part.id, PartInventory.status == "AVAILABLE"))), Decimal(0))


def verify(session: Session, line_id: int, part_id: int, quantity: object, condition: str = "GOOD") -> str:
    with UnitOfWork(session) as uow:
        return orders.record_return_verification(uow, line_id, part_id, quantity, condition).status


def test_a_kit_level_return_is_received_back_once(session: Session) -> None:
    table, chair, kit_id, line_id = returned_dining(session, 2, partial=False)
    assert (on_hand(session, table), on_hand(session, chair)) == (7, 28)
    assert verify(session, line_id, kit_id, 2) == "OPEN"
    assert (on_hand(session, table), on_hand(session, chair)) == (9, 36)
    with pytest.raises(Conflict) as again:
        verify(session, line_id, kit_id, 2)
    assert again.value.field == "returnLineId"
    assert (on_hand(session, table), on_hand(session, chair)) == (9, 36)
    with UnitOfWork(session) as uow:
        resolved = orders.resolve_return_line(uow, line_id)
    assert (resolved.status, resolved.invoiced_quantity) == ("RESOLVED", 2)


def test_a_good_verification_after_a_damaged_one_neither_receives_nor_lifts_the_hold(session: Session) -> None:
    table, chair, kit_id, line_id = returned_dining(session, 2, partial=False)
    assert verify(session, line_id, kit_id, 2, "DAMAGED") == "HELD"
    with pytest.raises(Conflict):
        verify(session, line_id, kit_id, 2, "GOOD")
    from kitwright.store.models import ReturnLine, ReturnVerification
    line = session.get(ReturnLine, line_id, populate_existing=True)
    assert line is not None and (line.status, line.condition_variance) == ("HELD", True)
    conditions = session.scalars(select(ReturnVerification.condition)
                                 .where(ReturnVerification.return_line_id == line_id)).all()
    assert sorted(conditions) == ["DAMAGED", "DAMAGED"]  # one per component, received once
    assert (on_hand(session, table), on_hand(session, chair)) == (9, 36)


def test_components_are_received_back_up_to_what_was_returned(session: Session) -> None:
    table, chair, _kit_id, line_id = returned_dining(session, 3, partial=True)
    with pytest.raises(BadInput) as never:
        verify(session, line_id, chair.id, 13)
    assert never.value.field == "quantity" and not isinstance(never.value, Conflict)
    verify(session, line_id, chair.id, 8)
    with pytest.raises(Conflict) as over:
        verify(session, line_id, chair.id, 5)
    assert over.value.field == "quantity"
    assert verify(session, line_id, chair.id, 4) == "HELD"  # the tables are still to come
    assert verify(session, line_id, table.id, 3) == "OPEN"
    for part in (table, chair):
        with pytest.raises(Conflict):
            verify(session, line_id, part.id, "0.5")
    assert (on_hand(session, table), on_hand(session, chair)) == (10, 40)


def test_an_unexpected_item_is_received_once(session: Session) -> None:
    _table, _chair, _kit_id, line_id = returned_dining(session, 1, partial=True)
    lamp = factories.part(session, "Lamp")
    with UnitOfWork(session) as uow:
        unexpected = orders.record_return_verification(uow, line_id, lamp.id, 2)
    unexpected_id = unexpected.id
    with pytest.raises(Conflict):
        verify(session, unexpected_id, lamp.id, 1)
    assert on_hand(session, lamp) == 2


# -- release numbers ---------------------------------------------------------------------


def one_kit_sites(session: Session, sites: int) -> Part:
    """A kit of one component, one kit's worth at each of `sites` sites."""
    component = factories.part(session, "QC")
    kit = factories.part(session, "QK", components=[(component.id, Decimal(1))])
    for index in range(sites):
        factories.record(session, component, 1, location_id=factories.location(session, f"QS{index}").id)
    return kit


def allocated(session: Session, number: str, kit: Part, kits: int) -> int:
    order_id = order_of(session, number, (kit, kits))
    with UnitOfWork(session) as uow:
        orders.allocate_order(uow, order_id)
    return order_id


def release_numbers(session: Session, order_id: int) -> list[str]:
    with UnitOfWork(session) as uow:
        return [release.release_number for release in orders.release_order(uow, order_id)]


def test_an_order_numbered_like_another_orders_release_can_be_released(session: Session) -> None:
    settings(session, enable_kits=True)
    kit = one_kit_sites(session, 12)
    q = allocated(session, "Q", kit, 11)
    q1 = allocated(session, "Q1", kit, 1)
    assert release_numbers(session, q) == [f"Q-{n}" for n in range(1, 12)]
    assert release_numbers(session, q1) == ["Q1-1"]


def test_later_releases_of_an_order_continue_its_sequence(session: Session) -> None:
    settings(session, enable_kits=True)
    kit = one_kit_sites(session, 3)
    order_id = allocated(session, "R", kit, 1)
    assert release_numbers(session, order_id) == ["R-1"]
    order_id2 = order_of(session, "R-1", (kit, 2))
    with UnitOfWork(session) as uow:
        orders.allocate_order(uow, order_id2)
    assert release_numbers(session, order_id2) == ["R-1-1", "R-1-2"]


def rename_release(session: Session, old: str, new: str) -> None:
    """A release as the numbering before the hyphen form named it."""
    from sqlalchemy import update

    from kitwright.store.models import OrderRelease
    with UnitOfWork(session) as uow:
        uow.session.execute(update(OrderRelease).where(OrderRelease.release_number == old).values(release_number=new))
        uow.commit()


def test_releases_numbered_before_the_hyphen_keep_working(session: Session) -> None:
    settings(session, enable_kits=True)
    kit = one_kit_sites(session, 3)
    # Order "Z-" released by the old numbering as "Z-1": the number order Z's first release would take.
    old = allocated(session, "Z-", kit, 1)
    assert release_numbers(session, old) == ["Z--1"]
    rename_release(session, "Z--1", "Z-1")
    assert release_numbers(session, allocated(session, "Z", kit, 1)) == ["Z-2"]
    # The warehouse still names the old release by its old number.
    (event,) = orders.events_from_document(session, [orders.DocumentEvent(
        "Pick", "QC", 1, release_number="Z-1", release_line_number="1")])
    from kitwright.store.models import OrderRelease, OrderReleaseLine
    release = session.scalars(select(OrderRelease).where(OrderRelease.release_number == "Z-1")).one()
    assert release.order_id == old
    assert event.release_line_id == session.scalar(
        select(OrderReleaseLine.id).where(OrderReleaseLine.release_id == release.id))
    with UnitOfWork(session) as uow:
        assert orders.process_order_events(uow, "PICK-OLD", [event]).processed


def test_a_release_number_taken_meanwhile_is_a_conflict_naming_the_field(session: Session) -> None:
    from kitwright.store.models import OrderRelease
    settings(session, enable_kits=True)
    kit = one_kit_sites(session, 1)
    order_id = allocated(session, "W", kit, 1)
    assert release_numbers(session, order_id) == ["W-1"]
    with UnitOfWork(session) as uow, pytest.raises(Conflict) as taken:
        uow.session.add(OrderRelease(order_id=order_id, site_id=0, release_number=release_number("W", 1)))
        uow.flush()
    assert taken.value.field == "id" and "release number" in taken.value.message
    assert "UNIQUE" not in taken.value.message and "duplicate key" not in taken.value.message
