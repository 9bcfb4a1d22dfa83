"""Kanban kits: create and change them, fill, deliver, empty, and line-side replenishment
(docs/kanban.md).

Each cycle's fill is an ordinary PartKit (staging = the kanban kit's home, delivery = its line
location) filled by the kit service's own `fulfill_part_kit`, so oldest first, "never promised
twice" and the kit invariants are one rule for both. Delivery is that kit's DELIVERED; emptying
completes it (releasing what it held), takes the consumed quantity out of inventory
(KANBAN_CONSUME) and moves the rest home (KANBAN_RETURN), one ledger entry per change.

Lock order: line stock levels (ascending id), kanban kits (ascending id), then the kit
service's order (kit, items, inventory records).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, delete, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from kitwright.domain import kanban as rules
from kitwright.domain.errors import BadInput, NotFound, Problem, Problems
from kitwright.domain.kanban import KanbanStatus
from kitwright.domain.kits import PartKitStatus, Shortage
from kitwright.domain.kits import current_location_id as kit_current_location_id
from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.limits import MAX_ID
from kitwright.domain.quantities import ZERO, from_units, normalize, parse_quantity
from kitwright.domain.text import SHORT
from kitwright.domain.tracking import TrackingType
from kitwright.services import kits
from kitwright.services.ledger import record_change, snapshot
from kitwright.services.listing import Listing
from kitwright.services.uow import UnitOfWork, check_etag, check_updatable, lock_conflict, register_constraint
from kitwright.store.models import (
    KanbanCycle,
    KanbanCycleLine,
    KanbanKit,
    KanbanPatternLine,
    LineStockLevel,
    Location,
    Part,
    PartInventory,
    PartKit,
    PartKitInventory,
    PartKitItem,
    utcnow,
)

register_constraint("uq_kanban_cycle_open", "id", "the kanban kit already has an open cycle")
register_constraint("uq_line_stock_level_part", "levels", "a level for this part at this location exists")
register_constraint("uq_kanban_pattern_line_part", "pattern", "a part appears twice in the pattern")

_FRESH = {"populate_existing": True}


class _Within(UnitOfWork):
    """The caller's unit of work as seen by a kit service called inside a kanban use case:
    the kit services commit their own unit of work, here they must only flush, so the kit
    change and the kanban change commit, or roll back, together."""

    # The kit services change a kanban cycle's kit only for such a unit of work.
    changes_kanban_cycles = True

    def __init__(self, outer: UnitOfWork) -> None:
        super().__init__(outer.session, outer.actor)

    def commit(self) -> None:
        self.flush()


@dataclass(frozen=True)
class PatternEntry:
    part_id: int
    quantity: object


@dataclass(frozen=True)
class LevelEntry:
    part_id: int
    min_quantity: object
    max_quantity: object


@dataclass(frozen=True)
class FillOutcome:
    kit: KanbanKit
    cycle: KanbanCycle
    issued: list[PartInventory]
    shortages: list[Shortage]


@dataclass(frozen=True)
class ReplenishOutcome:
    fills: list[FillOutcome]
    created: list[KanbanKit]


# --------------------------------------------------------------------------- helpers


def _location(uow: UnitOfWork, location_id: int | None, field: str) -> Location:
    if location_id is None:
        raise BadInput(f"{field} is required", field=field)
    location = uow.get(Location, location_id, field=field)
    if location.archived:
        raise BadInput(f"location {location.id} is archived", field=field)
    return location


def _quantity(value: object, field: str) -> Decimal:
    return parse_quantity(value, field=field, allow_negative=True)


def _pattern(uow: UnitOfWork, entries: Sequence[PatternEntry], field: str = "pattern") -> tuple[rules.PatternLine, ...]:
    part_ids = sorted({e.part_id for e in entries if 0 < e.part_id <= MAX_ID})
    tracking = {
        pid: TrackingType(t) for pid, t in uow.session.execute(
            select(Part.id, Part.tracking_type).where(Part.id.in_(part_ids))
        )
    } if part_ids else {}
    problems = Problems()
    parsed: list[rules.PatternInput] = []
    for index, entry in enumerate(entries):
        try:
            q = _quantity(entry.quantity, f"{field}[{index}].quantity")
        except BadInput as error:
            problems.add(error.message, field=error.field)
            q = Decimal(1)
        parsed.append(rules.PatternInput(entry.part_id, q, tracking.get(entry.part_id)))
    try:
        lines = rules.check_pattern(parsed, field)
    except BadInput as error:
        problems.items.extend(error.details or [rules_problem(error)])
    problems.raise_if_any()
    return lines


def rules_problem(error: BadInput) -> Problem:
    return Problem(error.message, field=error.field)


def _lock_kanban(uow: UnitOfWork, ids: Iterable[int], *, field: str = "id") -> dict[int, KanbanKit]:
    wanted = sorted({i for i in ids if 0 < i <= MAX_ID})
    if not wanted:
        return {}
    with lock_conflict("a concurrent change locked the same kanban kit; try again", field=field):
        rows = uow.session.scalars(
            select(KanbanKit).where(KanbanKit.id.in_(wanted)).order_by(KanbanKit.id)
            .with_for_update().execution_options(**_FRESH)
        )
        return {row.id: row for row in rows}


def _lock_one(uow: UnitOfWork, id: int, etag: str | None) -> KanbanKit:
    kit = _lock_kanban(uow, [id]).get(id)
    if kit is None:
        raise NotFound(f"KanbanKit {id} does not exist", field="id")
    check_etag(kit, etag, required=False)
    return kit


def _open_cycles(session: Session, kit_ids: Iterable[int]) -> dict[int, KanbanCycle]:
    wanted = sorted(set(kit_ids))
    if not wanted:
        return {}
    rows = session.scalars(
        select(KanbanCycle).where(KanbanCycle.kanban_kit_id.in_(wanted), KanbanCycle.emptied_at.is_(None))
        .execution_options(**_FRESH)
    )
    return {row.kanban_kit_id: row for row in rows}


def held_by_kit(session: Session, kit_ids: Iterable[int]) -> dict[int, dict[int, Decimal]]:
    """What each kanban kit's open cycle holds, per part (one GROUP BY)."""
    wanted = sorted(set(kit_ids))
    result: dict[int, dict[int, Decimal]] = {kid: {} for kid in wanted}
    if not wanted:
        return result
    total = type_coerce(func.sum(type_coerce(PartKitInventory.issued_quantity, BigInteger)), BigInteger)
    stmt = (
        select(KanbanCycle.kanban_kit_id, PartKitItem.part_id, total)
        .join(PartKitInventory, PartKitInventory.part_kit_id == KanbanCycle.part_kit_id)
        .join(PartKitItem, PartKitItem.id == PartKitInventory.part_kit_item_id)
        .where(KanbanCycle.emptied_at.is_(None), PartKitInventory.released == False)  # noqa: E712
        .where(KanbanCycle.kanban_kit_id.in_(wanted))
        .group_by(KanbanCycle.kanban_kit_id, PartKitItem.part_id)
    )
    for kit_id, part_id, units in session.execute(stmt):
        result[kit_id][part_id] = from_units(int(units or 0))
    return result


