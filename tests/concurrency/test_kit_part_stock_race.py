"""Kit parts hold no stock, under a race on PostgreSQL: giving a part components while others
create inventory for it. Whichever commits first wins; the part never ends up a kit that
holds inventory records (docs/ion-compatibility.md)."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import Engine, func, select

from kitwright.domain.errors import BadInput
from kitwright.services import inventory, parts
from kitwright.services.inventory import NewPartInventory
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import PartComponent, PartInventory
from tests import factories
from tests.invariants import assert_invariants

CREATORS = 5
ROUNDS = 4


def _race(pg_engine: Engine, postgres_url: str, round_no: int) -> None:
    with make_sessionmaker(pg_engine)() as session:
        kit = factories.part(session, f"SET-{round_no}")
        table = factories.part(session, f"TABLE-{round_no}")
        kit_id, kit_etag, table_id = kit.id, kit.etag, table.id
    barrier = threading.Barrier(CREATORS + 1)
    outcomes: dict[str, list[str]] = {"update": [], "create": []}
    lock = threading.Lock()

    def worker(kind: str) -> None:
        engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
        try:
            with make_sessionmaker(engine)() as session:
                barrier.wait(timeout=30)
                try:
                    with UnitOfWork(session) as uow:
                        if kind == "update":
                            parts.update_part(uow, kit_id, kit_etag, {"components": [(table_id, Decimal(1))]})
                        else:
                            inventory.create_part_inventory(uow, NewPartInventory(part_id=kit_id, quantity=1))
                    outcome = "won"
                except BadInput as error:
                    outcome = f"refused:{error.field}"
        finally:
            engine.dispose()
        with lock:
            outcomes[kind].append(outcome)

    threads = [threading.Thread(target=worker, args=("update",))]
    threads += [threading.Thread(target=worker, args=("create",)) for _ in range(CREATORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes["update"]) == 1 and len(outcomes["create"]) == CREATORS
    with make_sessionmaker(pg_engine)() as session:
        components = session.scalar(select(func.count()).where(PartComponent.part_id == kit_id))
        records = session.scalar(select(func.count()).where(PartInventory.part_id == kit_id))
    if outcomes["update"] == ["won"]:
        assert components == 1 and records == 0
        assert set(outcomes["create"]) == {"refused:partId"}
    else:
        assert outcomes["update"] == ["refused:components"]
        assert components == 0 and records == CREATORS
        assert outcomes["create"] == ["won"] * CREATORS


def test_components_and_inventory_race_never_make_a_stocked_kit(pg_engine: Engine, postgres_url: str) -> None:
    for round_no in range(ROUNDS):
        _race(pg_engine, postgres_url, round_no)
    assert_invariants(pg_engine)
