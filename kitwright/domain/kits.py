"""Kit rules: statuses and their effect on kitted inventory, issue / unissue arithmetic,
fulfilment (oldest first across the whole kit), pick path order and shortage reports.

Pure: the service loads and locks the rows, calls these functions, and writes what they
return (and the ledger). Nothing here creates or consumes quantity (docs/rules.md#r1): every
plan only moves quantity between records, locations and kit links.

Model: a record issued to a kit item is held *whole* by that item. Issuing part of a
lot or untracked record splits it first: a new record (howCreated PARTIAL_KIT, origin = the
source) holds the issued quantity and is linked to the item; the source keeps the rest. So a
linked record's quantity is its issued quantity. Returning part of it to stock splits the
other way (PARTIAL_UNKIT). Closing a kit *releases* its links: the kit keeps the record of what
it held, but a released link reserves nothing, now or after the kit is reopened.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from kitwright.domain.errors import BadInput, Problems
from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.quantities import ONE, ZERO, parse_quantity
from kitwright.domain.status import PartInventoryStatus
from kitwright.domain.tracking import TrackingType

# --------------------------------------------------------------------------- statuses


class PartKitStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    REQUESTED = "REQUESTED"
    IN_PROGRESS = "IN_PROGRESS"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"

    @property
    def is_open(self) -> bool:
        """Open kits reserve the inventory linked to them."""
        return self not in CLOSED_STATUSES

    @property
    def is_closed(self) -> bool:
        return self in CLOSED_STATUSES


CLOSED_STATUSES: frozenset[PartKitStatus] = frozenset(
    {PartKitStatus.COMPLETED, PartKitStatus.CANCELED}
)
OPEN_STATUSES: frozenset[PartKitStatus] = frozenset(set(PartKitStatus) - CLOSED_STATUSES)
# Kits whose missing parts a shortage report lists: defined and waiting for (more) inventory.
SHORTAGE_STATUSES: frozenset[PartKitStatus] = frozenset(
    {PartKitStatus.REQUESTED, PartKitStatus.IN_PROGRESS}
)


class KitSplit(enum.StrEnum):
    """`howCreated` of a record split off by kitting (values match the stored column)."""

    PARTIAL_KIT = "PARTIAL_KIT"
    PARTIAL_UNKIT = "PARTIAL_UNKIT"


class PlanKind(enum.StrEnum):
    MOVE_WHOLE = "MOVE_WHOLE"  # the record itself changes hands
    SPLIT = "SPLIT"  # a new record takes the quantity, the origin keeps the rest


def current_location_id(
    status: PartKitStatus, *, staging_location_id: int | None, delivery_location_id: int | None
) -> int | None:
    """`PartKit.currentLocation`: where its inventory is meant to be.

    Delivered kits are at their delivery location; other open kits at their staging location
    (falling back to delivery); a closed kit holds nothing, so it is nowhere.
    """
    if status.is_closed:
        return None
    if status is PartKitStatus.DELIVERED:
        return delivery_location_id
    return staging_location_id if staging_location_id is not None else delivery_location_id


@dataclass(frozen=True)
class StatusEffect:
    """What a status change does to the inventory a kit holds, for the service to apply.

    Only *held* records (unreleased links) are affected; released links are history.
    """

    old: PartKitStatus
    new: PartKitStatus
    # Becoming DELIVERED (or a delivered kit's delivery location changing): move every held
    # record that is not installed there (ION's kit guide, "Automate inventory movement").
    # A new staging location of an open, undelivered kit: move them there. Installed records
    # belong to the run's build and stay put.
    move_held_to_location_id: int | None
    # open -> closed: mark every held link released. Records not installed become available
    # where they stand (derived status); installed ones stay INSTALLED. The links remain.
    release_held: bool
    # closed -> open: released links stay released; nothing is silently re-reserved, the
    # items' remaining quantities grow back and the kit must be issued / fulfilled again.
    reopened: bool
    current_location_id: int | None
    # The ledger entry of each held record the change touches.
    operation: LedgerOperation = LedgerOperation.KIT_DELIVER

    @property
    def changes_inventory(self) -> bool:
        return self.move_held_to_location_id is not None or self.release_held


def status_change_effects(
    old: PartKitStatus,
    new: PartKitStatus,
    *,
    delivery_location_id: int | None,
    staging_location_id: int | None,
    delivery_changed: bool = False,
    staging_changed: bool = False,
) -> StatusEffect:
    """Any status may move to any other; this says what that does, given the kit's locations
    after the change and which of them the same update changed.

    A delivered kit whose delivery location changes (old == new == DELIVERED,
    `delivery_changed`) takes its held inventory along; an open, undelivered kit whose
    staging location changes moves it to the new staging location (when there is one).
    Refuses DELIVERED without a delivery location rather than leaving "delivered" inventory
    somewhere else.
    """
    if new is PartKitStatus.DELIVERED and delivery_location_id is None:
        raise BadInput(
            "a kit needs a deliveryLocation before it can be DELIVERED",
            field="deliveryLocationId",
        )
    release = old.is_open and new.is_closed
    move_to: int | None = None
    operation = LedgerOperation.KIT_RELEASE if release else LedgerOperation.KIT_DELIVER
    if new is PartKitStatus.DELIVERED and (old is not new or delivery_changed):
        move_to = delivery_location_id
    elif staging_changed and new.is_open and new is not PartKitStatus.DELIVERED:
        move_to, operation = staging_location_id, LedgerOperation.KIT_STAGE
    return StatusEffect(
        old=old,
        new=new,
        move_held_to_location_id=move_to,
        release_held=release,
        reopened=old.is_closed and new.is_open,
        current_location_id=current_location_id(
            new,
            staging_location_id=staging_location_id,
            delivery_location_id=delivery_location_id,
        ),
        operation=operation,
    )


@dataclass(frozen=True)
class KitHolding:
    """One record linked to a kit, as a status change sees it."""

    record_id: int
    part_id: int
    quantity: Decimal
    location_id: int | None
    installed: bool = False
    released: bool = False


def apply_status_effect(
    effect: StatusEffect, holdings: Iterable[KitHolding]
) -> tuple[KitHolding, ...]:
    """The kit's links after `effect`: moved and/or released, quantities untouched."""
    result: list[KitHolding] = []
    for h in holdings:
        if not h.released:
            if effect.move_held_to_location_id is not None and not h.installed:
                h = replace(h, location_id=effect.move_held_to_location_id)
            if effect.release_held:
                h = replace(h, released=True)
        result.append(h)
    return tuple(result)