def line_position(session: Session, line_location_id: int) -> dict[int, Decimal]:
    """Per part, what kanban kits for a line hold: at the line, or filled at home and on
    their way (one GROUP BY)."""
    return line_positions(session, [line_location_id])[line_location_id]


def line_positions(session: Session, line_location_ids: Iterable[int]) -> dict[int, dict[int, Decimal]]:
    """`line_position` of many lines in one GROUP BY."""
    wanted = sorted(set(line_location_ids))
    stmt = (
        select(KanbanKit.line_location_id, PartKitItem.part_id,
               func.sum(type_coerce(PartKitInventory.issued_quantity, BigInteger)))
        .select_from(KanbanKit)
        .join(KanbanCycle, (KanbanCycle.kanban_kit_id == KanbanKit.id) & KanbanCycle.emptied_at.is_(None))
        .join(PartKitInventory, PartKitInventory.part_kit_id == KanbanCycle.part_kit_id)
        .join(PartKitItem, PartKitItem.id == PartKitInventory.part_kit_item_id)
        .where(KanbanKit.line_location_id.in_(wanted), PartKitInventory.released == False)  # noqa: E712
        .group_by(KanbanKit.line_location_id, PartKitItem.part_id)
    )
    found: dict[int, dict[int, Decimal]] = {line: {} for line in wanted}
    for line, part, units in session.execute(stmt):
        found[line][part] = from_units(int(units or 0))
    return found


