"""Retail kit orders (docs/retail-orders.md): settings, orders, allocation, releases, order
events and their reconciliation, returns.

The rules live in `domain.orders`; this module fetches facts, locks, applies the decision and
writes the ledger. Lock order everywhere: the order row, then release lines (ascending id),
then inventory records (ascending id). Allocated inventory is split off into records held by
an `OrderAllocationInventory` link, so its derived status is ALLOCATED and it leaves
availability, FIFO fulfilment and every other demand at once (docs/rules.md#r3).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Table, and_, bindparam, func, insert, select, tuple_, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from kitwright.domain import orders as rules
from kitwright.domain.errors import BadInput, Conflict, NotFound, Problems
from kitwright.domain.kit_definitions import normalize_kit_definition
from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.orders import (
    Candidate,
    EventFact,
    ExchangeType,
    GroupResult,
    GroupState,
    LineDemand,
    OrderEventType,
    ReturnCondition,
    ReturnVerificationPolicy,
)
from kitwright.domain.quantities import ZERO, from_units, normalize, parse_quantity
from kitwright.domain.status import PartInventoryStatus
from kitwright.services import actions
from kitwright.services.inventory import NewPartInventory, build_part_inventory
from kitwright.services.ledger import entry_values, record_change, snapshot, write_entries
from kitwright.services.listing import Listing
from kitwright.services.uow import UnitOfWork, check_etag, get, lock_conflict, register_constraint
from kitwright.store.models import (
    Invoice,
    InvoiceLine,
    Location,
    OrderAllocation,
    OrderAllocationInventory,
    OrderEventMessage,
    OrderLine,
    OrderLineComponent,
    OrderRelease,
    OrderReleaseLine,
    OrderSettings,
    Part,
    PartComponent,
    PartInventory,
    RetailOrder,
    ReturnLine,
    ReturnOrder,
    ReturnVerification,
    UnprocessedOrderEvent,
    new_etag,
    status_is,
    utcnow,
)

register_constraint("uq_retail_order_order_number", "orderNumber", "an order with this number exists")
register_constraint(
    "uq_order_allocation_inventory_held", "id", "the inventory is already allocated; try again"
)
register_constraint("uq_order_release_release_number", "id",
                    "another release took the same release number meanwhile; try again", conflict=True)

T = TypeVar("T")
_BEING_CHANGED = "the inventory is being changed by another request; try again"
MAX_LINES = 1000
MAX_EVENTS = 1000
_FRESH = {"populate_existing": True}


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    partial_kit_supported: bool = False
    enable_kits: bool = False
    return_verification_policy: ReturnVerificationPolicy = ReturnVerificationPolicy.RETURN_ORDER
    backorder_short_reasons: tuple[str, ...] = ()


def _settings_of(row: OrderSettings | None) -> Settings:
    if row is None:
        return Settings()
    return Settings(
        row.partial_kit_supported, row.enable_kits,
        ReturnVerificationPolicy(row.return_verification_policy), tuple(row.backorder_short_reasons or ()),
    )


def read_settings(session: Session) -> Settings:
    return _settings_of(session.get(OrderSettings, 1))


def settings_row(session: Session) -> OrderSettings:
    """The settings row as stored, or an unsaved row holding the defaults."""
    row = session.get(OrderSettings, 1)
    return row if row is not None else OrderSettings(
        id=1, partial_kit_supported=False, enable_kits=False,
        return_verification_policy="RETURN_ORDER", backorder_short_reasons=[], etag="",
    )


def update_order_settings(uow: UnitOfWork, changes: Mapping[str, Any], etag: str | None = None) -> OrderSettings:
    row = uow.session.scalars(select(OrderSettings).where(OrderSettings.id == 1).with_for_update()).one_or_none()
    if row is None:
        try:
            with uow.session.begin_nested():
                uow.session.add(OrderSettings(
                    id=1, partial_kit_supported=False, enable_kits=False,
                    return_verification_policy="RETURN_ORDER", backorder_short_reasons=[],
                ))
        except IntegrityError:
            pass  # created concurrently: lock the winner's row below
        row = uow.session.scalars(
            select(OrderSettings).where(OrderSettings.id == 1).with_for_update().execution_options(**_FRESH)
        ).one()
    else:
        check_etag(row, etag, required=False)
    for name in ("partial_kit_supported", "enable_kits"):
        if name in changes and changes[name] is not None:
            setattr(row, name, bool(changes[name]))
    if changes.get("return_verification_policy") is not None:
        try:
            row.return_verification_policy = ReturnVerificationPolicy(str(changes["return_verification_policy"])).value
        except ValueError:
            raise BadInput("unknown return verification policy", field="returnVerificationPolicy") from None
    if changes.get("backorder_short_reasons") is not None:
        reasons = [str(r).strip() for r in changes["backorder_short_reasons"]]
        if any(not r or len(r) > 250 for r in reasons):
            raise BadInput("short reason ids must be non-empty texts", field="backorderShortReasonIds")
        row.backorder_short_reasons = sorted(set(reasons))
    uow.commit()
    return row


# --------------------------------------------------------------------------- orders


@dataclass(frozen=True)
class NewLine:
    line_number: str
    part_id: int
    quantity: object
    components: Sequence[tuple[int, object]] | None = None


def _whole(value: object, field: str) -> int:
    number = parse_quantity(value, field=field)
    if number != number.to_integral_value() or number < 1:
        raise BadInput("must be a whole number of at least 1", field=field)
    return int(number)


def create_order(uow: UnitOfWork, order_number: str, lines: Sequence[NewLine], *,
                 exchange_for_return_id: int | None = None, commit: bool = True) -> RetailOrder:
    """createOrder: components given on a line win over the item master, else copied from it."""
    problems = Problems()
    number = (order_number or "").strip()
    if not number or len(number) > 200:
        problems.add("orderNumber must be a non-empty text of at most 200 characters", field="orderNumber")
    if not lines:
        problems.add("an order needs at least one line", field="lines")
    if len(lines) > MAX_LINES:
        raise BadInput(f"at most {MAX_LINES} lines", field="lines")
    part_ids = {line.part_id for line in lines} | {
        c for line in lines for c, _ in (line.components or [])
    }
    parts = {p.id: p for p in uow.session.scalars(select(Part).where(Part.id.in_(sorted(part_ids))))}
    master: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for kit_id, component_id, ratio in uow.session.execute(
        select(PartComponent.part_id, PartComponent.component_part_id, PartComponent.quantity)
        .where(PartComponent.part_id.in_(sorted(part_ids))).order_by(PartComponent.id)
    ):
        master[kit_id].append((component_id, ratio))
    digital = {p.id: p.is_digital for p in parts.values()}
    seen: set[str] = set()
    prepared: list[tuple[NewLine, str, int, list[tuple[int, Decimal]]]] = []
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        line_number = str(line.line_number or "").strip() or str(index + 1)
        if len(line_number) > 50:
            problems.add("lineNumber is at most 50 characters", field=f"{where}.lineNumber")
        if line_number in seen:
            problems.add(f"line number {line_number} is used twice", field=f"{where}.lineNumber")
        seen.add(line_number)
        if line.part_id not in parts:
            problems.add(f"part {line.part_id} does not exist", field=f"{where}.partId")
            continue
        try:
            quantity = _whole(line.quantity, f"{where}.quantity")
        except BadInput as error:
            problems.add(error.message, field=error.field)
            continue
        components: list[tuple[int, Decimal]] = []
        if line.components:
            given: list[tuple[int, Decimal]] = []
            for ci, (component_id, given_ratio) in enumerate(line.components):
                if component_id not in parts:
                    problems.add(f"part {component_id} does not exist", field=f"{where}.components[{ci}].partId")
                    continue
                try:
                    given.append((component_id, parse_quantity(given_ratio, field=f"{where}.components[{ci}].quantity")))
                except BadInput as error:
                    problems.add(error.message, field=error.field)
            try:
                # Components of components are flattened with the item master (as saved).
                components = normalize_kit_definition(
                    line.part_id, given, master, digital, field=f"{where}.components"
                )
            except BadInput as error:
                for problem in error.details or [error]:  # type: ignore[list-item]
                    problems.add(problem.message, field=problem.field)
                continue
        else:
            components = list(master.get(line.part_id, []))
        prepared.append((line, line_number, quantity, components))
    problems.raise_if_any()
    if uow.session.scalar(select(RetailOrder.id).where(RetailOrder.order_number == number)) is not None:
        raise BadInput(f"an order numbered {number} exists", field="orderNumber")
    order = RetailOrder(order_number=number, exchange_for_return_id=exchange_for_return_id,
                        created_by_id=uow.actor.id)
    uow.session.add(order)
    uow.flush()
    # Every line in one flush (their ids), then every component in one more.
    rows = [OrderLine(order_id=order.id, line_number=line_number, part_id=line.part_id, quantity=quantity,
                      is_kit=bool(components), canceled_quantity=0, shipped_quantity=0,
                      shorted_quantity=0, returned_quantity=0, allocation_attempted=False)
            for line, line_number, quantity, components in prepared]
    uow.session.add_all(rows)
    uow.flush()
    for row, (_line, _number, _quantity, components) in zip(rows, prepared, strict=True):
        uow.session.add_all(
            OrderLineComponent(order_line_id=row.id, part_id=c, quantity=r) for c, r in components
        )
    if commit:
        uow.commit()
    else:
        uow.flush()
    return order


def lock_order(uow: UnitOfWork, id: int, field: str = "id") -> RetailOrder:
    order = uow.session.scalars(
        select(RetailOrder).where(RetailOrder.id == id).with_for_update().execution_options(**_FRESH)
    ).one_or_none()
    if order is None:
        raise NotFound(f"Order {id} does not exist", field=field)
    return order


def lines_of(session: Session, order_ids: Iterable[int], *, lock: bool = False) -> dict[int, list[OrderLine]]:
    found: dict[int, list[OrderLine]] = defaultdict(list)
    ids = sorted(set(order_ids))
    if ids:
        stmt = select(OrderLine).where(OrderLine.order_id.in_(ids)).order_by(OrderLine.id)
        if lock:
            stmt = stmt.with_for_update()
        for line in session.scalars(stmt.execution_options(**_FRESH)):
            found[line.order_id].append(line)
    return found


def ratios_of(session: Session, lines: Sequence[OrderLine]) -> dict[int, dict[int, Decimal]]:
    """(component part -> ratio) per line; a regular line is its own single component."""
    result: dict[int, dict[int, Decimal]] = {line.id: {} for line in lines}
    kit_ids = [line.id for line in lines if line.is_kit]
    if kit_ids:
        for row in session.scalars(
            select(OrderLineComponent).where(OrderLineComponent.order_line_id.in_(kit_ids))
            .order_by(OrderLineComponent.id)
        ):
            result[row.order_line_id][row.part_id] = row.quantity
    for line in lines:
        if not line.is_kit:
            result[line.id] = {line.part_id: Decimal(1)}
    return result


# --------------------------------------------------------------------------- quantity detail


@dataclass
class QuantityDetail:
    """A kit line's quantities, in kits."""

    ordered: int = 0
    allocated: int = 0
    backordered: int = 0
    released: int = 0
    in_progress: int = 0
    picked: int = 0
    packed: int = 0
    shipped: int = 0
    shorted: int = 0
    canceled: int = 0
    unallocated: int = 0


