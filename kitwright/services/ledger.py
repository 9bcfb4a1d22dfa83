"""Writing the ledger: one entry per change of an inventory record (docs/rules.md#r4)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.limits import STREAM_BATCH
from kitwright.services.listing import Listing
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import LedgerEntry, PartInventory, utcnow

# The fields of a record that replaying the ledger must reproduce. The record's copy of its
# part number is left out: it follows the part (see services.parts.update_part).
SNAPSHOT_FIELDS = (
    "part_id",
    "location_id",
    "serial_number",
    "lot_number",
    "quantity",
    "on_order",
    "scrapped",
    "origin_part_inventory_id",
)


def snapshot(record: PartInventory) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(record, name) for name in SNAPSHOT_FIELDS}
    data["quantity"] = str(data["quantity"])
    return data


def record_change(
    uow: UnitOfWork,
    operation: LedgerOperation,
    record: PartInventory,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    link_change: bool = False,
    **references: Any,
) -> LedgerEntry:
    """Append one entry; the record must have its id (flush first when it is new).

    `link_change`: the record's snapshot is unchanged but a status-driving link moved (it
    became kitted, or was released); that is a change worth an entry too.
    """
    if before == after and not link_change:
        raise AssertionError("a ledger entry must record a change")
    entry = LedgerEntry(
        actor_id=uow.actor.id,
        actor=uow.actor.name,
        operation=operation.value,
        part_inventory_id=record.id,
        part_id=record.part_id,
        location_id=(after or before or {}).get("location_id"),
        references={k: v for k, v in references.items() if v is not None},
        before=before,
        after=after,
    )
    uow.session.add(entry)
    return entry


def entry_values(
    uow: UnitOfWork,
    operation: LedgerOperation,
    record_id: int,
    part_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    **references: Any,
) -> dict[str, Any]:
    """One entry as column values, for writers that insert many entries in one statement
    (`write_entries`); the same entry `record_change` adds."""
    return {
        "at": utcnow(), "actor_id": uow.actor.id, "actor": uow.actor.name, "operation": operation.value,
        "part_inventory_id": record_id, "part_id": part_id,
        "location_id": (after or before or {}).get("location_id"),
        "references": {k: v for k, v in references.items() if v is not None},
        "before": before, "after": after,
    }


def write_entries(uow: UnitOfWork, entries: list[dict[str, Any]]) -> None:
    """Insert entries in one statement, in list order (ids ascend as the changes happened)."""
    if entries:
        uow.session.execute(insert(LedgerEntry), entries)


LEDGER_COLUMNS = {
    "id": LedgerEntry.id,
    "partInventoryId": LedgerEntry.part_inventory_id,
    "partId": LedgerEntry.part_id,
    "locationId": LedgerEntry.location_id,
    "operation": LedgerEntry.operation,
    "actorId": LedgerEntry.actor_id,
    "at": LedgerEntry.at,
}
LEDGER_SORTS = {"ID": LedgerEntry.id, "AT": LedgerEntry.at}


list_ledger_entries = Listing(LedgerEntry, LEDGER_COLUMNS, LEDGER_SORTS)


def replay(session: Session) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """Rebuild every record from the ledger alone.

    Returns id -> snapshot (deleted records absent) and every entry whose `before` is not what
    the entries up to it built (a change made behind the ledger's back).
    """
    state: dict[int, dict[str, Any]] = {}
    breaks: list[str] = []
    stmt = select(
        LedgerEntry.id, LedgerEntry.part_inventory_id, LedgerEntry.before, LedgerEntry.after
    ).order_by(LedgerEntry.id)
    for entry_id, record_id, before, after in session.execute(stmt.execution_options(yield_per=STREAM_BATCH)):
        if state.get(record_id) != before:
            breaks.append(f"entry {entry_id}: record {record_id} was {state.get(record_id)}, entry says {before}")
        if after is None:
            state.pop(record_id, None)
        else:
            state[record_id] = after
    return state, breaks


def verify(session: Session) -> list[str]:
    """Every way the records and the ledger disagree (empty when rule 4 holds)."""
    replayed, problems = replay(session)
    seen: set[int] = set()
    for record in session.scalars(select(PartInventory).execution_options(yield_per=STREAM_BATCH)):
        seen.add(record.id)
        expected = replayed.get(record.id)
        actual = snapshot(record)
        if expected != actual:
            problems.append(f"record {record.id}: ledger replays {expected}, table holds {actual}")
    for record_id in replayed.keys() - seen:
        problems.append(f"record {record_id}: in the ledger but not in the table")
    return problems
