"""Retail order races on PostgreSQL, released together by a barrier (threads, and separate
processes as separate server workers would be).

1. Many orders for the last kits: exactly as many orders win as there are kits; nothing is
   allocated twice; availability ends at 0.
2. The same external message id sent concurrently: processed once.
3. The same return line verified concurrently: received back once.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from kitwright.services import availability, orders
from kitwright.services.orders import NewEvent, NewLine
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import OrderAllocation, OrderAllocationInventory, OrderEventMessage
from tests import factories
from tests.concurrency.race import in_unit_of_work, race, refused_by_type
from tests.invariants import assert_invariants


def _allocate(url: str, order_id: int, barrier: Any) -> str:
    def allocate(uow: UnitOfWork) -> str:
        return "won" if orders.allocate_order(uow, order_id).allocations else "backordered"

    return in_unit_of_work(url, barrier, allocate, refused_by_type)


def _events(url: str, message: str, table_line: int, part_id: int, barrier: Any) -> str:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with make_sessionmaker(engine)() as session:
            barrier.wait(timeout=60)
            with UnitOfWork(session) as uow:
                outcome = orders.process_order_events(
                    uow, message, [NewEvent("PICK", part_id, 1, release_line_id=table_line)]
                )
            return "duplicate" if outcome.duplicate else ("processed" if outcome.processed else "stored")
    finally:
        engine.dispose()


def _verify(url: str, return_line_id: int, part_id: int, quantity: int, barrier: Any) -> str:
    def verify(uow: UnitOfWork) -> str:
        orders.record_return_verification(uow, return_line_id, part_id, quantity)
        return "received"

    return in_unit_of_work(url, barrier, verify)


TARGETS = {"allocate": _allocate, "events": _events, "verify": _verify}


def _run(mode: str, target: str, argss: list[tuple[Any, ...]], url: str) -> list[str]:
    return race(mode, TARGETS[target], argss, url)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_many_orders_for_the_last_kits_never_oversell(pg_engine: Engine, postgres_url: str, mode: str) -> None:
    workers, kits = 10, 4
    with make_sessionmaker(pg_engine)() as session:
        # 4 kits in all: 3 at DC1 (spread over two records each), 1 at DC2.
        dining_id, order_ids = factories.dining_set_orders(session, [(0, 2, 8), (0, 1, 4), (1, 1, 4)], workers)
    outcomes = _run(mode, "allocate", [(order_id,) for order_id in order_ids], postgres_url)
    assert outcomes.count("won") == kits, outcomes
    assert outcomes.count("backordered") == workers - kits, outcomes
    with make_sessionmaker(pg_engine)() as session:
        assert session.scalar(select(func.sum(OrderAllocation.kits))) == kits
        held = session.scalars(select(OrderAllocationInventory.part_inventory_id)).all()
        assert len(held) == len(set(held))
        assert availability.get_kit_availability(session, dining_id).network.on_hand == 0
    assert_invariants(pg_engine)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_the_same_message_sent_concurrently_is_processed_once(pg_engine: Engine, postgres_url: str, mode: str) -> None:
    workers = 6
    with make_sessionmaker(pg_engine)() as session:
        with UnitOfWork(session) as uow:
            orders.update_order_settings(uow, {"partial_kit_supported": True})
        table = factories.part(session, "Table")
        site = factories.location(session, "DC1")
        factories.record(session, table, 5, location_id=site.id)
        with UnitOfWork(session) as uow:
            order_id = orders.create_order(uow, "ORD", [NewLine("1", table.id, 5)]).id
        with UnitOfWork(session) as uow:
            orders.allocate_order(uow, order_id)
        with UnitOfWork(session) as uow:
            (release,) = orders.release_order(uow, order_id)
        from kitwright.store.models import OrderReleaseLine
        line_id = session.scalar(select(OrderReleaseLine.id).where(OrderReleaseLine.release_id == release.id))
        table_id = table.id
    outcomes = _run(mode, "events", [("MSG-1", line_id, table_id)] * workers, postgres_url)
    assert sorted(outcomes) == ["duplicate"] * (workers - 1) + ["processed"], outcomes
    with make_sessionmaker(pg_engine)() as session:
        assert session.scalar(select(func.count()).select_from(OrderEventMessage)) == 1
        lines = orders.lines_of(session, [order_id])[order_id]
        assert orders.quantity_details(session, lines)[lines[0].id].picked == 1
    assert_invariants(pg_engine)


@pytest.mark.parametrize("mode", ["threads", "processes"])
@pytest.mark.parametrize("level", ["kit", "component"])
def test_the_same_return_verified_concurrently_is_received_once(
    pg_engine: Engine, postgres_url: str, mode: str, level: str
) -> None:
    from tests.integration.test_orders_service import returned_dining

    with make_sessionmaker(pg_engine)() as session:
        _table, chair, kit_id, line_id = returned_dining(session, 2, partial=level == "component")
        # Kit level: the kit part for both kits; component level: all 8 chairs that came back.
        part_id, quantity = (kit_id, 2) if level == "kit" else (chair.id, 8)
        chair_id = chair.id
    outcomes = _run(mode, "verify", [(line_id, part_id, quantity)] * 2, postgres_url)
    loser = "CONFLICT:returnLineId" if level == "kit" else "CONFLICT:quantity"
    assert sorted(outcomes) == [loser, "received"], outcomes
    with make_sessionmaker(pg_engine)() as session:
        from kitwright.store.models import PartInventory, ReturnVerification
        received = session.scalars(select(ReturnVerification.quantity).where(
            ReturnVerification.return_line_id == line_id, ReturnVerification.part_id == chair_id)).all()
        assert received == [8]
        returned = session.scalars(select(PartInventory.quantity).where(
            PartInventory.part_id == chair_id, PartInventory.how_created == "RETURN")).all()
        assert returned == [8]
    assert_invariants(pg_engine)