def group_states(session: Session, line_ids: Iterable[int], *, lock: bool = False
                 ) -> tuple[dict[tuple[int, int], GroupState], dict[tuple[int, int], list[OrderReleaseLine]]]:
    """(release id, order line id) -> stage counts, and the release lines of each group."""
    ids = sorted(set(line_ids))
    states: dict[tuple[int, int], GroupState] = {}
    rows: dict[tuple[int, int], list[OrderReleaseLine]] = defaultdict(list)
    if not ids:
        return states, rows
    stmt = select(OrderReleaseLine).where(OrderReleaseLine.order_line_id.in_(ids)).order_by(OrderReleaseLine.id)
    if lock:
        stmt = stmt.with_for_update()
    for row in session.scalars(stmt.execution_options(**_FRESH)):
        key = (row.release_id, row.order_line_id)
        rows[key].append(row)
        if key not in states:
            states[key] = GroupState(row.released, row.in_progress, row.picked, row.packed)
    return states, rows


def quantity_details(session: Session, lines: Sequence[OrderLine]) -> dict[int, QuantityDetail]:
    ids = [line.id for line in lines]
    details = {line.id: QuantityDetail(ordered=line.quantity, shipped=line.shipped_quantity,
                                       shorted=line.shorted_quantity, canceled=line.canceled_quantity)
               for line in lines}
    if not ids:
        return details
    for line_id, kits in session.execute(
        select(OrderAllocation.order_line_id, func.sum(OrderAllocation.kits))
        .where(OrderAllocation.order_line_id.in_(ids), OrderAllocation.release_id.is_(None))
        .group_by(OrderAllocation.order_line_id)
    ):
        details[line_id].allocated = int(kits or 0)
    states, _ = group_states(session, ids)
    for (_release, line_id), state in states.items():
        detail = details[line_id]
        detail.released += state.released
        detail.in_progress += state.in_progress
        detail.picked += state.picked
        detail.packed += state.packed
    for line in lines:
        d = details[line.id]
        rest = d.ordered - d.canceled - d.shipped - d.allocated - d.released - d.in_progress - d.picked - d.packed
        if line.allocation_attempted:
            d.backordered = rest
        else:
            d.unallocated = rest
    return details


# --------------------------------------------------------------------------- ledger helpers


def _new_record(uow: UnitOfWork, origin: PartInventory, quantity: Decimal, how: str) -> PartInventory:
    """A new record holding `quantity` split off `origin` (the caller has reduced the origin
    and flushes; the new record keeps the origin's age so FIFO survives the round trip)."""
    new = PartInventory(
        part_id=origin.part_id, part_number=origin.part_number, location_id=origin.location_id,
        supplier_id=origin.supplier_id, unit_of_measure_id=origin.unit_of_measure_id, serial_number=None,
        lot_number=origin.lot_number, quantity=normalize(quantity), cost=origin.cost,
        usage_type=origin.usage_type, segment=origin.segment, attributes=dict(origin.attributes or {}),
        on_order=False, expected_at=origin.expected_at, received_at=origin.received_at,
        expiration_date=origin.expiration_date, how_created=how,
        origin_part_inventory_id=origin.id, created_at=origin.created_at, created_by_id=uow.actor.id,
    )
    uow.session.add(new)
    return new


# --------------------------------------------------------------------------- allocation


@dataclass
class AllocationResult:
    order: RetailOrder
    allocations: list[OrderAllocation] = field(default_factory=list)


def _locked_pool(uow: UnitOfWork, condition: Any) -> tuple[
    dict[int, PartInventory], dict[tuple[int, int], list[Candidate]], dict[tuple[int, int], Decimal]
]:
    """Lock the matching records (ascending id, one statement), re-read which are still
    available, and return them, FIFO candidates per (site, part), and the pool they make."""
    matching = select(PartInventory.id).join(Location, Location.id == PartInventory.location_id).where(
        condition).correlate(None)
    stmt = (select(PartInventory).where(PartInventory.id.in_(matching)).order_by(PartInventory.id)
            .with_for_update().execution_options(**_FRESH))
    with lock_conflict(_BEING_CHANGED):
        records = {row.id: row for row in uow.session.scalars(stmt)}
    site_of: dict[int, int] = {}
    if records:
        # A fresh statement after the lock: what committed while we waited drops out (the
        # lock re-checks the locked row itself, not the links a committed allocation added).
        for rid, site in uow.session.execute(
            select(PartInventory.id, Location.site_id).join(Location, Location.id == PartInventory.location_id)
            .where(PartInventory.id.in_(sorted(records)), condition)
        ):
            if site is not None:
                site_of[rid] = site
    pool: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    by_key: dict[tuple[int, int], list[Candidate]] = defaultdict(list)
    for rid in sorted(site_of):
        record = records[rid]
        key = (site_of[record.id], record.part_id)
        pool[key] += record.quantity
        by_key[key].append(Candidate(record.id, record.quantity, record.serial_number is not None,
                                     record.created_at))
    for candidates in by_key.values():
        candidates.sort(key=rules.fifo_key)
    return records, by_key, pool


