"""Run races on PostgreSQL: workers (threads, and separate processes) released together by a
barrier; exact outcomes, then the invariant check (run rules included).

1. Several installs want the same kitted serial: exactly one installs it; every other is
   refused naming partInventoryId; nothing is over-installed.
2. Two runs' createKitForRun compete for too little stock: no unit ends in both kits, each
   kit holds at most what its run needs, and together they take all the stock.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, select

from kitwright.services import runs
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import AbomItem, BuildRequirement, PartKit, PartKitInventory
from tests import factories
from tests.concurrency.race import in_unit_of_work, refused_by_type
from tests.invariants import assert_invariants


def _act(url: str, kind: str, args: tuple[Any, ...], barrier: Any) -> str:
    def act(uow: UnitOfWork) -> str:
        if kind == "install":
            runs.install_part_inventory(uow, build_requirement_id=args[0], part_inventory_id=args[1])
        else:
            runs.create_kit_for_run(uow, run_id=args[0])
        return "won"

    return in_unit_of_work(url, barrier, act, refused_by_type)


def _process_main(url: str, kind: str, args: tuple[Any, ...], barrier: Any, results: Any) -> None:
    results.put(_act(url, kind, args, barrier))


def _race(mode: str, url: str, kind: str, argss: list[tuple[Any, ...]]) -> list[str]:
    if mode == "threads":
        barrier: Any = threading.Barrier(len(argss))
        outcomes: list[str] = []
        lock = threading.Lock()

        def work(args: tuple[Any, ...]) -> None:
            result = _act(url, kind, args, barrier)
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=work, args=(args,)) for args in argss]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(outcomes) == len(argss), "a worker hung"
        return outcomes
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(argss))
    results = context.Queue()
    processes = [context.Process(target=_process_main, args=(url, kind, args, barrier, results)) for args in argss]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


def _shop(session: Any, motors: int) -> dict[str, Any]:
    shelf = factories.location(session, "Shelf")
    cell = factories.location(session, "Cell")
    motor = factories.part(session, "MOTOR", "SERIAL")
    assy = factories.part(session, "ASSY", "UNTRACKED")
    factories.mbom(session, assy, (motor, 1))
    for n in range(motors):
        factories.record(session, motor, 1, serial_number=f"M{n}", location_id=shelf.id)
    return {"assy": assy, "cell": cell, "motor": motor}


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_installs_wanting_the_same_kitted_unit_exactly_one_wins(
    pg_engine: Engine, postgres_url: str, mode: str
) -> None:
    workers = 6
    with make_sessionmaker(pg_engine)() as session:
        shop = _shop(session, 1)
        run = factories.run(session, shop["assy"], 3, status="IN_PROGRESS", location_id=shop["cell"].id)
        with UnitOfWork(session) as uow:
            kit = runs.create_kit_for_run(uow, run_id=run.id).kit
        record_id = session.scalars(select(PartKitInventory.part_inventory_id)
                                    .where(PartKitInventory.part_kit_id == kit.id)).one()
        req_id = session.scalars(select(BuildRequirement.id).where(BuildRequirement.run_id == run.id)).one()
    outcomes = _race(mode, postgres_url, "install", [(req_id, record_id)] * workers)
    assert sorted(outcomes) == ["BadInput:partInventoryId"] * (workers - 1) + ["won"]
    with make_sessionmaker(pg_engine)() as session:
        installs = session.scalars(select(AbomItem).where(AbomItem.parent_part_inventory_id.is_not(None))).all()
        assert [(a.part_inventory_id, a.quantity) for a in installs] == [(record_id, 1)]
    assert_invariants(pg_engine)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_two_runs_kitting_for_the_same_stock_never_share_a_unit(
    pg_engine: Engine, postgres_url: str, mode: str
) -> None:
    with make_sessionmaker(pg_engine)() as session:
        shop = _shop(session, 3)
        first = factories.run(session, shop["assy"], 2, status="IN_PROGRESS", location_id=shop["cell"].id).id
        second = factories.run(session, shop["assy"], 2, status="IN_PROGRESS", location_id=shop["cell"].id).id
    outcomes = _race(mode, postgres_url, "kit", [(first,), (second,)])
    assert outcomes == ["won", "won"]  # partial fulfilment is allowed: the shortage is reported
    with make_sessionmaker(pg_engine)() as session:
        held = session.execute(
            select(PartKit.run_id, PartKitInventory.part_inventory_id)
            .join(PartKit, PartKit.id == PartKitInventory.part_kit_id)
            .where(PartKitInventory.released == False)  # noqa: E712
        ).all()
        records = [r for _, r in held]
        assert len(records) == len(set(records)) == 3  # all the stock, no unit twice
        per_run = {run_id: sum(1 for r, _ in held if r == run_id) for run_id in (first, second)}
        assert sorted(per_run.values()) == [1, 2]
    assert_invariants(pg_engine)