@dataclass(frozen=True)
class StageRecord:
    """A record a kit holds (open kit) or once held (closed kit), for Stage Inventory."""

    record_id: int
    status: PartInventoryStatus  # derived by domain.status, read after locking
    location_id: int | None


def plan_stage(
    kit_status: PartKitStatus, records: Iterable[StageRecord], location_id: int
) -> tuple[int, ...]:
    """Stage Inventory: the ids of the records to move to `location_id`, ascending.

    An open kit moves what it holds; a closed kit moves what it released that is still
    ordinary stock (not since kitted elsewhere, installed or scrapped). Installed records sit
    with the unit they are built into and never move; records already there are left alone.
    """
    gone = {PartInventoryStatus.KITTED, PartInventoryStatus.INSTALLED, PartInventoryStatus.SCRAPPED}
    moves: list[int] = []
    for r in sorted(records, key=lambda r: r.record_id):
        if r.status is PartInventoryStatus.INSTALLED:
            continue
        if kit_status.is_closed and r.status in gone:
            continue
        if r.location_id != location_id:
            moves.append(r.record_id)
    return tuple(moves)


def status_after_issue(status: PartKitStatus) -> PartKitStatus:
    """Issuing starts fulfilment: DRAFT/REQUESTED become IN_PROGRESS; closed kits refuse."""
    if status.is_closed:
        raise BadInput(
            f"the kit is {status.value}; reopen it before issuing inventory to it",
            field="partKitItemId",
        )
    if status in (PartKitStatus.DRAFT, PartKitStatus.REQUESTED):
        return PartKitStatus.IN_PROGRESS
    return status


# --------------------------------------------------------------------------- item quantities