def allocate_order(uow: UnitOfWork, id: int) -> AllocationResult:
    """allocateOrder: reserve component inventory for every line's unallocated and
    backordered kits, lines in order from one shared pool (domain.orders.plan_allocation)."""
    order = lock_order(uow, id)
    settings = read_settings(uow.session)
    # Locked before their quantities are read: an event shorting or canceling kits of these
    # lines waits, so the open kits computed here stay true until commit.
    lines = lines_of(uow.session, [order.id], lock=True)[order.id]
    details = quantity_details(uow.session, lines)
    ratios = ratios_of(uow.session, lines)
    demands = []
    for line in lines:
        detail = details[line.id]
        open_kits = detail.backordered + detail.unallocated
        if open_kits > 0 and ratios[line.id]:
            demands.append(LineDemand(line.id, open_kits, tuple(ratios[line.id].items())))
        line.allocation_attempted = True
    result = AllocationResult(order)
    part_ids = sorted({p for d in demands for p, _ in d.components})
    if not part_ids:
        uow.commit()
        return result
    available = and_(
        PartInventory.part_id.in_(part_ids), status_is(PartInventoryStatus.AVAILABLE.value),
        Location.available_soon == False,  # noqa: E712
    )
    # An unlocked aggregate says where each line could go; then only the records at those
    # (site, part) pairs are locked and the plan is made again on what the locks hold. If that
    # differs from the plan on the aggregate (someone took stock meanwhile), the narrow locks
    # are released (savepoint) and every candidate is locked instead: correct either way,
    # and the common case locks a handful of rows instead of every site's.
    units = type_coerce(func.sum(type_coerce(PartInventory.quantity, BigInteger)), BigInteger)
    rough: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for site, part, total in uow.session.execute(
        select(Location.site_id, PartInventory.part_id, units).join(Location, Location.id == PartInventory.location_id)
        .where(available).group_by(Location.site_id, PartInventory.part_id)
    ):
        if site is not None:
            rough[(site, part)] = from_units(int(total or 0))
    guess = rules.plan_allocation(demands, rough, enable_kits=settings.enable_kits)
    if not guess:
        # No site can make a kit: everything stays backordered and nothing is held, so there
        # is nothing to lock (a later allocateOrder retries).
        uow.commit()
        return result
    keys = {(a.site_id, part) for a in guess for part in ratios[a.line_id]}
    plan: list[rules.Allocation] | None = None
    if keys:
        savepoint = uow.session.begin_nested()
        narrow = and_(available, Location.site_id.in_(sorted({k[0] for k in keys})),
                      PartInventory.part_id.in_(sorted({k[1] for k in keys})))
        records, by_key, pool = _locked_pool(uow, narrow)
        seen = dict(rough)
        seen.update({k: pool.get(k, ZERO) for k in keys})
        if rules.plan_allocation(demands, seen, enable_kits=settings.enable_kits) == guess:
            plan = guess
        else:
            savepoint.rollback()
    if plan is None:
        records, by_key, pool = _locked_pool(uow, available)
        plan = rules.plan_allocation(demands, pool, enable_kits=settings.enable_kits)
    used: dict[int, Decimal] = defaultdict(lambda: ZERO)
    chosen: list[tuple[rules.Allocation, dict[int, list[tuple[int, Decimal]]]]] = []
    for allocation in plan:
        picks_by_part = {
            part: rules.draw(ratio * allocation.kits, by_key[(allocation.site_id, part)], used)
            for part, ratio in ratios[allocation.line_id].items()
        }
        if any(not picks for picks in picks_by_part.values()):
            continue  # serial records that cannot make up the quantity: leave it backordered
        for picks in picks_by_part.values():
            for record_id, quantity in picks:
                used[record_id] += quantity
        chosen.append((allocation, picks_by_part))
    rows = [OrderAllocation(order_id=order.id, order_line_id=a.line_id, site_id=a.site_id, kits=a.kits)
            for a, _ in chosen]
    uow.session.add_all(rows)
    uow.flush()
    # The locked records change set-based (one UPDATE, one INSERT of the splits, one of the
    # ledger entries), not one versioned UPDATE per record.
    writes = _Writes()
    # (record id, or the split record whose id the flush assigns), allocation, part, quantity
    held: list[tuple[int | PartInventory, OrderAllocation, int, Decimal]] = []
    for row, (allocation, picks_by_part) in zip(rows, chosen, strict=True):
        refs: dict[str, Any] = {"orderId": order.id, "orderLineId": allocation.line_id, "allocationId": row.id}
        for part, picks in picks_by_part.items():
            for record_id, quantity in picks:
                record = records[record_id]
                left = writes.quantity(record)
                if quantity == left:
                    # The whole record is held: unchanged, but its status changes (an entry too).
                    writes.change(uow, record, left, LedgerOperation.ORDER_ALLOCATE, refs)
                    held.append((record.id, row, part, quantity))
                    continue
                writes.change(uow, record, left - quantity, LedgerOperation.ORDER_ALLOCATE, refs)
                split = _new_record(uow, record, quantity, "ORDER_ALLOCATION")
                writes.splits.append(_Split(split, LedgerOperation.ORDER_ALLOCATE, refs))
                held.append((split, row, part, quantity))
    writes.write(uow)
    uow.session.add_all(OrderAllocationInventory(
        allocation_id=row.id, order_line_id=row.order_line_id, part_id=part,
        part_inventory_id=record if isinstance(record, int) else record.id, quantity=normalize(quantity),
        released=False,
    ) for record, row, part, quantity in held)
    result.allocations.extend(rows)
    uow.commit()
    return result


# --------------------------------------------------------------------------- releases


def _free_release_numbers(session: Session, order_number: str, after: int, count: int) -> list[str]:
    """`count` release numbers for the order's next releases (its sequence continues after
    `after`), skipping any already taken: releases numbered before the hyphen form keep their
    numbers, and one of them may read like a new number (order `X-`'s release `X-1`)."""
    numbers: list[str] = []
    sequence = after
    while len(numbers) < count:
        wanted = [rules.release_number(order_number, sequence + n) for n in range(1, count - len(numbers) + 1)]
        sequence += len(wanted)
        taken = set(session.scalars(select(OrderRelease.release_number)
                                    .where(OrderRelease.release_number.in_(wanted))))
        numbers.extend(number for number in wanted if number not in taken)
    return numbers


def release_order(uow: UnitOfWork, id: int) -> list[OrderRelease]:
    """releaseOrder: one release per site for the unreleased allocations; its lines carry every
    component of the kits allocated there, each naming its parent kit line."""
    order = lock_order(uow, id)
    allocations = list(uow.session.scalars(
        select(OrderAllocation).where(OrderAllocation.order_id == order.id, OrderAllocation.release_id.is_(None),
                                      OrderAllocation.kits > 0)
        .order_by(OrderAllocation.site_id, OrderAllocation.order_line_id, OrderAllocation.id)
    ))
    if not allocations:
        raise BadInput("the order has nothing allocated to release", field="id")
    lines = {line.id: line for line in lines_of(uow.session, [order.id])[order.id]}
    ratios = ratios_of(uow.session, list(lines.values()))
    count = uow.session.scalar(select(func.count()).select_from(OrderRelease).where(OrderRelease.order_id == order.id)) or 0
    by_site: dict[int, list[OrderAllocation]] = defaultdict(list)
    for allocation in allocations:
        by_site[allocation.site_id].append(allocation)
    # Every release in one flush (their ids), then every line and allocation change in one more.
    sites = sorted(by_site)
    numbers = _free_release_numbers(uow.session, order.order_number, count, len(sites))
    releases = [OrderRelease(order_id=order.id, site_id=site_id, release_number=number)
                for site_id, number in zip(sites, numbers, strict=True)]
    uow.session.add_all(releases)
    uow.flush()
    for site_id, release in zip(sites, releases, strict=True):
        kits_by_line: dict[int, int] = defaultdict(int)
        for allocation in by_site[site_id]:
            kits_by_line[allocation.order_line_id] += allocation.kits
            allocation.release_id = release.id
        number = 0
        for line_id in sorted(kits_by_line):
            kits = kits_by_line[line_id]
            for part, ratio in ratios[line_id].items():
                number += 1
                uow.session.add(OrderReleaseLine(
                    release_id=release.id, line_number=number, order_line_id=line_id, part_id=part, ratio=ratio,
                    quantity=normalize(ratio * kits), kits=kits, released=kits, in_progress=0, picked=0,
                    packed=0, shipped=0, shorted=0, canceled=0,
                ))
    uow.commit()
    return releases


