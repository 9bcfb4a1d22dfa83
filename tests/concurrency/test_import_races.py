"""Import races on PostgreSQL: workers released together by a barrier.

N workers import the same kit items (a new part for the kit) at once. The kit rows are locked
in ascending id order and the kit's items are read after the lock, so exactly one import
creates the item and every other one updates it: never two items for one kit and part.
"""

from __future__ import annotations

import io
import threading

from sqlalchemy import Engine, select

from kitwright.services import kits
from kitwright.services.import_kit_items import import_kit_items
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import PartKitItem
from tests import factories
from tests.invariants import assert_invariants

WORKERS = 6


def test_concurrent_imports_create_one_item(pg_engine: Engine) -> None:
    with make_sessionmaker(pg_engine)() as session:
        factories.part(session, "BOLT")
        factories.part(session, "NUT")
        with UnitOfWork(session) as uow:
            first = kits.create_part_kit(uow).id
        with UnitOfWork(session) as uow:
            second = kits.create_part_kit(uow).id
    url = pg_engine.url.render_as_string(hide_password=False)
    barrier = threading.Barrier(WORKERS)
    outcomes: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        # Half the workers list the kits in the other order: the lock order is still ascending.
        kits_in_file = (first, second) if n % 2 else (second, first)
        content = "kit_id,part_number,quantity\n" + "".join(
            f"{k},{p},{n + 1}\n" for k in kits_in_file for p in ("BOLT", "NUT"))
        try:
            with make_sessionmaker(engine)() as session:
                barrier.wait(timeout=30)
                with UnitOfWork(session) as uow:
                    result = import_kit_items(uow, io.BytesIO(content.encode()))
                outcomes.append((result.created_count, result.updated_count))
        except BaseException as error:
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(outcomes) == [(0, 4)] * (WORKERS - 1) + [(4, 0)]
    with make_sessionmaker(pg_engine)() as session:
        items = session.execute(select(PartKitItem.part_kit_id, PartKitItem.part_id)).all()
        assert len(items) == 4 and len(set(items)) == 4
    assert_invariants(pg_engine)