def remaining_quantity(requested: Decimal, kitted: Decimal) -> Decimal:
    """What an item still needs; `kitted` is what its unreleased links hold (summed in SQL by
    services.kits.kitted_by_item: released links, of a kit closed at some point, count no more)."""
    return max(requested - kitted, ZERO)


def check_item_quantity(
    requested: Decimal, kitted: Decimal, *, tracking: TrackingType | None = None
) -> None:
    """createPartKitItem / updatePartKitItem / the Kit Items importer: an item never holds
    more than it requests, and a serial-tracked part is requested in whole units."""
    problems = Problems()
    if requested <= ZERO:
        problems.add("quantity must be greater than 0", field="quantity")
    elif tracking is TrackingType.SERIAL and requested != requested.to_integral_value():
        problems.add(
            f"quantity {requested} is not a whole number; a serial-tracked part is requested "
            "in whole units",
            field="quantity",
        )
    elif requested < kitted:
        problems.add(
            f"quantity {requested} is less than the {kitted} already kitted; "
            "move inventory back first",
            field="quantity",
        )
    problems.raise_if_any()


# --------------------------------------------------------------------------- issue


@dataclass(frozen=True)
class IssueRecord:
    """Facts about the inventory record to issue."""

    id: int
    part_id: int
    part_number: str
    revision: str
    tracking: TrackingType
    quantity: Decimal
    status: PartInventoryStatus  # derived by domain.status
    location_id: int | None = None


@dataclass(frozen=True)
class IssueItem:
    """Facts about the kit item (and its kit) receiving the inventory."""

    id: int
    part_id: int
    part_number: str
    revision: str
    quantity: Decimal  # requested
    kitted_quantity: Decimal
    kit_status: PartKitStatus
    delivery_location_id: int | None = None
    staging_location_id: int | None = None

    @property
    def remaining(self) -> Decimal:
        return remaining_quantity(self.quantity, self.kitted_quantity)


def issue_location(
    kit_status_after: PartKitStatus,
    *,
    stands_at: int | None,
    staging_location_id: int | None,
    delivery_location_id: int | None,
    explicit: int | None = None,
) -> int | None:
    """Where issued inventory stands afterwards: the caller's location when given; else a
    delivered kit's delivery location (a delivered kit keeps all it holds there); else the
    kit's staging location; else where the record already stands."""
    if explicit is not None:
        return explicit
    delivered = kit_status_after is PartKitStatus.DELIVERED
    target = delivery_location_id if delivered else staging_location_id
    return target if target is not None else stands_at


@dataclass(frozen=True)
class IssuePlan:
    kind: PlanKind
    record_id: int  # the source record
    quantity: Decimal  # issued to the item; the linked record holds exactly this
    origin_keeps: Decimal  # left in the source record (0 when moved whole)
    how_created: KitSplit | None  # of the new record, when split
    location_id: int | None  # where the linked record stands afterwards
    kit_status_after: PartKitStatus


_UNAVAILABLE_REASONS: dict[PartInventoryStatus, str] = {
    PartInventoryStatus.KITTED: "is already kitted",
    PartInventoryStatus.INSTALLED: "is installed",
    PartInventoryStatus.SCRAPPED: "is scrapped",
    PartInventoryStatus.ON_ORDER: "is on order, not received",
    PartInventoryStatus.WIP: "is work in progress",
    PartInventoryStatus.UNAVAILABLE: "is not available (empty, or at a location whose stock "
    "does not count as available)",
}


def _check_quantity(value: Decimal, problems: Problems) -> Decimal | None:
    """Exact, positive, at most 6 decimals; None (with a problem added) otherwise."""
    try:
        q = parse_quantity(value, field="quantity")
    except BadInput as exc:
        problems.add(exc.message, field="quantity")
        return None
    if q <= ZERO:
        problems.add("quantity must be greater than 0", field="quantity")
        return None
    return q