def patterns(session: Session, kit_ids: Iterable[int]) -> dict[int, list[rules.PatternLine]]:
    wanted = sorted(set(kit_ids))
    result: dict[int, list[rules.PatternLine]] = {kid: [] for kid in wanted}
    if not wanted:
        return result
    for row in session.scalars(
        select(KanbanPatternLine).where(KanbanPatternLine.kanban_kit_id.in_(wanted))
        .order_by(KanbanPatternLine.id)
    ):
        result[row.kanban_kit_id].append(rules.PatternLine(row.part_id, row.quantity))
    return result


def _stamp(uow: UnitOfWork) -> tuple[Any, str]:
    return utcnow(), uow.actor.name


# --------------------------------------------------------------------------- kanban kits


def create_kanban_kit(
    uow: UnitOfWork, *, home_location_id: int | None, line_location_id: int | None,
    pattern: Sequence[PatternEntry], name: str | None = None,
) -> KanbanKit:
    home = _location(uow, home_location_id, "homeLocationId")
    line = _location(uow, line_location_id, "lineLocationId")
    lines = _pattern(uow, pattern)
    kit = _new_kit(uow, home.id, line.id, lines, name=_name(name))
    uow.commit()
    return kit


def _name(name: str | None) -> str | None:
    if name is None:
        return None
    cleaned = name.strip()
    if len(cleaned) > SHORT or "\x00" in cleaned:
        raise BadInput(f"name must be at most {SHORT} characters", field="name")
    return cleaned or None


def _new_kit(uow: UnitOfWork, home_id: int, line_id: int, lines: Iterable[rules.PatternLine],
             name: str | None = None) -> KanbanKit:
    if home_id == line_id:
        raise BadInput("the home and the line location must differ", field="lineLocationId")
    kit = KanbanKit(name=name, home_location_id=home_id, line_location_id=line_id,
                    status=KanbanStatus.EMPTY.value, cycle_count=0, created_by_id=uow.actor.id)
    uow.session.add(kit)
    uow.flush()
    uow.session.add_all(
        KanbanPatternLine(kanban_kit_id=kit.id, part_id=line.part_id, quantity=line.quantity)
        for line in lines
    )
    return kit


KANBAN_UPDATABLE = {"name", "home_location_id", "line_location_id", "pattern"}


def update_kanban_kit(uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]) -> KanbanKit:
    """Change the name, home, line or pattern. The locations and the pattern only change
    between cycles (never while a cycle is open): a cycle is filled to one pattern."""
    check_updatable(changes, KANBAN_UPDATABLE)
    kit = _lock_kanban(uow, [id]).get(id)
    if kit is None:
        raise NotFound(f"KanbanKit {id} does not exist", field="id")
    check_etag(kit, etag)
    structural = {"home_location_id", "line_location_id", "pattern"} & set(changes)
    if structural and _open_cycles(uow.session, [kit.id]):
        field = {"home_location_id": "homeLocationId", "line_location_id": "lineLocationId"}.get(
            sorted(structural)[0], "pattern")
        raise BadInput(f"kanban kit {kit.id} has an open cycle; empty it before changing its {field}",
                       field=field)
    if "name" in changes:
        kit.name = _name(changes["name"])
    if "home_location_id" in changes:
        kit.home_location_id = _location(uow, changes["home_location_id"], "homeLocationId").id
    if "line_location_id" in changes:
        kit.line_location_id = _location(uow, changes["line_location_id"], "lineLocationId").id
    if kit.home_location_id == kit.line_location_id:
        raise BadInput("the home and the line location must differ", field="lineLocationId")
    if "pattern" in changes:
        if changes["pattern"] is None:
            raise BadInput("a kanban kit's pattern needs at least one part", field="pattern")
        lines = _pattern(uow, changes["pattern"])
        existing = {row.part_id: row for row in uow.session.scalars(
            select(KanbanPatternLine).where(KanbanPatternLine.kanban_kit_id == kit.id))}
        wanted = {line.part_id: line for line in lines}
        for part_id, row in existing.items():
            if part_id not in wanted:
                uow.session.delete(row)
            else:
                row.quantity = wanted[part_id].quantity
        uow.session.add_all(
            KanbanPatternLine(kanban_kit_id=kit.id, part_id=line.part_id, quantity=line.quantity)
            for line in lines if line.part_id not in existing
        )
    flag_modified(kit, "name")  # the etag changes on every update, pattern-only ones too
    uow.commit()
    return kit


