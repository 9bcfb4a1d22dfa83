"""kitAvailabilityChanges under concurrency, on PostgreSQL: receipts racing each other never
lose a change, and a transaction that commits after a later one is not skipped by a token
taken in between (docs/retail.md, "Changes")."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from kitwright.services import availability_changes, inventory, parts
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import PartInventory
from tests import factories
from tests.concurrency.race import race

AS_OF = dt.date(2026, 4, 10)
SITES = 4


def _world(pg_engine: Engine) -> tuple[list[int], list[int], list[int]]:
    """One kit of two components; per site one on-order record of each component."""
    with make_sessionmaker(pg_engine)() as session:
        table, chair = factories.part(session, "Table"), factories.part(session, "Chair")
        with UnitOfWork(session) as uow:
            kit = parts.create_part(uow, part_number="Set", tracking_type="UNTRACKED",
                                    components=[(table.id, Decimal(1)), (chair.id, Decimal(2))])
        sites, orders = [], []
        for number in range(SITES):
            site = factories.location(session, f"DC{number}")
            sites.append(site.id)
            for part, quantity in ((table, 3), (chair, 6)):
                orders.append(factories.record(session, part, quantity, location_id=site.id, on_order=True,
                                             expected_at=AS_OF + dt.timedelta(days=30)).id)
        return [kit.id], sites, orders


def _receive(url: str, record_id: int, barrier: Any) -> str:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with make_sessionmaker(engine)() as session:
            barrier.wait(timeout=60)
            with UnitOfWork(session) as uow:
                inventory.receive_part_inventory(uow, record_id, None)
        return "received"
    finally:
        engine.dispose()


def _receive_and_hold(postgres_url: str, record_id: int,
                      release: threading.Event) -> tuple[threading.Thread, list[BaseException]]:
    """Transaction A, in a thread: receives `record_id` and flushes (its change note is written
    with A's xid), then holds its transaction open until `release` before committing. Returns
    once A has flushed."""
    wrote = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
        try:
            with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
                uow.get(PartInventory, record_id, lock=True).on_order = False
                uow.flush()
                wrote.set()
                assert release.wait(timeout=60)
                uow.commit()
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            engine.dispose()

    thread = threading.Thread(target=run)
    thread.start()
    assert wrote.wait(timeout=60)
    return thread, errors


def test_racing_receipts_never_lose_a_change(pg_engine: Engine, postgres_url: str) -> None:
    (kit,), sites, orders = _world(pg_engine)
    with make_sessionmaker(pg_engine)() as session:
        token = availability_changes.current_token(session)
    # Every record received at once, in separate transactions and processes.
    outcomes = race("processes", _receive, [(order,) for order in orders], postgres_url)
    assert outcomes == ["received"] * len(orders)
    with make_sessionmaker(pg_engine)() as session:
        result = availability_changes.changes_since(session, token, as_of=AS_OF)
    # Every site now holds 3 tables and 6 chairs on hand: 3 kits each, nothing to come.
    assert sorted((k, curve) for k, curve in result.figures) == [(kit, (site, 3, ())) for site in sites]


def test_a_late_commit_is_not_skipped(pg_engine: Engine, postgres_url: str) -> None:
    """Transaction A writes first (its note gets the lower id and xid) but commits last; a
    reader polls between B's commit and A's: A's change must come in the next poll."""
    (kit,), sites, orders = _world(pg_engine)
    first_table, second_table = orders[0], orders[2]  # tables at DC0 and DC1
    with make_sessionmaker(pg_engine)() as session:
        token = availability_changes.current_token(session)
    reader_polled = threading.Event()
    thread, errors = _receive_and_hold(postgres_url, first_table, reader_polled)
    with make_sessionmaker(pg_engine)() as session:
        with UnitOfWork(session) as uow:
            inventory.receive_part_inventory(uow, second_table, None)
        session.rollback()
        first = availability_changes.changes_since(session, token, as_of=AS_OF)
    reader_polled.set()
    thread.join(timeout=60)
    assert not errors, errors
    # The first poll sees B only (A has not committed).
    assert [(k, curve[0]) for k, curve in first.figures] == [(kit, sites[1])]
    with make_sessionmaker(pg_engine)() as session:
        second = availability_changes.changes_since(session, first.token, as_of=AS_OF)
    assert (kit, sites[0]) in [(k, curve[0]) for k, curve in second.figures]


def test_a_late_commit_between_pages_comes_after_the_last_page(pg_engine: Engine, postgres_url: str) -> None:
    """A writes first but commits while a reader pages through B's and C's changes: the pages
    hold B's and C's pairs once each, in order, and A's (and D's, committed in between) come
    in the answer after the last page."""
    (kit,), sites, orders = _world(pg_engine)
    tables = orders[0::2]  # one per site
    with make_sessionmaker(pg_engine)() as session:
        token = availability_changes.current_token(session)
    paged = threading.Event()
    thread, errors = _receive_and_hold(postgres_url, tables[0], paged)
    with make_sessionmaker(pg_engine)() as session:
        for record in tables[1:3]:
            with UnitOfWork(session) as uow:
                inventory.receive_part_inventory(uow, record, None)
        session.rollback()
        first = availability_changes.changes_since(session, token, as_of=AS_OF, first=1)
        session.rollback()
        paged.set()
        thread.join(timeout=60)
        assert not errors, errors
        with UnitOfWork(session) as uow:
            inventory.receive_part_inventory(uow, tables[3], None)
        session.rollback()
        second = availability_changes.changes_since(session, first.token, as_of=AS_OF, first=1)
        session.rollback()
        after = availability_changes.changes_since(session, second.token, as_of=AS_OF)
    assert (first.has_next_page, second.has_next_page) == (True, False)
    assert [(k, curve[0]) for k, curve in first.figures + second.figures] == [(kit, sites[1]), (kit, sites[2])]
    assert [(k, curve[0]) for k, curve in after.figures] == [(kit, sites[0]), (kit, sites[3])]