def plan_issue(
    record: IssueRecord,
    item: IssueItem,
    quantity: Decimal | None = None,
    *,
    allow_other_revision: bool = False,
    location_id: int | None = None,
) -> IssuePlan:
    """issueItemToKit: move `record` (or `quantity` of it) into `item`, to `location_id` when
    given, else where `issue_location` says.

    `quantity` None means: a serial record whole; for a lot or untracked record as much as
    the item still needs and the record holds, min(record quantity, remaining) (ION's
    example omits the quantity). Every reason to refuse is reported at once.
    `allow_other_revision` (organisation setting, off by default) lets a record of another
    revision of the same part number serve the item.
    """
    problems = Problems()
    if record.status is not PartInventoryStatus.AVAILABLE:
        reason = _UNAVAILABLE_REASONS.get(record.status, "is not available")
        problems.add(f"inventory {record.id} {reason}", field="partInventoryId")
    elif record.quantity <= ZERO:
        problems.add(f"inventory {record.id} holds nothing", field="partInventoryId")
    if record.part_id != item.part_id:
        same_number = record.part_number == item.part_number
        if not (allow_other_revision and same_number):
            hint = (
                " (another revision; the organisation does not allow other revisions)"
                if same_number
                else ""
            )
            problems.add(
                f"inventory {record.id} is {record.part_number} rev {record.revision}, the kit "
                f"item wants {item.part_number} rev {item.revision}{hint}",
                field="partInventoryId",
            )
    kit_status_after = item.kit_status
    if item.kit_status.is_closed:
        problems.add(
            f"the kit is {item.kit_status.value}; reopen it before issuing inventory to it",
            field="partKitItemId",
        )
    else:
        kit_status_after = status_after_issue(item.kit_status)
    remaining = item.remaining
    if remaining <= ZERO:
        problems.add(
            f"kit item {item.id} already holds its {item.quantity}", field="partKitItemId"
        )

    q: Decimal | None
    if quantity is None:
        if record.tracking is TrackingType.SERIAL:
            q = ONE
        else:
            q = min(record.quantity, remaining)
            q = q if q > ZERO else None  # already reported above
    else:
        q = _check_quantity(quantity, problems)
        if q is not None and record.tracking is TrackingType.SERIAL and q != ONE:
            problems.add("a serial record is issued whole: quantity must be 1", field="quantity")
            q = None
    if q is not None:
        if q > record.quantity and record.quantity > ZERO:
            problems.add(
                f"quantity {q} is more than inventory {record.id} holds ({record.quantity})",
                field="quantity",
            )
        if q > remaining > ZERO:
            problems.add(
                f"quantity {q} is more than kit item {item.id} still needs ({remaining})",
                field="quantity",
            )
    problems.raise_if_any()
    assert q is not None  # every path leaving q None added a problem

    whole = q == record.quantity
    return IssuePlan(
        kind=PlanKind.MOVE_WHOLE if whole else PlanKind.SPLIT,
        record_id=record.id,
        quantity=q,
        origin_keeps=record.quantity - q,
        how_created=None if whole else KitSplit.PARTIAL_KIT,
        location_id=issue_location(
            kit_status_after,
            stands_at=record.location_id,
            staging_location_id=item.staging_location_id,
            delivery_location_id=item.delivery_location_id,
            explicit=location_id,
        ),
        kit_status_after=kit_status_after,
    )


# --------------------------------------------------------------------------- unissue


@dataclass(frozen=True)
class UnissueRecord:
    """Facts about a record linked to a kit item (it holds exactly its issued quantity)."""

    id: int
    tracking: TrackingType
    quantity: Decimal
    location_id: int | None
    held_by_item_id: int | None  # the item of its unreleased link, if any
    installed: bool = False


@dataclass(frozen=True)
class UnissueItem:
    id: int
    kit_status: PartKitStatus


@dataclass(frozen=True)
class UnissuePlan:
    kind: PlanKind
    record_id: int  # the kitted record
    quantity: Decimal  # returned to stock
    kit_keeps: Decimal  # still held by the item (0 when moved whole: the link ends)
    how_created: KitSplit | None  # of the new stock record, when split
    location_id: int | None  # where the returned stock stands