# --------------------------------------------------------------------------- order events


@dataclass(frozen=True)
class NewEvent:
    event_type: object
    part_id: int | None = None
    quantity: object = None
    order_line_id: int | None = None
    release_line_id: int | None = None
    order_id: int | None = None
    package_id: str | None = None
    short_reason_id: str | None = None
    cancel_unfulfilled: bool = False


@dataclass
class EventOutcome:
    message: OrderEventMessage
    processed: bool
    unprocessed: list[UnprocessedOrderEvent]
    duplicate: bool = False
    invoices: list[Invoice] = field(default_factory=list)


@dataclass
class _Resolved:
    index: int
    fact: EventFact
    line: OrderLine
    release_id: int | None
    release_line_id: int | None


def _event_type(value: object, field: str) -> OrderEventType:
    text = str(getattr(value, "value", value) or "").strip().upper().replace("-", "_").replace(" ", "_")
    text = {"INPROGRESS": "IN_PROGRESS", "PICKED": "PICK", "PACKED": "PACK", "SHIPPED": "SHIP",
            "SHORTED": "SHORT"}.get(text, text)
    try:
        return OrderEventType(text)
    except ValueError:
        raise BadInput("the event type must be one of IN_PROGRESS, PICK, PACK, SHIP, SHORT", field=field) from None


def _outcome_of(session: Session, message: OrderEventMessage, duplicate: bool) -> EventOutcome:
    stored = list(session.scalars(
        select(UnprocessedOrderEvent).where(UnprocessedOrderEvent.message_id == message.id)
        .order_by(UnprocessedOrderEvent.position)
    ))
    return EventOutcome(message, message.processed, stored, duplicate)


def _resolve_events(uow: UnitOfWork, events: Sequence[NewEvent]) -> list[_Resolved]:
    """Find each event's line and release; unknown ids and malformed values are errors."""
    problems = Problems()
    missing = Problems()
    session = uow.session
    release_line_ids = sorted({e.release_line_id for e in events if e.release_line_id is not None})
    release_lines = {r.id: r for r in session.scalars(
        select(OrderReleaseLine).where(OrderReleaseLine.id.in_(release_line_ids)))} if release_line_ids else {}
    line_ids = {e.order_line_id for e in events if e.order_line_id is not None} | {
        r.order_line_id for r in release_lines.values()}
    lines = {line.id: line for line in session.scalars(
        select(OrderLine).where(OrderLine.id.in_(sorted(line_ids))))} if line_ids else {}
    part_ids = sorted({e.part_id for e in events if e.part_id is not None})
    known_parts = set(session.scalars(select(Part.id).where(Part.id.in_(part_ids)))) if part_ids else set()
    # Events naming neither line: the order's first regular line of the item (one query).
    by_order = sorted({e.order_id for e in events
                       if e.release_line_id is None and e.order_line_id is None and e.order_id is not None})
    regular: dict[tuple[int, int], OrderLine] = {}
    if by_order:
        for candidate in session.scalars(select(OrderLine).where(
            OrderLine.order_id.in_(by_order), OrderLine.is_kit == False,  # noqa: E712
        ).order_by(OrderLine.id)):
            regular.setdefault((candidate.order_id, candidate.part_id), candidate)
    resolved: list[_Resolved] = []
    for index, event in enumerate(events):
        where = f"events[{index}]"
        try:
            event_type = _event_type(event.event_type, f"{where}.eventType")
            quantity = parse_quantity(event.quantity, field=f"{where}.quantity")
        except BadInput as error:
            problems.add(error.message, field=error.field)
            continue
        if event.part_id is None or event.part_id not in known_parts:
            missing.add(f"part {event.part_id} does not exist", field=f"{where}.partId")
            continue
        line: OrderLine | None = None
        release_id: int | None = None
        if event.release_line_id is not None:
            release_line = release_lines.get(event.release_line_id)
            if release_line is None:
                missing.add(f"release line {event.release_line_id} does not exist", field=f"{where}.releaseLineId")
                continue
            if event.order_line_id is not None and event.order_line_id != release_line.order_line_id:
                problems.add("the release line belongs to another order line", field=f"{where}.orderLineId")
                continue
            line = lines[release_line.order_line_id]
            release_id = release_line.release_id
        elif event.order_line_id is not None:
            line = lines.get(event.order_line_id)
            if line is None:
                missing.add(f"order line {event.order_line_id} does not exist", field=f"{where}.orderLineId")
                continue
        elif event.order_id is not None:
            # Neither line named: a regular item of the order (retail rules).
            line = regular.get((event.order_id, event.part_id))
            if line is None:
                problems.add("the order has no regular line for this item", field=f"{where}.partId")
                continue
        else:
            problems.add("name an orderLineId or a releaseLineId (or the orderId, for a regular item)",
                         field=f"{where}.orderLineId")
            continue
        fact = EventFact(index, event_type, event.part_id, quantity, (event.package_id or None),
                         (event.short_reason_id or None), bool(event.cancel_unfulfilled))
        resolved.append(_Resolved(index, fact, line, release_id, event.release_line_id))
    problems.raise_if_any()
    if missing:
        first = missing.items[0]
        raise NotFound(first.message if len(missing.items) == 1 else f"{len(missing.items)} unknown ids: "
                       + "; ".join(f"{p.field}: {p.message}" for p in missing.items[:20]),
                       field=first.field, details=missing.items)
    return resolved


@dataclass
class _Group:
    key: tuple[int | None, int, OrderEventType]
    line: OrderLine
    events: list[_Resolved]


def _group(resolved: Sequence[_Resolved], states: Mapping[tuple[int, int], GroupState]) -> list[_Group]:
    """Group by (release, line, event type) in order of first appearance. An event naming only
    its order line goes to the line's first release with kits open for its type."""
    groups: dict[tuple[int | None, int, OrderEventType], _Group] = {}
    for item in resolved:
        release_id = item.release_id
        if release_id is None:
            releases = sorted(r for (r, line_id) in states if line_id == item.line.id)
            open_ones = [r for r in releases if states[(r, item.line.id)].open_for(item.fact.event_type) > 0]
            choices: list[int | None] = [*open_ones, *releases, None]
            release_id = choices[0]
            item.release_id = release_id
        key = (release_id, item.line.id, item.fact.event_type)
        groups.setdefault(key, _Group(key, item.line, [])).events.append(item)
    return list(groups.values())


def _evaluate(groups: Sequence[_Group], states: Mapping[tuple[int, int], GroupState],
              ratios: Mapping[int, Mapping[int, Decimal]], partial: bool
              ) -> tuple[list[GroupResult], dict[int, str]]:
    """Check groups in order against a copy of the states (earlier groups count)."""
    working = {k: GroupState(s.released, s.in_progress, s.picked, s.packed) for k, s in states.items()}
    results: list[GroupResult] = []
    failures: dict[int, str] = {}
    for position, group in enumerate(groups):
        release_id, line_id, event_type = group.key
        if release_id is None or (release_id, line_id) not in working:
            failures[position] = "the line has no release to apply the event to"
            continue
        state = working[(release_id, line_id)]
        result, reason = rules.check_group(
            event_type, [e.fact for e in group.events], ratios[line_id], state, partial_supported=partial
        )
        if result is None:
            failures[position] = reason or "the check failed"
            continue
        state.take(event_type, result.kits)
        if result.cancel:
            state.take(OrderEventType.SHORT, result.cancel)
        results.append(result)
    return results, failures


