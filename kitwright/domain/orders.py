"""Retail kit orders: allocation in whole kits, order-event checks, return resolution.

Pure rules (docs/retail-orders.md): the services fetch
facts, lock rows, call these functions and persist what they decide.

* Components are allocated, never the kit; each kit unit comes from ONE site.
* Default allocation: a line whole from one site or nothing (backordered). With `enable_kits`:
  whole kits split across sites, partial in whole kits, the rest backordered.
* Lines of one order share one pool of supply and are served in line order, so two lines that
  share a component never oversell it.
* Warehouse events are accepted only in whole-kit ratios; a message that fails any check
  processes nothing.
* A return line is received back once: never more of a component than ratio x returned kits.
* A return line resolves into `min over components of floor(verified / ratio)` kits.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from kitwright.domain.errors import BadInput, Conflict
from kitwright.domain.quantities import ZERO, normalize

Key = tuple[int, int]  # (site id, part id)


class ReturnVerificationPolicy(enum.StrEnum):
    RETURN_ORDER = "RETURN_ORDER"
    RETURN_LINE = "RETURN_LINE"


class OrderEventType(enum.StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    PICK = "PICK"
    PACK = "PACK"
    SHIP = "SHIP"
    SHORT = "SHORT"


class ExchangeType(enum.StrEnum):
    EVEN = "EVEN"
    UNEVEN = "UNEVEN"


class ReturnCondition(enum.StrEnum):
    GOOD = "GOOD"
    DAMAGED = "DAMAGED"
    DEFECTIVE = "DEFECTIVE"


# -- allocation --------------------------------------------------------------------------


@dataclass(frozen=True)
class LineDemand:
    """Kits still to allocate for one line; `components` are (part id, ratio per kit)."""

    line_id: int
    kits: int
    components: tuple[tuple[int, Decimal], ...]


@dataclass(frozen=True)
class Allocation:
    line_id: int
    site_id: int
    kits: int


def kits_at(pool: Mapping[Key, Decimal], site_id: int, components: Sequence[tuple[int, Decimal]]) -> int:
    """Whole kits one site can make from the pool: min over components of floor(supply / ratio)."""
    if not components:
        return 0
    return min(int(pool.get((site_id, part), ZERO) // ratio) for part, ratio in components)


def plan_allocation(
    lines: Sequence[LineDemand], pool: Mapping[Key, Decimal], *, enable_kits: bool
) -> list[Allocation]:
    """Allocate lines in the order given from one shared pool; never more than the pool holds.

    Default: the first site (ascending id) that can fill the whole line, else nothing. With
    `enable_kits`: repeatedly the site able to make the most kits (ties: lowest id), in whole
    kits, until the line is filled or no site can make a kit.
    """
    left: dict[Key, Decimal] = {k: v for k, v in pool.items() if v > ZERO}
    sites = sorted({site for site, _ in left})
    plan: list[Allocation] = []

    def take(line: LineDemand, site: int, kits: int) -> None:
        for part, ratio in line.components:
            left[(site, part)] = left[(site, part)] - ratio * kits
        plan.append(Allocation(line.line_id, site, kits))

    for line in lines:
        if line.kits <= 0 or not line.components:
            continue
        if not enable_kits:
            for site in sites:
                if kits_at(left, site, line.components) >= line.kits:
                    take(line, site, line.kits)
                    break
            continue
        need = line.kits
        while need > 0:
            best = max(sites, key=lambda s: (kits_at(left, s, line.components), -s), default=None)
            if best is None:
                break
            can = kits_at(left, best, line.components)
            if can <= 0:
                break
            got = min(can, need)
            take(line, best, got)
            need -= got
    return plan


@dataclass(frozen=True)
class Candidate:
    """An available record that can supply a part at a site."""

    record_id: int
    quantity: Decimal
    serial: bool = False
    created_at: datetime | None = None  # stock age (a split keeps its origin's)


def fifo_key(candidate: Candidate) -> tuple[bool, datetime, int]:
    """The order `draw` expects its candidates in: oldest first, then by id (a candidate
    without an age sorts by id alone, before aged ones)."""
    return (candidate.created_at is not None, candidate.created_at or datetime.min, candidate.record_id)


def draw(need: Decimal, candidates: Sequence[Candidate], used: Mapping[int, Decimal]) -> list[tuple[int, Decimal]]:
    """Which records (and how much of each) cover `need`, oldest first; `used` is what earlier
    draws in the same plan already took from a record. A serial record goes whole or not at
    all. Returns an empty list if the candidates cannot cover the need."""
    picks: list[tuple[int, Decimal]] = []
    remaining = need
    for candidate in candidates:
        if remaining <= ZERO:
            break
        free = candidate.quantity - used.get(candidate.record_id, ZERO)
        if free <= ZERO:
            continue
        if candidate.serial:
            if free <= remaining:
                picks.append((candidate.record_id, free))
                remaining -= free
            continue
        got = min(free, remaining)
        picks.append((candidate.record_id, got))
        remaining -= got
    return picks if remaining <= ZERO else []


# -- releases ----------------------------------------------------------------------------


def release_number(order_number: str, sequence: int) -> str:
    """A release's number: the order number, a hyphen, the release's sequence in its order
    (`08May_ORD04-1`). Only digits follow the last hyphen, so the number reads back as one
    order and one sequence: without the hyphen, order `Q`'s 11th release and order `Q1`'s
    first were both `Q11`."""
    if sequence < 1:
        raise ValueError("a release sequence starts at 1")
    return f"{order_number}-{sequence}"


# -- order events ------------------------------------------------------------------------

# Stages a released kit passes through before it ships (or is shorted), in order.
STAGES = ("released", "in_progress", "picked", "packed")
_STAGE_OF = {
    OrderEventType.IN_PROGRESS: "in_progress",
    OrderEventType.PICK: "picked",
    OrderEventType.PACK: "packed",
}


@dataclass(frozen=True)
class EventFact:
    """One event of a message, as the checks see it."""

    index: int
    event_type: OrderEventType
    part_id: int
    quantity: Decimal
    package_id: str | None = None
    short_reason_id: str | None = None
    cancel_unfulfilled: bool = False


@dataclass
class GroupState:
    """Kits of one order line in one release, by stage (all whole kits)."""

    released: int = 0
    in_progress: int = 0
    picked: int = 0
    packed: int = 0

    def open_for(self, event_type: OrderEventType) -> int:
        """Kits an event of this type may act on: those in an earlier stage (all for SHIP and SHORT)."""
        target = _STAGE_OF.get(event_type)
        stages = STAGES if target is None else STAGES[: STAGES.index(target)]
        return sum(getattr(self, stage) for stage in stages)

    @property
    def open(self) -> int:
        return self.released + self.in_progress + self.picked + self.packed

    def take(self, event_type: OrderEventType, kits: int) -> None:
        """Move `kits` out of the earlier stages (most advanced first) into the event's stage,
        or out of the release altogether for SHIP and SHORT."""
        target = _STAGE_OF.get(event_type)
        stages = STAGES if target is None else STAGES[: STAGES.index(target)]
        left = kits
        for stage in reversed(stages):
            got = min(left, getattr(self, stage))
            setattr(self, stage, getattr(self, stage) - got)
            left -= got
        if left:
            raise ValueError("more kits than are open")
        if target is not None:
            setattr(self, target, getattr(self, target) + kits)


@dataclass(frozen=True)
class GroupResult:
    """What a passing group does: `kits` move; `packages` kits per package (PACK, SHIP);
    `cancel` kits canceled by CancelUnfulfilledQuantity."""

    event_type: OrderEventType
    kits: int
    packages: dict[str, int] = field(default_factory=dict)
    cancel: int = 0
    short_reason_id: str | None = None


def whole_kits(quantities: Mapping[int, Decimal], ratios: Mapping[int, Decimal]) -> tuple[int | None, str | None]:
    """The k with quantity_c = k x ratio_c for every component, k a whole number >= 1."""
    missing = sorted(set(ratios) - set(quantities))
    if missing:
        return None, "components missing: " + ", ".join(f"part {p}" for p in missing)
    ks: set[Decimal] = set()
    for part, ratio in ratios.items():
        k = quantities[part] / ratio
        if k != k.to_integral_value() or k < 1:
            return None, f"part {part}: {quantities[part]} is not a whole number of kits (ratio {ratio})"
        ks.add(k)
    if len(ks) != 1:
        return None, "components are not in kit ratio: " + ", ".join(
            f"part {p}: {quantities[p]}" for p in sorted(ratios)
        )
    return int(ks.pop()), None


def check_group(
    event_type: OrderEventType,
    events: Sequence[EventFact],
    ratios: Mapping[int, Decimal],
    state: GroupState,
    *,
    partial_supported: bool,
) -> tuple[GroupResult | None, str | None]:
    """Every check of one kit line's events of one type in one message (docs/retail-orders.md).

    Returns (result, None) when the events may be processed, else (None, the reason).
    """
    for event in events:
        if event.part_id not in ratios:
            return None, f"part {event.part_id} is not a component of the line"
        if event.quantity <= ZERO:
            return None, f"part {event.part_id}: quantity must be positive"
    totals: dict[int, Decimal] = {}
    for event in events:
        totals[event.part_id] = totals.get(event.part_id, ZERO) + event.quantity
    kits, reason = whole_kits(totals, ratios)
    if kits is None:
        return None, reason
    packages: dict[str, int] = {}
    if event_type in (OrderEventType.PACK, OrderEventType.SHIP):
        by_package: dict[str, dict[int, Decimal]] = {}
        for event in events:
            if not event.package_id:
                return None, f"{event_type.value} events need a package id"
            bucket = by_package.setdefault(event.package_id, {})
            bucket[event.part_id] = bucket.get(event.part_id, ZERO) + event.quantity
        for package, quantities in sorted(by_package.items()):
            in_package, why = whole_kits(quantities, ratios)
            if in_package is None:
                return None, f"package {package} does not hold whole kits: {why}"
            packages[package] = in_package
    reason_id: str | None = None
    if event_type is OrderEventType.SHORT:
        reasons = {event.short_reason_id for event in events}
        if len(reasons) != 1 or None in reasons:
            return None, "a SHORT needs one short reason for all components"
        reason_id = reasons.pop()
    available = state.open_for(event_type)
    if kits > available:
        return None, f"{kits} kits exceed the {available} open"
    cancel = 0
    if not partial_supported and kits != available:
        if event_type is OrderEventType.SHIP and any(e.cancel_unfulfilled for e in events):
            cancel = state.open - kits
        else:
            return None, f"without partial kit support an event must cover all {available} open kits"
    return GroupResult(event_type, kits, packages, cancel, reason_id), None


# -- returns -----------------------------------------------------------------------------


def returned_units(returned: int, ratios: Mapping[int, Decimal]) -> dict[int, Decimal]:
    """What came back per component part: ratio x returned kits (a regular or unexpected line is
    its own single component, ratio 1)."""
    return {part: normalize(ratio * returned) for part, ratio in ratios.items()}


def plan_return_receipt(
    returned: int, ratios: Mapping[int, Decimal], verified: Mapping[int, Decimal], part_id: int,
    quantity: Decimal, *, kit_part_id: int | None = None,
) -> dict[int, Decimal]:
    """What one verification of a return line receives back into stock, per component part.

    Kit level (`kit_part_id`, the line's kit part): the kit part for the whole returned quantity,
    i.e. every component's ratio x returned kits, once. Component level: `quantity` of
    `part_id`, one of the line's components. Either way the line never receives back more of a
    component than came back (`returned_units`): a second kit-level verification, or a
    component verified above what is left, is a Conflict (the units were already received; a
    second receipt would put stock that does not exist on the shelf). `quantity` is > 0.
    """
    came_back = returned_units(returned, ratios)
    if kit_part_id is not None:
        if any(verified.get(part, ZERO) > ZERO for part in ratios):
            raise Conflict(f"the return line was already verified: its {returned} kits were received back once",
                           field="returnLineId")
        if part_id != kit_part_id:
            raise BadInput("returns are verified at kit level: verify the kit part", field="partId")
        if quantity != returned:
            raise BadInput(f"kit-level verification covers the whole returned quantity ({returned})",
                           field="quantity")
        return came_back
    if part_id not in ratios:
        raise BadInput(f"part {part_id} is not a component of the return line", field="partId")
    already = verified.get(part_id, ZERO)
    left = max(ZERO, came_back[part_id] - already)
    if quantity > left:
        if already > ZERO:
            raise Conflict(f"only {left} of part {part_id} are left to receive back on this return line "
                           f"({came_back[part_id]} returned, {normalize(already)} already received)",
                           field="quantity")
        raise BadInput(f"at most {came_back[part_id]} of part {part_id} came back on this return line",
                       field="quantity")
    return {part_id: quantity}


def complete_kits(verified: Mapping[int, Decimal], ratios: Mapping[int, Decimal], cap: int) -> int:
    """min over components of floor(verified / ratio), never above the returned quantity."""
    if not ratios:
        return 0
    return min(cap, *(int(verified.get(part, ZERO) // ratio) for part, ratio in ratios.items()))


def fully_verified(verified: Mapping[int, Decimal], ratios: Mapping[int, Decimal], quantity: int) -> bool:
    return all(verified.get(part, ZERO) >= ratio * quantity for part, ratio in ratios.items())


@dataclass(frozen=True)
class Resolution:
    invoiced: int
    canceled: int
    stays_open: bool


def resolve_return(
    quantity: int, already_invoiced: int, verified: Mapping[int, Decimal], ratios: Mapping[int, Decimal],
    policy: ReturnVerificationPolicy,
) -> Resolution:
    """Resolve a component-level return line: invoice the complete kits verified.

    RETURN_ORDER: the rest is canceled now (none complete: the whole line is canceled).
    RETURN_LINE: the rest stays open for later verification until every kit is complete.
    """
    complete = complete_kits(verified, ratios, quantity)
    new = max(0, complete - already_invoiced)
    if policy is ReturnVerificationPolicy.RETURN_LINE:
        done = already_invoiced + new == quantity
        return Resolution(new, 0, not done)
    return Resolution(new, quantity - already_invoiced - new, False)
