"""A held record is frozen (docs/kit-rules.md), under races on PostgreSQL: an issue and an
inventory update of the same record, released together by a barrier, round after round.
Exactly one wins each round: an update putting the record on order first makes the issue
refuse it; an issue first makes the update a CONFLICT (its etag, or the kit's hold). Then the
invariant check: no held record is on order, and each holds what its kit issued."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import Engine, select

from kitwright.domain.errors import KitwrightError
from kitwright.services import inventory, kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import PartInventory
from tests import factories
from tests.invariants import assert_invariants

ROUNDS = 12


def _race(url: str, actions: list[Callable[[UnitOfWork], object]]) -> list[str]:
    barrier = threading.Barrier(len(actions))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(action: Callable[[UnitOfWork], object]) -> None:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        try:
            with make_sessionmaker(engine)() as session:
                barrier.wait(timeout=60)
                try:
                    with UnitOfWork(session) as uow:
                        action(uow)
                    result = "won"
                except KitwrightError as error:
                    result = f"{error.code}:{error.field}"
        finally:
            engine.dispose()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == len(actions), "a worker hung"
    return outcomes


def _update_on_order(record_id: int) -> Callable[[UnitOfWork], object]:
    def act(uow: UnitOfWork) -> object:
        # The etag is read after the barrier, so some rounds pass it and meet the hold itself.
        etag = uow.session.scalar(select(PartInventory.etag).where(PartInventory.id == record_id))
        assert etag is not None
        return inventory.update_part_inventory(uow, record_id, etag, {"on_order": True})
    return act


def test_issue_against_on_order_update_exactly_one_wins(pg_engine: Engine, postgres_url: str) -> None:
    with make_sessionmaker(pg_engine)() as session:
        bolt = factories.part(session, "BOLT", "LOT")
        shelf = factories.location(session, "Shelf")
        rounds = []
        for i in range(ROUNDS):
            lot = factories.record(session, bolt, "3", lot_number=f"L{i}", location_id=shelf.id)
            with UnitOfWork(session) as uow:
                kit = kits.create_part_kit(uow, status="REQUESTED")
            with UnitOfWork(session) as uow:
                item = kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=bolt.id, quantity="3")
            rounds.append((lot.id, item.id))
    seen: set[str] = set()
    for lot_id, item_id in rounds:
        issue: Callable[[UnitOfWork], object] = lambda uow, r=lot_id, i=item_id: kits.issue_item_to_kit(  # noqa: E731
            uow, part_inventory_id=r, part_kit_item_id=i, quantity=Decimal(3))
        outcomes = _race(postgres_url, [issue, _update_on_order(lot_id)])
        assert outcomes.count("won") == 1, outcomes
        [lost] = [o for o in outcomes if o != "won"]
        assert lost in ("BAD_USER_INPUT:partInventoryId", "CONFLICT:etag", "CONFLICT:onOrder"), outcomes
        seen.add(lost)
    assert_invariants(pg_engine)
    assert seen, "no round was decided"