# --------------------------------------------------------------------------- fill


def fill_kanban_kit(
    uow: UnitOfWork, *, id: int, etag: str | None = None, source_location_id: int | None = None,
) -> FillOutcome:
    """Fill the kit to its pattern, oldest first (a new cycle, or a top-up of a short one)."""
    kit = _lock_one(uow, id, etag)
    source = _location(uow, source_location_id, "sourceLocationId").id if source_location_id else None
    outcome = _fill(uow, kit, None, source)
    uow.commit()
    return outcome


def _fill(uow: UnitOfWork, kit: KanbanKit, wanted: Mapping[int, Decimal] | None,
          source: int | None) -> FillOutcome:
    """Fill a locked kanban kit: open a cycle (its PartKit) if none is open, request the
    targets on that kit's items, and let the kit service fulfil it."""
    status = KanbanStatus(kit.status)
    rules.check_fill(status)
    pattern = patterns(uow.session, [kit.id])[kit.id]
    inner = _Within(uow)
    cycle = _open_cycles(uow.session, [kit.id]).get(kit.id)
    if cycle is None:
        part_kit = PartKit(
            status=PartKitStatus.REQUESTED.value, staging_location_id=kit.home_location_id,
            delivery_location_id=kit.line_location_id, created_by_id=uow.actor.id,
            current_location_id=kit_current_location_id(
                PartKitStatus.REQUESTED, staging_location_id=kit.home_location_id,
                delivery_location_id=kit.line_location_id),
        )
        uow.session.add(part_kit)
        uow.flush()
        cycle = KanbanCycle(kanban_kit_id=kit.id, number=kit.cycle_count + 1, part_kit_id=part_kit.id)
        uow.session.add(cycle)
        uow.flush()
    else:
        part_kit = kits.lock_kit(inner, cycle.part_kit_id)
    items = {item.part_id: item for item in uow.session.scalars(
        select(PartKitItem).where(PartKitItem.part_kit_id == part_kit.id).order_by(PartKitItem.id)
        .with_for_update().execution_options(**_FRESH)
    )}
    held = held_by_kit(uow.session, [kit.id])[kit.id]
    targets = rules.fill_targets(pattern, held, wanted)
    pattern_of = {line.part_id: line.quantity for line in pattern}
    new_lines: list[tuple[PartKitItem, int]] = []
    dropped: list[PartKitItem] = []
    for part_id, target in targets.items():
        item = items.get(part_id)
        if target <= ZERO:
            if item is not None:  # requested earlier, holds nothing, not wanted now
                dropped.append(item)
        elif item is None:
            item = PartKitItem(part_kit_id=part_kit.id, part_id=part_id, quantity=target)
            uow.session.add(item)
            new_lines.append((item, part_id))
        elif item.quantity != target:
            item.quantity = target
    if dropped:
        uow.session.execute(delete(KanbanCycleLine).where(
            KanbanCycleLine.part_kit_item_id.in_(sorted(item.id for item in dropped))))
        for item in dropped:
            kits.delete_part_kit_item(inner, item.id, item.etag)
    uow.flush()
    uow.session.add_all(
        KanbanCycleLine(kanban_cycle_id=cycle.id, part_id=part_id, part_kit_item_id=item.id,
                        pattern_quantity=pattern_of[part_id], filled_quantity=ZERO,
                        consumed_quantity=ZERO, returned_quantity=ZERO)
        for item, part_id in new_lines
    )
    result = kits.fulfill_part_kit(inner, id=part_kit.id, source_location_id=source)
    held = held_by_kit(uow.session, [kit.id])[kit.id]
    for line in uow.session.scalars(select(KanbanCycleLine).where(KanbanCycleLine.kanban_cycle_id == cycle.id)):
        line.filled_quantity = held.get(line.part_id, ZERO)
    total = sum(held.values(), ZERO)
    after = rules.status_after_fill(status, total)
    if result.issued:
        cycle.filled_at, cycle.filled_by = _stamp(uow)
    kit.status = after.value
    _touch(kit)
    uow.flush()
    return FillOutcome(kit, cycle, [record for _, record in result.issued], result.shortages)


