"""Kanban kits: the cycle's state machine, the pattern, emptying and line-side replenishment.

A kanban kit is a reusable container with a pattern (part + quantity per cycle), a home
location and a line location (docs/kanban.md). Each cycle is filled oldest first at home
(through an ordinary kit, so kit rules hold), delivered to the line, and emptied: consumption
is recorded per part and what was not consumed returns to stock at home.

    EMPTY / EMPTIED --fill--> FILLED --deliver--> AT_LINE --empty--> EMPTIED --fill--> ...
                      FILLED --fill--> FILLED      (top up a short fill)
                      FILLED --empty-> EMPTIED     (returned unused: nothing consumed)

Pure rules, no I/O: the services fetch the facts, lock, and apply these decisions.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kitwright.domain.errors import BadInput, Problems
from kitwright.domain.quantities import ZERO, normalize
from kitwright.domain.tracking import TrackingType


class KanbanStatus(enum.StrEnum):
    EMPTY = "EMPTY"  # new: never filled
    FILLED = "FILLED"  # holds stock at home, waiting to go to the line
    AT_LINE = "AT_LINE"  # delivered to the line location
    EMPTIED = "EMPTIED"  # the last cycle was emptied; ready to refill


FILLABLE: frozenset[KanbanStatus] = frozenset(
    {KanbanStatus.EMPTY, KanbanStatus.EMPTIED, KanbanStatus.FILLED}
)
EMPTIABLE: frozenset[KanbanStatus] = frozenset({KanbanStatus.FILLED, KanbanStatus.AT_LINE})


# --------------------------------------------------------------------------- pattern


@dataclass(frozen=True)
class PatternLine:
    part_id: int
    quantity: Decimal


@dataclass(frozen=True)
class PatternInput:
    """One line as the client sent it, with the part's tracking (None: unknown part)."""

    part_id: int
    quantity: Decimal
    tracking: TrackingType | None


def check_pattern(lines: Sequence[PatternInput], field: str = "pattern") -> tuple[PatternLine, ...]:
    """A pattern holds at least one part, each once, each quantity > 0 (whole for serials).
    Every problem is reported at once, each naming its row."""
    if not lines:
        raise BadInput("a kanban kit's pattern needs at least one part", field=field)
    problems = Problems()
    seen: set[int] = set()
    for index, line in enumerate(lines):
        where = f"{field}[{index}]"
        if line.tracking is None:
            problems.add(f"part {line.part_id} does not exist", field=f"{where}.partId")
        if line.part_id in seen:
            problems.add(f"part {line.part_id} appears twice in the pattern", field=f"{where}.partId")
        seen.add(line.part_id)
        if line.quantity <= ZERO:
            problems.add("quantity must be greater than 0", field=f"{where}.quantity")
        elif line.tracking is TrackingType.SERIAL and line.quantity != line.quantity.to_integral_value():
            problems.add("a serial-tracked part is counted in whole units", field=f"{where}.quantity")
    problems.raise_if_any()
    return tuple(PatternLine(line.part_id, normalize(line.quantity)) for line in lines)


# --------------------------------------------------------------------------- cycle


def check_fill(status: KanbanStatus) -> None:
    if status not in FILLABLE:
        raise BadInput(
            f"the kanban kit is {status.value}; empty it before refilling it", field="id"
        )


def status_after_fill(status: KanbanStatus, held_after: Decimal) -> KanbanStatus:
    """A fill that found nothing leaves the kit as it was (its cycle stays open, waiting)."""
    check_fill(status)
    return KanbanStatus.FILLED if held_after > ZERO else status


def fill_targets(
    pattern: Iterable[PatternLine], held: Mapping[int, Decimal],
    wanted: Mapping[int, Decimal] | None = None,
) -> dict[int, Decimal]:
    """What the cycle's kit should request per pattern part: the pattern, or `wanted`
    (replenishment caps a refill at the line's maximum) but never more than the pattern, and
    never less than the cycle already holds (what is held stays held). 0: request nothing."""
    targets: dict[int, Decimal] = {}
    for line in pattern:
        target = line.quantity if wanted is None else min(line.quantity, wanted.get(line.part_id, ZERO))
        targets[line.part_id] = normalize(max(target, held.get(line.part_id, ZERO)))
    return targets


