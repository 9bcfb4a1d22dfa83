"""Import kit items from a CSV or XLSX file: one service behind GraphQL, REST and the CLI.

docs/importers.md describes the file and its rules; `domain.kit_item_import` decides what each
row means. This module reads the file (streaming), fetches the facts in a few set-based
queries (kits and their items locked in ascending id order, parts by part number), asks the
domain for the changes, runs the PARTKITITEM actions on them (services.actions), and writes
them in bulk inside the caller's unit of work: all rows or none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any, TypeVar

from sqlalchemy import Table, bindparam, insert, select, update

from kitwright.domain import kit_item_import as plan
from kitwright.domain.errors import BadInput, Forbidden, KitwrightError, Problem, Problems
from kitwright.domain.kit_access import KitAction
from kitwright.domain.tracking import TrackingType
from kitwright.importers import tabular
from kitwright.importers.tabular import MAX_ROWS, Column
from kitwright.services import kit_access
from kitwright.services.kits import kitted_by_item, refuse_kanban_kits
from kitwright.services.uow import UnitOfWork, lock_conflict, mark_bulk_write
from kitwright.store.models import AuditEntry, Part, PartKit, PartKitItem, new_etag, utcnow

# Problems listed in one error; the message says how many more there were.
MAX_REPORTED = 1000
# Ids per IN (...) list: well under SQLite's bound-parameter limit, and cheap on PostgreSQL.
CHUNK = 5000

COLUMNS = [
    Column("kit_id", aliases=plan.ALIASES["kit_id"]),
    Column("part_number", aliases=plan.ALIASES["part_number"]),
    Column("revision", required=False, aliases=plan.ALIASES["revision"]),
    Column("quantity", aliases=plan.ALIASES["quantity"]),
]
TEMPLATE_HEADER = list(plan.COLUMNS)

# progress(stage, done, total): stage "read" (bytes or rows of the file), "check", "write".
Progress = Callable[[str, int, int | None], None]
T = TypeVar("T")


@dataclass(frozen=True)
class KitItemImport:
    count: int  # rows imported (created + updated)
    created_count: int
    updated_count: int
    part_kit_ids: list[int]
    dry_run: bool


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def raise_problems(problems: Problems, *, what: str = "the import",
                   error: type[KitwrightError] = BadInput) -> None:
    """All problems in one `error` (BadInput, or Forbidden when a row is refused by the
    access rules); details capped at MAX_REPORTED (the message says so)."""
    if not problems:
        return
    items = sorted(problems.items, key=lambda p: (p.row or 0, p.column or ""))
    shown = items[:MAX_REPORTED]
    head = "; ".join(
        (f"row {p.row}" if p.row is not None else "")
        + (f" {p.column}" if p.column else "") + f": {p.message}"
        for p in shown[:5]
    )
    more = f" (showing the first {MAX_REPORTED})" if len(items) > MAX_REPORTED else ""
    column = shown[0].column if len(items) == 1 else None
    raise error(
        f"{what} changed nothing: {len(items)} problem{'s' if len(items) != 1 else ''}{more}: {head}"
        + (" …" if len(items) > 5 else ""),
        field=column, details=[Problem(p.message, row=p.row, column=p.column) for p in shown],
    )


def read_rows(
    source: IO[bytes], problems: Problems, *, filename: str | None, progress: Progress | None
) -> list[plan.KitItemRow]:
    def on_read(done: int, total: int | None) -> None:
        if progress is not None:
            progress("read", done, total)

    table = tabular.Table(source, COLUMNS, problems, filename=filename, max_rows=MAX_ROWS, progress=on_read)
    rows: list[plan.KitItemRow] = []
    seen_any = False
    for raw in table.rows():
        seen_any = True
        row = plan.parse_row(raw.number, raw.values, problems)
        if row is not None:
            rows.append(row)
    if not seen_any and not problems:
        problems.add("the file has a header but no data rows", row=2)
    return rows


def _lock_kits(uow: UnitOfWork, ids: Iterable[int]) -> dict[int, PartKit]:
    """Lock the named kits that exist, ascending id (docs/rules.md#r6: one global order)."""
    found: dict[int, PartKit] = {}
    with lock_conflict("a concurrent change locked the same kits; try again"):
        for batch in chunks(sorted(set(ids))):
            stmt = select(PartKit).where(PartKit.id.in_(batch)).order_by(PartKit.id).with_for_update()
            found.update((kit.id, kit) for kit in uow.session.scalars(stmt))
    refuse_kanban_kits(uow.session, found, field="kitId")
    return found


def _parts(uow: UnitOfWork, numbers: Iterable[str]) -> dict[str, list[plan.PartFacts]]:
    found: dict[str, list[plan.PartFacts]] = defaultdict(list)
    for batch in chunks(sorted(set(numbers))):
        stmt = (
            select(Part.id, Part.part_number, Part.revision, Part.tracking_type)
            .where(Part.part_number.in_(batch)).order_by(Part.id)
        )
        for id, number, revision, tracking in uow.session.execute(stmt):
            found[number].append(plan.PartFacts(id, number, revision or "", TrackingType(tracking)))
    return found


def _existing(uow: UnitOfWork, kit_ids: set[int]) -> dict[tuple[int, int], list[plan.ExistingItem]]:
    """The items of the kits (locked, ascending id) with what each holds now."""
    rows: list[tuple[int, int, int, Decimal]] = []
    for batch in chunks(sorted(kit_ids)):
        stmt = (
            select(PartKitItem.id, PartKitItem.part_kit_id, PartKitItem.part_id, PartKitItem.quantity)
            .where(PartKitItem.part_kit_id.in_(batch)).order_by(PartKitItem.id).with_for_update()
        )
        rows.extend((r[0], r[1], r[2], r[3]) for r in uow.session.execute(stmt))
    kitted: dict[int, Decimal] = {}
    for batch in chunks([row[0] for row in rows]):
        kitted.update(kitted_by_item(uow.session, batch))
    found: dict[tuple[int, int], list[plan.ExistingItem]] = defaultdict(list)
    for id, kit_id, part_id, quantity in rows:
        found[(kit_id, part_id)].append(plan.ExistingItem(id, kit_id, part_id, quantity, kitted[id]))
    return found


def import_kit_items(
    uow: UnitOfWork,
    source: IO[bytes],
    *,
    filename: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> KitItemImport:
    """Create or update the kit items a file lists; all or nothing.

    On any problem raises BadInput whose `details` list every `{row, column, message}`.
    With `dry_run` everything is checked (actions included) and nothing is written."""
    problems = Problems()
    rows = read_rows(source, problems, filename=filename, progress=progress)
    if problems and not rows:
        raise_problems(problems)
    if progress is not None:
        progress("check", 0, len(rows))
    locked = _lock_kits(uow, (row.kit_id for row in rows))
    kit_ids = set(locked)
    # Editing a kit's items is the same action here as in createPartKitItem / updatePartKitItem.
    refused = kit_access.refusals(uow, locked.values(), KitAction.EDIT)
    parts = _parts(uow, (row.part_number for row in rows))
    existing = _existing(uow, kit_ids)
    changes = plan.plan_kit_item_import(rows, parts, kit_ids, existing, problems,
                                        {kit_id: error.message for kit_id, error in refused.items()})
    del rows, parts, locked
    _run_actions(uow, changes, problems)
    if progress is not None:
        progress("check", len(changes), len(changes))
    raise_problems(problems, error=Forbidden if refused else BadInput)
    created = [c for c in changes if c.created]
    updated = [c for c in changes if not c.created]
    touched = sorted({c.kit_id for c in changes})
    result = KitItemImport(len(changes), len(created), len(updated), touched, dry_run)
    if dry_run:
        return result
    _write(uow, created, updated, (i.id for items in existing.values() for i in items), progress)
    uow.commit()
    return result


def _run_actions(uow: UnitOfWork, changes: Sequence[plan.ItemChange], problems: Problems) -> None:
    """PARTKITITEM actions on every created and updated item; a blocking one fails its row."""
    from kitwright.services import actions

    rows: list[tuple[str, int | None, dict[str, Any] | None, dict[str, Any] | None]] = []
    for change in changes:
        new = {"id": change.item_id, "partKitId": change.kit_id, "partId": change.part_id,
               "quantity": change.quantity}
        old = None if change.created else {**new, "quantity": change.old_quantity}
        rows.append(("CREATE" if change.created else "UPDATE", change.row, old, new))
    actions.check_rows(uow.session, "PARTKITITEM", rows, problems)


def _write(
    uow: UnitOfWork,
    created: Sequence[plan.ItemChange],
    updated: Sequence[plan.ItemChange],
    existing_ids: Iterable[int],
    progress: Progress | None,
) -> None:
    """Bulk insert and bulk update, then one audit entry per item (bulk SQL bypasses the
    session's audit listener, services.audit)."""
    session = uow.session
    now = utcnow()
    total = len(created) + len(updated)
    done = 0
    audit: list[dict[str, Any]] = []
    actor_id, actor_name = uow.actor.id, uow.actor.name[:200]
    table = PartKitItem.__table__
    assert isinstance(table, Table)
    for batch in chunks(created):
        session.execute(insert(table), [
            {"part_kit_id": c.kit_id, "part_id": c.part_id, "quantity": c.quantity,
             "created_at": now, "etag": new_etag()} for c in batch
        ])
        done += len(batch)
        if progress is not None:
            progress("write", done, total)
    if created:
        # The kits are locked, so every item of theirs not known before is one just inserted.
        known = {c.item_id for c in updated} | set(existing_ids)
        new_ids: dict[tuple[int, int], int] = {}
        for kit_batch in chunks(sorted({c.kit_id for c in created})):
            for id, kit_id, part_id in session.execute(
                select(table.c.id, table.c.part_kit_id, table.c.part_id).where(table.c.part_kit_id.in_(kit_batch))
            ):
                if id not in known:
                    new_ids[(kit_id, part_id)] = id
        for change in created:
            audit.append({
                "at": now, "actor_id": actor_id, "actor": actor_name, "action": "CREATE",
                "target_type": "PartKitItem", "target_id": new_ids.get((change.kit_id, change.part_id)),
                "changes": {"part_kit_id": change.kit_id, "part_id": change.part_id,
                            "quantity": str(change.quantity), "imported": True},
            })
    statement = (
        update(table).where(table.c.id == bindparam("b_id"))
        .values(quantity=bindparam("b_quantity"), etag=bindparam("b_etag"))
    )
    if updated:
        mark_bulk_write(session)  # Core writes: the commit must not keep these items loaded
    for batch in chunks(updated):
        session.connection().execute(statement, [
            {"b_id": c.item_id, "b_quantity": c.quantity, "b_etag": new_etag()} for c in batch
        ])
        for change in batch:
            if change.old_quantity == change.quantity:
                continue
            audit.append({
                "at": now, "actor_id": actor_id, "actor": actor_name, "action": "UPDATE",
                "target_type": "PartKitItem", "target_id": change.item_id,
                # [old, new] per changed field only (the audit invariant, docs/kit-rules.md)
                "changes": {"quantity": [str(change.old_quantity), str(change.quantity)]},
            })
        done += len(batch)
        if progress is not None:
            progress("write", done, total)
    audit_table = AuditEntry.__table__
    assert isinstance(audit_table, Table)
    for start in range(0, len(audit), CHUNK):
        # Core, not the ORM's bulk insert: a third of the time for the same rows.
        session.connection().execute(insert(audit_table), audit[start:start + CHUNK])
    # Items loaded earlier in this session must not keep their old quantity.
    session.expire_all()


def template_csv() -> str:
    return ",".join(TEMPLATE_HEADER) + "\r\n"


def template_xlsx(header: Sequence[str] = TEMPLATE_HEADER) -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Import"
    sheet.append(list(header))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