def _touch(kit: KanbanKit) -> None:
    flag_modified(kit, "status")


# --------------------------------------------------------------------------- deliver


def deliver_kanban_kit(uow: UnitOfWork, *, id: int, etag: str | None = None) -> KanbanKit:
    """Send a FILLED kit to its line location: its kit becomes DELIVERED, which moves every
    held record there (one KIT_DELIVER ledger entry each)."""
    kit = _lock_one(uow, id, etag)
    cycle = _open_cycles(uow.session, [kit.id]).get(kit.id)
    held = sum(held_by_kit(uow.session, [kit.id])[kit.id].values(), ZERO)
    after = rules.check_deliver(KanbanStatus(kit.status), held)
    assert cycle is not None  # a kit holding stock has an open cycle
    inner = _Within(uow)
    part_kit = kits.lock_kit(inner, cycle.part_kit_id)
    kits.update_part_kit(inner, part_kit.id, part_kit.etag, {"status": PartKitStatus.DELIVERED.value})
    cycle.delivered_at, cycle.delivered_by = _stamp(uow)
    kit.status = after.value
    uow.commit()
    return kit


# --------------------------------------------------------------------------- empty


@dataclass(frozen=True)
class ConsumptionEntry:
    part_id: int
    quantity: object


def empty_kanban_kit(
    uow: UnitOfWork, *, id: int, etag: str | None = None,
    consumption: Sequence[ConsumptionEntry] = (),
) -> tuple[KanbanKit, KanbanCycle]:
    """Close the open cycle: record what the line consumed per part (it leaves inventory,
    oldest records first, KANBAN_CONSUME), release the rest and move it home (KANBAN_RETURN).
    Returns the kit and the cycle just closed."""
    kit = _lock_one(uow, id, etag)
    status = KanbanStatus(kit.status)
    problems = Problems()
    asked: list[rules.Consumption] = []
    for index, entry in enumerate(consumption):
        try:
            asked.append(rules.Consumption(entry.part_id,
                                           _quantity(entry.quantity, f"consumption[{index}].quantity")))
        except BadInput as error:
            problems.add(error.message, field=error.field)
            asked.append(rules.Consumption(entry.part_id, ZERO))
    problems.raise_if_any()
    cycle = _open_cycles(uow.session, [kit.id]).get(kit.id)
    if cycle is None:
        rules.plan_empty(status, [], asked)  # refuses the status with its reason
        raise BadInput(f"the kanban kit is {status.value}; it has no open cycle to empty", field="id")
    inner = _Within(uow)
    part_kit = kits.lock_kit(inner, cycle.part_kit_id)
    rows = uow.session.execute(
        select(PartKitInventory.part_inventory_id, PartKitItem.part_id, Part.tracking_type)
        .join(PartKitItem, PartKitItem.id == PartKitInventory.part_kit_item_id)
        .join(Part, Part.id == PartKitItem.part_id)
        .where(PartKitInventory.part_kit_id == part_kit.id, PartKitInventory.released == False)  # noqa: E712
    ).all()
    records = kits.lock_records(inner, (rid for rid, _, _ in rows))
    held = [
        rules.HeldRecord(rid, part_id, TrackingType(tracking), records[rid].quantity, records[rid].created_at)
        for rid, part_id, tracking in rows
    ]
    plan = rules.plan_empty(status, held, asked)
    if PartKitStatus(part_kit.status).is_open:
        kits.update_part_kit(inner, part_kit.id, part_kit.etag, {"status": PartKitStatus.COMPLETED.value})
    refs: dict[str, Any] = {"kanbanKitId": kit.id, "kanbanCycleId": cycle.id, "partKitId": part_kit.id}
    for outcome in plan.records:
        record = records[outcome.record_id]
        if outcome.consumed > ZERO:
            before = snapshot(record)
            record.quantity = normalize(record.quantity - outcome.consumed)
            record_change(uow, LedgerOperation.KANBAN_CONSUME, record, before, snapshot(record), **refs)
        if outcome.returned > ZERO and record.location_id != kit.home_location_id:
            before = snapshot(record)
            record.location_id = kit.home_location_id
            record_change(uow, LedgerOperation.KANBAN_RETURN, record, before, snapshot(record), **refs)
    for line in uow.session.scalars(select(KanbanCycleLine).where(KanbanCycleLine.kanban_cycle_id == cycle.id)):
        line.consumed_quantity = plan.consumed_by_part.get(line.part_id, ZERO)
        line.returned_quantity = plan.returned_by_part.get(line.part_id, ZERO)
        line.filled_quantity = plan.held_by_part.get(line.part_id, ZERO)
    cycle.emptied_at, cycle.emptied_by = _stamp(uow)
    kit.cycle_count = kit.cycle_count + 1
    kit.status = KanbanStatus.EMPTIED.value
    uow.commit()
    return kit, cycle