def check_deliver(status: KanbanStatus, held: Decimal) -> KanbanStatus:
    if status is not KanbanStatus.FILLED:
        raise BadInput(
            f"the kanban kit is {status.value}; only a FILLED kit can be delivered", field="id"
        )
    if held <= ZERO:
        raise BadInput("the kanban kit holds nothing; fill it before delivering it", field="id")
    return KanbanStatus.AT_LINE


@dataclass(frozen=True)
class HeldRecord:
    """A record the cycle's kit holds when it is emptied."""

    record_id: int
    part_id: int
    tracking: TrackingType
    quantity: Decimal
    created_at: datetime


@dataclass(frozen=True)
class Consumption:
    part_id: int
    quantity: Decimal


@dataclass(frozen=True)
class RecordOutcome:
    """What emptying does to one held record: `consumed` leaves inventory, `returned` goes
    back to stock at home (consumed + returned = what it held)."""

    record_id: int
    part_id: int
    consumed: Decimal
    returned: Decimal


@dataclass(frozen=True)
class EmptyPlan:
    records: tuple[RecordOutcome, ...]
    held_by_part: dict[int, Decimal]
    consumed_by_part: dict[int, Decimal]
    returned_by_part: dict[int, Decimal]


def plan_empty(
    status: KanbanStatus, held: Sequence[HeldRecord], consumption: Sequence[Consumption],
    field: str = "consumption",
) -> EmptyPlan:
    """Empty the cycle: consume per part, oldest records first (serials whole); the rest
    returns. Only a kit at the line consumes; a FILLED kit returns unused."""
    if status not in EMPTIABLE:
        raise BadInput(
            f"the kanban kit is {status.value}; only a FILLED or AT_LINE kit can be emptied",
            field="id",
        )
    held_by_part: dict[int, Decimal] = {}
    tracking: dict[int, TrackingType] = {}
    for record in held:
        held_by_part[record.part_id] = held_by_part.get(record.part_id, ZERO) + record.quantity
        tracking[record.part_id] = record.tracking
    problems = Problems()
    wanted: dict[int, Decimal] = {}
    for index, line in enumerate(consumption):
        where = f"{field}[{index}]"
        if line.part_id in wanted:
            problems.add(f"part {line.part_id} appears twice", field=f"{where}.partId")
            continue
        if line.quantity < ZERO:
            problems.add("quantity must not be negative", field=f"{where}.quantity")
            continue
        if line.quantity == ZERO:
            wanted[line.part_id] = ZERO
            continue
        if status is not KanbanStatus.AT_LINE:
            problems.add("the kit never reached the line: nothing can have been consumed",
                         field=f"{where}.quantity")
            continue
        have = held_by_part.get(line.part_id, ZERO)
        if line.part_id not in held_by_part:
            problems.add(f"the kit holds no part {line.part_id}", field=f"{where}.partId")
        elif line.quantity > have:
            problems.add(f"consumed {line.quantity} but the kit holds {have} of part {line.part_id}",
                         field=f"{where}.quantity")
        elif (tracking[line.part_id] is TrackingType.SERIAL
              and line.quantity != line.quantity.to_integral_value()):
            problems.add("a serial-tracked part is consumed in whole units", field=f"{where}.quantity")
        else:
            wanted[line.part_id] = line.quantity
    problems.raise_if_any()

    left = dict(wanted)
    outcomes: list[RecordOutcome] = []
    for record in sorted(held, key=lambda r: (r.created_at, r.record_id)):
        take = min(record.quantity, left.get(record.part_id, ZERO))
        left[record.part_id] = left.get(record.part_id, ZERO) - take
        outcomes.append(RecordOutcome(record.record_id, record.part_id, normalize(take),
                                      normalize(record.quantity - take)))
    consumed = {part: normalize(wanted.get(part, ZERO)) for part in held_by_part}
    returned = {part: normalize(held_by_part[part] - consumed[part]) for part in held_by_part}
    return EmptyPlan(tuple(outcomes), held_by_part, consumed, returned)