@dataclass
class _Split:
    """A record split off a held one, waiting for the message's single flush for its id
    before its ledger entry is written."""

    record: PartInventory
    operation: LedgerOperation
    refs: dict[str, Any]


@dataclass
class _Writes:
    """The inventory changes of one message, gathered in memory and written set-based: one
    UPDATE of the records (an executemany), one INSERT of the ledger entries. The records are
    locked FOR UPDATE, so the version check of an ORM update per row adds nothing."""

    snapshots: dict[int, dict[str, Any]] = field(default_factory=dict)
    records: dict[int, PartInventory] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    splits: list[_Split] = field(default_factory=list)

    def quantity(self, record: PartInventory) -> Decimal:
        held = self.snapshots.get(record.id)
        return Decimal(held["quantity"]) if held is not None else record.quantity

    def change(self, uow: UnitOfWork, record: PartInventory, quantity: Decimal, operation: LedgerOperation,
               refs: dict[str, Any]) -> None:
        """`record` now holds `quantity` (unchanged: a status-driving link moved)."""
        before = self.snapshots.get(record.id) or snapshot(record)
        after = dict(before, quantity=str(normalize(quantity)))
        self.snapshots[record.id] = after
        self.records[record.id] = record
        self.entries.append(entry_values(uow, operation, record.id, record.part_id, before, after, **refs))

    def write(self, uow: UnitOfWork) -> None:
        session = uow.session
        if self.records:
            problems = Problems()
            olds = {rid: actions.values_of(record) for rid, record in self.records.items()}
            actions.check_rows(session, "PARTINVENTORY", [
                ("UPDATE", rid, old, dict(old, quantity=Decimal(self.snapshots[rid]["quantity"])))
                for rid, old in olds.items()], problems)
            problems.raise_if_any()
            table = PartInventory.__table__
            assert isinstance(table, Table)
            session.execute(
                update(table).where(table.c.id == bindparam("rid"))
                .values(quantity=bindparam("qty", type_=table.c.quantity.type), etag=bindparam("tag")),
                [{"rid": rid, "qty": Decimal(self.snapshots[rid]["quantity"]), "tag": new_etag()}
                 for rid in sorted(self.records)])
            for record in self.records.values():
                session.expire(record)
        if self.splits:
            session.flush()
            for split in self.splits:
                self.entries.append(entry_values(uow, split.operation, split.record.id, split.record.part_id,
                                                 None, snapshot(split.record), **split.refs))
        write_entries(uow, self.entries)


def _unlink(uow: UnitOfWork, links: Sequence[OrderAllocationInventory], records: Mapping[int, PartInventory],
            part: int, quantity: Decimal, operation: LedgerOperation, consume: bool, writes: _Writes,
            **refs: Any) -> None:
    """Take `quantity` of `part` out of the held links, oldest link first: shipped (the record
    is consumed) or released back to stock (unallocated). The record changes are gathered in
    `writes`, so the whole message writes them in one statement per table."""
    left = quantity
    for link in links:
        if left <= ZERO:
            break
        if link.part_id != part or link.released or link.quantity <= ZERO:
            continue
        record = records[link.part_inventory_id]
        got = min(left, link.quantity)
        left -= got
        if consume:
            link.quantity = normalize(link.quantity - got)
            if link.quantity == ZERO:
                link.released = True
            writes.change(uow, record, writes.quantity(record) - got, operation, refs)
        elif got == link.quantity:
            link.released = True
            writes.change(uow, record, writes.quantity(record), operation, refs)
        else:
            link.quantity = normalize(link.quantity - got)
            writes.change(uow, record, writes.quantity(record) - got, operation, refs)
            writes.splits.append(_Split(_new_record(uow, record, got, "ORDER_RELEASE"), operation, refs))
    if left > ZERO:
        raise Conflict("the allocation holds less than the event needs; fetch the order again")


def _held_links(uow: UnitOfWork, keys: Iterable[tuple[int, int]]) -> tuple[
    dict[tuple[int, int], list[OrderAllocationInventory]], dict[int, PartInventory]
]:
    """The held links of every (release, order line) group, oldest first, and their records,
    locked in ascending id order: one statement."""
    wanted = sorted(set(keys))
    found: dict[tuple[int, int], list[OrderAllocationInventory]] = defaultdict(list)
    records: dict[int, PartInventory] = {}
    if not wanted:
        return found, records
    # Aliases: the record's status expression reads the link and allocation tables itself.
    link, allocation = aliased(OrderAllocationInventory), aliased(OrderAllocation)
    stmt = (
        select(link, allocation.release_id, PartInventory)
        .join(allocation, allocation.id == link.allocation_id)
        .join(PartInventory, PartInventory.id == link.part_inventory_id)
        .where(tuple_(allocation.release_id, link.order_line_id).in_(wanted), link.released == False)  # noqa: E712
        .order_by(PartInventory.id).with_for_update(of=PartInventory).execution_options(**_FRESH)
    )
    with lock_conflict(_BEING_CHANGED):
        rows = uow.session.execute(stmt).all()
    for held, release_id, record in sorted(rows, key=lambda r: r[0].id):
        assert release_id is not None  # the condition names it
        found[(release_id, held.order_line_id)].append(held)
        records[record.id] = record
    return found, records


def _apply(uow: UnitOfWork, groups: Sequence[_Group], results: Sequence[GroupResult],
           rows: Mapping[tuple[int, int], list[OrderReleaseLine]], ratios: Mapping[int, Mapping[int, Decimal]],
           settings: Settings, message_id: int | None, *, invoice_per_group: bool = False) -> list[Invoice]:
    """Apply checked groups in a fixed number of statements, whatever their number: the held
    links and records are read (and locked) once, every change is made on the loaded objects,
    and one flush sends each table's updates and inserts as a batch (then invoice lines and
    the ledger entries of split records, which need the ids that flush assigns)."""
    session = uow.session
    moving = {(g.key[0], g.key[1]) for g, r in zip(groups, results, strict=True)
              if g.key[0] is not None and (r.event_type in (OrderEventType.SHIP, OrderEventType.SHORT) or r.cancel)}
    links_by_group, records = _held_links(uow, moving)
    # A message makes one invoice per package; the reconciler one per package of each group,
    # as it did applying its groups one at a time.
    invoices: dict[Any, tuple[int, str]] = {}  # key -> (order, package)
    invoice_lines: list[tuple[Any, int, int]] = []
    writes = _Writes()
    for position, (group, result) in enumerate(zip(groups, results, strict=True)):
        release_id, line_id, event_type = group.key
        assert release_id is not None
        line = group.line
        lines = rows[(release_id, line_id)]
        state = GroupState(lines[0].released, lines[0].in_progress, lines[0].picked, lines[0].packed)
        state.take(event_type, result.kits)
        if result.cancel:
            state.take(OrderEventType.SHORT, result.cancel)
        for row in lines:
            row.released, row.in_progress, row.picked, row.packed = (
                state.released, state.in_progress, state.picked, state.packed)
            if event_type is OrderEventType.SHIP:
                row.shipped += result.kits
            if event_type is OrderEventType.SHORT:
                row.shorted += result.kits
            row.canceled += result.cancel
        refs = {"orderId": line.order_id, "orderLineId": line.id, "releaseId": release_id}
        links = links_by_group.get((release_id, line_id), [])
        if event_type is OrderEventType.SHIP:
            line.shipped_quantity += result.kits
            for part, ratio in ratios[line_id].items():
                _unlink(uow, links, records, part, ratio * result.kits, LedgerOperation.ORDER_SHIP, True, writes, **refs)
            for package, kits in sorted(result.packages.items()):
                key = (position, package) if invoice_per_group else package
                invoices.setdefault(key, (line.order_id, package))
                invoice_lines.append((key, line.id, kits))
        if event_type is OrderEventType.SHORT:
            line.shorted_quantity += result.kits
            for part, ratio in ratios[line_id].items():
                _unlink(uow, links, records, part, ratio * result.kits, LedgerOperation.ORDER_UNALLOCATE, False, writes, **refs)
            if result.short_reason_id not in settings.backorder_short_reasons:
                line.canceled_quantity += result.kits
        if result.cancel:
            line.canceled_quantity += result.cancel
            for part, ratio in ratios[line_id].items():
                _unlink(uow, links, records, part, ratio * result.cancel, LedgerOperation.ORDER_UNALLOCATE, False, writes, **refs)
    writes.write(uow)
    made = _invoices(uow, message_id, invoices)
    if invoice_lines:
        session.execute(insert(InvoiceLine), [
            {"invoice_id": made[key].id, "order_line_id": line_id, "quantity": kits}
            for key, line_id, kits in invoice_lines])
    return list(made.values())