# --------------------------------------------------------------------------- line stock levels


def set_line_stock_levels(
    uow: UnitOfWork, *, location_id: int, home_location_id: int | None,
    levels: Sequence[LevelEntry],
) -> list[LineStockLevel]:
    """Replace a line location's min/max levels with `levels` (parts not listed lose theirs)."""
    line = _location(uow, location_id, "locationId")
    home = _location(uow, home_location_id, "homeLocationId") if levels else None
    if home is not None and home.id == line.id:
        raise BadInput("the home and the line location must differ", field="homeLocationId")
    part_ids = sorted({entry.part_id for entry in levels if 0 < entry.part_id <= MAX_ID})
    known = {
        pid: TrackingType(t) for pid, t in uow.session.execute(
            select(Part.id, Part.tracking_type).where(Part.id.in_(part_ids)))
    } if part_ids else {}
    problems = Problems()
    parsed: dict[int, tuple[Decimal, Decimal]] = {}
    for index, entry in enumerate(levels):
        where = f"levels[{index}]"
        if entry.part_id not in known:
            problems.add(f"part {entry.part_id} does not exist", field=f"{where}.partId")
            continue
        if entry.part_id in parsed:
            problems.add(f"part {entry.part_id} appears twice", field=f"{where}.partId")
            continue
        try:
            low = _quantity(entry.min_quantity, f"{where}.minQuantity")
            high = _quantity(entry.max_quantity, f"{where}.maxQuantity")
            rules.check_level(low, high, where, tracking=known[entry.part_id])
        except BadInput as error:
            problems.items.extend(error.details or [rules_problem(error)])
            continue
        parsed[entry.part_id] = (low, high)
    problems.raise_if_any()
    existing = {row.part_id: row for row in _lock_levels(uow, line.id)}
    for part_id, row in existing.items():
        if part_id not in parsed:
            uow.session.delete(row)
    result: list[LineStockLevel] = []
    for part_id, (low, high) in sorted(parsed.items()):
        level = existing.get(part_id)
        if level is None:
            level = LineStockLevel(location_id=line.id, part_id=part_id)
            uow.session.add(level)
        assert home is not None
        level.home_location_id, level.min_quantity, level.max_quantity = home.id, low, high
        result.append(level)
    uow.commit()
    return result


def _lock_levels(uow: UnitOfWork, location_id: int) -> list[LineStockLevel]:
    with lock_conflict("a concurrent change locked the same line; try again", field="locationId"):
        return list(uow.session.scalars(
            select(LineStockLevel).where(LineStockLevel.location_id == location_id)
            .order_by(LineStockLevel.id).with_for_update().execution_options(**_FRESH)
        ))