# --------------------------------------------------------------------------- replenishment


@dataclass(frozen=True)
class LineLevel:
    """Line-side min/max of one part at a line location; a new kit for it lives at `home`."""

    part_id: int
    minimum: Decimal
    maximum: Decimal
    home_location_id: int


def check_level(minimum: Decimal, maximum: Decimal, field: str,
                tracking: TrackingType = TrackingType.UNTRACKED) -> None:
    """0 <= min <= max, max > 0; whole units for a serial-tracked part (kits for it are sized
    from these)."""
    problems = Problems()
    if minimum < ZERO:
        problems.add("minQuantity must not be negative", field=f"{field}.minQuantity")
    if maximum <= ZERO:
        problems.add("maxQuantity must be greater than 0", field=f"{field}.maxQuantity")
    elif minimum > maximum:
        problems.add("minQuantity must not exceed maxQuantity", field=f"{field}.minQuantity")
    if tracking is TrackingType.SERIAL:
        for name, value in (("minQuantity", minimum), ("maxQuantity", maximum)):
            if value != value.to_integral_value():
                problems.add("a serial-tracked part is counted in whole units", field=f"{field}.{name}")
    problems.raise_if_any()


@dataclass(frozen=True)
class RefillCandidate:
    """A kanban kit for the line that can take more: EMPTY, EMPTIED or a short FILLED kit.
    `room` per part = pattern - what its open cycle holds."""

    kit_id: int
    room: Mapping[int, Decimal]


@dataclass(frozen=True)
class Replenishment:
    refills: tuple[tuple[int, dict[int, Decimal]], ...]  # (kit id, extra quantity per part)
    new_kits: tuple[tuple[int, dict[int, Decimal]], ...]  # (home location id, pattern)
    position_after: dict[int, Decimal]  # expected, if every fill is complete


def plan_replenishment(
    levels: Sequence[LineLevel], position: Mapping[int, Decimal],
    candidates: Sequence[RefillCandidate],
) -> Replenishment:
    """Every part below its minimum is brought up to (never above) its maximum.

    `position` is what kanban kits for the line hold now (at the line or filled at home).
    Existing kits go first, in id order, each taking for every part of its pattern only the
    room left below that part's maximum (parts without a level: their full room). A kit is
    refilled only when it adds to a part that was below its minimum. Parts still below their
    minimum then get new kits, one per home location, each sized up to the maximum.
    """
    by_part = {level.part_id: level for level in levels}
    now = {part: position.get(part, ZERO) for part in by_part}
    low = {part for part, level in by_part.items() if now[part] < level.minimum}
    refills: list[tuple[int, dict[int, Decimal]]] = []
    for candidate in sorted(candidates, key=lambda c: c.kit_id):
        adds: dict[int, Decimal] = {}
        for part, room in sorted(candidate.room.items()):
            if room <= ZERO:
                continue
            level = by_part.get(part)
            take = room if level is None else min(room, max(level.maximum - now[part], ZERO))
            if take > ZERO:
                adds[part] = normalize(take)
        if not any(part in low for part in adds):
            continue
        for part, take in adds.items():
            if part in now:
                now[part] = now[part] + take
        refills.append((candidate.kit_id, adds))
    new: dict[int, dict[int, Decimal]] = {}
    for part in sorted(low):
        level = by_part[part]
        if now[part] < level.minimum:
            new.setdefault(level.home_location_id, {})[part] = normalize(level.maximum - now[part])
            now[part] = level.maximum
    return Replenishment(tuple(refills), tuple(sorted(new.items())), now)
