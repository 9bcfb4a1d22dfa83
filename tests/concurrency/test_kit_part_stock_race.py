"""Kit parts hold no stock, under a race on PostgreSQL: giving a part components while others
create inventory for it. Whichever commits first wins; the part never ends up a kit that
holds inventory records (docs/ion-compatibility.md). Every path on either side is raced:
updatePart and Manhattan's item document give components; createPartInventory and the
part-inventory importer create stock."""

from __future__ import annotations

import io
import threading
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from kitwright.domain.errors import BadInput
from kitwright.services import inventory, items, parts
from kitwright.services.inventory import NewPartInventory
from kitwright.services.plant_import import import_part_inventory
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import PartComponent, PartInventory
from tests import factories
from tests.invariants import assert_invariants

CREATORS = 5
ROUNDS = 4
# What each path answers when the other side won.
REFUSED_FIELD = {"update": "components", "document": "ItemComponent", "create": "partId", "import": "part_number"}


def _give_components(uow: UnitOfWork, how: str, kit_id: int, kit_etag: str, number: str, table: str,
                     table_id: int) -> None:
    if how == "update":
        parts.update_part(uow, kit_id, kit_etag, {"components": [(table_id, Decimal(1))]})
    else:
        items.save_item_document(uow, number, [(table, Decimal(1))])


def _create_stock(uow: UnitOfWork, how: str, kit_id: int, number: str) -> None:
    if how == "create":
        inventory.create_part_inventory(uow, NewPartInventory(part_id=kit_id, quantity=1))
    else:
        import_part_inventory(uow, io.BytesIO(f"part_number,quantity\n{number},1\n".encode()), filename="s.csv")


def _race(pg_engine: Engine, postgres_url: str, giver: str, stocker: str, round_no: int) -> None:
    number, table = f"SET-{giver}-{stocker}-{round_no}", f"TABLE-{giver}-{stocker}-{round_no}"
    with make_sessionmaker(pg_engine)() as session:
        kit = factories.part(session, number)
        table_part = factories.part(session, table)
        kit_id, kit_etag, table_id = kit.id, kit.etag, table_part.id
    barrier = threading.Barrier(CREATORS + 1)
    outcomes: dict[str, list[str]] = {"give": [], "stock": []}
    lock = threading.Lock()

    def worker(kind: str) -> None:
        engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
        try:
            with make_sessionmaker(engine)() as session:
                barrier.wait(timeout=30)
                try:
                    with UnitOfWork(session) as uow:
                        if kind == "give":
                            _give_components(uow, giver, kit_id, kit_etag, number, table, table_id)
                        else:
                            _create_stock(uow, stocker, kit_id, number)
                    outcome = "won"
                except BadInput as error:
                    outcome = f"refused:{error.field}"
        finally:
            engine.dispose()
        with lock:
            outcomes[kind].append(outcome)

    threads = [threading.Thread(target=worker, args=("give",))]
    threads += [threading.Thread(target=worker, args=("stock",)) for _ in range(CREATORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes["give"]) == 1 and len(outcomes["stock"]) == CREATORS
    with make_sessionmaker(pg_engine)() as session:
        components = session.scalar(select(func.count()).where(PartComponent.part_id == kit_id))
        records = session.scalar(select(func.count()).where(PartInventory.part_id == kit_id))
    assert not (components and records), "a part both has components and holds inventory"
    if outcomes["give"] == ["won"]:
        assert components == 1 and records == 0
        assert set(outcomes["stock"]) == {f"refused:{REFUSED_FIELD[stocker]}"}
    else:
        assert outcomes["give"] == [f"refused:{REFUSED_FIELD[giver]}"]
        assert components == 0 and records == CREATORS
        assert outcomes["stock"] == ["won"] * CREATORS


@pytest.mark.parametrize(("giver", "stocker"), [
    ("update", "create"), ("update", "import"), ("document", "create"), ("document", "import"),
])
def test_components_and_inventory_race_never_make_a_stocked_kit(
    pg_engine: Engine, postgres_url: str, giver: str, stocker: str,
) -> None:
    for round_no in range(ROUNDS):
        _race(pg_engine, postgres_url, giver, stocker, round_no)
    assert_invariants(pg_engine)
