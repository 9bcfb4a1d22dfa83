"""A fulfilment costs a fixed number of SQL statements, whatever the number of its lines: the
records it issues or splits from are written in one statement, the new records, their ledger
entries, the links and the availability change log each in one INSERT (bench/README.md,
"Write path"). The rules still see every record the fulfilment writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput
from kitwright.services import actions, kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import (
    AuditEntry,
    AvailabilityChange,
    LedgerEntry,
    PartInventory,
    PartKitInventory,
)
from tests import factories

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
# A kit of lines that each take one record whole and split another. On SQLite, SQLAlchemy
# inserts rows whose ids it needs back one at a time (the driver cannot return them in order
# from one multi-row INSERT): there each line adds the INSERT of its new record, in process,
# without a round trip.
PINNED = {"postgresql": 15, "sqlite": 14}
PER_LINE = {"postgresql": 0, "sqlite": 1}


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split())
        if not text.upper().startswith(TRANSACTION_CONTROL):
            seen.append(text[:100])

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def kit_of(session: Session, lines: int, name: str = "LOT") -> tuple[int, list[int]]:
    """A requested kit of `lines` lot parts, each asking 5 from lots of 3 (A) and 4 (B) at one
    shelf: lot A goes whole, 2 are split from lot B. Returns the kit and its records."""
    shelf = factories.location(session, f"Shelf {name} {lines}")
    k = factories.kit(session, status="REQUESTED")
    records = []
    for n in range(lines):
        part = factories.part(session, f"{name}-{lines}-{n}", "LOT")
        records.append(factories.record(session, part, 3, lot_number="A", location_id=shelf.id).id)
        records.append(factories.record(session, part, 4, lot_number="B", location_id=shelf.id).id)
        factories.kit_item(session, k, part, 5)
    return k.id, records


def fulfil(session: Session, kit_id: int) -> kits.FulfilResult:
    with UnitOfWork(session) as uow:
        return kits.fulfill_part_kit(uow, id=kit_id)


def count(session: Session, model: type[Any]) -> int:
    session.rollback()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_count_does_not_grow_with_the_lines(session: Session, engine: Engine) -> None:
    counts = {}
    for lines in (2, 12):
        kit_id, _records = kit_of(session, lines)
        ledger, links = count(session, LedgerEntry), count(session, PartKitInventory)
        with counting(engine) as seen:
            result = fulfil(session, kit_id)
        counts[lines] = len(seen)
        assert len(result.issued) == 2 * lines and result.shortages == []
        # Per line: the whole lot, the split lot and the new record each get their entry.
        assert count(session, LedgerEntry) == ledger + 3 * lines
        assert count(session, PartKitInventory) == links + 2 * lines
        issued = [session.get(PartInventory, record.id) for _item, record in result.issued]
        assert sorted(str(r.quantity) for r in issued if r is not None) == ["2"] * lines + ["3"] * lines
    fixed, per_line = PINNED[engine.dialect.name], PER_LINE[engine.dialect.name]
    assert counts == {2: fixed + 2 * per_line, 12: fixed + 12 * per_line}, counts


def test_the_change_log_notes_each_place_once_per_flush(session: Session) -> None:
    kit_id, _records = kit_of(session, 3)
    before = count(session, AvailabilityChange)
    fulfil(session, kit_id)
    # Three parts at one shelf: noted by the flush of the new records and by the commit's.
    assert count(session, AvailabilityChange) == before + 2 * 3


def test_rules_see_every_record_a_fulfilment_writes(session: Session) -> None:
    kit_id, records = kit_of(session, 2)
    with UnitOfWork(session) as uow:
        warn = actions.create_rule(uow, title="split seen", target="PARTINVENTORY", event_type="UPDATE",
                                   code="new.quantity < old.quantity", severity="WARN")
    fulfil(session, kit_id)
    session.rollback()
    warned = session.scalars(select(AuditEntry).where(AuditEntry.action == "WARN")).all()
    # The lots split from (B), each with the rule's id; the lots issued whole keep their quantity.
    assert sorted(w.changes["objectId"] for w in warned) == records[1::2]
    assert {w.target_id for w in warned} == {warn.id}
    kit_id, records = kit_of(session, 2, "GUARDED")
    with UnitOfWork(session) as uow:
        actions.create_rule(uow, title="no kitting from lot A", target="PARTINVENTORY", event_type="UPDATE",
                            code='old.lotNumber == "A" && new.part.partNumber.startsWith("GUARDED")')
    ledger = count(session, LedgerEntry)
    with pytest.raises(BadInput, match="no kitting from lot A"):
        fulfil(session, kit_id)
    assert count(session, LedgerEntry) == ledger
    assert count(session, PartKitInventory) == 4
    assert [session.get(PartInventory, rid).quantity for rid in records] == [3, 4, 3, 4]  # type: ignore[union-attr]