# --------------------------------------------------------------------------- replenishment


def replenish_line_location(
    uow: UnitOfWork, *, location_id: int, source_location_id: int | None = None,
) -> ReplenishOutcome:
    """For every part below its minimum at the line, refill the line's kanban kits (EMPTY,
    EMPTIED or short FILLED ones, each capped at the maximum) and create kits for what is
    still missing, one per home location; never above a maximum. A fixed number of queries
    to decide, then one fulfilment per kit filled."""
    line = _location(uow, location_id, "locationId")
    source = _location(uow, source_location_id, "sourceLocationId").id if source_location_id else None
    levels = _lock_levels(uow, line.id)  # serialises replenishments of one line
    if not levels:
        raise BadInput(f"location {line.id} has no line stock levels; set them first", field="locationId")
    fillable = [s.value for s in rules.FILLABLE]
    candidate_ids = list(uow.session.scalars(
        select(KanbanKit.id).where(KanbanKit.line_location_id == line.id, KanbanKit.status.in_(fillable))
    ))
    locked = {kid: kit for kid, kit in _lock_kanban(uow, candidate_ids).items()
              if kit.status in fillable and kit.line_location_id == line.id}
    position = line_position(uow.session, line.id)  # after the locks: a fresh statement
    held = held_by_kit(uow.session, locked)
    pattern_by_kit = patterns(uow.session, locked)
    candidates = [
        rules.RefillCandidate(kid, {
            line.part_id: line.quantity - held[kid].get(line.part_id, ZERO) for line in pattern_by_kit[kid]
        })
        for kid in sorted(locked)
    ]
    plan = rules.plan_replenishment(
        [rules.LineLevel(row.part_id, row.min_quantity, row.max_quantity, row.home_location_id)
         for row in levels],
        position, candidates,
    )
    fills: list[FillOutcome] = []
    for kit_id, adds in plan.refills:
        wanted = {part: held[kit_id].get(part, ZERO) + q for part, q in adds.items()}
        fills.append(_fill(uow, locked[kit_id], wanted, source))
    created: list[KanbanKit] = []
    for home_id, pattern in plan.new_kits:
        kit = _new_kit(uow, home_id, line.id,
                       [rules.PatternLine(part, q) for part, q in sorted(pattern.items())])
        uow.flush()
        created.append(kit)
        fills.append(_fill(uow, kit, None, source))
    uow.commit()
    return ReplenishOutcome(fills, created)


# --------------------------------------------------------------------------- reads


def get_kanban_kit(session: Session, id: int) -> KanbanKit:
    from kitwright.services.uow import get

    return get(session, KanbanKit, id)


KANBAN_COLUMNS: dict[str, Any] = {
    "id": KanbanKit.id,
    "name": KanbanKit.name,
    "status": KanbanKit.status,
    "homeLocationId": KanbanKit.home_location_id,
    "lineLocationId": KanbanKit.line_location_id,
    "cycleCount": KanbanKit.cycle_count,
    "createdAt": KanbanKit.created_at,
}
KANBAN_SORTS: dict[str, Any] = {
    "ID": KanbanKit.id, "NAME": KanbanKit.name, "STATUS": KanbanKit.status,
    "CYCLE_COUNT": KanbanKit.cycle_count, "CREATED_AT": KanbanKit.created_at,
}
LEVEL_COLUMNS: dict[str, Any] = {
    "id": LineStockLevel.id,
    "locationId": LineStockLevel.location_id,
    "partId": LineStockLevel.part_id,
    "homeLocationId": LineStockLevel.home_location_id,
    "minQuantity": LineStockLevel.min_quantity,
    "maxQuantity": LineStockLevel.max_quantity,
}
LEVEL_SORTS: dict[str, Any] = {"ID": LineStockLevel.id, "PART_ID": LineStockLevel.part_id,
                               "LOCATION_ID": LineStockLevel.location_id}


list_kanban_kits = Listing(KanbanKit, KANBAN_COLUMNS, KANBAN_SORTS)


list_line_stock_levels = Listing(LineStockLevel, LEVEL_COLUMNS, LEVEL_SORTS)
