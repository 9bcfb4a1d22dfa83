"""Races on PostgreSQL (SQLite has no row locks): workers released by a barrier.

Two (or more) writers carrying the same etag: exactly one wins, the rest get CONFLICT, and
the record reflects the winner only. Threads and separate processes both.
"""

from __future__ import annotations

import multiprocessing
import threading
from decimal import Decimal

from sqlalchemy import Engine, select

from kitwright.domain.errors import Conflict
from kitwright.domain.ledger import LedgerOperation
from kitwright.services import inventory
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import LedgerEntry, PartInventory
from tests import factories
from tests.invariants import assert_invariants

WORKERS = 8


def _update(url: str, record_id: int, etag: str, quantity: int, barrier: object) -> str:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with make_sessionmaker(engine)() as session:
            barrier.wait(timeout=30)  # type: ignore[attr-defined]
            try:
                with UnitOfWork(session) as uow:
                    inventory.update_part_inventory(uow, record_id, etag, {"quantity": Decimal(quantity)})
                return "won"
            except Conflict:
                return "conflict"
    finally:
        engine.dispose()


def _process_worker(url: str, record_id: int, etag: str, quantity: int, barrier: object, results: object) -> None:
    results.put(_update(url, record_id, etag, quantity, barrier))  # type: ignore[attr-defined]


def _setup(pg_engine: Engine) -> tuple[int, str]:
    with make_sessionmaker(pg_engine)() as session:
        bolt = factories.part(session, "BOLT", "LOT")
        made = factories.record(session, bolt, 100, lot_number="L1")
        return made.id, made.etag


def _check(pg_engine: Engine, record_id: int, outcomes: list[str]) -> None:
    assert sorted(outcomes) == ["conflict"] * (WORKERS - 1) + ["won"]
    with make_sessionmaker(pg_engine)() as session:
        record = session.get(PartInventory, record_id)
        assert record is not None and record.quantity in {Decimal(q) for q in range(1, WORKERS + 1)}
        updates = session.scalars(select(LedgerEntry).where(LedgerEntry.operation == LedgerOperation.UPDATE)).all()
        assert len(updates) == 1 and updates[0].after is not None
        assert Decimal(updates[0].after["quantity"]) == record.quantity
    assert_invariants(pg_engine)


def test_same_etag_from_threads_exactly_one_wins(pg_engine: Engine, postgres_url: str) -> None:
    record_id, etag = _setup(pg_engine)
    barrier = threading.Barrier(WORKERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        outcome = _update(postgres_url, record_id, etag, n, barrier)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(1, WORKERS + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    _check(pg_engine, record_id, outcomes)


def test_same_etag_from_processes_exactly_one_wins(pg_engine: Engine, postgres_url: str) -> None:
    record_id, etag = _setup(pg_engine)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=_process_worker, args=(postgres_url, record_id, etag, n, barrier, results))
        for n in range(1, WORKERS + 1)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    _check(pg_engine, record_id, outcomes)


def test_concurrent_creates_of_one_serial_exactly_one_wins(pg_engine: Engine, postgres_url: str) -> None:
    with make_sessionmaker(pg_engine)() as session:
        part_id = factories.part(session, "FC", "SERIAL").id
    barrier = threading.Barrier(WORKERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
        with make_sessionmaker(engine)() as session:
            barrier.wait(timeout=30)
            try:
                with UnitOfWork(session) as uow:
                    inventory.create_part_inventory(
                        uow, inventory.NewPartInventory(part_id=part_id, serial_number="sn-1", quantity=1)
                    )
                outcome = "won"
            except Exception as error:  # the loser must get a clear, named refusal
                outcome = f"{type(error).__name__}:{getattr(error, 'field', None)}"
        engine.dispose()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["BadInput:serialNumber"] * (WORKERS - 1) + ["won"]
    assert_invariants(pg_engine)