def plan_unissue(
    record: UnissueRecord,
    item: UnissueItem,
    quantity: Decimal | None = None,
    *,
    location_id: int | None = None,
) -> UnissuePlan:
    """moveItemToInventory: return `record` (or `quantity` of it) from `item` to stock.

    `quantity` None returns the whole record (ION asks callers to send it; accepting
    its absence breaks no script). The stock lands at `location_id`, else where it stands.
    """
    problems = Problems()
    if record.held_by_item_id != item.id:
        problems.add(
            f"inventory {record.id} is not held by kit item {item.id}", field="partInventoryId"
        )
    if item.kit_status.is_closed:
        problems.add(
            f"the kit is {item.kit_status.value}: its inventory was already released",
            field="partKitItemId",
        )
    if record.installed:
        problems.add(
            f"inventory {record.id} is installed; uninstall it first", field="partInventoryId"
        )
    q: Decimal | None
    if quantity is None:
        q = record.quantity if record.quantity > ZERO else None
        if q is None:
            problems.add(f"inventory {record.id} holds nothing", field="partInventoryId")
    else:
        q = _check_quantity(quantity, problems)
        if q is not None and record.tracking is TrackingType.SERIAL and q != ONE:
            problems.add("a serial record returns whole: quantity must be 1", field="quantity")
        elif q is not None and q > record.quantity:
            problems.add(
                f"quantity {q} is more than was issued ({record.quantity})", field="quantity"
            )
    problems.raise_if_any()
    assert q is not None

    whole = q == record.quantity
    return UnissuePlan(
        kind=PlanKind.MOVE_WHOLE if whole else PlanKind.SPLIT,
        record_id=record.id,
        quantity=q,
        kit_keeps=record.quantity - q,
        how_created=None if whole else KitSplit.PARTIAL_UNKIT,
        location_id=location_id if location_id is not None else record.location_id,
    )


# --------------------------------------------------------------------------- fulfilment


@dataclass(frozen=True)
class OpenLine:
    """An open kit item as fulfilment sees it."""

    item_id: int
    part_id: int
    remaining: Decimal


@dataclass(frozen=True)
class Candidate:
    """An available record fulfilment may use."""

    record_id: int
    part_id: int
    tracking: TrackingType
    quantity: Decimal
    created_at: datetime
    location_name: str | None = None
    expires_at: date | None = None
    location_id: int | None = None


@dataclass(frozen=True)
class Allocation:
    """Issue `quantity` of `record_id` to `item_id`, the linked record standing at
    `location_id` afterwards. Apply allocations in the given order: `split` is judged against
    what the record still holds after the earlier ones."""

    item_id: int
    record_id: int
    quantity: Decimal
    split: bool
    location_id: int | None = None

    @property
    def kind(self) -> PlanKind:
        return PlanKind.SPLIT if self.split else PlanKind.MOVE_WHOLE

    @property
    def how_created(self) -> KitSplit | None:
        return KitSplit.PARTIAL_KIT if self.split else None


@dataclass(frozen=True)
class Shortage:
    item_id: int
    part_id: int
    quantity: Decimal  # missing


@dataclass(frozen=True)
class FulfilmentPlan:
    allocations: tuple[Allocation, ...]
    shortages: tuple[Shortage, ...]
    kit_status_after: PartKitStatus | None = None  # None: planned without a kit


@dataclass(frozen=True)
class KitPlace:
    """The kit's status and locations, as issuing and fulfilment see them."""

    status: PartKitStatus
    staging_location_id: int | None = None
    delivery_location_id: int | None = None


class FulfilmentStrategy(Protocol):
    """The order in which candidates serve (first = used first)."""

    @property
    def name(self) -> str: ...

    def key(self, candidate: Candidate) -> tuple[Any, ...]: ...


@dataclass(frozen=True)
class FifoStrategy:
    """Oldest first; the id breaks ties so the order is total."""

    name: str = "FIFO"

    def key(self, candidate: Candidate) -> tuple[Any, ...]:
        return (candidate.created_at, candidate.record_id)


