"""Kanban kits through the services, on SQLite and PostgreSQL (docs/kanban.md): the cycle
fill -> deliver -> empty -> refill, consumption leaving inventory with a ledger entry, the
rest returning home, cycle history, line-side replenishment, and bad input changing nothing.
Every test ends in the invariant check (the `engine` fixture)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput, NotFound
from kitwright.domain.ledger import LedgerOperation
from kitwright.services import kanban
from kitwright.services.kanban import ConsumptionEntry, LevelEntry, PatternEntry
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import (
    KanbanCycle,
    KanbanCycleLine,
    KanbanKit,
    LedgerEntry,
    LineStockLevel,
    Location,
    Part,
    PartInventory,
    PartKit,
)
from tests import factories


@dataclass
class Floor:
    bolt: Part  # lot-tracked
    motor: Part  # serial-tracked
    stock: Location
    home: Location
    line: Location
    old_lot: int
    new_lot: int
    motors: list[int]


def floor(session: Session) -> Floor:
    bolt = factories.part(session, "BOLT", "LOT")
    motor = factories.part(session, "MOTOR", "SERIAL")
    stock = factories.location(session, "Stockroom")
    home = factories.location(session, "Kanban rack")
    line = factories.location(session, "Line 1")
    old_lot = factories.record(session, bolt, 10, lot_number="L-OLD", location_id=stock.id).id
    new_lot = factories.record(session, bolt, 5, lot_number="L-NEW", location_id=stock.id).id
    motors = [factories.record(session, motor, 1, serial_number=f"M-{i}", location_id=stock.id).id
              for i in range(3)]
    return Floor(bolt, motor, stock, home, line, old_lot, new_lot, motors)


def make_kit(session: Session, f: Floor, bolts: object = 4, motors: object = 2) -> KanbanKit:
    with UnitOfWork(session) as uow:
        return kanban.create_kanban_kit(
            uow, name="Bin A", home_location_id=f.home.id, line_location_id=f.line.id,
            pattern=[PatternEntry(f.bolt.id, bolts), PatternEntry(f.motor.id, motors)],
        )


def total(session: Session, part: Part) -> Decimal:
    session.rollback()
    return sum(session.scalars(select(PartInventory.quantity).where(PartInventory.part_id == part.id)),
               Decimal(0))


def fill(session: Session, kit_id: int) -> kanban.FillOutcome:
    with UnitOfWork(session) as uow:
        return kanban.fill_kanban_kit(uow, id=kit_id)


def deliver(session: Session, kit_id: int) -> KanbanKit:
    with UnitOfWork(session) as uow:
        return kanban.deliver_kanban_kit(uow, id=kit_id)


def empty(session: Session, kit_id: int, *consumed: tuple[int, object]) -> tuple[KanbanKit, KanbanCycle]:
    with UnitOfWork(session) as uow:
        return kanban.empty_kanban_kit(uow, id=kit_id, consumption=[ConsumptionEntry(p, q) for p, q in consumed])


def held_at(session: Session, f: Floor, kit_id: int) -> dict[int, Decimal]:
    session.rollback()
    return kanban.held_by_kit(session, [kit_id])[kit_id]


def test_a_full_cycle_fills_oldest_first_delivers_consumes_and_returns(session: Session) -> None:
    f = floor(session)
    kit = make_kit(session, f)
    assert (kit.status, kit.cycle_count) == ("EMPTY", 0)

    filled = fill(session, kit.id)
    assert filled.shortages == []
    assert filled.kit.status == "FILLED"
    assert held_at(session, f, kit.id) == {f.bolt.id: Decimal(4), f.motor.id: Decimal(2)}
    # Oldest first: the 4 bolts come out of the old lot, the motors are the first two serials.
    issued = {r.id: r for r in filled.issued}
    session.rollback()
    bolts = [r for r in session.scalars(select(PartInventory).where(PartInventory.id.in_(issued)))
             if r.part_id == f.bolt.id]
    assert [(b.lot_number, b.quantity, b.location_id) for b in bolts] == [("L-OLD", 4, f.home.id)]
    assert {r.id for r in issued.values() if r.part_id == f.motor.id} == set(f.motors[:2])
    assert all(session.get(PartInventory, r).status == "KITTED" for r in issued)

    kit = deliver(session, kit.id)
    assert kit.status == "AT_LINE"
    session.rollback()
    assert {session.get(PartInventory, r).location_id for r in issued} == {f.line.id}

    before_bolts, before_motors = total(session, f.bolt), total(session, f.motor)
    kit, cycle = empty(session, kit.id, (f.bolt.id, 3), (f.motor.id, 1))
    assert (kit.status, kit.cycle_count) == ("EMPTIED", 1)
    # Consumption is the only thing that removes parts.
    assert total(session, f.bolt) == before_bolts - 3
    assert total(session, f.motor) == before_motors - 1
    records = {r: session.get(PartInventory, r) for r in issued}
    statuses = sorted((r.part_id, r.quantity, r.location_id, r.status) for r in records.values())
    assert statuses == sorted([
        (f.bolt.id, Decimal(1), f.home.id, "AVAILABLE"),
        (f.motor.id, Decimal(0), f.line.id, "UNAVAILABLE"),  # the consumed serial, oldest first
        (f.motor.id, Decimal(1), f.home.id, "AVAILABLE"),
    ])
    assert records[f.motors[0]].quantity == 0
    consumed = session.scalars(select(LedgerEntry).where(LedgerEntry.operation == LedgerOperation.KANBAN_CONSUME)).all()
    assert len(consumed) == 2 and all(e.references["kanbanKitId"] == kit.id for e in consumed)
    assert session.scalar(select(func.count()).select_from(LedgerEntry)
                          .where(LedgerEntry.operation == LedgerOperation.KANBAN_RETURN)) == 2
    assert session.get(PartKit, cycle.part_kit_id).status == "COMPLETED"
    lines = {line.part_id: line for line in session.scalars(
        select(KanbanCycleLine).where(KanbanCycleLine.kanban_cycle_id == cycle.id))}
    assert [(lines[p].filled_quantity, lines[p].consumed_quantity, lines[p].returned_quantity)
            for p in (f.bolt.id, f.motor.id)] == [(4, 3, 1), (2, 1, 1)]
    assert cycle.filled_by == cycle.delivered_by == cycle.emptied_by == "system"
    assert cycle.filled_at is not None and cycle.delivered_at is not None and cycle.emptied_at is not None
    assert cycle.filled_at <= cycle.delivered_at <= cycle.emptied_at

    # Refill: a new cycle on a new kit, oldest first again (the returned bolt is the oldest).
    again = fill(session, kit.id)
    assert again.kit.status == "FILLED" and again.cycle.number == 2
    assert again.cycle.part_kit_id != cycle.part_kit_id
    assert held_at(session, f, kit.id) == {f.bolt.id: Decimal(4), f.motor.id: Decimal(2)}
    session.rollback()
    cycles = session.scalars(select(KanbanCycle).where(KanbanCycle.kanban_kit_id == kit.id)
                             .order_by(KanbanCycle.number)).all()
    assert [(c.number, c.emptied_at is None) for c in cycles] == [(1, False), (2, True)]


def test_a_short_fill_reports_shortages_and_a_second_fill_tops_it_up(session: Session) -> None:
    f = floor(session)
    kit = make_kit(session, f, bolts=20, motors=5)
    first = fill(session, kit.id)
    assert {(s.part_id, s.quantity) for s in first.shortages} == {(f.bolt.id, 5), (f.motor.id, 2)}
    assert first.kit.status == "FILLED"
    factories.record(session, f.bolt, 7, lot_number="L-LATE", location_id=f.stock.id)
    second = fill(session, kit.id)
    assert second.cycle.id == first.cycle.id  # the same cycle, topped up
    assert {(s.part_id, s.quantity) for s in second.shortages} == {(f.motor.id, 2)}
    assert held_at(session, f, kit.id) == {f.bolt.id: Decimal(20), f.motor.id: Decimal(3)}


def test_a_fill_that_finds_nothing_leaves_the_kit_empty(session: Session) -> None:
    f = floor(session)
    ghost = factories.part(session, "GHOST", "UNTRACKED")
    with UnitOfWork(session) as uow:
        kit = kanban.create_kanban_kit(uow, home_location_id=f.home.id, line_location_id=f.line.id,
                                       pattern=[PatternEntry(ghost.id, 3)])
    outcome = fill(session, kit.id)
    assert outcome.kit.status == "EMPTY" and outcome.issued == []
    assert [(s.part_id, s.quantity) for s in outcome.shortages] == [(ghost.id, 3)]
    with pytest.raises(BadInput) as refused:
        deliver(session, kit.id)
    assert refused.value.field == "id"


def _counts(session: Session) -> tuple[int, ...]:
    session.rollback()
    return tuple(
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (KanbanKit, KanbanCycle, PartKit, LedgerEntry, LineStockLevel, PartInventory)
    )


@pytest.mark.parametrize(("pattern", "field"), [
    ([], "pattern"),
    ([(999, 1)], "pattern[0].partId"),
    ([("bolt", 0)], "pattern[0].quantity"),
    ([("bolt", -2)], "pattern[0].quantity"),
    ([("bolt", "x")], "pattern[0].quantity"),
    ([("motor", "1.5")], "pattern[0].quantity"),
    ([("bolt", 1), ("bolt", 2)], "pattern[1].partId"),
])
def test_a_bad_pattern_is_refused_naming_the_field(session: Session, pattern: list[tuple[object, object]],
                                                   field: str) -> None:
    f = floor(session)
    ids = {"bolt": f.bolt.id, "motor": f.motor.id}
    before = _counts(session)
    with pytest.raises(BadInput) as refused, UnitOfWork(session) as uow:
        kanban.create_kanban_kit(
            uow, home_location_id=f.home.id, line_location_id=f.line.id,
            pattern=[PatternEntry(ids.get(p, p), q) for p, q in pattern],  # type: ignore[call-overload]
        )
    assert refused.value.field == field or field in {p.field for p in refused.value.details}
    assert _counts(session) == before


def test_locations_are_checked(session: Session) -> None:
    f = floor(session)
    with pytest.raises(NotFound) as missing, UnitOfWork(session) as uow:
        kanban.create_kanban_kit(uow, home_location_id=999, line_location_id=f.line.id,
                                 pattern=[PatternEntry(f.bolt.id, 1)])
    assert missing.value.field == "homeLocationId"
    with pytest.raises(BadInput) as same, UnitOfWork(session) as uow:
        kanban.create_kanban_kit(uow, home_location_id=f.line.id, line_location_id=f.line.id,
                                 pattern=[PatternEntry(f.bolt.id, 1)])
    assert same.value.field == "lineLocationId"


def test_the_cycle_refuses_steps_out_of_order_and_changes_nothing(session: Session) -> None:
    f = floor(session)
    kit = make_kit(session, f)
    for step, field in ((lambda: deliver(session, kit.id), "id"), (lambda: empty(session, kit.id), "id")):
        before = _counts(session)
        with pytest.raises(BadInput) as refused:
            step()
        assert refused.value.field == field
        assert _counts(session) == before
    fill(session, kit.id)
    # A kit that never reached the line consumed nothing.
    with pytest.raises(BadInput) as refused:
        empty(session, kit.id, (f.bolt.id, 1))
    assert refused.value.field == "consumption[0].quantity"
    deliver(session, kit.id)
    with pytest.raises(BadInput) as refused:
        fill(session, kit.id)
    assert refused.value.field == "id"
    before = _counts(session)
    for consumed, field in (
        ([(f.bolt.id, 5)], "consumption[0].quantity"),  # more than held
        ([(f.motor.id, "0.5")], "consumption[0].quantity"),  # half a serial
        ([(f.bolt.id, 1), (f.bolt.id, 1)], "consumption[1].partId"),
        ([(f.bolt.id, -1)], "consumption[0].quantity"),
        ([(999, 1)], "consumption[0].partId"),  # a part the kit does not hold
    ):
        with pytest.raises(BadInput) as refused:
            empty(session, kit.id, *consumed)
        assert refused.value.field == field, consumed
        assert _counts(session) == before
    kit, _cycle = empty(session, kit.id, (f.bolt.id, 4), (f.motor.id, 2))
    assert total(session, f.bolt) == 11 and total(session, f.motor) == 1


def test_a_filled_kit_may_be_emptied_unused(session: Session) -> None:
    f = floor(session)
    kit = make_kit(session, f)
    fill(session, kit.id)
    kit, _cycle = empty(session, kit.id)
    assert (kit.status, kit.cycle_count) == ("EMPTIED", 1)
    assert total(session, f.bolt) == 15 and total(session, f.motor) == 3
    assert session.scalar(select(func.count()).select_from(LedgerEntry)
                          .where(LedgerEntry.operation.in_([LedgerOperation.KANBAN_CONSUME, LedgerOperation.KANBAN_RETURN]))) == 0
    statuses = set(session.scalars(select(PartInventory.status)))
    assert statuses == {"AVAILABLE"}


def test_the_pattern_only_changes_between_cycles(session: Session) -> None:
    f = floor(session)
    kit = make_kit(session, f)
    fill(session, kit.id)
    session.rollback()
    current = session.get(KanbanKit, kit.id)
    assert current is not None
    with pytest.raises(BadInput) as refused, UnitOfWork(session) as uow:
        kanban.update_kanban_kit(uow, kit.id, current.etag, {"pattern": [PatternEntry(f.bolt.id, 1)]})
    assert refused.value.field == "pattern"
    etag = current.etag
    with UnitOfWork(session) as uow:
        renamed = kanban.update_kanban_kit(uow, kit.id, etag, {"name": "Bin B"})
    assert renamed.name == "Bin B" and renamed.etag != etag
    empty(session, kit.id)
    session.rollback()
    current = session.get(KanbanKit, kit.id)
    assert current is not None
    with UnitOfWork(session) as uow:
        kanban.update_kanban_kit(uow, kit.id, current.etag, {"pattern": [PatternEntry(f.bolt.id, 1)]})
    assert kanban.patterns(session, [kit.id])[kit.id] == [kanban.rules.PatternLine(f.bolt.id, Decimal(1))]


# --------------------------------------------------------------------------- replenishment


def set_levels(session: Session, f: Floor, *levels: tuple[int, object, object]) -> list[LineStockLevel]:
    with UnitOfWork(session) as uow:
        return kanban.set_line_stock_levels(uow, location_id=f.line.id, home_location_id=f.home.id,
                                            levels=[LevelEntry(*level) for level in levels])


def replenish(session: Session, f: Floor) -> kanban.ReplenishOutcome:
    with UnitOfWork(session) as uow:
        return kanban.replenish_line_location(uow, location_id=f.line.id)


def position(session: Session, f: Floor) -> dict[int, Decimal]:
    session.rollback()
    return kanban.line_position(session, f.line.id)


def test_replenishment_creates_kits_up_to_the_maximum_then_refills_them(session: Session) -> None:
    f = floor(session)
    set_levels(session, f, (f.bolt.id, 4, 8), (f.motor.id, 1, 2))
    first = replenish(session, f)
    assert len(first.created) == 1  # one kit per home location, every low part in it
    assert position(session, f) == {f.bolt.id: 8, f.motor.id: 2}
    # Nothing is below its minimum now: a second call does nothing.
    again = replenish(session, f)
    assert again.fills == [] and again.created == []
    kit_id = first.created[0].id
    deliver(session, kit_id)
    assert position(session, f) == {f.bolt.id: 8, f.motor.id: 2}  # at the line, still line stock
    empty(session, kit_id, (f.bolt.id, 6), (f.motor.id, 1))
    assert position(session, f) == {}
    refill = replenish(session, f)
    assert refill.created == [] and [o.kit.id for o in refill.fills] == [kit_id]
    assert position(session, f) == {f.bolt.id: 8, f.motor.id: 2}
    assert refill.fills[0].shortages == []
    # 9 bolts and 2 motors were left; the third replenishment is short and says so.
    deliver(session, kit_id)
    empty(session, kit_id, (f.bolt.id, 8), (f.motor.id, 2))
    short = replenish(session, f)
    assert {(s.part_id, s.quantity) for s in short.fills[0].shortages} == {(f.bolt.id, 7), (f.motor.id, 2)}
    assert position(session, f) == {f.bolt.id: 1}


def test_replenishment_refills_existing_kits_capped_at_the_maximum(session: Session) -> None:
    f = floor(session)
    with UnitOfWork(session) as uow:
        kit = kanban.create_kanban_kit(uow, home_location_id=f.home.id, line_location_id=f.line.id,
                                       pattern=[PatternEntry(f.bolt.id, 8)])
    set_levels(session, f, (f.bolt.id, 3, 5))
    outcome = replenish(session, f)
    assert outcome.created == [] and [o.kit.id for o in outcome.fills] == [kit.id]
    assert position(session, f) == {f.bolt.id: 5}
    # A manual fill of the same kit fills it to the pattern (levels bound replenishment only).
    fill(session, kit.id)
    assert position(session, f) == {f.bolt.id: 8}


def test_replenishment_only_touches_parts_below_their_minimum(session: Session) -> None:
    f = floor(session)
    set_levels(session, f, (f.bolt.id, 2, 6), (f.motor.id, 0, 2))
    outcome = replenish(session, f)
    [kit] = outcome.created
    assert kanban.patterns(session, [kit.id])[kit.id] == [kanban.rules.PatternLine(f.bolt.id, Decimal(6))]
    assert position(session, f) == {f.bolt.id: 6}


def test_line_stock_levels_are_replaced_and_checked(session: Session) -> None:
    f = floor(session)
    with pytest.raises(BadInput) as refused:
        replenish(session, f)
    assert refused.value.field == "locationId"
    set_levels(session, f, (f.bolt.id, 1, 2), (f.motor.id, 1, 1))
    before = _counts(session)
    for levels, field in (
        ([(f.bolt.id, 3, 2)], "levels[0].minQuantity"),
        ([(f.bolt.id, 0, 0)], "levels[0].maxQuantity"),
        ([(f.bolt.id, -1, 2)], "levels[0].minQuantity"),
        ([(999, 1, 2)], "levels[0].partId"),
        ([(f.bolt.id, 1, 2), (f.bolt.id, 1, 3)], "levels[1].partId"),
        ([(f.bolt.id, "x", 2)], "levels[0].minQuantity"),
        ([(f.motor.id, "0.5", 2)], "levels[0].minQuantity"),  # half a serial
    ):
        with pytest.raises(BadInput) as refused:
            set_levels(session, f, *levels)
        assert refused.value.field == field, levels
        assert _counts(session) == before
    rows = set_levels(session, f, (f.bolt.id, 2, 4))
    assert [(r.part_id, r.min_quantity, r.max_quantity) for r in rows] == [(f.bolt.id, 2, 4)]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(LineStockLevel)) == 1


def test_replenishment_is_set_based_no_query_per_part(session: Session, engine: Engine) -> None:
    """Deciding and filling costs the same SELECTs for 2 parts below their minimum as for 8."""
    from tests.api.test_lists import counting

    stock = factories.location(session, "Stockroom")
    home = factories.location(session, "Kanban rack")
    counts = []
    for n in (2, 8):
        line = factories.location(session, f"Line {n}")
        levels = []
        for i in range(n):
            part = factories.part(session, f"P{n}-{i}", "LOT")
            factories.record(session, part, 10, lot_number=f"L{n}-{i}", location_id=stock.id)
            levels.append(LevelEntry(part.id, 2, 5))
        with UnitOfWork(session) as uow:
            kanban.set_line_stock_levels(uow, location_id=line.id, home_location_id=home.id, levels=levels)
        session.rollback()
        with counting(engine) as statements, UnitOfWork(session) as uow:
            outcome = kanban.replenish_line_location(uow, location_id=line.id)
        assert len(outcome.created) == 1 and outcome.fills[0].shortages == []
        assert kanban.line_position(session, line.id) == {level.part_id: 5 for level in levels}
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1], counts
