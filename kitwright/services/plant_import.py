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

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from kitwright.config import settings
from kitwright.domain.errors import BadInput, Problems
from kitwright.domain.numbering import render_number
from kitwright.domain.quantities import ONE, ZERO, parse_quantity
from kitwright.domain.text import LONG, clean_text
from kitwright.domain.tracking import Identity, TrackingType, check_identity, clean_number
from kitwright.importers.tabular import MAX_ROWS, Column, Row, Table
from kitwright.services import actions
from kitwright.services.import_kit_items import CHUNK, Progress, chunks, raise_problems
from kitwright.services.ledger import record_change, snapshot
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import Location, NumberSequence, Part, PartInventory, Supplier, UnitOfMeasure


@dataclass(frozen=True)
class PlantImport:
    kind: str
    count: int
    created_count: int
    dry_run: bool
    ids: list[int]


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

SUPPLIER_COLUMNS = [Column("name", aliases=("supplier", "supplier_name", "vendor", "vendor_name"))]


def import_suppliers(uow: UnitOfWork, source: IO[bytes], *, filename: str | None = None,
                     dry_run: bool = False, progress: Progress | None = None) -> PlantImport:
    problems = Problems()
    rows = _read(source, SUPPLIER_COLUMNS, problems, filename, progress)
    names: dict[str, int] = {}
    found: list[tuple[int, str]] = []
    for row in rows:
        name = _cell(row, "name", problems, lambda v: clean_text(_text(v), field="name", required=True))
        if name is None:
            continue
        if name.lower() in names:
            problems.add(f"duplicate of row {names[name.lower()]}", row=row.number, column="name")
            continue
        names[name.lower()] = row.number
        found.append((row.number, name))
    existing: set[str] = set()
    for batch in chunks(sorted({n for _, n in found})):
        existing.update(uow.session.scalars(select(Supplier.name).where(Supplier.name.in_(batch))))
    for number, name in found:
        if name in existing:
            problems.add(f"supplier {name!r} exists", row=number, column="name")
    if not _finish(uow, problems, dry_run):
        return PlantImport("suppliers", len(found), len(found), dry_run, [])
    objects = [Supplier(name=name) for _, name in found]
    uow.session.add_all(objects)
    uow.commit()
    return PlantImport("suppliers", len(objects), len(objects), False, [o.id for o in objects])


# --------------------------------------------------------------------------- parts

PART_COLUMNS = [
    Column("part_number", aliases=("part", "partnumber", "part_no")),
    Column("revision", required=False, aliases=("rev",)),
    Column("description", required=False, aliases=("part_description", "desc")),
    Column("tracking_type", required=False, aliases=("tracking", "trackingtype")),
    Column("unit_of_measure", required=False, aliases=("uom", "unit_of_measurement", "unit")),
    Column("cost", required=False, aliases=("unit_cost",)),
]


def _tracking(value: Any) -> TrackingType:
    text = (_text(value) or "UNTRACKED").strip().upper()
    if text in ("", "NONE", "UNTRACKED", "NOT TRACKED"):
        return TrackingType.UNTRACKED
    try:
        return TrackingType(text)
    except ValueError:
        raise BadInput("must be SERIAL, LOT or UNTRACKED (blank: UNTRACKED)") from None


