"""Plant loading from spreadsheets: suppliers, locations (a whole tree from one file), parts and
part inventory (docs/importers.md). Same framework as the Kit Items importer: streamed file,
every problem with its row and column, set-based look-ups, all or nothing, dry run, actions.

Each loader reads every row, resolves the names it mentions with a few `IN (…)` queries, checks
every row with the same domain rules the one-at-a-time services apply (text, tracking,
quantities), runs the actions on each row (`services.actions.check_rows`, so a tripping row
is named), then adds all objects and flushes once per level (the ORM batches the INSERTs).
Column names of ION's own templates are accepted beside ours (`Part Number`, `Location`,
`location_name`, `uom`, …).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from kitwright.config import settings
from kitwright.domain.bom import check_mbom_quantity, cycle_message, find_cycle
from kitwright.domain.errors import BadInput, Conflict, Problem, Problems
from kitwright.domain.holds import RecordChange, check_held_change, check_installed_change
from kitwright.domain.kit_definitions import check_holds_stock
from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.limits import MAX_ID, NUMBER_ROUNDS
from kitwright.domain.numbering import render_number
from kitwright.domain.quantities import ONE, ZERO, parse_quantity
from kitwright.domain.status import PartInventoryStatus
from kitwright.domain.text import LONG, camel, clean_text
from kitwright.domain.tracking import Identity, TrackingType, check_identity, clean_number
from kitwright.importers.tabular import MAX_ROWS, Column, Row, Table
from kitwright.services import actions
from kitwright.services.bom import reachable_edges
from kitwright.services.holds import holds_of
from kitwright.services.import_kit_items import CHUNK, Progress, chunks, raise_problems
from kitwright.services.inventory import lock_parts_for_stock
from kitwright.services.ledger import record_change, snapshot
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import (
    Location,
    MbomItem,
    MbomItemReferenceDesignator,
    NumberSequence,
    Part,
    PartInventory,
    Supplier,
    UnitOfMeasure,
)


@dataclass(frozen=True)
class PlantImport:
    kind: str
    count: int
    created_count: int
    dry_run: bool
    ids: list[int]
    updated_count: int = 0
    mbom_line_count: int = 0  # parts only: mBOM lines created or updated
    mbom_created_count: int = 0


def _read(source: IO[bytes], columns: Sequence[Column], problems: Problems, filename: str | None,
          progress: Progress | None) -> list[Row]:
    def on_read(done: int, total: int | None) -> None:
        if progress is not None:
            progress("read", done, total)

    rows = list(Table(source, columns, problems, filename=filename, max_rows=MAX_ROWS, progress=on_read).rows())
    if not rows and not problems:
        problems.add("the file has a header but no data rows", row=2)
    return rows


def _rows(result: Any) -> list[Any]:
    """Result rows as plain tuples (to put in sets and dicts)."""
    return [tuple(row) for row in result]


def _cell(row: Row, column: str, problems: Problems, check: Callable[[Any], Any]) -> Any:
    """A checked cell value, or None with the problem added on the row and column."""
    try:
        return check(row.values.get(column))
    except BadInput as error:
        problems.add(error.message, row=row.number, column=column)
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return None if value is None else str(value)


def _flag(default: bool) -> Callable[[Any], bool]:
    def parse(value: Any) -> bool:
        if value is None:
            return default
        text = str(value).strip().lower()
        if text in ("true", "yes", "y", "1", "x"):
            return True
        if text in ("false", "no", "n", "0"):
            return False
        raise BadInput(f"must be true or false, got {text[:20]!r}")
    return parse


def _finish(uow: UnitOfWork, problems: Problems, dry_run: bool) -> bool:
    """Raise every problem; True when the loader should write."""
    raise_problems(problems)
    return not dry_run


def _write_checked(uow: UnitOfWork) -> None:
    """Flush with the actions already run per row (check_rows) so they are not run twice."""
    uow.session.info["kitwright_actions_checked"] = True
    try:
        uow.flush()
    finally:
        uow.session.info.pop("kitwright_actions_checked", None)


# --------------------------------------------------------------------------- suppliers

SUPPLIER_COLUMNS = [
    Column("id", required=False, aliases=("supplier_id",)),
    Column("name", aliases=("supplier", "supplier_name", "vendor", "vendor_name")),
]


def import_suppliers(uow: UnitOfWork, source: IO[bytes], *, filename: str | None = None,
                     dry_run: bool = False, progress: Progress | None = None) -> PlantImport:
    """Create suppliers; a row with `id` renames that supplier; a row naming an existing
    supplier (without `id`) leaves it as it is and counts as updated, so a file loads twice."""
    problems = Problems()
    rows = _read(source, SUPPLIER_COLUMNS, problems, filename, progress)
    names: dict[str, int] = {}
    found: list[tuple[int, str, int | None]] = []
    for row in rows:
        name = _cell(row, "name", problems, lambda v: clean_text(_text(v), field="name", required=True))
        raw_id = (_text(row.values.get("id")) or "").strip()
        if raw_id and not (raw_id.isdigit() and 0 < int(raw_id) <= MAX_ID):
            problems.add(f"no supplier {raw_id[:20]!r}", row=row.number, column="id")
            continue
        if name is None:
            continue
        if name.lower() in names:
            problems.add(f"duplicate of row {names[name.lower()]}", row=row.number, column="name")
            continue
        names[name.lower()] = row.number
        found.append((row.number, name, int(raw_id) if raw_id else None))
    existing: dict[str, int] = {}
    for batch in chunks(sorted({n for _, n, _ in found})):
        existing.update(_rows(uow.session.execute(select(Supplier.name, Supplier.id).where(Supplier.name.in_(batch)))))
    by_id: dict[int, Supplier] = {}
    for id_batch in chunks(sorted({i for _, _, i in found if i is not None})):
        by_id.update({s.id: s for s in uow.session.scalars(
            select(Supplier).where(Supplier.id.in_(id_batch)).order_by(Supplier.id).with_for_update())})
    creates: list[str] = []
    renames: list[tuple[Supplier, str]] = []
    kept: list[int] = []
    seen_ids: dict[int, int] = {}
    for number, name, id in found:
        if id is None:
            if name in existing:
                kept.append(existing[name])
            else:
                creates.append(name)
            continue
        supplier = by_id.get(id)
        if supplier is None:
            problems.add(f"no supplier {id}", row=number, column="id")
        elif id in seen_ids:
            problems.add(f"supplier {id} is also on row {seen_ids[id]}", row=number, column="id")
        elif name in existing and existing[name] != id:
            problems.add(f"another supplier is named {name!r}", row=number, column="name")
        else:
            renames.append((supplier, name))
        seen_ids[id] = number
    count = len(creates) + len(renames) + len(kept)
    if not _finish(uow, problems, dry_run):
        return PlantImport("suppliers", count, len(creates), dry_run, [], len(renames) + len(kept))
    objects = [Supplier(name=name) for name in creates]
    uow.session.add_all(objects)
    for supplier, name in renames:
        supplier.name = name
    uow.commit()
    return PlantImport("suppliers", count, len(objects), False,
                       [o.id for o in objects] + [s.id for s, _ in renames] + kept, len(renames) + len(kept))


# --------------------------------------------------------------------------- parts

PART_COLUMNS = [
    Column("part_number", aliases=("part", "partnumber", "part_no")),
    Column("revision", required=False, aliases=("rev",)),
    Column("description", required=False, aliases=("part_description", "desc")),
    Column("tracking_type", required=False, aliases=("tracking", "trackingtype")),
    Column("unit_of_measure", required=False, aliases=("uom", "unit_of_measurement", "unit")),
    Column("cost", required=False, aliases=("unit_cost",)),
    # An mBOM line: this part is a component of the parent, `quantity` per one parent.
    Column("parent_part_number", required=False, aliases=("parent", "parent_part", "assembly")),
    Column("parent_revision", required=False, aliases=("parent_rev",)),
    Column("quantity", required=False, aliases=("qty", "mbom_quantity", "quantity_per")),
    Column("reference_designators", required=False,
           aliases=("reference_designator", "refdes", "ref_des", "designators")),
]
_PART_FIELDS = ("description", "tracking_type", "cost", "uom")
_DESIGNATOR_SPLIT = re.compile(r"[,;\s]+")


def _tracking(value: Any) -> TrackingType:
    text = (_text(value) or "UNTRACKED").strip().upper()
    if text in ("", "NONE", "UNTRACKED", "NOT TRACKED"):
        return TrackingType.UNTRACKED
    try:
        return TrackingType(text)
    except ValueError:
        raise BadInput("must be SERIAL, LOT or UNTRACKED (blank: UNTRACKED)") from None


def _designators(value: Any) -> list[str] | None:
    text = _text(value)
    if text is None or not text.strip():
        return None
    found = [d for d in _DESIGNATOR_SPLIT.split(text.strip()) if d]
    if any(len(d) > 100 for d in found):
        raise BadInput("a reference designator is 1 to 100 characters")
    twice = sorted({d for d in found if found.count(d) > 1})
    if twice:
        raise BadInput(f"{', '.join(twice)} given twice")
    return found


@dataclass
class _PartRow:
    row: int
    key: tuple[str, str]
    values: dict[str, Any]  # the part's fields given on the row (blank cells left out)
    parent: tuple[str, str | None] | None  # (part number, revision or None: latest)
    quantity: Decimal | None
    designators: list[str] | None


@dataclass
class _Line:
    row: int
    part: Part
    parent: Part
    quantity: Decimal
    designators: list[str] | None
    item: MbomItem | None = None


def import_parts(uow: UnitOfWork, source: IO[bytes], *, filename: str | None = None,
                 dry_run: bool = False, progress: Progress | None = None) -> PlantImport:
    """Create parts, update the ones whose part number and revision exist (the cells given
    change: description, tracking type, unit, cost), and, with `parent_part_number`, create or
    update the mBOM line making the row's part a component of that parent (docs/importers.md).
    A part may appear on several rows (once per assembly it goes into)."""
    problems = Problems()
    rows = _read(source, PART_COLUMNS, problems, filename, progress)
    session = uow.session
    parsed: list[_PartRow] = []
    first: dict[tuple[str, str], _PartRow] = {}  # the row that defines each part's fields
    plain: dict[tuple[str, str], int] = {}
    for row in rows:
        before = len(problems.items)
        number = _cell(row, "part_number", problems,
                       lambda v: clean_text(_text(v), field="part_number", required=True))
        revision = _cell(row, "revision", problems,
                         lambda v: clean_text(_text(v), field="revision", max_length=50) or "")
        values: dict[str, Any] = {}
        for column, key, check in (
            ("description", "description",
             lambda v: clean_text(_text(v), field="description", max_length=LONG, multiline=True)),
            ("tracking_type", "tracking_type", lambda v: _tracking(v).value),
            ("cost", "cost", lambda v: parse_quantity(v, field="cost")),
            ("unit_of_measure", "uom", lambda v: clean_text(_text(v), field="uom")),
        ):
            if row.values.get(column) is not None:
                values[key] = _cell(row, column, problems, check)
        parent: tuple[str, str | None] | None = None
        parent_number = _cell(row, "parent_part_number", problems,
                              lambda v: clean_text(_text(v), field="parent_part_number"))
        parent_revision = _cell(row, "parent_revision", problems,
                                lambda v: clean_text(_text(v), field="parent_revision", max_length=50))
        quantity = designators = None
        if parent_number:
            parent = (parent_number, parent_revision)
            quantity = _cell(row, "quantity", problems,
                             lambda v: check_mbom_quantity(ONE if v is None else v, field="quantity"))
            designators = _cell(row, "reference_designators", problems, _designators)
        else:
            for column in ("parent_revision", "quantity", "reference_designators"):
                if row.values.get(column) is not None:
                    problems.add("applies to an mBOM line only: give parent_part_number", row=row.number,
                                 column=column)
        if len(problems.items) > before:
            continue
        entry = _PartRow(row.number, (number, revision), values, parent, quantity, designators)
        if entry.parent is None:
            # A part on several rows is a part going into several assemblies: only one row
            # may name it without a parent.
            if entry.key in plain:
                problems.add(f"duplicate of row {plain[entry.key]}", row=row.number, column="part_number")
                continue
            plain[entry.key] = row.number
        earlier = first.get(entry.key)
        if earlier is None:
            first[entry.key] = entry
        else:
            for key, value in entry.values.items():
                if key in earlier.values and earlier.values[key] != value:
                    column = "unit_of_measure" if key == "uom" else key
                    problems.add(f"differs from row {earlier.row} for the same part", row=row.number,
                                 column=column)
                earlier.values.setdefault(key, value)
        parsed.append(entry)
    units: dict[str, int] = {}
    for batch in chunks(sorted({e.values["uom"] for e in first.values() if e.values.get("uom")})):
        units.update(_rows(session.execute(
            select(UnitOfMeasure.name, UnitOfMeasure.id).where(UnitOfMeasure.name.in_(batch)))))
    # Existing parts: the rows' own, and every revision of each parent part number named.
    by_number: dict[str, list[Part]] = defaultdict(list)
    existing: dict[tuple[str, str], Part] = {}
    for batch in chunks(sorted(first)):
        for part in session.scalars(select(Part).where(tuple_(Part.part_number, Part.revision).in_(batch))
                                    .order_by(Part.id).with_for_update()):
            existing[(part.part_number, part.revision)] = part
    parent_numbers = sorted({e.parent[0] for e in parsed if e.parent})
    for batch in chunks(parent_numbers):
        for part in session.scalars(select(Part).where(Part.part_number.in_(batch)).order_by(Part.id)):
            by_number[part.part_number].append(part)
    with_inventory: set[int] = set()
    changing = sorted(p.id for k, p in existing.items()
                      if first[k].values.get("tracking_type", p.tracking_type) != p.tracking_type)
    for batch in chunks(changing):
        with_inventory.update(session.scalars(
            select(PartInventory.part_id).where(PartInventory.part_id.in_(batch)).distinct()))
    creates: list[tuple[_PartRow, Part]] = []
    updates: list[tuple[_PartRow, Part, dict[str, Any]]] = []
    for part_key, entry in first.items():
        uom = entry.values.get("uom")
        if uom and uom not in units:
            problems.add(f"no unit of measure named {uom!r}", row=entry.row, column="unit_of_measure")
            continue
        fields = {k: v for k, v in entry.values.items() if k != "uom"}
        if uom:
            fields["unit_of_measure_id"] = units[uom]
        stored = existing.get(part_key)
        if stored is None:
            fields.setdefault("tracking_type", TrackingType.UNTRACKED.value)
            new_part = Part(part_number=part_key[0], revision=part_key[1], is_digital=False, **fields)
            creates.append((entry, new_part))
            by_number[part_key[0]].append(new_part)  # created last: the latest revision
            continue
        part = stored
        if fields.get("tracking_type", part.tracking_type) != part.tracking_type and part.id in with_inventory:
            problems.add("tracking_type cannot change while the part has inventory records", row=entry.row,
                         column="tracking_type")
            continue
        updates.append((entry, part, {k: v for k, v in fields.items() if getattr(part, k) != v}))
    new_parts = {id(p): p for _, p in creates}
    everything = {**existing, **{(p.part_number, p.revision): p for _, p in creates}}
    lines: list[_Line] = []
    seen_lines: dict[tuple[int, int], int] = {}
    for entry in parsed:
        if entry.parent is None or entry.key not in everything:
            continue
        number, revision = entry.parent
        candidates = by_number.get(number, [])
        parent_part = candidates[-1] if candidates and revision is None else next(
            (p for p in candidates if p.revision == revision), None)
        if parent_part is None:
            rev = "" if revision is None else f" rev {revision!r}"
            problems.add(f"no part {number}{rev} (it must exist or be on a row of this file)", row=entry.row,
                         column="parent_part_number" if not candidates else "parent_revision")
            continue
        part = everything[entry.key]
        if parent_part is part:
            problems.add("a part cannot be a component of itself", row=entry.row, column="parent_part_number")
            continue
        pair = (id(parent_part), id(part))
        if pair in seen_lines:
            problems.add(f"the same mBOM line as row {seen_lines[pair]}", row=entry.row,
                         column="parent_part_number")
            continue
        seen_lines[pair] = entry.row
        assert entry.quantity is not None
        lines.append(_Line(entry.row, part, parent_part, entry.quantity, entry.designators))
    # Cycles: parts this file creates get stand-in ids (negative: they have no lines yet).
    stand_in = {id(p): -(n + 1) for n, p in enumerate(new_parts.values())}

    def key_of(part: Part) -> int:
        return stand_in.get(id(part), part.id)

    edges = [(key_of(line.parent), key_of(line.part)) for line in lines]
    if edges:
        uow.lock_many(Part, sorted({p for p, _ in edges if p > 0}))
        below = reachable_edges(session, [c for _, c in edges if c > 0])
        cycle = find_cycle(below, edges)
        if cycle is not None:
            names = {key_of(p): p.part_number for p in [*everything.values(), *(line.parent for line in lines)]}
            missing = sorted({p for p in cycle if p not in names})
            for batch in chunks(missing):
                names.update(_rows(session.execute(select(Part.id, Part.part_number).where(Part.id.in_(batch)))))
            on_cycle = set(itertools.pairwise(cycle))
            for line, edge in zip(lines, edges, strict=True):
                if edge in on_cycle:
                    problems.add(cycle_message(cycle, names), row=line.row, column="parent_part_number")
    known = [(key_of(line.parent), key_of(line.part)) for line in lines if line.part.id and line.parent.id]
    stored_lines: dict[tuple[int, int], MbomItem] = {}
    for batch in chunks(sorted(known)):
        for item in session.scalars(select(MbomItem).where(tuple_(MbomItem.parent_id, MbomItem.part_id).in_(batch))
                                    .order_by(MbomItem.id).with_for_update()):
            stored_lines[(item.parent_id, item.part_id)] = item
    for line in lines:
        line.item = stored_lines.get((key_of(line.parent), key_of(line.part)))

    def part_view(part: Part, fields: dict[str, Any] | None = None) -> dict[str, Any]:
        values = {"id": part.id, "partNumber": part.part_number, "revision": part.revision,
                  "description": part.description, "trackingType": part.tracking_type, "cost": part.cost,
                  "unitOfMeasureId": part.unit_of_measure_id}
        for k, v in (fields or {}).items():
            values[camel(k)] = v
        return values

    actions.check_rows(session, "PART", [
        *(("CREATE", e.row, None, {**part_view(p), "id": None}) for e, p in creates),
        *(("UPDATE", e.row, actions.values_of(p), {**actions.values_of(p), **part_view(p, f)})
          for e, p, f in updates),
    ], problems)

    def line_view(line: _Line) -> dict[str, Any]:
        return {"id": line.item.id if line.item else None, "partId": line.part.id, "parentId": line.parent.id,
                "quantity": line.quantity, "madeOnAssembly": line.item.made_on_assembly if line.item else False,
                "part": part_view(line.part), "parent": part_view(line.parent)}

    actions.check_rows(session, "MBOMITEM", [
        ("UPDATE", line.row, actions.values_of(line.item), line_view(line)) if line.item is not None
        else ("CREATE", line.row, None, line_view(line)) for line in lines], problems)
    raise_problems(problems)
    created_lines = sum(1 for line in lines if line.item is None)
    result_count = len(creates) + len(updates)
    if dry_run:
        return PlantImport("parts", result_count, len(creates), True, [], len(updates),
                           len(lines), created_lines)
    session.add_all([p for _, p in creates])
    for _, part, fields in updates:
        for k, v in fields.items():
            setattr(part, k, v)
    _write_checked(uow)
    for line in lines:
        if line.item is None:
            line.item = MbomItem(parent_id=line.parent.id, part_id=line.part.id, quantity=line.quantity,
                                 made_on_assembly=False)
            session.add(line.item)
        else:
            line.item.quantity = line.quantity
    _write_checked(uow)
    replaced = sorted(line.item.id for line in lines if line.designators is not None and line.item is not None)
    for batch in chunks(replaced):
        session.execute(delete(MbomItemReferenceDesignator)
                        .where(MbomItemReferenceDesignator.mbom_item_id.in_(batch))
                        .execution_options(synchronize_session=False))
    session.add_all([MbomItemReferenceDesignator(mbom_item_id=line.item.id, value=value)
                     for line in lines if line.designators and line.item is not None
                     for value in line.designators])
    _write_checked(uow)
    uow.commit()
    return PlantImport("parts", result_count, len(creates), False,
                       [p.id for _, p in creates] + [p.id for _, p, _ in updates], len(updates),
                       len(lines), created_lines)


# --------------------------------------------------------------------------- locations

LOCATION_COLUMNS = [
    Column("id", required=False, aliases=("location_id",)),
    Column("name", aliases=("location", "location_name")),
    Column("parent", required=False, aliases=("parent_location", "parent_path", "parent_name")),
    Column("type", required=False, aliases=("location_type",)),
    Column("description", required=False),
    Column("inventory_available", required=False, aliases=("available",)),
]


@dataclass
class _Node:
    name: str
    parent: _Node | None
    id: int | None = None  # None until written
    row: int | None = None  # the row creating it
    location: Location | None = None


class _Tree:
    """Existing locations named in the file plus the new ones, by (parent, name)."""

    def __init__(self, session: Session, names: set[str]) -> None:
        self.nodes: dict[int, _Node] = {}
        self.children: dict[tuple[Any, str], list[_Node]] = defaultdict(list)
        self.by_name: dict[str, list[_Node]] = defaultdict(list)
        rows: list[tuple[int, str, int | None]] = []
        for batch in chunks(sorted(names)):
            rows.extend(_rows(session.execute(select(Location.id, Location.name, Location.parent_id)
                                        .where(Location.name.in_(batch), Location.archived == False)  # noqa: E712
                                        )))
        for id, name, _parent in rows:
            self.nodes[id] = _Node(name, None, id)
        for id, name, parent_id in rows:
            node = self.nodes[id]
            node.parent = self.nodes.get(parent_id) if parent_id is not None else None
            # A parent not named in the file is known by id only.
            key = (parent_id if parent_id is not None else None, name)
            self.children[key].append(node)
            self.by_name[name].append(node)
        self.parent_ids = {id: parent_id for id, _name, parent_id in rows}

    def key_of(self, node: _Node | None) -> Any:
        return None if node is None else (node.id if node.id is not None else ("new", id(node)))

    def add(self, node: _Node) -> None:
        self.children[(self.key_of(node.parent), node.name)].append(node)
        self.by_name[node.name].append(node)

    def resolve(self, text: str) -> tuple[_Node | None, str | None]:
        """A parent by path ("Plant/Room 1/Rack 2", from a root) or by unique name."""
        if "/" in text:
            node: _Node | None = None
            for part in [p.strip() for p in text.strip("/").split("/")]:
                found = self.children.get((self.key_of(node), part), [])
                if len(found) != 1:
                    where = "at the top" if node is None else f"under {node.name!r}"
                    return None, f"no location {part!r} {where}" if not found else f"{len(found)} locations {part!r} {where}"
                node = found[0]
            return node, None
        found = self.by_name.get(text.strip(), [])
        if len(found) == 1:
            return found[0], None
        if not found:
            return None, f"no location named {text.strip()!r}"
        return None, f"{len(found)} locations are named {text.strip()!r}; give the path (Site/Room/…)"


def import_locations(uow: UnitOfWork, source: IO[bytes], *, filename: str | None = None,
                     dry_run: bool = False, progress: Progress | None = None) -> PlantImport:
    """Create locations, or update one: a row with `id`, or whose name exists under the same
    parent (the cells given change: type, description, inventory_available; with `id`, the
    name too). Moving a location to another parent is not done by import."""
    problems = Problems()
    rows = _read(source, LOCATION_COLUMNS, problems, filename, progress)
    names: set[str] = set()
    for row in rows:
        for column in ("name", "parent"):
            text = _text(row.values.get(column))
            if text:
                names.update(p.strip() for p in text.strip("/").split("/") if p.strip())
    tree = _Tree(uow.session, names)
    by_id: dict[int, Location] = {}
    for batch in chunks(sorted({int(v) for r in rows if (v := (_text(r.values.get("id")) or "").strip()).isdigit()
                                and int(v) <= MAX_ID})):
        by_id.update({loc.id: loc for loc in uow.session.scalars(
            select(Location).where(Location.id.in_(batch)).order_by(Location.id).with_for_update())})
    created: list[_Node] = []
    updates: list[tuple[int, int, dict[str, Any]]] = []  # (row, location id, changes)
    updated_rows: dict[int, int] = {}
    for row in rows:
        before = len(problems.items)
        name = _cell(row, "name", problems, lambda v: clean_text(_text(v), field="name", required=True))
        kind = _cell(row, "type", problems, lambda v: clean_text(_text(v), field="type", max_length=50))
        description = _cell(row, "description", problems,
                            lambda v: clean_text(_text(v), field="description", max_length=LONG, multiline=True))
        available = _cell(row, "inventory_available", problems, _flag(True))
        target: Location | None = None
        raw_id = (_text(row.values.get("id")) or "").strip()
        if raw_id:
            target = by_id.get(int(raw_id)) if raw_id.isdigit() else None
            if target is None:
                problems.add(f"no location {raw_id[:20]!r}", row=row.number, column="id")
                continue
        parent: _Node | None = None
        parent_text = _text(row.values.get("parent"))
        if parent_text and parent_text.strip():
            parent, error = tree.resolve(parent_text)
            if error:
                problems.add(error + " (a parent must exist or come on an earlier row)", row=row.number,
                             column="parent")
                continue
        if len(problems.items) > before or name is None:
            continue
        same = tree.children.get((tree.key_of(parent), name), [])
        if target is None and len(same) == 1 and same[0].row is None and same[0].id is not None:
            target_id: int | None = same[0].id  # the natural key: this name under this parent
        elif target is not None:
            target_id = target.id
            if parent_text and parent_text.strip() and (parent.id if parent else None) != target.parent_id:
                problems.add("moving a location to another parent is not done by import (updateLocation "
                             "does it)", row=row.number, column="parent")
                continue
            clash = [n for n in tree.children.get((target.parent_id, name), []) if n.id != target.id]
            if clash:
                problems.add(f"another location is named {name!r} there", row=row.number, column="name")
                continue
        else:
            target_id = None
        if target_id is not None:
            if target_id in updated_rows:
                problems.add(f"location {target_id} is also on row {updated_rows[target_id]}", row=row.number,
                             column="id" if target is not None else "name")
                continue
            updated_rows[target_id] = row.number
            changes: dict[str, Any] = {"name": name} if target is not None else {}
            for column, value in (("type", kind), ("description", description),
                                  ("inventory_available", available)):
                if row.values.get(column) is not None:
                    changes[column] = value
            updates.append((row.number, target_id, changes))
            continue
        if same:
            where = f"under {parent.name!r}" if parent else "at the top"
            problems.add(f"a location {name!r} is also on row {same[0].row} {where}" if same[0].row is not None
                         else f"{len(same)} locations named {name!r} exist {where}; give the id", row=row.number,
                         column="name")
            continue
        node = _Node(name, parent, row=row.number)
        node.location = Location(name=name, type=kind, description=description,
                                 inventory_available=bool(available), available_soon=False)
        tree.add(node)
        created.append(node)
    missing = sorted({id for _, id, _ in updates} - set(by_id))
    for batch in chunks(missing):
        by_id.update({loc.id: loc for loc in uow.session.scalars(
            select(Location).where(Location.id.in_(batch)).order_by(Location.id).with_for_update())})
    actions.check_rows(uow.session, "LOCATION", [
        *(("CREATE", n.row, None, {"name": n.name, "parentId": n.parent.id if n.parent else None})
          for n in created),
        *(("UPDATE", number, actions.values_of(by_id[id]),
           {**actions.values_of(by_id[id]), **{camel(k): v for k, v in changes.items()}})
          for number, id, changes in updates),
    ], problems)
    count = len(created) + len(updates)
    if not _finish(uow, problems, dry_run):
        return PlantImport("locations", count, len(created), dry_run, [], len(updates))
    for _number, id, changes in updates:
        for column, value in changes.items():
            setattr(by_id[id], column, value)
    # Write level by level: a child needs its parent's id (and path).
    paths: dict[int, tuple[str, int | None]] = {}
    for batch in chunks(sorted(i for i in tree.nodes)):
        paths.update({id: (path, site) for id, path, site in uow.session.execute(
            select(Location.id, Location.path, Location.site_id).where(Location.id.in_(batch)))})
    pending = list(created)
    while pending:
        ready = [n for n in pending if n.parent is None or n.parent.id is not None]
        for node in ready:
            assert node.location is not None
            node.location.parent_id = node.parent.id if node.parent else None
            uow.session.add(node.location)
        _write_checked(uow)
        for node in ready:
            assert node.location is not None
            node.id = node.location.id
            parent_path, parent_site = paths[node.parent.id] if node.parent and node.parent.id else ("/", None)
            node.location.path = f"{parent_path}{node.id}/"
            node.location.site_id = parent_site if node.parent else node.id
            paths[node.id] = (node.location.path, node.location.site_id)
        pending = [n for n in pending if n.id is None]
    _write_checked(uow)
    uow.commit()
    return PlantImport("locations", count, len(created), False,
                       [n.id for n in created if n.id] + [id for _, id, _ in updates], len(updates))


# --------------------------------------------------------------------------- part inventory

INVENTORY_COLUMNS = [
    Column("id", required=False, aliases=("part_inventory_id", "inventory_id")),
    Column("part_number", required=False, aliases=("part", "partnumber")),
    Column("revision", required=False, aliases=("rev",)),
    Column("location", required=False, aliases=("location_name", "location_path")),
    Column("serial_number", required=False, aliases=("serial", "sn")),
    Column("lot_number", required=False, aliases=("lot",)),
    Column("quantity", required=False, aliases=("qty",)),
    Column("supplier", required=False, aliases=("supplier_name", "vendor")),
    Column("cost", required=False, aliases=("unit_cost",)),
    Column("autogenerate_serial_number", required=False, aliases=("autogenerate_serial",)),
    Column("autogenerate_lot_number", required=False, aliases=("autogenerate_lot",)),
]


@dataclass
class _InventoryRow:
    row: int
    part: Part
    location_id: int | None
    supplier_id: int | None
    serial: str | None
    lot: str | None
    quantity: Decimal
    cost: Decimal | None
    auto_serial: bool
    auto_lot: bool


def _reserve_numbers(session: Session, kind: str, wanted: Sequence[str]) -> list[str]:
    """One free number per entry of `wanted` (part numbers), skipping numbers in use, with one
    lookup per round instead of one per row."""
    if not wanted:
        return []
    pattern = settings().serial_pattern if kind == "serial" else settings().lot_pattern
    column = PartInventory.serial_number if kind == "serial" else PartInventory.lot_number
    sequence = session.scalars(select(NumberSequence).where(NumberSequence.name == kind).with_for_update()).one()
    today = datetime.now(UTC).date()
    result: list[str | None] = [None] * len(wanted)
    todo = list(range(len(wanted)))
    for _ in range(NUMBER_ROUNDS):
        candidates = {}
        for index in todo:
            candidates[index] = render_number(pattern, seq=sequence.next_value, today=today,
                                              part_number=wanted[index])
            sequence.next_value += 1
        pairs = sorted({(wanted[i], c) for i, c in candidates.items()})
        taken: set[tuple[str, str]] = set()
        for batch in chunks(pairs):
            taken.update(_rows(session.execute(select(PartInventory.part_number, column).where(
                tuple_(PartInventory.part_number, column).in_(batch)))))
        todo = [i for i, c in candidates.items() if (wanted[i], c) in taken]
        for i, c in candidates.items():
            if (wanted[i], c) not in taken:
                result[i] = c
        if not todo:
            return [r for r in result if r is not None]
    raise BadInput(f"could not find free {kind} numbers with pattern {pattern!r}")


def import_part_inventory(uow: UnitOfWork, source: IO[bytes], *, filename: str | None = None,
                          dry_run: bool = False, progress: Progress | None = None) -> PlantImport:
    """Create records (rows without `id`) and update records (rows with `id`: the cells given
    are changed: location, quantity, lot, serial, supplier, cost)."""
    problems = Problems()
    rows = _read(source, INVENTORY_COLUMNS, problems, filename, progress)
    session = uow.session
    numbers = {_text(r.values.get("part_number")).strip() for r in rows if _text(r.values.get("part_number"))}  # type: ignore[union-attr]
    parts: dict[str, list[Part]] = defaultdict(list)
    for batch in chunks(sorted(numbers)):
        for found in session.scalars(select(Part).where(Part.part_number.in_(batch)).order_by(Part.id)):
            parts[found.part_number].append(found)
    location_names: set[str] = set()
    for r in rows:
        text = _text(r.values.get("location"))
        if text:
            location_names.update(p.strip() for p in text.strip("/").split("/") if p.strip())
    # Before the records below: a part is locked before its records, as everywhere else.
    kit_ids = lock_parts_for_stock(uow, [p.id for found in parts.values() for p in found])
    tree = _Tree(session, location_names)
    suppliers: dict[str, int] = {}
    supplier_names = sorted({_text(r.values.get("supplier")).strip() for r in rows if _text(r.values.get("supplier"))})  # type: ignore[union-attr]
    for batch in chunks(supplier_names):
        suppliers.update(_rows(session.execute(select(Supplier.name, Supplier.id).where(Supplier.name.in_(batch)))))
    update_ids = sorted({int(v) for r in rows if (v := _text(r.values.get("id"))) and v.strip().isdigit()})
    records: dict[int, PartInventory] = {}
    for batch in chunks(update_ids):
        records.update({r.id: r for r in session.scalars(
            select(PartInventory).where(PartInventory.id.in_(batch)).order_by(PartInventory.id).with_for_update())})
    update_parts = {r.part_id for r in records.values()}
    for batch in chunks(sorted(update_parts)):
        for found in session.scalars(select(Part).where(Part.id.in_(batch))):
            if found not in parts[found.part_number]:
                parts[found.part_number].append(found)
    part_by_id = {p.id: p for ps in parts.values() for p in ps}

    creates: list[_InventoryRow] = []
    updates: list[tuple[int, PartInventory, dict[str, Any]]] = []
    serials_seen: dict[tuple[str, str], int] = {}
    for row in rows:
        before = len(problems.items)
        location_id: int | None = None
        location_text = _text(row.values.get("location"))
        if location_text and location_text.strip():
            node, error = tree.resolve(location_text)
            if error or node is None or node.id is None:
                problems.add(error or "unknown location", row=row.number, column="location")
            else:
                location_id = node.id
        supplier_id: int | None = None
        supplier_text = _text(row.values.get("supplier"))
        if supplier_text and supplier_text.strip():
            supplier_id = suppliers.get(supplier_text.strip())
            if supplier_id is None:
                problems.add(f"no supplier named {supplier_text.strip()!r}", row=row.number, column="supplier")
        quantity = _cell(row, "quantity", problems,
                         lambda v: None if v is None else parse_quantity(v, field="quantity"))
        cost = _cell(row, "cost", problems, lambda v: None if v is None else parse_quantity(v, field="cost"))
        serial = clean_number(_text(row.values.get("serial_number")))
        lot = clean_number(_text(row.values.get("lot_number")))
        auto_serial = _cell(row, "autogenerate_serial_number", problems, _flag(False))
        auto_lot = _cell(row, "autogenerate_lot_number", problems, _flag(False))
        raw_id = _text(row.values.get("id"))
        if raw_id and raw_id.strip():
            if not raw_id.strip().isdigit() or int(raw_id) not in records:
                problems.add(f"no inventory record {raw_id.strip()[:20]!r}", row=row.number, column="id")
                continue
            record = records[int(raw_id)]
            changes: dict[str, Any] = {}
            for column, value in (("location_id", location_id), ("supplier_id", supplier_id),
                                  ("quantity", quantity), ("cost", cost), ("serial_number", serial),
                                  ("lot_number", lot)):
                if value is not None:
                    changes[column] = value
            if len(problems.items) == before:
                updates.append((row.number, record, changes))
            continue
        candidates = parts.get((_text(row.values.get("part_number")) or "").strip(), [])
        revision = clean_number(_text(row.values.get("revision")))
        part: Part | None = None
        if not candidates:
            problems.add("part_number is required and must name a part", row=row.number, column="part_number")
        elif revision is None:
            part = candidates[-1]
        else:
            part = next((p for p in candidates if p.revision == revision), None)
            if part is None:
                problems.add(f"no revision {revision!r} of this part", row=row.number, column="revision")
        if part is None or len(problems.items) > before:
            continue
        try:
            check_holds_stock(part.part_number, part.id in kit_ids, field="part_number")
        except BadInput as error:
            problems.add(error.message, row=row.number, column="part_number")
            continue
        tracking = TrackingType(part.tracking_type)
        if quantity is None:
            quantity = ONE if tracking is TrackingType.SERIAL else ZERO
        if auto_serial and tracking is not TrackingType.SERIAL:
            problems.add("autogenerate_serial_number applies to serial-tracked parts only", row=row.number,
                         column="autogenerate_serial_number")
        if auto_lot and tracking is TrackingType.UNTRACKED:
            problems.add("autogenerate_lot_number does not apply to untracked parts", row=row.number,
                         column="autogenerate_lot_number")
        identity_problems = Problems()
        check_identity(tracking, Identity(serial or ("(auto)" if auto_serial else None),
                                          lot or ("(auto)" if auto_lot else None), quantity), identity_problems)
        for p in identity_problems.items:
            problems.add(p.message, row=row.number, column=_column(p.field))
        if serial is not None:
            key = (part.part_number, serial)
            if key in serials_seen:
                problems.add(f"serial number {serial!r} is also on row {serials_seen[key]}", row=row.number,
                             column="serial_number")
            serials_seen[key] = row.number
        creates.append(_InventoryRow(row.number, part, location_id, supplier_id, serial, lot, quantity, cost,
                                     bool(auto_serial) and serial is None, bool(auto_lot) and lot is None))
    for row_number, record, changes in updates:
        part = part_by_id[record.part_id]
        new_serial = changes.get("serial_number", record.serial_number)
        identity_problems = Problems()
        check_identity(TrackingType(part.tracking_type), Identity(
            new_serial, changes.get("lot_number", record.lot_number),
            changes.get("quantity", record.quantity)), identity_problems)
        for p in identity_problems.items:
            problems.add(p.message, row=row_number, column=_column(p.field))
        if "serial_number" in changes and new_serial is not None and new_serial != record.serial_number:
            serial_key = (part.part_number, str(new_serial))
            if serial_key in serials_seen:
                problems.add(f"serial number {new_serial!r} is also on row {serials_seen[serial_key]}",
                             row=row_number, column="serial_number")
            serials_seen[serial_key] = row_number
    if updates:
        # The freezes updatePartInventory applies: a record held by an open kit, or installed
        # in a unit, keeps its quantity and place (domain.holds); read after the records' locks.
        from kitwright.services.kits import fresh_statuses

        update_ids = [record.id for _, record, _ in updates]
        statuses, holds = fresh_statuses(session, update_ids), holds_of(session, update_ids)
        for row_number, record, changes in updates:
            changed = [change for column, change in _RECORD_CHANGES.items()
                       if column in changes and changes[column] != getattr(record, column)]
            try:
                check_installed_change(record.id, statuses.get(record.id) is PartInventoryStatus.INSTALLED, changed)
                check_held_change(record.id, holds.get(record.id), changed)
            except (BadInput, Conflict) as refused:
                for detail in refused.details or [Problem(refused.message, field=refused.field)]:
                    problems.add(detail.message, row=row_number, column=_column(detail.field))
    taken: set[tuple[str, str]] = set()
    for batch in chunks(sorted(serials_seen)):
        taken.update(_rows(session.execute(select(PartInventory.part_number, PartInventory.serial_number).where(
            tuple_(PartInventory.part_number, PartInventory.serial_number).in_(batch)))))
    for key, row_number in serials_seen.items():
        if key in taken:
            problems.add(f"serial number {key[1]!r} already exists for part number {key[0]!r}", row=row_number,
                         column="serial_number")
    actions.check_rows(session, "PARTINVENTORY", [
        ("CREATE", c.row, None, {"partId": c.part.id, "locationId": c.location_id, "supplierId": c.supplier_id,
                                 "serialNumber": c.serial, "lotNumber": c.lot, "quantity": c.quantity})
        for c in creates], problems)
    raise_problems(problems)
    if dry_run:
        return PlantImport("part inventory", len(creates) + len(updates), len(creates), True, [],
                           updated_count=len(updates))
    serial_numbers = iter(_reserve_numbers(session, "serial", [c.part.part_number for c in creates if c.auto_serial]))
    lot_numbers = iter(_reserve_numbers(session, "lot", [c.part.part_number for c in creates if c.auto_lot]))
    new_records = []
    for c in creates:
        new_records.append(PartInventory(
            part_id=c.part.id, part_number=c.part.part_number, unit_of_measure_id=c.part.unit_of_measure_id,
            location_id=c.location_id, supplier_id=c.supplier_id, quantity=c.quantity, cost=c.cost,
            serial_number=next(serial_numbers) if c.auto_serial else c.serial,
            lot_number=next(lot_numbers) if c.auto_lot else c.lot,
            created_by_id=uow.actor.id, how_created="CREATED", attributes={},
        ))
    befores = []
    for _row, record, changes in updates:
        befores.append(snapshot(record))
        for column, value in changes.items():
            setattr(record, column, value)
    if updates:
        # Update rows run their actions through the flush (old values read from the database).
        uow.flush()
    session.add_all(new_records)
    _write_checked(uow)
    for record in new_records:
        record_change(uow, LedgerOperation.CREATE, record, None, snapshot(record))
    for (_row, record, _changes), old in zip(updates, befores, strict=True):
        new = snapshot(record)
        if new != old:
            record_change(uow, LedgerOperation.UPDATE, record, old, new)
    uow.commit()
    return PlantImport("part inventory", len(creates) + len(updates), len(creates), False,
                       [r.id for r in new_records] + [r.id for _, r, _ in updates], updated_count=len(updates))


def _column(field: str | None) -> str | None:
    return {"serialNumber": "serial_number", "lotNumber": "lot_number", "quantity": "quantity",
            "locationId": "location", "supplierId": "supplier"}.get(field or "", field)


# An update row's columns, as the changes the hold and install rules judge.
_RECORD_CHANGES = {
    "location_id": RecordChange.LOCATION, "quantity": RecordChange.QUANTITY, "supplier_id": RecordChange.SUPPLIER,
    "cost": RecordChange.COST, "serial_number": RecordChange.SERIAL_NUMBER, "lot_number": RecordChange.LOT_NUMBER,
}


LOADERS: dict[str, Callable[..., PlantImport]] = {
    "suppliers": import_suppliers,
    "parts": import_parts,
    "locations": import_locations,
    "part-inventory": import_part_inventory,
}
TEMPLATES: dict[str, list[str]] = {
    "suppliers": [c.name for c in SUPPLIER_COLUMNS],
    "parts": [c.name for c in PART_COLUMNS],
    "locations": [c.name for c in LOCATION_COLUMNS],
    "part-inventory": [c.name for c in INVENTORY_COLUMNS],
}
__all__ = ["CHUNK", "LOADERS", "TEMPLATES", "PlantImport"]
