"""One order-event message costs a fixed number of SQL round trips, however many events,
lines, packages and inventory records it covers (docs/retail-orders.md, "Order events"):
shipping consumes the held records, moves the stages and writes the ledger set-based, and a
failing message stores its events in one statement."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput
from kitwright.domain.ledger import LedgerOperation
from kitwright.services import actions, orders
from kitwright.services.orders import EventOutcome, NewEvent, NewLine
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import (
    Invoice,
    LedgerEntry,
    Location,
    OrderAllocationInventory,
    OrderEventMessage,
    OrderLine,
    OrderReleaseLine,
    Part,
    PartInventory,
    UnprocessedOrderEvent,
)
from tests import factories


@contextmanager
def counting(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = session.get_bind()

    def listen(*args: Any) -> None:
        statements.append(str(args[2]).split("\n", 1)[0][:80])

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def released_order(session: Session, number: str, lines: int, records_per_component: int = 1
                   ) -> list[OrderReleaseLine]:
    """An order of `lines` kit lines (2 kits of 1 table + 4 chairs each), allocated and
    released at one site, each component held in `records_per_component` records; its
    release lines."""
    found = {p.part_number: p for p in session.scalars(select(Part))}
    table = found.get("Table") or factories.part(session, "Table")
    chair = found.get("Chair") or factories.part(session, "Chair")
    dining = found.get("DiningSet") or factories.part(
        session, "DiningSet", components=[(table.id, Decimal(1)), (chair.id, Decimal(4))])
    site = session.scalars(select(Location).where(Location.name == "DC1")).one_or_none() or factories.location(
        session, "DC1")
    for _ in range(records_per_component):
        factories.record(session, table, 2 * lines, location_id=site.id)
        factories.record(session, chair, 8 * lines, location_id=site.id)
    with UnitOfWork(session) as uow:
        order = orders.create_order(uow, number, [NewLine(str(n + 1), dining.id, 2) for n in range(lines)])
    with UnitOfWork(session) as uow:
        assert orders.allocate_order(uow, order.id).allocations
    with UnitOfWork(session) as uow:
        orders.release_order(uow, order.id)
    return list(session.scalars(
        select(OrderReleaseLine).join(OrderLine, OrderLine.id == OrderReleaseLine.order_line_id)
        .where(OrderLine.order_id == order.id).order_by(OrderReleaseLine.id)))


def ship_events(rows: list[OrderReleaseLine], *, broken: bool = False) -> list[NewEvent]:
    """SHIP every release line whole, one package per kit line (`broken`: one chair short,
    so the message fails its checks and is stored)."""
    events = []
    for n, row in enumerate(rows):
        quantity = row.quantity - (1 if broken and n == len(rows) - 1 else 0)
        events.append(NewEvent("SHIP", row.part_id, quantity, release_line_id=row.id,
                               package_id=f"PKG-{row.order_line_id}"))
    return events


def statements_for(session: Session, action: Callable[[UnitOfWork], EventOutcome]) -> tuple[list[str], EventOutcome]:
    with counting(session) as statements, UnitOfWork(session) as uow:
        outcome = action(uow)
    return list(statements), outcome


def test_shipping_costs_the_same_round_trips_for_one_line_or_many(session: Session) -> None:
    rows = released_order(session, "ORD-1", 1)
    events = ship_events(rows)  # built first: reading the rows is not the message's cost
    one, outcome = statements_for(session, lambda uow: orders.process_order_events(uow, "M-1", events))
    assert outcome.processed and len(outcome.invoices) == 1
    # Six kit lines, six packages, twelve events, each component held in three records.
    more = released_order(session, "ORD-2", 6, records_per_component=3)
    assert len(more) == 12
    events = ship_events(more)
    many, outcome = statements_for(session, lambda uow: orders.process_order_events(uow, "M-2", events))
    assert outcome.processed and len(outcome.invoices) == 6
    assert len(many) == len(one), "\n".join(["one line:", *one, "", "six lines:", *many])
    entries = session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.operation == LedgerOperation.ORDER_SHIP))
    assert entries is not None and entries >= 2 + 6 * 2
    held = session.scalar(select(func.count()).select_from(OrderAllocationInventory).where(
        OrderAllocationInventory.released == False))  # noqa: E712
    assert held == 0  # everything allocated was shipped


def test_a_failing_message_stores_its_events_in_fixed_round_trips(session: Session) -> None:
    rows = released_order(session, "ORD-1", 6)
    two, twelve = ship_events(rows[:2], broken=True), ship_events(rows, broken=True)
    one, outcome = statements_for(session, lambda uow: orders.process_order_events(uow, "BAD-1", two))
    assert not outcome.processed and len(outcome.unprocessed) == 2
    many, outcome = statements_for(session, lambda uow: orders.process_order_events(uow, "BAD-2", twelve))
    assert not outcome.processed and len(outcome.unprocessed) == 12
    assert len(many) == len(one), "\n".join(["two events:", *one, "", "twelve events:", *many])
    stored = session.scalar(select(func.count()).select_from(UnprocessedOrderEvent))
    assert stored == 14


def test_rules_on_inventory_updates_still_see_the_set_based_shipment(session: Session) -> None:
    """The consumed records are written without the ORM, so the service runs the actions on
    them itself: a blocking rule refuses the message and nothing is half-written."""
    rows = released_order(session, "ORD-1", 2)
    with UnitOfWork(session) as uow:
        actions.create_rule(uow, code="new.quantity < old.quantity", title="no consumption",
                            target="PARTINVENTORY", event_type="UPDATE")
    events = ship_events(rows)
    entries_before = session.scalar(select(func.count()).select_from(LedgerEntry))
    with pytest.raises(BadInput, match="no consumption"), UnitOfWork(session) as uow:
        orders.process_order_events(uow, "M-1", events)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == entries_before
    assert session.scalar(select(func.count()).select_from(Invoice)) == 0
    held = session.scalar(select(func.sum(PartInventory.quantity)).join(
        OrderAllocationInventory, OrderAllocationInventory.part_inventory_id == PartInventory.id).where(
        OrderAllocationInventory.released == False))  # noqa: E712
    assert held == 2 * 2 * 5  # 2 lines x 2 kits x (1 table + 4 chairs), all still held
    assert not session.scalars(select(OrderEventMessage)).all()


def halves_stored(session: Session, rows: list[OrderReleaseLine], name: str) -> None:
    """Ship each kit line's components in two messages (tables, then chairs): each half is
    not whole kits, so both messages are stored unprocessed for the reconciler."""
    events = ship_events(rows)
    tables = [e for e, row in zip(events, rows, strict=True) if row.ratio == 1]
    chairs = [e for e, row in zip(events, rows, strict=True) if row.ratio != 1]
    for n, half in enumerate((tables, chairs)):
        with UnitOfWork(session) as uow:
            assert not orders.process_order_events(uow, f"{name}-{n}", half).processed


def test_the_reconciler_applies_its_groups_together_in_fixed_round_trips(session: Session) -> None:
    one_line = released_order(session, "ORD-1", 1)
    halves_stored(session, one_line, "H1")
    with counting(session) as one, UnitOfWork(session) as uow:
        result = orders.reconcile_order_events(uow)
    assert len(result.processed) == 2 and not result.stuck
    # Six kit lines (six groups), each component held in three records.
    six_lines = released_order(session, "ORD-2", 6, records_per_component=3)
    halves_stored(session, six_lines, "H2")
    with counting(session) as many, UnitOfWork(session) as uow:
        result = orders.reconcile_order_events(uow)
    assert len(result.processed) == 12 and not result.stuck
    assert len(many) == len(one), "\n".join(["one group:", *one, "", "six groups:", *many])
    # One invoice per package of each group, every held record consumed, an entry for each.
    assert session.scalar(select(func.count()).select_from(Invoice)) == 7
    held = session.scalar(select(func.count()).select_from(OrderAllocationInventory).where(
        OrderAllocationInventory.released == False))  # noqa: E712
    assert held == 0
    entries = session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.operation == "ORDER_SHIP"))
    assert entries is not None and entries >= 2 + 6 * 2
    shipped = session.scalar(select(func.sum(OrderLine.shipped_quantity)))
    assert shipped == 2 * 7