@dataclass(frozen=True)
class FefoStrategy:
    """First expiring first; records without an expiry date last, then oldest first.

    Expiry orders, it does not filter: an expired record is still used (first). Stock that
    must not be kitted is scrapped or moved to a location whose stock does not count as
    available (docs/kit-rules.md#fulfilment-order).
    """

    name: str = "FEFO"

    def key(self, candidate: Candidate) -> tuple[Any, ...]:
        never = candidate.expires_at is None
        return (never, candidate.expires_at or date.min, candidate.created_at, candidate.record_id)


FIFO = FifoStrategy()
FEFO = FefoStrategy()


class FulfilmentOrder(enum.StrEnum):
    """A part's setting: the order in which fulfilment uses its available records (stored in
    `part.fulfilment_order`). The SQL candidate search of services.kits orders by the same
    keys as `strategy.key`."""

    FIFO = "FIFO"  # oldest received first (creation time, then id)
    FEFO = "FEFO"  # earliest expiry first; no expiry date last; then oldest first

    @property
    def strategy(self) -> FulfilmentStrategy:
        return FEFO if self is FulfilmentOrder.FEFO else FIFO


def check_fulfillable(status: PartKitStatus) -> None:
    """fulfillPartKit refuses a closed kit (its inventory was released)."""
    if status.is_closed:
        raise BadInput(f"the kit is {status.value}; reopen it before fulfilling it", field="id")


def plan_fulfilment(
    items: Sequence[OpenLine],
    candidates: Sequence[Candidate],
    strategy: FulfilmentStrategy | Mapping[int, FulfilmentStrategy] = FIFO,
    *,
    kit: KitPlace | None = None,
) -> FulfilmentPlan:
    """fulfillPartKit: choose inventory for every open line, in strategy order across the
    whole kit.

    `strategy` is one for every part, or one per part id (parts not named: FIFO). Lines are
    served in the order given (the service passes them by id). Per part, the candidates form
    one queue shared by all lines of that part, so a record is never used twice and the
    leftover of a lot split for one line serves the next. Serial records go whole and only
    to a line still needing at least 1 (an item never holds more than it requests). Partial
    fulfilment is fine: what cannot be found is a shortage.

    With `kit`: a closed kit is refused, each allocation says where its record stands
    afterwards (`issue_location`) and the plan the kit's status after it (issuing anything
    starts a DRAFT or REQUESTED kit).
    """
    if kit is not None:
        check_fulfillable(kit.status)
    seen: set[int] = set()
    for c in candidates:
        if c.record_id in seen:
            raise ValueError(f"candidate {c.record_id} given twice")
        seen.add(c.record_id)

    def strategy_of(part_id: int) -> FulfilmentStrategy:
        if isinstance(strategy, Mapping):
            return strategy.get(part_id, FIFO)
        return strategy

    queues: dict[int, list[Candidate]] = {}
    for c in candidates:
        if c.quantity > ZERO:
            queues.setdefault(c.part_id, []).append(c)
    for part_id, queue in queues.items():
        queue.sort(key=strategy_of(part_id).key)
    left: dict[int, Decimal] = {c.record_id: c.quantity for c in candidates}

    picks: list[tuple[OpenLine, Candidate, Decimal, bool]] = []
    shortages: list[Shortage] = []
    for line in items:
        need = line.remaining
        if need <= ZERO:
            continue
        for c in queues.get(line.part_id, []):
            if need <= ZERO:
                break
            have = left[c.record_id]
            if have <= ZERO:
                continue
            if c.tracking is TrackingType.SERIAL:
                if need < have:  # a serial cannot be split; leave it for a line needing 1
                    continue
                take = have
            else:
                take = min(have, need)
            picks.append((line, c, take, take < have))
            left[c.record_id] = have - take
            need -= take
        if need > ZERO:
            shortages.append(Shortage(line.item_id, line.part_id, need))

    status_after: PartKitStatus | None = None
    if kit is not None:
        status_after = status_after_issue(kit.status) if picks else kit.status
    allocations = tuple(
        Allocation(
            line.item_id, c.record_id, take, split=split,
            location_id=(
                c.location_id if status_after is None else issue_location(
                    status_after, stands_at=c.location_id,
                    staging_location_id=kit.staging_location_id if kit else None,
                    delivery_location_id=kit.delivery_location_id if kit else None,
                )
            ),
        )
        for line, c, take, split in picks
    )
    return FulfilmentPlan(allocations, tuple(shortages), status_after)


