"""Many fulfils at once, competing for overlapping stock, on PostgreSQL (docs/rules.md#r6).

Each kit wants one serial of A and one unit of lot part B; there are fewer serials than kits
and the lots run short too, so most fulfils find their first candidates taken and search
again. A later search must never wait for a record below one it already holds: no deadlock,
every fulfil answers (issued or short), no record is held twice, and together the kits take
exactly all the stock, oldest first.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from kitwright.domain.errors import KitwrightError
from kitwright.services import kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import PartInventory, PartKitInventory
from tests import factories
from tests.concurrency.race import race
from tests.invariants import assert_invariants

KITS = 20
SERIALS = 8
LOTS = (5, 4)  # 9 units of B for 20 kits


def _fulfil(url: str, kit_id: int, barrier: Any) -> str:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with make_sessionmaker(engine)() as session:
            barrier.wait(timeout=60)
            try:
                with UnitOfWork(session) as uow:
                    result = kits.fulfill_part_kit(uow, id=kit_id)
                    return f"issued {len(result.issued)}, short {len(result.shortages)}"
            except KitwrightError as error:
                return f"{type(error).__name__}:{error.field}:{error.message}"
            except Exception as error:  # a deadlock outside the lock helper comes through raw
                return f"{type(error).__name__}:{'deadlock' if 'deadlock' in str(error) else str(error)[:80]}"
    finally:
        engine.dispose()


@pytest.mark.parametrize("round", range(5))
def test_many_fulfils_of_overlapping_stock_never_deadlock(pg_engine: Engine, postgres_url: str, round: int) -> None:
    with make_sessionmaker(pg_engine)() as session:
        a = factories.part(session, "A", "SERIAL")
        b = factories.part(session, "B", "LOT")
        shelf = factories.location(session, "Shelf")
        # Interleaved ids: B's lots sit between A's serials, so a later search for A reaches
        # below a lot already locked.
        serials = [factories.record(session, a, 1, serial_number=f"S{n}", location_id=shelf.id).id
                   for n in range(SERIALS // 2)]
        lots = [factories.record(session, b, LOTS[0], lot_number="L0", location_id=shelf.id).id]
        serials += [factories.record(session, a, 1, serial_number=f"S{n}", location_id=shelf.id).id
                    for n in range(SERIALS // 2, SERIALS)]
        lots.append(factories.record(session, b, LOTS[1], lot_number="L1", location_id=shelf.id).id)
        kit_ids = []
        for _ in range(KITS):
            kit = factories.kit(session, status="REQUESTED")
            factories.kit_item(session, kit, a, 1)
            factories.kit_item(session, kit, b, 1)
            kit_ids.append(kit.id)
        a_id, b_id = a.id, b.id
    outcomes = race("threads", _fulfil, [(kid,) for kid in kit_ids], postgres_url)
    errors = [o for o in outcomes if not o.startswith("issued")]
    # No deadlock answered as CONFLICT, nor any other error.
    assert errors == [], f"{len(errors)} of {KITS} fulfils failed: {sorted(set(errors))}"
    with make_sessionmaker(pg_engine)() as session:
        links = session.scalars(select(PartKitInventory).where(PartKitInventory.released == False)).all()  # noqa: E712
        held = [link.part_inventory_id for link in links]
        assert len(held) == len(set(held)), "a record is held twice"
        per_part: dict[int, Decimal] = {}
        for link in links:
            record = session.get(PartInventory, link.part_inventory_id)
            assert record is not None and record.quantity == link.issued_quantity
            per_part[record.part_id] = per_part.get(record.part_id, Decimal(0)) + link.issued_quantity
        # Demand (20 of each) exceeds stock (8 serials, 9 of B): together the kits take all of it,
        # and what no kit got is reported short, not left on the shelf.
        assert per_part == {a_id: Decimal(SERIALS), b_id: Decimal(sum(LOTS))}
        assert session.scalar(select(func.count()).select_from(PartInventory).where(
            PartInventory.status == "AVAILABLE", PartInventory.quantity > 0)) == 0
        shorts = sum(int(o.split("short ")[1]) for o in outcomes)
        assert shorts == (KITS - SERIALS) + (KITS - sum(LOTS))
    assert_invariants(pg_engine)