def _invoices(uow: UnitOfWork, message_id: int | None, packages: Mapping[Any, tuple[int, str]]) -> dict[Any, Invoice]:
    """One SALE invoice per key (order id, package id), inserted in one statement and read
    back in the same statement (RETURNING)."""
    if not packages:
        return {}
    keys = sorted(packages)
    made = _insert_returning(uow.session, Invoice, [
        {"order_id": packages[key][0], "kind": "SALE", "package_id": packages[key][1], "message_id": message_id,
         "created_at": utcnow()} for key in keys])
    return dict(zip(keys, made, strict=True))


def _insert_returning(session: Session, model: type[T], values: list[dict[str, Any]]) -> list[T]:
    """Insert rows in one statement and return them in the order given. PostgreSQL sorts
    RETURNING by parameter order itself; SQLite would then send one statement per row, but it
    numbers the rows of one INSERT in order, so its RETURNING is sorted by id instead."""
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(insert(model).returning(model, sort_by_parameter_order=True), values))
    made = list(session.scalars(insert(model).returning(model), values))
    return sorted(made, key=lambda row: row.id)  # type: ignore[attr-defined]


def _insert_for(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL and SQLite spell it alike)."""
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def process_order_events(uow: UnitOfWork, external_message_id: str, events: Sequence[NewEvent]) -> EventOutcome:
    """processOrderEvents: all or nothing. A message failing any check processes nothing and
    stores each event unchanged as an unprocessed order event (no error). The same external
    message id is processed once; a repeat answers the first outcome."""
    message_id = (external_message_id or "").strip()
    if not message_id or len(message_id) > 250:
        raise BadInput("externalMessageId must be a non-empty text of at most 250 characters",
                       field="externalMessageId")
    if not events:
        raise BadInput("a message needs at least one event", field="events")
    if len(events) > MAX_EVENTS:
        raise BadInput(f"at most {MAX_EVENTS} events in a message", field="events")
    session = uow.session
    # Claim the message id first: a repeat finds it taken (a repeat sent concurrently waits on
    # the unique id until the first commits, then finds it taken) and answers the first
    # outcome. Stored as processed; a failing check below says otherwise before commit.
    message = session.scalars(
        _insert_for(session)(OrderEventMessage)
        .values(external_message_id=message_id, processed=True, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[OrderEventMessage.external_message_id])
        .returning(OrderEventMessage)
    ).one_or_none()
    if message is None:
        first = session.scalars(select(OrderEventMessage).where(
            OrderEventMessage.external_message_id == message_id)).one()
        return _outcome_of(session, first, True)
    resolved = _resolve_events(uow, events)
    settings = read_settings(session)
    line_ids = sorted({r.line.id for r in resolved})
    states, rows = group_states(session, line_ids, lock=True)
    lines = list(session.scalars(select(OrderLine).where(OrderLine.id.in_(line_ids)).order_by(OrderLine.id)
                                 .with_for_update().execution_options(**_FRESH)))
    ratios = ratios_of(session, lines)
    by_id = {line.id: line for line in lines}
    for item in resolved:
        item.line = by_id[item.line.id]
    groups = _group(resolved, states)
    results, failures = _evaluate(groups, states, ratios, settings.partial_kit_supported)
    if failures:
        first_reason = next(iter(failures.values()))
        message.processed = False
        message.reason = first_reason
        values = []
        for position, group in enumerate(groups):
            own = failures.get(position)
            reason = own or f"another event of the message failed: {first_reason}"
            for item in group.events:
                values.append(_store(message.id, item, reason))
        # One INSERT for the whole message, read back by the same statement (RETURNING).
        stored = _insert_returning(session, UnprocessedOrderEvent, sorted(values, key=lambda v: int(v["position"])))
        uow.commit()
        return EventOutcome(message, False, stored)
    invoices = _apply(uow, groups, results, rows, ratios, settings, message.id)
    uow.commit()
    return EventOutcome(message, True, [], invoices=invoices)


def _store(message_id: int, item: _Resolved, reason: str) -> dict[str, Any]:
    """An event stored unchanged, as column values for the message's single INSERT."""
    fact = item.fact
    return {
        "message_id": message_id, "position": item.index, "event_type": fact.event_type.value,
        "order_line_id": item.line.id, "release_id": item.release_id, "release_line_id": item.release_line_id,
        "part_id": fact.part_id, "quantity": fact.quantity, "package_id": fact.package_id,
        "short_reason_id": fact.short_reason_id, "cancel_unfulfilled": fact.cancel_unfulfilled,
        "reason": reason[:2000], "created_at": utcnow(),
    }


@dataclass
class StuckEvent:
    event: UnprocessedOrderEvent
    age_seconds: int
    reason: str


@dataclass
class ReconcileResult:
    processed: list[UnprocessedOrderEvent]
    stuck: list[StuckEvent]


def reconcile_order_events(uow: UnitOfWork, now: datetime | None = None) -> ReconcileResult:
    """Process stored events once they form whole kits: per release, line and event type, all
    pending events together go through the same checks; what still fails is reported stuck,
    with its age."""
    session = uow.session
    moment = now or utcnow()
    pending = list(session.scalars(
        select(UnprocessedOrderEvent).where(UnprocessedOrderEvent.processed_at.is_(None))
        .order_by(UnprocessedOrderEvent.id).with_for_update()
    ))
    if not pending:
        return ReconcileResult([], [])
    settings = read_settings(session)
    line_ids = sorted({e.order_line_id for e in pending})
    states, rows = group_states(session, line_ids, lock=True)
    lines = {line.id: line for line in session.scalars(
        select(OrderLine).where(OrderLine.id.in_(line_ids)).order_by(OrderLine.id).with_for_update()
        .execution_options(**_FRESH))}
    ratios = ratios_of(session, list(lines.values()))
    by_group: dict[tuple[int | None, int, OrderEventType], list[UnprocessedOrderEvent]] = defaultdict(list)
    for event in pending:
        by_group[(event.release_id, event.order_line_id, OrderEventType(event.event_type))].append(event)
    # Every group is checked in one pass (a passing group counts for the later ones, a failing
    # one changes nothing), then all passing groups are applied together in the fixed number
    # of statements a message costs, however many groups there are.
    groups = [
        _Group(key, lines[key[1]], [
            _Resolved(e.id, EventFact(e.id, key[2], e.part_id, e.quantity, e.package_id, e.short_reason_id,
                                      e.cancel_unfulfilled), lines[key[1]], key[0], e.release_line_id)
            for e in stored])
        for key, stored in by_group.items()
    ]
    results, failures = _evaluate(groups, states, ratios, settings.partial_kit_supported)
    processed: list[UnprocessedOrderEvent] = []
    stuck: list[StuckEvent] = []
    passing: list[_Group] = []
    for position, stored in enumerate(by_group.values()):
        if position in failures:
            for event in stored:
                age = int((moment - event.created_at).total_seconds())
                stuck.append(StuckEvent(event, max(age, 0), failures[position]))
            continue
        passing.append(groups[position])
        for event in stored:
            event.processed_at = moment
            processed.append(event)
    if passing:
        _apply(uow, passing, results, rows, ratios, settings, None, invoice_per_group=True)
    uow.commit()
    return ReconcileResult(processed, stuck)