# --------------------------------------------------------------------------- pick list


@dataclass(frozen=True)
class PickLine:
    record_id: int
    part_number: str
    location_name: str | None
    quantity: Decimal
    item_id: int | None = None
    serial_number: str | None = None
    lot_number: str | None = None


_CHUNKS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """"A-2" < "A-10": digit runs compare as numbers, the rest case-insensitively."""
    key: list[tuple[int, int, str]] = []
    for i, chunk in enumerate(_CHUNKS.split(text)):
        if not chunk:
            continue
        # split() alternates text / digits, so odd indexes are digit runs
        key.append((0, int(chunk), "") if i % 2 else (1, 0, chunk.casefold()))
    return tuple(key)


def pick_path_order(lines: Iterable[PickLine]) -> list[PickLine]:
    """Pick list order: location name (natural sort; no location last), part number,
    record id. The raw name breaks ties between "A-02" and "A-2"."""

    def key(line: PickLine) -> tuple[Any, ...]:
        name = line.location_name
        return (
            name is None,
            natural_key(name or ""),
            name or "",
            natural_key(line.part_number),
            line.part_number,
            line.record_id,
        )

    return sorted(lines, key=key)


# --------------------------------------------------------------------------- shortage report


@dataclass(frozen=True)
class KitDemand:
    kit_id: int
    status: PartKitStatus
    created_at: datetime
    lines: Sequence[OpenLine]
    priority: int | None = None  # 1 comes before 2; kits with a priority before those without


@dataclass(frozen=True)
class LineOutlook:
    item_id: int
    part_id: int
    needed: Decimal  # still to kit
    fulfillable: Decimal  # from the stock left after higher-priority kits
    missing: Decimal


@dataclass(frozen=True)
class KitOutlook:
    kit_id: int
    status: PartKitStatus
    lines: tuple[LineOutlook, ...]

    @property
    def can_fulfil_now(self) -> bool:
        return all(line.missing == ZERO for line in self.lines)

    @property
    def missing_by_part(self) -> dict[int, Decimal]:
        out: dict[int, Decimal] = {}
        for line in self.lines:
            if line.missing > ZERO:
                out[line.part_id] = out.get(line.part_id, ZERO) + line.missing
        return out


@dataclass(frozen=True)
class ShortageReport:
    kits: tuple[KitOutlook, ...]
    missing_by_part: dict[int, Decimal]  # over all kits
    stock_left: dict[int, Decimal]  # after every listed kit took what it could


def kit_priority_key(kit: KitDemand) -> tuple[bool, int, datetime, int]:
    return (kit.priority is None, kit.priority or 0, kit.created_at, kit.kit_id)


def shortage_report(
    kits: Iterable[KitDemand], available_by_part: Mapping[int, Decimal]
) -> ShortageReport:
    """Which requested kits can be filled now, and what is missing.

    Kits REQUESTED or IN_PROGRESS are taken in priority order (`kit_priority_key`: priority
    set first, then creation order); each takes what it can of the available quantity per
    part, partial fills included (as fulfilment would), so later kits see only what is left.
    Quantities only: it does not model which serial or lot would be chosen.
    """
    stock = {part: max(q, ZERO) for part, q in available_by_part.items()}
    outlooks: list[KitOutlook] = []
    total_missing: dict[int, Decimal] = {}
    for kit in sorted((k for k in kits if k.status in SHORTAGE_STATUSES), key=kit_priority_key):
        lines: list[LineOutlook] = []
        for line in kit.lines:
            needed = max(line.remaining, ZERO)
            take = min(needed, stock.get(line.part_id, ZERO))
            if take > ZERO:
                stock[line.part_id] -= take
            missing = needed - take
            if missing > ZERO:
                total_missing[line.part_id] = total_missing.get(line.part_id, ZERO) + missing
            lines.append(LineOutlook(line.item_id, line.part_id, needed, take, missing))
        outlooks.append(KitOutlook(kit.kit_id, kit.status, tuple(lines)))
    return ShortageReport(tuple(outlooks), total_missing, stock)