def import_parts(uow: UnitOfWork, source: IO[bytes], *, filename: str | None = None,
                 dry_run: bool = False, progress: Progress | None = None) -> PlantImport:
    problems = Problems()
    rows = _read(source, PART_COLUMNS, problems, filename, progress)
    parsed: list[tuple[Row, dict[str, Any]]] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        before = len(problems.items)
        values = {
            "part_number": _cell(row, "part_number", problems,
                                 lambda v: clean_text(_text(v), field="part_number", required=True)),
            "revision": _cell(row, "revision", problems,
                              lambda v: clean_text(_text(v), field="revision", max_length=50) or ""),
            "description": _cell(row, "description", problems,
                                 lambda v: clean_text(_text(v), field="description", max_length=LONG, multiline=True)),
            "tracking_type": _cell(row, "tracking_type", problems, lambda v: _tracking(v).value),
            "cost": _cell(row, "cost", problems,
                          lambda v: None if v is None else parse_quantity(v, field="cost")),
            "uom": _cell(row, "unit_of_measure", problems, lambda v: clean_text(_text(v), field="uom")),
        }
        if len(problems.items) > before:
            continue
        key = (values["part_number"], values["revision"])
        if key in seen:
            problems.add(f"duplicate of row {seen[key]}", row=row.number, column="part_number")
            continue
        seen[key] = row.number
        parsed.append((row, values))
    units: dict[str, int] = {}
    for batch in chunks(sorted({v["uom"] for _, v in parsed if v["uom"]})):
        units.update(_rows(uow.session.execute(
            select(UnitOfMeasure.name, UnitOfMeasure.id).where(UnitOfMeasure.name.in_(batch)))))
    existing: set[tuple[str, str]] = set()
    for batch in chunks(sorted(seen)):
        existing.update(_rows(uow.session.execute(select(Part.part_number, Part.revision).where(
            tuple_(Part.part_number, Part.revision).in_(batch)))))
    for row, values in parsed:
        if (values["part_number"], values["revision"]) in existing:
            problems.add(f"part {values['part_number']} rev {values['revision']!r} exists", row=row.number,
                         column="part_number")
        if values["uom"] and values["uom"] not in units:
            problems.add(f"no unit of measure named {values['uom']!r}", row=row.number, column="unit_of_measure")
    objects = [Part(part_number=v["part_number"], revision=v["revision"], description=v["description"],
                    tracking_type=v["tracking_type"], cost=v["cost"], is_digital=False,
                    unit_of_measure_id=units.get(v["uom"] or "")) for _, v in parsed]
    actions.check_rows(uow.session, "PART", [
        ("CREATE", row.number, None, {"partNumber": v["part_number"], "revision": v["revision"],
                                      "description": v["description"], "trackingType": v["tracking_type"],
                                      "cost": v["cost"]}) for row, v in parsed], problems)
    if not _finish(uow, problems, dry_run):
        return PlantImport("parts", len(objects), len(objects), dry_run, [])
    uow.session.add_all(objects)
    _write_checked(uow)
    uow.commit()
    return PlantImport("parts", len(objects), len(objects), False, [o.id for o in objects])


# --------------------------------------------------------------------------- locations

LOCATION_COLUMNS = [
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
    problems = Problems()
    rows = _read(source, LOCATION_COLUMNS, problems, filename, progress)
    names: set[str] = set()
    for row in rows:
        for column in ("name", "parent"):
            text = _text(row.values.get(column))
            if text:
                names.update(p.strip() for p in text.strip("/").split("/") if p.strip())
    tree = _Tree(uow.session, names)
    created: list[_Node] = []
    for row in rows:
        before = len(problems.items)
        name = _cell(row, "name", problems, lambda v: clean_text(_text(v), field="name", required=True))
        kind = _cell(row, "type", problems, lambda v: clean_text(_text(v), field="type", max_length=50))
        description = _cell(row, "description", problems,
                            lambda v: clean_text(_text(v), field="description", max_length=LONG, multiline=True))
        available = _cell(row, "inventory_available", problems, _flag(True))
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
        if tree.children.get((tree.key_of(parent), name)):
            where = f"under {parent.name!r}" if parent else "at the top"
            problems.add(f"a location {name!r} exists {where}", row=row.number, column="name")
            continue
        node = _Node(name, parent, row=row.number)
        node.location = Location(name=name, type=kind, description=description,
                                 inventory_available=bool(available), available_soon=False)
        tree.add(node)
        created.append(node)
    actions.check_rows(uow.session, "LOCATION", [
        ("CREATE", n.row, None, {"name": n.name, "parentId": n.parent.id if n.parent else None})
        for n in created], problems)
    if not _finish(uow, problems, dry_run):
        return PlantImport("locations", len(created), len(created), dry_run, [])
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
    return PlantImport("locations", len(created), len(created), False, [n.id for n in created if n.id])


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
    for _ in range(100):
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
    if updates and any("quantity" in c for _, _, c in updates):
        from kitwright.services.kits import fresh_statuses

        statuses = fresh_statuses(session, [r.id for _, r, c in updates if "quantity" in c])
        for row_number, record, changes in updates:
            if "quantity" in changes and statuses.get(record.id) == "KITTED":
                problems.add(f"inventory {record.id} is kitted; move it back to inventory first", row=row_number,
                             column="quantity")
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
        return PlantImport("part inventory", len(creates) + len(updates), len(creates), True, [])
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
        record_change(uow, "CREATE", record, None, snapshot(record))
    for (_row, record, _changes), old in zip(updates, befores, strict=True):
        new = snapshot(record)
        if new != old:
            record_change(uow, "UPDATE", record, old, new)
    uow.commit()
    return PlantImport("part inventory", len(creates) + len(updates), len(creates), False,
                       [r.id for r in new_records] + [r.id for _, r, _ in updates])


def _column(field: str | None) -> str | None:
    return {"serialNumber": "serial_number", "lotNumber": "lot_number", "quantity": "quantity"}.get(field or "", field)


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