# --------------------------------------------------------------------------- returns


@dataclass(frozen=True)
class NewReturnLine:
    order_line_id: int
    quantity: object
    condition: object = "GOOD"


def _condition(value: object, field: str) -> ReturnCondition:
    try:
        return ReturnCondition(str(getattr(value, "value", value) or "GOOD").upper())
    except ValueError:
        raise BadInput("condition must be GOOD, DAMAGED or DEFECTIVE", field=field) from None


def create_return_order(uow: UnitOfWork, order_id: int, lines: Sequence[NewReturnLine],
                        exchange: object | None = None, exchange_part_id: int | None = None) -> ReturnOrder:
    """createReturnOrder: kit lines return whole kits, at most what shipped and was not yet
    returned. Even exchange: a new order with the same kit lines (components copied); uneven
    exchange: a new order with a regular line of `exchange_part_id`."""
    order = lock_order(uow, order_id, "orderId")
    if not lines:
        raise BadInput("a return needs at least one line", field="lines")
    kind = None
    if exchange is not None:
        try:
            kind = ExchangeType(str(getattr(exchange, "value", exchange)).upper())
        except ValueError:
            raise BadInput("exchange must be EVEN or UNEVEN", field="exchange") from None
    if kind is ExchangeType.UNEVEN and exchange_part_id is None:
        raise BadInput("an uneven exchange names the exchangePartId", field="exchangePartId")
    order_lines = {line.id: line for line in lines_of(uow.session, [order.id])[order.id]}
    problems = Problems()
    wanted: dict[int, int] = defaultdict(int)
    parsed = []
    for index, item in enumerate(lines):
        where = f"lines[{index}]"
        line = order_lines.get(item.order_line_id)
        if line is None:
            problems.add(f"order line {item.order_line_id} is not a line of this order", field=f"{where}.orderLineId")
            continue
        try:
            quantity = _whole(item.quantity, f"{where}.quantity")
            condition = _condition(item.condition, f"{where}.condition")
        except BadInput as error:
            problems.add(error.message, field=error.field)
            continue
        wanted[line.id] += quantity
        if wanted[line.id] > line.shipped_quantity - line.returned_quantity:
            problems.add(
                f"only {line.shipped_quantity - line.returned_quantity} shipped and not yet returned",
                field=f"{where}.quantity",
            )
            continue
        parsed.append((line, quantity, condition))
    problems.raise_if_any()
    ret = ReturnOrder(order_id=order.id, exchange_type=kind.value if kind else None)
    uow.session.add(ret)
    uow.flush()
    for line, quantity, condition in parsed:
        line.returned_quantity += quantity
        uow.session.add(ReturnLine(return_order_id=ret.id, order_line_id=line.id, part_id=line.part_id,
                                   quantity=quantity, condition=condition.value, status="OPEN",
                                   quantity_variance=False, condition_variance=False, unexpected=False,
                                   invoiced_quantity=0, canceled_quantity=0))
    uow.flush()
    if kind is not None:
        ratios = ratios_of(uow.session, [line for line, _, _ in parsed])
        new_lines = []
        for number, (line, quantity, _) in enumerate(parsed, start=1):
            if kind is ExchangeType.EVEN:
                new_lines.append(NewLine(str(number), line.part_id, quantity,
                                         list(ratios[line.id].items()) if line.is_kit else None))
            else:
                assert exchange_part_id is not None
                new_lines.append(NewLine(str(number), exchange_part_id, quantity))
        exchange_order = create_order(uow, f"{order.order_number}-X{ret.id}", new_lines,
                                      exchange_for_return_id=ret.id, commit=False)
        ret.exchange_order_id = exchange_order.id
    uow.commit()
    return ret


def _return_site(session: Session, line_id: int | None) -> int | None:
    if line_id is None:
        return None
    return session.scalar(select(OrderRelease.site_id).join(
        OrderReleaseLine, OrderReleaseLine.release_id == OrderRelease.id
    ).where(OrderReleaseLine.order_line_id == line_id).order_by(OrderRelease.id).limit(1))


def _receive(uow: UnitOfWork, part_id: int, quantity: Decimal, location_id: int | None, **refs: Any) -> PartInventory:
    part = get(uow.session, Part, part_id, field="partId")
    record = build_part_inventory(uow, NewPartInventory(
        part_id=part_id, location_id=location_id, quantity=quantity, how_created="RETURN",
        autogenerate_lot_number=part.tracking_type == "LOT",
        autogenerate_serial_number=part.tracking_type == "SERIAL",
    ))
    uow.session.add(record)
    uow.flush()
    record_change(uow, LedgerOperation.ORDER_RETURN, record, None, snapshot(record), **refs)
    return record


def record_return_verification(uow: UnitOfWork, return_line_id: int, part_id: int, quantity: object,
                               condition: object = "GOOD", location_id: int | None = None) -> ReturnLine:
    """recordReturnVerification: received units go back to stock. Kit level by default (the kit
    part, the whole returned quantity); with partial kit support per component, with holds.
    A line is received back once: never more of a component than came back
    (`rules.plan_return_receipt`)."""
    line = uow.session.scalars(select(ReturnLine).where(ReturnLine.id == return_line_id).with_for_update()
                               .execution_options(**_FRESH)).one_or_none()
    if line is None:
        raise NotFound(f"ReturnLine {return_line_id} does not exist", field="returnLineId")
    if line.status in ("RESOLVED", "CANCELED"):
        raise BadInput(f"the return line is {line.status}", field="returnLineId")
    amount = parse_quantity(quantity, field="quantity")
    if amount <= ZERO:
        raise BadInput("quantity must be positive", field="quantity")
    stated = _condition(condition, "condition")
    get(uow.session, Part, part_id, field="partId")
    settings = read_settings(uow.session)
    order_line = uow.session.get(OrderLine, line.order_line_id) if line.order_line_id else None
    ratios = ratios_of(uow.session, [order_line])[order_line.id] if order_line else {line.part_id: Decimal(1)}
    site = location_id if location_id is not None else _return_site(uow.session, line.order_line_id)
    if location_id is not None:
        get(uow.session, Location, location_id, field="locationId")
    refs = {"returnLineId": line.id}
    # Read under the line's lock: a concurrent verification of the same line has committed (and
    # is counted here) or waits for this one, so the line is never received back twice.
    verified = verified_of(uow.session, line.id)
    if not settings.partial_kit_supported and not line.unexpected:
        receipt = rules.plan_return_receipt(line.quantity, ratios, verified, part_id, amount,
                                            kit_part_id=line.part_id)
        for component, units in receipt.items():
            record = _receive(uow, component, units, site, **refs)
            uow.session.add(ReturnVerification(return_line_id=line.id, part_id=component, quantity=units,
                                               condition=stated.value, part_inventory_id=record.id))
        line.condition_variance = stated.value != line.condition
        line.status = "HELD" if line.condition_variance else "OPEN"
        uow.commit()
        return line
    if part_id not in ratios:
        if amount != amount.to_integral_value():
            raise BadInput("an unexpected item is verified in whole units", field="quantity")
        unexpected = ReturnLine(return_order_id=line.return_order_id, order_line_id=None, part_id=part_id,
                                quantity=int(amount), condition=stated.value, status="HELD", unexpected=True,
                                quantity_variance=False, condition_variance=False, invoiced_quantity=0,
                                canceled_quantity=0)
        uow.session.add(unexpected)
        uow.flush()
        record = _receive(uow, part_id, amount, site, returnLineId=unexpected.id)
        uow.session.add(ReturnVerification(return_line_id=unexpected.id, part_id=part_id, quantity=amount,
                                           condition=stated.value, part_inventory_id=record.id))
        uow.commit()
        return unexpected
    receipt = rules.plan_return_receipt(line.quantity, ratios, verified, part_id, amount)
    record = _receive(uow, part_id, receipt[part_id], site, **refs)
    uow.session.add(ReturnVerification(return_line_id=line.id, part_id=part_id, quantity=receipt[part_id],
                                       condition=stated.value, part_inventory_id=record.id))
    verified[part_id] = verified.get(part_id, ZERO) + receipt[part_id]
    line.quantity_variance = not rules.fully_verified(verified, ratios, line.quantity)
    line.condition_variance = line.condition_variance or stated.value != line.condition
    line.status = "HELD" if (line.quantity_variance or line.condition_variance) else "OPEN"
    uow.commit()
    return line


