"""Kit races on PostgreSQL: workers (threads, and separate processes) released together by a
barrier. Exact winner counts, then the invariant check (rules 1-4, kit rules included).

1. N workers issue the same serial to N different kits: exactly one wins; every other gets
   a BadInput naming partInventoryId ("already kitted").
2. Many concurrent partial issues from one lot: the total kitted never exceeds the lot, the
   winners are exactly floor(lot / take), nothing goes negative.
3. Two concurrent fulfils wanting the same stock: no unit is in both kits; together they
   take exactly all the stock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from kitwright.services import kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import PartInventory, PartKitInventory
from tests import factories
from tests.concurrency.race import in_unit_of_work, race, refused_by_type
from tests.invariants import assert_invariants

WORKERS = 8


def _outcome(action: Callable[[UnitOfWork], object], url: str, barrier: Any) -> str:
    def act(uow: UnitOfWork) -> str:
        action(uow)
        return "won"

    return in_unit_of_work(url, barrier, act, refused_by_type)


def _issue(url: str, record_id: int, item_id: int, quantity: str | None, barrier: Any) -> str:
    return _outcome(
        lambda uow: kits.issue_item_to_kit(
            uow, part_inventory_id=record_id, part_kit_item_id=item_id,
            quantity=None if quantity is None else Decimal(quantity),
        ),
        url, barrier,
    )


def _fulfil(url: str, kit_id: int, barrier: Any) -> str:
    return _outcome(lambda uow: kits.fulfill_part_kit(uow, id=kit_id), url, barrier)


TARGETS = {"issue": _issue, "fulfil": _fulfil}


def _run(mode: str, target: str, argss: list[tuple[Any, ...]], url: str) -> list[str]:
    return race(mode, TARGETS[target], argss, url)


def _kits_with_items(session: Any, part: Any, n: int, quantity: Any) -> list[int]:
    items = []
    for _ in range(n):
        with UnitOfWork(session) as uow:
            kit = kits.create_part_kit(uow, status="REQUESTED")
        with UnitOfWork(session) as uow:
            items.append(kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=part.id, quantity=quantity).id)
    return items


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_same_serial_to_many_kits_exactly_one_wins(pg_engine: Engine, postgres_url: str, mode: str) -> None:
    with make_sessionmaker(pg_engine)() as session:
        motor = factories.part(session, "MOTOR", "SERIAL")
        shelf = factories.location(session, "Shelf")
        serial_id = factories.record(session, motor, 1, serial_number="SN-1", location_id=shelf.id).id
        items = _kits_with_items(session, motor, WORKERS, 1)
    outcomes = _run(mode, "issue", [(serial_id, item_id, None) for item_id in items], postgres_url)
    assert sorted(outcomes) == ["BadInput:partInventoryId"] * (WORKERS - 1) + ["won"]
    with make_sessionmaker(pg_engine)() as session:
        links = session.scalars(select(PartKitInventory)).all()
        assert len(links) == 1 and links[0].part_inventory_id == serial_id
    assert_invariants(pg_engine)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_concurrent_partial_issues_never_exceed_the_lot(pg_engine: Engine, postgres_url: str, mode: str) -> None:
    workers = 12
    with make_sessionmaker(pg_engine)() as session:
        bolt = factories.part(session, "BOLT", "LOT")
        shelf = factories.location(session, "Shelf")
        lot_id = factories.record(session, bolt, "5", lot_number="L1", location_id=shelf.id).id
        bolt_id = bolt.id
        items = _kits_with_items(session, bolt, workers, "0.7")
    outcomes = _run(mode, "issue", [(lot_id, item_id, "0.7") for item_id in items], postgres_url)
    # 5 / 0.7: exactly 7 issues fit (4.9); the rest are refused by quantity, naming the field.
    assert outcomes.count("won") == 7
    assert sorted(set(outcomes) - {"won"}) == ["BadInput:quantity"]
    with make_sessionmaker(pg_engine)() as session:
        kitted = session.scalar(select(func.sum(PartKitInventory.issued_quantity)))
        total = sum(session.scalars(select(PartInventory.quantity).where(PartInventory.part_id == bolt_id)))
        left = session.get(PartInventory, lot_id)
        assert left is not None and left.quantity == Decimal("0.1")
        assert total == Decimal(5)
        assert kitted == Decimal("4.9")
    assert_invariants(pg_engine)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_two_fulfils_never_share_a_unit(pg_engine: Engine, postgres_url: str, mode: str) -> None:
    with make_sessionmaker(pg_engine)() as session:
        bolt = factories.part(session, "BOLT", "LOT")
        motor = factories.part(session, "MOTOR", "SERIAL")
        shelf = factories.location(session, "Shelf")
        for i in range(4):
            factories.record(session, bolt, 3, lot_number=f"L{i}", location_id=shelf.id)  # 12 bolts
        for i in range(5):
            factories.record(session, motor, 1, serial_number=f"SN-{i}", location_id=shelf.id)
        kit_ids = []
        for _ in range(2):
            with UnitOfWork(session) as uow:
                kit = kits.create_part_kit(uow, status="REQUESTED")
            for part, quantity in ((bolt, 8), (motor, 4)):
                with UnitOfWork(session) as uow:
                    kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=part.id, quantity=quantity)
            kit_ids.append(kit.id)
        bolt_id, motor_id = bolt.id, motor.id
    outcomes = _run(mode, "fulfil", [(kid,) for kid in kit_ids], postgres_url)
    assert outcomes == ["won", "won"]
    with make_sessionmaker(pg_engine)() as session:
        links = session.scalars(select(PartKitInventory).where(PartKitInventory.released == False)).all()  # noqa: E712
        held_by: dict[int, set[int]] = {}
        for link in links:
            held_by.setdefault(link.part_inventory_id, set()).add(link.part_kit_id)
        assert all(len(k) == 1 for k in held_by.values()), "a unit is in both kits"
        per_part: dict[int, Decimal] = {}
        for link in links:
            record = session.get(PartInventory, link.part_inventory_id)
            assert record is not None
            per_part[record.part_id] = per_part.get(record.part_id, Decimal(0)) + link.issued_quantity
        # demand (16 bolts, 8 motors) exceeds stock (12, 5): together they take all of it
        assert per_part == {bolt_id: Decimal(12), motor_id: Decimal(5)}
        available = session.scalar(
            select(func.count()).select_from(PartInventory).where(
                PartInventory.status == "AVAILABLE")
        )
        assert available == 0
    assert_invariants(pg_engine)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_concurrent_issues_to_one_item_never_overfill_it(pg_engine: Engine, postgres_url: str, mode: str) -> None:
    """Issues to an IN_PROGRESS kit share the kit row but serialise on the item row: an item
    asking for 5 gets exactly 5 of 12 concurrent single-unit issues from 12 different lots."""
    workers = 12
    with make_sessionmaker(pg_engine)() as session:
        bolt = factories.part(session, "BOLT", "LOT")
        shelf = factories.location(session, "Shelf")
        lots = [factories.record(session, bolt, 3, lot_number=f"L{i}", location_id=shelf.id).id for i in range(workers)]
        with UnitOfWork(session) as uow:
            kit_id = kits.create_part_kit(uow, status="IN_PROGRESS").id
        with UnitOfWork(session) as uow:
            item_id = kits.create_part_kit_item(uow, part_kit_id=kit_id, part_id=bolt.id, quantity=5).id
    outcomes = _run(mode, "issue", [(lot, item_id, "1") for lot in lots], postgres_url)
    assert outcomes.count("won") == 5
    assert set(outcomes) - {"won"} <= {"BadInput:partKitItemId", "BadInput:quantity"}
    with make_sessionmaker(pg_engine)() as session:
        assert kits.kitted_by_item(session, [item_id])[item_id] == 5
    assert_invariants(pg_engine)


def test_close_racing_issues_leaves_nothing_held(pg_engine: Engine, postgres_url: str) -> None:
    """A kit completed while issues to it are in flight: every issue either lands before the
    close (and is released by it) or is refused after it; nothing stays held by a closed kit."""
    workers = 8
    with make_sessionmaker(pg_engine)() as session:
        bolt = factories.part(session, "BOLT", "LOT")
        shelf = factories.location(session, "Shelf")
        lots = [factories.record(session, bolt, 2, lot_number=f"L{i}", location_id=shelf.id).id for i in range(workers)]
        with UnitOfWork(session) as uow:
            kit = kits.create_part_kit(uow, status="IN_PROGRESS")
            kit_id, etag = kit.id, kit.etag
        with UnitOfWork(session) as uow:
            item_id = kits.create_part_kit_item(uow, part_kit_id=kit_id, part_id=bolt.id, quantity=100).id
    barrier = threading.Barrier(workers + 1)
    outcomes: list[str] = []
    lock = threading.Lock()

    def issue(lot: int) -> None:
        result = _issue(postgres_url, lot, item_id, "1", barrier)
        with lock:
            outcomes.append(result)

    def close() -> None:
        result = _outcome(lambda uow: kits.update_part_kit(uow, kit_id, etag, {"status": "COMPLETED"}),
                          postgres_url, barrier)
        with lock:
            outcomes.append("close:" + result)

    threads = [threading.Thread(target=issue, args=(lot,)) for lot in lots] + [threading.Thread(target=close)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert "close:won" in outcomes and len(outcomes) == workers + 1
    assert set(outcomes) - {"won", "close:won"} <= {"BadInput:partKitItemId"}
    with make_sessionmaker(pg_engine)() as session:
        held = session.scalar(select(func.count()).select_from(PartKitInventory).where(
            PartKitInventory.released == False))  # noqa: E712
        issued = session.scalar(select(func.count()).select_from(PartKitInventory))
        assert held == 0 and issued == outcomes.count("won")
    assert_invariants(pg_engine)
