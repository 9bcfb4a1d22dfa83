"""Kanban races on PostgreSQL (docs/kanban.md): workers released together by a barrier, in
threads and in separate processes. Exact winner counts, then the invariant check.

1. N replenishments of one line at once: exactly one fills; the others find nothing below its
   minimum; the line never exceeds a maximum and no unit is in two kits.
2. N fills of one kanban kit at once: exactly one fills it; the rest find it full (one cycle,
   never more than the pattern).
3. Fills of different kanban kits, and replenishments of different lines, wanting the same
   scarce stock: no unit is filled twice, and together they take exactly all of it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kitwright.services import kanban
from kitwright.services.kanban import LevelEntry, PatternEntry
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import KanbanCycle, KanbanKit, PartInventory, PartKitInventory
from tests import factories
from tests.concurrency.race import in_unit_of_work, race, refused_by_type
from tests.invariants import assert_invariants

WORKERS = 6


def _outcome(action: Callable[[UnitOfWork], str], url: str, barrier: Any) -> str:
    return in_unit_of_work(url, barrier, action, refused_by_type)


def _replenish(url: str, line_id: int, barrier: Any) -> str:
    def act(uow: UnitOfWork) -> str:
        outcome = kanban.replenish_line_location(uow, location_id=line_id)
        return "filled" if any(fill.issued for fill in outcome.fills) else "nothing to do"

    return _outcome(act, url, barrier)


def _fill(url: str, kit_id: int, barrier: Any) -> str:
    def act(uow: UnitOfWork) -> str:
        return "filled" if kanban.fill_kanban_kit(uow, id=kit_id).issued else "nothing to do"

    return _outcome(act, url, barrier)


TARGETS: dict[str, Callable[..., str]] = {"replenish": _replenish, "fill": _fill}


def _run(mode: str, target: str, argss: list[tuple[Any, ...]], url: str) -> list[str]:
    return race(mode, TARGETS[target], argss, url)


def _stock(session: Session, lots: int = 4, per_lot: int = 3, motors: int = 5) -> tuple[int, int]:
    bolt = factories.part(session, "BOLT", "LOT")
    motor = factories.part(session, "MOTOR", "SERIAL")
    shelf = factories.location(session, "Stockroom")
    for i in range(lots):
        factories.record(session, bolt, per_lot, lot_number=f"L{i}", location_id=shelf.id)
    for i in range(motors):
        factories.record(session, motor, 1, serial_number=f"SN-{i}", location_id=shelf.id)
    return bolt.id, motor.id


def _no_unit_twice(session: Session) -> dict[int, Decimal]:
    """Every held record is held once; returns what is held per part."""
    links = session.scalars(select(PartKitInventory).where(PartKitInventory.released == False)).all()  # noqa: E712
    holders: dict[int, int] = {}
    per_part: dict[int, Decimal] = {}
    for link in links:
        assert link.part_inventory_id not in holders, f"record {link.part_inventory_id} is in two kits"
        holders[link.part_inventory_id] = link.part_kit_id
        record = session.get(PartInventory, link.part_inventory_id)
        assert record is not None and record.quantity == link.issued_quantity
        per_part[record.part_id] = per_part.get(record.part_id, Decimal(0)) + link.issued_quantity
    return per_part


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_concurrent_replenishments_of_one_line_fill_once(pg_engine: Engine, postgres_url: str, mode: str) -> None:
    with make_sessionmaker(pg_engine)() as session:
        bolt, motor = _stock(session)
        home = factories.location(session, "Kanban rack")
        line = factories.location(session, "Line 1")
        with UnitOfWork(session) as uow:
            kanban.set_line_stock_levels(uow, location_id=line.id, home_location_id=home.id,
                                         levels=[LevelEntry(bolt, 4, 7), LevelEntry(motor, 1, 3)])
        line_id = line.id
    outcomes = _run(mode, "replenish", [(line_id,)] * WORKERS, postgres_url)
    assert sorted(outcomes) == ["filled"] + ["nothing to do"] * (WORKERS - 1)
    with make_sessionmaker(pg_engine)() as session:
        assert kanban.line_position(session, line_id) == {bolt: 7, motor: 3}  # the maxima, not above
        assert _no_unit_twice(session) == {bolt: 7, motor: 3}
        assert session.scalar(select(func.count()).select_from(KanbanKit)) == 1
    assert_invariants(pg_engine)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_concurrent_fills_of_one_kit_fill_it_once(pg_engine: Engine, postgres_url: str, mode: str) -> None:
    with make_sessionmaker(pg_engine)() as session:
        bolt, motor = _stock(session)
        home = factories.location(session, "Kanban rack")
        line = factories.location(session, "Line 1")
        with UnitOfWork(session) as uow:
            kit_id = kanban.create_kanban_kit(
                uow, home_location_id=home.id, line_location_id=line.id,
                pattern=[PatternEntry(bolt, 5), PatternEntry(motor, 2)]).id
    outcomes = _run(mode, "fill", [(kit_id,)] * WORKERS, postgres_url)
    assert sorted(outcomes) == ["filled"] + ["nothing to do"] * (WORKERS - 1)
    with make_sessionmaker(pg_engine)() as session:
        assert _no_unit_twice(session) == {bolt: 5, motor: 2}
        assert session.scalar(select(func.count()).select_from(KanbanCycle)) == 1
    assert_invariants(pg_engine)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_fills_of_different_kits_never_share_a_unit(pg_engine: Engine, postgres_url: str, mode: str) -> None:
    with make_sessionmaker(pg_engine)() as session:
        bolt, motor = _stock(session)  # 12 bolts, 5 motors
        home = factories.location(session, "Kanban rack")
        line = factories.location(session, "Line 1")
        kit_ids = []
        for _ in range(WORKERS):
            with UnitOfWork(session) as uow:
                kit_ids.append(kanban.create_kanban_kit(
                    uow, home_location_id=home.id, line_location_id=line.id,
                    pattern=[PatternEntry(bolt, "2.5"), PatternEntry(motor, 1)]).id)
    outcomes = _run(mode, "fill", [(kid,) for kid in kit_ids], postgres_url)
    # Demand (15 bolts, 6 motors) exceeds stock (12, 5): the sixth kit may find nothing left;
    # none finds a unit another took.
    assert outcomes.count("filled") >= WORKERS - 1 and set(outcomes) <= {"filled", "nothing to do"}
    with make_sessionmaker(pg_engine)() as session:
        assert _no_unit_twice(session) == {bolt: 12, motor: 5}
        assert session.scalar(select(func.count()).select_from(PartInventory)
                              .where(PartInventory.status == "AVAILABLE")) == 0
    assert_invariants(pg_engine)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_replenishments_of_different_lines_never_share_a_unit(
    pg_engine: Engine, postgres_url: str, mode: str,
) -> None:
    with make_sessionmaker(pg_engine)() as session:
        bolt, motor = _stock(session)  # 12 bolts, 5 motors
        home = factories.location(session, "Kanban rack")
        lines = []
        for n in range(WORKERS):
            line = factories.location(session, f"Line {n}")
            with UnitOfWork(session) as uow:
                kanban.set_line_stock_levels(uow, location_id=line.id, home_location_id=home.id,
                                             levels=[LevelEntry(bolt, 1, 3), LevelEntry(motor, 1, 1)])
            lines.append(line.id)
    outcomes = _run(mode, "replenish", [(line_id,) for line_id in lines], postgres_url)
    # Demand (18 bolts, 6 motors) exceeds stock (12, 5): a line served last may find nothing.
    assert outcomes.count("filled") >= 4 and set(outcomes) <= {"filled", "nothing to do"}
    with make_sessionmaker(pg_engine)() as session:
        assert _no_unit_twice(session) == {bolt: 12, motor: 5}
        for line_id in lines:
            position = kanban.line_position(session, line_id)
            assert position.get(bolt, 0) <= 3 and position.get(motor, 0) <= 1
    assert_invariants(pg_engine)
