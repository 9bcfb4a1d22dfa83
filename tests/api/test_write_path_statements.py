"""The write path costs a fixed number of SQL statements per request, whatever the size of the
database: createPartInventory, createPartKitItem and issueItemToKit (whole and split), counted
over the whole HTTP request (authentication, rate limit, GraphQL, the reply's fields).

The numbers are pinned: a change that adds a statement to these requests fails here and must
say why (bench/README.md, "Write path"). Transaction control (BEGIN / COMMIT / ROLLBACK) is
not counted; the rate limit's statement is counted apart, because a worker admits most requests
from a lease without one (services.ratelimit), and so is the change log's pruning, which a
writer runs at most once a minute per process (services.availability_changes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from starlette.testclient import TestClient

from kitwright.services import kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import AuditEntry, LedgerEntry
from tests import factories
from tests.api.gql import data

CREATE_RECORD = """mutation($input: CreatePartInventoryInput!) {
  createPartInventory(input: $input) { partInventory { id quantity status } } }"""
CREATE_ITEM = """mutation($input: CreatePartKitItemInput!) {
  createPartKitItem(input: $input) { partKitItem { id quantity } } }"""
ISSUE = """mutation($input: InventoryToKitInput!) {
  issueItemToKit(input: $input) { partInventory { id quantity status } } }"""

# Statements per request, the same on both engines (PostgreSQL's statement_timeout is set once
# per connection, not per request). Each count includes the availability change log's one
# INSERT, written just before the commit with the notes of every flush of the transaction
# (docs/retail.md, "Changes").
# An issue: the item's kit and its status in one SELECT; the kit locked with its kanban cycle
# (if any) in the same statement; after the locks, the record's status, its part and what the
# item holds in one SELECT; the records written in one UPDATE with the rules checked on them;
# both ledger entries of a split in one INSERT; nothing read back for the change log and no
# installed-below search when the issued record stays where it is. A new record: its location
# read with its part (share-locked) in one statement.
_COUNTS = {"createPartInventory": 8, "createPartKitItem": 6, "issueItemToKit whole": 12, "issueItemToKit split": 13}
PINNED: dict[str, dict[str, int]] = {"postgresql": _COUNTS, "sqlite": _COUNTS}
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
# The statements of services.availability_changes._maybe_prune (the clock, marks, old notes).
PRUNE = ("SELECT clock_timestamp()", "SELECT max(availability_change_mark.at)", "SELECT pg_current_snapshot()",
         "INSERT INTO availability_change_mark", "SELECT availability_change_mark.", "DELETE FROM availability_change")


@contextmanager
def counting(engine: Engine) -> Iterator[dict[str, list[str]]]:
    seen: dict[str, list[str]] = {"work": [], "rate limit": [], "prune": []}

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split())
        if text.upper().startswith(TRANSACTION_CONTROL):
            return
        if "rate_limit_bucket" in text:
            seen["rate limit"].append(text[:120])
        elif text.startswith(PRUNE):
            seen["prune"].append(text[:120])
        else:
            seen["work"].append(text[:120])

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


class Shop:
    """A lot-tracked part with `records` records at one location, and an open kit."""

    def __init__(self, engine: Engine, records: int) -> None:
        with make_sessionmaker(engine)() as session:
            shelf = factories.location(session, "Shelf")
            self.location_id = shelf.id
            part = factories.part(session, f"LOT-{records}", "LOT")
            self.part_id = part.id
            self.record_ids = [
                factories.record(session, part, 50, location_id=shelf.id, lot_number=f"L{i}").id
                for i in range(records)
            ]
            with UnitOfWork(session) as uow:
                self.kit_id = kits.create_part_kit(uow, status="IN_PROGRESS").id
            with UnitOfWork(session) as uow:
                self.item_id = kits.create_part_kit_item(uow, part_kit_id=self.kit_id, part_id=part.id,
                                                         quantity=Decimal(100_000)).id


def requests(shop: Shop, n: int) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "createPartInventory": (CREATE_RECORD, {"input": {
            "partId": str(shop.part_id), "locationId": str(shop.location_id), "quantity": "5",
            "lotNumber": f"NEW-{n}"}}),
        "createPartKitItem": (CREATE_ITEM, {"input": {
            "partKitId": str(shop.kit_id), "partId": str(shop.part_id), "quantity": "1"}}),
        "issueItemToKit whole": (ISSUE, {"input": {
            "partInventoryId": str(shop.record_ids[2 * n]), "partKitItemId": str(shop.item_id)}}),
        "issueItemToKit split": (ISSUE, {"input": {
            "partInventoryId": str(shop.record_ids[2 * n + 1]), "partKitItemId": str(shop.item_id),
            "quantity": "1"}}),
    }


def measure(client: TestClient, engine: Engine, shop: Shop) -> dict[str, int]:
    """Statements of each request (the second of two alike, so that caches are warm)."""
    counts: dict[str, int] = {}
    for n in range(2):
        for name, (query, variables) in requests(shop, n).items():
            with counting(engine) as seen:
                data(client, query, variables)
            assert len(seen["rate limit"]) <= 1, seen["rate limit"]
            counts[name] = len(seen["work"])
    return counts


def test_each_mutation_runs_a_pinned_number_of_statements(client: TestClient, engine: Engine) -> None:
    shop = Shop(engine, 10)
    with make_sessionmaker(engine)() as session:
        ledger_before = session.scalar(select(func.count()).select_from(LedgerEntry))
        audit_before = session.scalar(select(func.count()).select_from(AuditEntry))
    counts = measure(client, engine, shop)
    assert counts == PINNED[engine.dialect.name], counts
    # Nothing was bought by dropping an entry: per round, one ledger entry for the new record,
    # one for the whole issue, two for the split; one audit entry for the new kit item.
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == ledger_before + 2 * 4
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before + 2


def test_the_count_does_not_grow_with_the_database(client: TestClient, engine: Engine) -> None:
    small = measure(client, engine, Shop(engine, 10))
    large = measure(client, engine, Shop(engine, 200))
    assert large == small == PINNED[engine.dialect.name]


def test_a_write_that_prunes_counts_its_pruning_apart(client: TestClient, engine: Engine,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from kitwright.services import availability_changes

    shop = Shop(engine, 10)
    name, (query, variables) = "createPartInventory", requests(shop, 0)["createPartInventory"]
    monkeypatch.setattr(availability_changes, "_next_prune", 0.0)
    with counting(engine) as seen:
        data(client, query, variables)
    assert len(seen["work"]) == PINNED[engine.dialect.name][name], seen["work"]
    # At least the last mark's time and the mark older than the retention (none yet); a new
    # mark when the last is older than the mark interval.
    assert 2 <= len(seen["prune"]) <= 5, seen["prune"]