def verified_of(session: Session, return_line_id: int) -> dict[int, Decimal]:
    found: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for part_id, quantity in session.execute(select(ReturnVerification.part_id, ReturnVerification.quantity)
                                             .where(ReturnVerification.return_line_id == return_line_id)):
        found[part_id] += quantity
    return dict(found)


def resolve_return_line(uow: UnitOfWork, return_line_id: int) -> ReturnLine:
    """resolveReturnLine: invoice the complete kits verified (min over components of
    floor(verified / ratio)) and cancel the rest, as the verification policy says."""
    line = uow.session.scalars(select(ReturnLine).where(ReturnLine.id == return_line_id).with_for_update()
                               .execution_options(**_FRESH)).one_or_none()
    if line is None:
        raise NotFound(f"ReturnLine {return_line_id} does not exist", field="returnLineId")
    if line.status in ("RESOLVED", "CANCELED"):
        raise BadInput(f"the return line is already {line.status}", field="returnLineId")
    ret = uow.session.get(ReturnOrder, line.return_order_id)
    assert ret is not None
    settings = read_settings(uow.session)
    verified = verified_of(uow.session, line.id)
    if line.unexpected:
        line.canceled_quantity = line.quantity
        line.status = "CANCELED"
        line.condition_variance = False
        uow.commit()
        return line
    order_line = uow.session.get(OrderLine, line.order_line_id)
    assert order_line is not None
    ratios = ratios_of(uow.session, [order_line])[order_line.id]
    if not settings.partial_kit_supported:
        if not verified:
            raise BadInput("verify the returned kits before resolving the line", field="returnLineId")
        invoiced, canceled, stays_open = line.quantity - line.invoiced_quantity, 0, False
    else:
        resolution = rules.resolve_return(line.quantity, line.invoiced_quantity, verified, ratios,
                                          settings.return_verification_policy)
        invoiced, canceled, stays_open = resolution.invoiced, resolution.canceled, resolution.stays_open
    if invoiced:
        invoice = Invoice(order_id=ret.order_id, kind="RETURN", package_id=None)
        uow.session.add(invoice)
        uow.flush()
        uow.session.add(InvoiceLine(invoice_id=invoice.id, order_line_id=order_line.id, return_line_id=line.id,
                                    quantity=invoiced))
    line.invoiced_quantity += invoiced
    line.canceled_quantity += canceled
    line.condition_variance = False
    if stays_open:
        line.status = "HELD"
    else:
        line.quantity_variance = False
        line.status = "RESOLVED" if line.invoiced_quantity > 0 else "CANCELED"
    uow.commit()
    return line


# --------------------------------------------------------------------------- reading


ORDER_COLUMNS = {"id": RetailOrder.id, "orderNumber": RetailOrder.order_number, "createdAt": RetailOrder.created_at}
ORDER_SORTS = {"ID": RetailOrder.id, "ORDER_NUMBER": RetailOrder.order_number, "CREATED_AT": RetailOrder.created_at}


list_orders = Listing(RetailOrder, ORDER_COLUMNS, ORDER_SORTS)


def get_order(session: Session, id: int) -> RetailOrder:
    return get(session, RetailOrder, id)


def order_by_number(session: Session, number: str) -> RetailOrder | None:
    return session.scalars(select(RetailOrder).where(RetailOrder.order_number == number)).one_or_none()


# --------------------------------------------------------------------------- the Manhattan document


@dataclass(frozen=True)
class DocumentEvent:
    """One event of a warehouse document, with everything named as the warehouse names it:
    items by part number, the order by number, lines by their numbers."""

    event_type: object
    item: str | None
    quantity: object
    order_number: str | None = None
    order_line_number: str | None = None
    release_number: str | None = None
    release_line_number: str | None = None
    package_id: str | None = None
    short_reason_id: str | None = None
    cancel_unfulfilled: bool = False


def events_from_document(session: Session, rows: Sequence[DocumentEvent], *, field: str = "OrderEvent") -> list[NewEvent]:
    """Name -> id for every event, a few queries for the whole document; unknown names are
    NotFound naming the row's field."""
    numbers = sorted({r.item for r in rows if r.item})
    parts: dict[str, int] = {}
    if numbers:
        for part in session.scalars(select(Part).where(Part.part_number.in_(numbers)).order_by(Part.id)):
            parts[part.part_number] = part.id  # the latest revision wins
    order_numbers = sorted({r.order_number for r in rows if r.order_number})
    order_ids: dict[str, int] = {}
    for number, oid in session.execute(
        select(RetailOrder.order_number, RetailOrder.id).where(RetailOrder.order_number.in_(order_numbers))
    ):
        order_ids[number] = oid
    release_numbers = sorted({r.release_number for r in rows if r.release_number})
    releases: dict[str, int] = {}
    for number, rid in session.execute(
        select(OrderRelease.release_number, OrderRelease.id).where(OrderRelease.release_number.in_(release_numbers))
    ):
        releases[number] = rid
    order_lines: dict[tuple[int, str], int] = {}
    if order_ids:
        for row_id, row_order, row_number in session.execute(
            select(OrderLine.id, OrderLine.order_id, OrderLine.line_number).where(OrderLine.order_id.in_(order_ids.values()))
        ):
            order_lines[(row_order, row_number)] = row_id
    release_lines: dict[tuple[int, str], int] = {}
    if releases:
        for row_id, row_release, row_line in session.execute(
            select(OrderReleaseLine.id, OrderReleaseLine.release_id, OrderReleaseLine.line_number)
            .where(OrderReleaseLine.release_id.in_(releases.values()))
        ):
            release_lines[(row_release, str(row_line))] = row_id
    missing = Problems()
    events: list[NewEvent] = []
    for index, row in enumerate(rows):
        where = f"{field}[{index}]"
        part_id = parts.get(row.item or "")
        if part_id is None:
            missing.add(f"item {row.item!r} does not exist", field=f"{where}.Item")
        order_id = order_ids.get(row.order_number) if row.order_number else None
        if row.order_number and order_id is None:
            missing.add(f"order {row.order_number!r} does not exist", field=f"{where}.OrderId")
        release_id = releases.get(row.release_number) if row.release_number else None
        if row.release_number and release_id is None:
            missing.add(f"release {row.release_number!r} does not exist", field=f"{where}.ReleaseId")
        release_line_id = None
        if row.release_line_number:
            if release_id is None:
                if not row.release_number:
                    missing.add("a ReleaseLineId needs its ReleaseId", field=f"{where}.ReleaseId")
            else:
                release_line_id = release_lines.get((release_id, row.release_line_number))
                if release_line_id is None:
                    missing.add(f"release line {row.release_line_number!r} does not exist", field=f"{where}.ReleaseLineId")
        order_line_id = None
        if row.order_line_number and release_line_id is None:
            # Without a release line the order line locates the event (with its order).
            if order_id is not None:
                order_line_id = order_lines.get((order_id, row.order_line_number))
                if order_line_id is None:
                    missing.add(f"order line {row.order_line_number!r} does not exist", field=f"{where}.OrderLineId")
            elif not row.order_number:
                missing.add("an OrderLineId needs its OrderId", field=f"{where}.OrderId")
        events.append(NewEvent(
            event_type=row.event_type, part_id=part_id, quantity=row.quantity, order_line_id=order_line_id,
            release_line_id=release_line_id, order_id=order_id, package_id=row.package_id,
            short_reason_id=row.short_reason_id, cancel_unfulfilled=row.cancel_unfulfilled,
        ))
    if missing:
        first = missing.items[0]
        raise NotFound(first.message if len(missing.items) == 1 else f"{len(missing.items)} unknown names: "
                       + "; ".join(f"{p.field}: {p.message}" for p in missing.items[:20]),
                       field=first.field, details=missing.items)
    return events
