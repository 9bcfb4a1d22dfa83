"""Kits: create / update / delete kits and items, issue and unissue inventory,
fulfil (each part FIFO or FEFO), stage, pick lists and the shortage report.

The domain (`kitwright/domain/kits.py`) decides what moves, where, split or whole, and which
status follows; this module fetches the facts, locks, applies the plan as given and writes
the ledger (docs/kit-rules.md#moving-stock).

Every mutation is one unit of work. Lock order, everywhere: the kit, then its items (ascending
id), then inventory records (ascending id). Availability is re-read with a fresh statement
*after* locking (on PostgreSQL READ COMMITTED a statement's snapshot predates the lock wait),
and the partial unique index `uq_part_kit_inventory_held` backs "held by one kit at most".
Kits never create or consume quantity (docs/rules.md#r1): a split moves quantity from one record
to a new one; every record touched gets one ledger entry, with the kit and item referenced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    true,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from kitwright.config import settings
from kitwright.domain import kits as rules
from kitwright.domain.actions import Event
from kitwright.domain.errors import BadInput, Conflict, NotFound
from kitwright.domain.kit_access import KitAction
from kitwright.domain.kits import (
    Candidate,
    FulfilmentOrder,
    IssueItem,
    IssueRecord,
    KitDemand,
    KitPlace,
    KitSplit,
    OpenLine,
    PartKitStatus,
    PickLine,
    PlanKind,
    Shortage,
    ShortageReport,
    StageRecord,
    UnissueItem,
    UnissueRecord,
)
from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.limits import MAX_ID, MAX_PRIORITY
from kitwright.domain.quantities import ZERO, from_units, normalize, parse_quantity, to_units
from kitwright.domain.status import PartInventoryStatus
from kitwright.domain.tracking import TrackingType
from kitwright.services import actions, availability_changes, installed, kit_access
from kitwright.services.ledger import entry_values, record_change, snapshot
from kitwright.services.listing import Listing
from kitwright.services.locations import subtree_ids
from kitwright.services.uow import (
    UnitOfWork,
    check_etag,
    check_updatable,
    lock_conflict,
    register_constraint,
    translate_integrity_error,
)
from kitwright.store.models import (
    KanbanCycle,
    LedgerEntry,
    Location,
    Part,
    PartInventory,
    PartKit,
    PartKitInventory,
    PartKitItem,
    Run,
    User,
    new_etag,
    status_expression,
    status_is,
)
from kitwright.store.touch import touch

register_constraint(
    "uq_part_kit_inventory_held", "partInventoryId", "the inventory is already kitted to another kit"
)
register_constraint("ck_part_kit_inventory_issued_positive", "quantity", "issued quantity must be > 0")
register_constraint("ck_part_kit_item_quantity_positive", "quantity", "quantity must be greater than 0")
register_constraint("ck_part_kit_status", "status", "unknown kit status")
register_constraint(
    "ck_part_kit_delivered_has_location", "deliveryLocationId",
    "a kit needs a deliveryLocation before it can be DELIVERED",
)

KIT_UPDATABLE = {"status", "run_id", "assigned_to_id", "staging_location_id", "delivery_location_id",
                 "priority"}

_FRESH = {"populate_existing": True}


# --------------------------------------------------------------------------- helpers


def _status(value: object, field: str = "status") -> PartKitStatus:
    try:
        return PartKitStatus(str(getattr(value, "value", value)))
    except ValueError:
        raise BadInput(f"unknown kit status {str(value)[:40]!r}", field=field) from None


def _location(uow: UnitOfWork, location_id: int | None, field: str) -> int | None:
    if location_id is None:
        return None
    location = uow.get(Location, location_id, field=field)
    if location.archived:
        raise BadInput(f"location {location.id} is archived", field=field)
    return location.id


_LOCKED = "a concurrent change locked the same inventory; try again"


def _lock_kit_statement(shared: bool) -> Select[Any]:
    """The kit locked, and the kanban kit whose cycle it is (if any) in the same statement: a
    kit becomes a cycle only when both rows are created together, so no lock wait can hide it."""
    kanban = (select(KanbanCycle.kanban_kit_id).where(KanbanCycle.part_kit_id == PartKit.id)
              .scalar_subquery())
    return (select(PartKit, kanban).where(PartKit.id == bindparam("kit_id"))
            .with_for_update(read=shared, of=PartKit).execution_options(**_FRESH))


# Statements used on every write, built once (building one costs more CPU than running it).
_LOCK_KIT = {shared: _lock_kit_statement(shared) for shared in (False, True)}


def lock_kit(uow: UnitOfWork, id: int, *, field: str = "id", shared: bool = False) -> PartKit:
    """Lock a kit row. Status changes, fulfilment and deletes take it exclusively; issues and
    returns that leave the kit's status alone share it (FOR SHARE), so they run concurrently
    with each other but never beside a status change."""
    with lock_conflict(_LOCKED):
        found = uow.session.execute(_LOCK_KIT[shared], {"kit_id": id}).one_or_none()
    if found is None:
        raise NotFound(f"PartKit {id} does not exist", field=field)
    kit: PartKit = found[0]
    kanban_id: int | None = found[1]
    if kanban_id is not None and not getattr(uow, "changes_kanban_cycles", False):
        _refuse_kanban_kit(kit.id, kanban_id, field)
    return kit


def kanban_kits_of(session: Session, kit_ids: Iterable[int]) -> dict[int, int]:
    """part kit id -> the kanban kit whose cycle it is, for those of `kit_ids` that are."""
    wanted = sorted(set(kit_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(KanbanCycle.part_kit_id, KanbanCycle.kanban_kit_id).where(KanbanCycle.part_kit_id.in_(wanted))
    )
    return {int(part_kit_id): int(kanban_id) for part_kit_id, kanban_id in rows}


def refuse_kanban_kits(session: Session, kit_ids: Iterable[int], *, field: str = "id") -> None:
    """A kanban cycle's kit changes only through the kanban use cases (docs/kanban.md): they fill,
    deliver and empty it in step with the cycle's record. Those call the kit services with a unit
    of work whose `changes_kanban_cycles` is true; every other caller is refused."""
    found = kanban_kits_of(session, kit_ids)
    if found:
        _refuse_kanban_kit(*min(found.items()), field)


def _refuse_kanban_kit(kit_id: int, kanban_id: int, field: str) -> None:
    raise Conflict(
        f"kit {kit_id} is a cycle of kanban kit {kanban_id}; change it through the kanban "
        "mutations (fillKanbanKit, deliverKanbanKit, emptyKanbanKit)", field=field,
    )


_ITEM_KIT = (select(PartKitItem.part_kit_id, PartKit.status).join(PartKit, PartKit.id == PartKitItem.part_kit_id)
             .where(PartKitItem.id == bindparam("item_id")))
_LOCK_ITEM = (select(PartKitItem).where(PartKitItem.id == bindparam("item_id")).with_for_update()
              .execution_options(**_FRESH))
_LOCK_RECORDS = (
    select(PartInventory).where(PartInventory.id.in_(bindparam("ids", expanding=True))).order_by(PartInventory.id)
    .with_for_update(of=PartInventory).execution_options(**_FRESH)
)
_STATUSES = select(PartInventory.id, status_expression()).where(
    PartInventory.id.in_(bindparam("ids", expanding=True)))


def _lock_item(
    uow: UnitOfWork, item_id: int, *, field: str, for_issue: bool = False, for_return: bool = False
) -> tuple[PartKit, PartKitItem]:
    """The item's kit, then the item, both locked (kit before item: the global order).

    An issue to a kit whose status it will not change (IN_PROGRESS, DELIVERED), and a return,
    only share the kit row; otherwise the kit is locked exclusively. Which kit, and its status
    as seen before locking, come from one statement."""
    # Column reads through the connection skip the ORM's execution steps (nothing is pending
    # at the start of a use case, and after the locks).
    seen = (uow.session.connection().execute(_ITEM_KIT, {"item_id": item_id}).one_or_none()
            if 0 < item_id <= MAX_ID else None)
    if seen is None:
        raise NotFound(f"PartKitItem {item_id} does not exist", field=field)
    kit_id, seen_status = seen
    shared = for_return
    if for_issue:
        shared = seen_status in (PartKitStatus.IN_PROGRESS.value, PartKitStatus.DELIVERED.value)
    kit = lock_kit(uow, kit_id, field=field, shared=shared)
    if shared and for_issue and PartKitStatus(kit.status) in (PartKitStatus.DRAFT, PartKitStatus.REQUESTED):
        raise Conflict("the kit's status changed while issuing; try again", field=field)
    item = uow.session.scalars(_LOCK_ITEM, {"item_id": item_id}).one_or_none()
    if item is None or item.part_kit_id != kit.id:  # deleted or moved while we waited
        raise NotFound(f"PartKitItem {item_id} does not exist", field=field)
    return kit, item


def lock_records(uow: UnitOfWork, ids: Iterable[int]) -> dict[int, PartInventory]:
    """Lock inventory rows in ascending id order and return their latest committed state."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with lock_conflict(_LOCKED):
        return {row.id: row for row in uow.session.scalars(_LOCK_RECORDS, {"ids": wanted})}


def fresh_statuses(session: Session, ids: Iterable[int]) -> dict[int, PartInventoryStatus]:
    """Derived status, in a new statement (so it sees what committed while we waited)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {id: PartInventoryStatus(status) for id, status in session.execute(_STATUSES, {"ids": wanted})}


def fresh_statuses_installed(session: Session, ids: Iterable[int]) -> list[int]:
    """Which of `ids` are installed (on a run's aBOM), in a fresh statement."""
    return [rid for rid, status in fresh_statuses(session, ids).items()
            if status is PartInventoryStatus.INSTALLED]


_KITTED_UNITS = type_coerce(func.sum(type_coerce(PartKitInventory.issued_quantity, BigInteger)), BigInteger)
_ISSUE_FACTS = (
    select(
        status_expression(), Part.id, Part.part_number, Part.revision, Part.tracking_type,
        select(_KITTED_UNITS).where(PartKitInventory.part_kit_item_id == bindparam("item_id"),
                                    PartKitInventory.released == False)  # noqa: E712
        .scalar_subquery(),
    )
    .select_from(PartInventory).join(Part, Part.id == PartInventory.part_id)
    .where(PartInventory.id == bindparam("record_id"))
)


# The link under an alias: the status expression's own subqueries over part_kit_inventory must
# not correlate to it.
_HELD_LINK = aliased(PartKitInventory)
_UNISSUE_FACTS = (
    select(status_expression(), Part.tracking_type, _HELD_LINK)
    .select_from(PartInventory).join(Part, Part.id == PartInventory.part_id)
    .outerjoin(_HELD_LINK, and_(_HELD_LINK.part_inventory_id == PartInventory.id,
                                _HELD_LINK.released == False))  # noqa: E712
    .where(PartInventory.id == bindparam("record_id"))
    .execution_options(**_FRESH)
)


def kitted_by_item(session: Session, item_ids: Iterable[int]) -> dict[int, Decimal]:
    """What each item holds now (unreleased links), one GROUP BY."""
    wanted = sorted(set(item_ids))
    result = dict.fromkeys(wanted, ZERO)
    if not wanted:
        return result
    total = type_coerce(func.sum(type_coerce(PartKitInventory.issued_quantity, BigInteger)), BigInteger)
    rows = session.execute(
        select(PartKitInventory.part_kit_item_id, total)
        .where(PartKitInventory.part_kit_item_id.in_(wanted), PartKitInventory.released == False)  # noqa: E712
        .group_by(PartKitInventory.part_kit_item_id)
    )
    for item_id, units in rows:
        result[item_id] = from_units(int(units or 0))
    return result


def _held_links(session: Session, kit_id: int) -> list[PartKitInventory]:
    return list(session.scalars(
        select(PartKitInventory)
        .where(PartKitInventory.part_kit_id == kit_id, PartKitInventory.released == False)  # noqa: E712
        .order_by(PartKitInventory.part_inventory_id).execution_options(**_FRESH)
    ))


def _touch(record: PartInventory) -> None:
    """Make the record's etag change even when no snapshot field does (its status does)."""
    touch(record, "location_id")


def _ledger(
    uow: UnitOfWork, operation: LedgerOperation, record: PartInventory, before: dict[str, Any] | None,
    after: dict[str, Any] | None, **references: Any,
) -> None:
    """One ledger entry; a pure link change (the record only became kitted / released) counts."""
    record_change(uow, operation, record, before, after, link_change=True, **references)


def _move(uow: UnitOfWork, record: PartInventory, location_id: int, operation: LedgerOperation,
          **references: Any) -> None:
    before = snapshot(record)
    record.location_id = location_id
    _ledger(uow, operation, record, before, snapshot(record), **references)


def _split(uow: UnitOfWork, origin: PartInventory, quantity: Decimal, location_id: int | None,
           how: KitSplit, **references: Any) -> tuple[PartInventory, _Entry]:
    """Move `quantity` of `origin` into a new, pending record (never a serial: those go whole).

    Returns the new record and the origin's ledger entry, to be written (`_write_entries`)
    once a flush has given the new record its id, with the new record's own entry after it:
    the two entries then go in one INSERT.
    """
    before = snapshot(origin)
    origin.quantity = normalize(origin.quantity - quantity)
    entry = _Entry(_split_operation(how), origin, before, snapshot(origin), references)
    return _split_off(uow, origin, quantity, location_id, how), entry


def _split_off(uow: UnitOfWork, origin: PartInventory, quantity: Decimal, location_id: int | None,
               how: KitSplit) -> PartInventory:
    """The new record holding `quantity` split from `origin`, added to the session. It keeps
    the origin's creation time so stock age (FIFO) survives a round trip through a kit;
    howCreated and originPartInventoryId say it was split."""
    new = PartInventory(
        part_id=origin.part_id, part_number=origin.part_number, location_id=location_id,
        supplier_id=origin.supplier_id, unit_of_measure_id=origin.unit_of_measure_id,
        serial_number=None, lot_number=origin.lot_number, quantity=normalize(quantity), cost=origin.cost,
        usage_type=origin.usage_type, segment=origin.segment, attributes=dict(origin.attributes or {}),
        on_order=False, expected_at=origin.expected_at, received_at=origin.received_at,
        expiration_date=origin.expiration_date,
        how_created=how.value, origin_part_inventory_id=origin.id, created_at=origin.created_at,
        created_by_id=uow.actor.id,
    )
    uow.session.add(new)
    return new


def _split_operation(how: KitSplit) -> LedgerOperation:
    return LedgerOperation.KIT_SPLIT if how is KitSplit.PARTIAL_KIT else LedgerOperation.KIT_UNISSUE


@dataclass(frozen=True)
class _Entry:
    """A ledger entry to write; `after` None: the record as it stands when the entry is written
    (a new record, once a flush has given it its id)."""

    operation: LedgerOperation
    record: PartInventory
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    references: Mapping[str, Any]


_INSERT_LEDGER = insert(LedgerEntry)


def _write_entries(uow: UnitOfWork, entries: Iterable[_Entry]) -> None:
    """The ledger entries, in order, in one INSERT (records new in this transaction must be
    flushed). Through the connection: the session never holds ledger rows, so what it holds
    stays as written (no bulk-write mark)."""
    rows = [entry_values(uow, e.operation, e.record.id, e.record.part_id, e.before,
                         snapshot(e.record) if e.after is None else e.after, **e.references)
            for e in entries]
    if rows:
        uow.session.connection().execute(_INSERT_LEDGER, rows)


_UPDATE_RECORD = (
    update(PartInventory).where(PartInventory.id == bindparam("b_id"), PartInventory.etag == bindparam("b_etag"))
    .values(quantity=bindparam("b_quantity", type_=PartInventory.quantity.type),
            location_id=bindparam("b_location_id", type_=PartInventory.location_id.type),
            etag=bindparam("b_new_etag", type_=PartInventory.etag.type))
)


def _update_records(uow: UnitOfWork, changes: Sequence[tuple[PartInventory, Decimal, int | None]]) -> None:
    """Write (record, quantity, location) for locked records in ONE statement (an executemany;
    the flush would send an UPDATE per row, each checking its etag), each with a new etag, and
    what the flush listeners would do for them: the rules on each update, installed records
    follow a moved one, the availability change log notes the places. The records stay
    loaded, holding what was written."""
    if not changes:
        return
    session = uow.session
    if actions.watched(session, PartInventory, Event.UPDATE):
        actions.check_changes(session, PartInventory, [
            (Event.UPDATE, old, {**old, "quantity": quantity, "locationId": location})
            for record, quantity, location in changes for old in [actions.values_of(record)]
        ])
    params = [{"b_id": record.id, "b_etag": record.etag, "b_quantity": quantity, "b_location_id": location,
               "b_new_etag": new_etag()} for record, quantity, location in changes]
    try:
        result = session.connection().execute(_UPDATE_RECORD, params)
    except IntegrityError as error:
        raise translate_integrity_error(error) from None
    if result.rowcount != len(params):  # the records are locked: only a bug gets here
        raise Conflict("an inventory record changed since it was read; fetch it again")
    moved: list[int] = []
    places: set[tuple[int, int | None]] = set()
    for (record, quantity, location), row in zip(changes, params, strict=True):
        if location != record.location_id:
            moved.append(record.id)
        places.update(((record.part_id, record.location_id), (record.part_id, location)))
        set_committed_value(record, "quantity", quantity)
        set_committed_value(record, "location_id", location)
        set_committed_value(record, "etag", row["b_new_etag"])
    installed.note_moved(session, moved)
    availability_changes.note_flushed_places(session, places)


@dataclass(frozen=True)
class _Issue:
    """One planned issue (`plan_issue` or one allocation of `plan_fulfilment`), applied."""

    item: PartKitItem
    record: PartInventory
    quantity: Decimal
    kind: PlanKind
    location_id: int | None  # where the held record stands afterwards


def _issue(uow: UnitOfWork, kit: PartKit, issues: Sequence[_Issue]) -> list[PartInventory]:
    """Apply the domain's issue plans in order: link the record whole, or split the planned
    quantity off into a new PARTIAL_KIT record and link that (a record may be split for several
    items, each split judged against what the earlier ones left); returns the held records.
    The records issued or split from are written in one statement (`_update_records`), the new
    records in one flush, then the ledger entries in plan order and the links."""
    held: list[PartInventory] = []
    entries: list[_Entry] = []
    now: dict[int, dict[str, Any]] = {}  # record id -> its snapshot after the issues so far
    split = False
    for issue in issues:
        record, refs = issue.record, {"partKitId": kit.id, "partKitItemId": issue.item.id}
        before = now.get(record.id) or snapshot(record)
        if issue.kind is PlanKind.MOVE_WHOLE:
            after = {**before, "location_id": issue.location_id}
            held.append(record)
        else:
            after = {**before, "quantity": str(normalize(Decimal(before["quantity"]) - issue.quantity))}
            held.append(_split_off(uow, record, issue.quantity, issue.location_id, KitSplit.PARTIAL_KIT))
            split = True
        now[record.id] = after
        entries.append(_Entry(
            LedgerOperation.KIT_ISSUE if issue.kind is PlanKind.MOVE_WHOLE else LedgerOperation.KIT_SPLIT,
            record, before, after, refs))
        if held[-1] is not record:
            entries.append(_Entry(LedgerOperation.KIT_SPLIT, held[-1], None, None, refs))
    records = {issue.record.id: issue.record for issue in issues}
    _update_records(uow, [(records[rid], Decimal(after["quantity"]), after["location_id"])
                          for rid, after in now.items()])
    if split:
        uow.flush()
    _write_entries(uow, entries)
    _link(uow, [(issue.item.id, record, issue.quantity) for issue, record in zip(issues, held, strict=True)],
           kit.id)
    return held


_INSERT_LINKS = insert(PartKitInventory)


def _link(uow: UnitOfWork, links: Sequence[tuple[int, PartInventory, Decimal]], kit_id: int) -> None:
    """Link each held record to its item in one INSERT (no link object is needed afterwards;
    the records must be flushed), and note their places in the change log as the flush would.
    The partial unique index refuses a record some other kit holds."""
    if not links:
        return
    rows = [{"part_kit_id": kit_id, "part_kit_item_id": item_id, "part_inventory_id": record.id,
             "issued_quantity": normalize(quantity), "released": False} for item_id, record, quantity in links]
    try:
        uow.session.connection().execute(_INSERT_LINKS, rows)
    except IntegrityError as error:
        raise translate_integrity_error(error) from None
    availability_changes.note_flushed_places(uow.session, {(r.part_id, r.location_id) for _i, r, _q in links})


def _set_status(kit: PartKit, status: PartKitStatus) -> None:
    kit.status = status.value
    kit.current_location_id = rules.current_location_id(
        status, staging_location_id=kit.staging_location_id,
        delivery_location_id=kit.delivery_location_id,
    )


# --------------------------------------------------------------------------- kits


def create_part_kit(
    uow: UnitOfWork, *, run_id: int | None = None, assigned_to_id: int | None = None,
    staging_location_id: int | None = None, delivery_location_id: int | None = None,
    status: PartKitStatus | str = PartKitStatus.DRAFT, priority: int | None = None,
    items: Sequence[tuple[int, object]] = (),
) -> PartKit:
    """A new kit, and its `items` (part id, quantity) in the same unit of work: a bad item
    leaves no kit behind."""
    new_status = _status(status)
    kit_access.authorize_create(uow, new_status)
    kit = PartKit(created_by_id=uow.actor.id, run_id=_run_id(uow, run_id), priority=_priority(priority))
    if assigned_to_id is not None:
        kit.assigned_to_id = uow.get(User, assigned_to_id, field="assignedToId").id
    kit.staging_location_id = _location(uow, staging_location_id, "stagingLocationId")
    kit.delivery_location_id = _location(uow, delivery_location_id, "deliveryLocationId")
    rules.status_change_effects(
        PartKitStatus.DRAFT, new_status, delivery_location_id=kit.delivery_location_id,
        staging_location_id=kit.staging_location_id,
    )
    _set_status(kit, new_status)
    uow.session.add(kit)
    if items:
        uow.flush()
        for index, (part_id, quantity) in enumerate(items):
            part = uow.get(Part, part_id, field=f"items[{index}].partId")
            q = parse_quantity(quantity, field=f"items[{index}].quantity")
            try:
                rules.check_item_quantity(q, ZERO)
            except BadInput as error:
                raise BadInput(error.message, field=f"items[{index}].quantity") from None
            uow.session.add(PartKitItem(part_kit_id=kit.id, part_id=part.id, quantity=q))
    uow.commit()
    return kit


def _run_id(uow: UnitOfWork, run_id: int | None) -> int | None:
    """A kit may serve an existing, open run (docs/runs.md)."""
    if run_id is None:
        return None
    run = uow.get(Run, run_id, field="runId")
    if run.status in ("COMPLETED", "CANCELED"):
        raise BadInput(f"run {run.id} is {run.status}; a kit cannot serve it", field="runId")
    return run.id


def _priority(priority: int | None) -> int | None:
    if priority is not None and not 0 <= priority <= MAX_PRIORITY:
        raise BadInput(f"priority must be between 0 and {MAX_PRIORITY} (lower comes first)", field="priority")
    return priority


def update_part_kit(uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]) -> PartKit:
    check_updatable(changes, KIT_UPDATABLE)
    kit = lock_kit(uow, id)
    check_etag(kit, etag)
    old = PartKitStatus(kit.status)
    new = _status(changes["status"]) if changes.get("status") is not None else old
    if "status" in changes and changes["status"] is None:
        raise BadInput("status must not be null", field="status")
    kit_access.authorize_update(uow, kit, new, changes)
    if "run_id" in changes:
        kit.run_id = _run_id(uow, changes["run_id"])
    if "priority" in changes:
        kit.priority = _priority(changes["priority"])
    if "assigned_to_id" in changes:
        value = changes["assigned_to_id"]
        kit.assigned_to_id = uow.get(User, value, field="assignedToId").id if value is not None else None
    staging_changed = False
    delivery_changed = False
    if "staging_location_id" in changes:
        value = _location(uow, changes["staging_location_id"], "stagingLocationId")
        staging_changed = value != kit.staging_location_id
        kit.staging_location_id = value
    if "delivery_location_id" in changes:
        value = _location(uow, changes["delivery_location_id"], "deliveryLocationId")
        delivery_changed = value != kit.delivery_location_id
        kit.delivery_location_id = value
    apply_status(uow, kit, old, new, staging_changed=staging_changed, delivery_changed=delivery_changed)
    flag_modified(kit, "status")
    uow.commit()
    return kit


def apply_status(uow: UnitOfWork, kit: PartKit, old: PartKitStatus, new: PartKitStatus, *,
                 staging_changed: bool = False, delivery_changed: bool = False) -> None:
    """Set a locked kit's status and apply the domain's plan for the records it holds
    (`status_change_effects`, `apply_status_effect`: delivering or a new staging location
    moves them, closing releases them; installed records never move). Used by updatePartKit
    and by a run that closes its kits (services.runs)."""
    effect = rules.status_change_effects(
        old, new, delivery_location_id=kit.delivery_location_id,
        staging_location_id=kit.staging_location_id,
        delivery_changed=delivery_changed, staging_changed=staging_changed,
    )
    # Before the link query below autoflushes: one flush, so one audit entry, for the kit.
    _set_status(kit, new)
    if effect.changes_inventory:
        links = _held_links(uow.session, kit.id)
        records = lock_records(uow, (link.part_inventory_id for link in links))
        installed = set(fresh_statuses_installed(uow.session, records))
        plan = {h.record_id: h for h in rules.apply_status_effect(
            effect,
            [rules.KitHolding(r.id, r.part_id, r.quantity, r.location_id, installed=r.id in installed)
             for r in records.values()],
        )}
        for link in links:
            record = records[link.part_inventory_id]
            refs = {"partKitId": kit.id, "partKitItemId": link.part_kit_item_id, "status": new.value}
            before = snapshot(record)
            record.location_id = plan[record.id].location_id
            if plan[record.id].released:
                link.released = True
                _touch(record)
            if effect.release_held or before != snapshot(record):
                _ledger(uow, effect.operation, record, before, snapshot(record), **refs)
    flag_modified(kit, "status")


def delete_part_kit(uow: UnitOfWork, id: int, etag: str) -> int:
    kit = lock_kit(uow, id)
    kit_access.authorize(uow, kit, KitAction.DELETE)
    check_etag(kit, etag)
    if _held_links(uow.session, kit.id):
        raise BadInput(
            f"kit {kit.id} holds inventory; move it back to inventory, or complete or cancel "
            "the kit, before deleting it", field="id",
        )
    uow.session.execute(delete(PartKitInventory).where(PartKitInventory.part_kit_id == kit.id))
    # Items go through the session, not bulk SQL, so the audit trail records each deletion.
    for item in uow.session.scalars(
        select(PartKitItem).where(PartKitItem.part_kit_id == kit.id).order_by(PartKitItem.id)
    ):
        uow.session.delete(item)
    uow.flush()
    uow.session.delete(kit)
    uow.commit()
    return id


# --------------------------------------------------------------------------- items


def _quantity(value: object) -> Decimal:
    return parse_quantity(value, field="quantity")


def create_part_kit_item(
    uow: UnitOfWork, *, part_kit_id: int, part_id: int, quantity: object
) -> PartKitItem:
    kit = lock_kit(uow, part_kit_id, field="partKitId")
    kit_access.authorize(uow, kit, KitAction.EDIT, "partKitId")
    part = uow.get(Part, part_id, field="partId")
    q = _quantity(quantity)
    rules.check_item_quantity(q, ZERO, tracking=TrackingType(part.tracking_type))
    item = PartKitItem(part_kit_id=kit.id, part_id=part.id, quantity=q)
    uow.session.add(item)
    uow.commit()
    return item


def update_part_kit_item(uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]) -> PartKitItem:
    check_updatable(changes, {"quantity"})
    kit, item = _lock_item(uow, id, field="id")
    kit_access.authorize(uow, kit, KitAction.EDIT)
    check_etag(item, etag)
    if "quantity" in changes:
        if changes["quantity"] is None:
            raise BadInput("quantity must be a number", field="quantity")
        q = _quantity(changes["quantity"])
        tracking = TrackingType(uow.session.scalars(select(Part.tracking_type).where(Part.id == item.part_id)).one())
        rules.check_item_quantity(q, kitted_by_item(uow.session, [item.id])[item.id], tracking=tracking)
        item.quantity = q
    flag_modified(item, "quantity")
    uow.commit()
    return item


def delete_part_kit_item(uow: UnitOfWork, id: int, etag: str) -> int:
    kit, item = _lock_item(uow, id, field="id")
    kit_access.authorize(uow, kit, KitAction.EDIT)
    check_etag(item, etag)
    if kitted_by_item(uow.session, [item.id])[item.id] > ZERO:
        raise BadInput(f"kit item {item.id} holds inventory; move it back first", field="id")
    uow.session.execute(delete(PartKitInventory).where(PartKitInventory.part_kit_item_id == item.id))
    uow.session.delete(item)
    uow.commit()
    return id


# --------------------------------------------------------------------------- issue / unissue


def issue_item_to_kit(
    uow: UnitOfWork, *, part_inventory_id: int, part_kit_item_id: int,
    quantity: object | None = None, etag: str | None = None, location_id: int | None = None,
) -> PartInventory:
    """issueItemToKit. Returns the record now held by the item (the new
    PARTIAL_KIT record when only part of a lot / untracked record was issued)."""
    kit, item = _lock_item(uow, part_kit_item_id, field="partKitItemId", for_issue=True)
    kit_access.authorize(uow, kit, KitAction.ISSUE, "partKitItemId")
    target = _location(uow, location_id, "locationId")
    records = lock_records(uow, [part_inventory_id])
    record = records.get(part_inventory_id)
    if record is None:
        raise NotFound(f"PartInventory {part_inventory_id} does not exist", field="partInventoryId")
    check_etag(record, etag, required=False)
    # After the locks, in one fresh statement: the record's status, its part, what the item holds.
    status, part_id, number, revision, tracking, kitted = uow.session.connection().execute(
        _ISSUE_FACTS, {"record_id": record.id, "item_id": item.id}).one()
    if item.part_id == part_id:
        item_number, item_revision = number, revision
    else:
        item_part = uow.get(Part, item.part_id)
        item_number, item_revision = item_part.part_number, item_part.revision
    q = None if quantity is None else _quantity(quantity)
    plan = rules.plan_issue(
        IssueRecord(record.id, part_id, number, revision, TrackingType(tracking), record.quantity,
                    PartInventoryStatus(status), record.location_id),
        IssueItem(item.id, item.part_id, item_number, item_revision, item.quantity,
                  from_units(int(kitted or 0)), PartKitStatus(kit.status),
                  kit.delivery_location_id, kit.staging_location_id),
        q,
        allow_other_revision=settings().allow_other_revision,
        location_id=target,
    )
    [held] = _issue(uow, kit, [_Issue(item, record, plan.quantity, plan.kind, plan.location_id)])
    if plan.kit_status_after.value != kit.status:
        _set_status(kit, plan.kit_status_after)
    uow.commit()
    return held


def move_item_to_inventory(
    uow: UnitOfWork, *, part_inventory_id: int, part_kit_item_id: int,
    quantity: object | None = None, etag: str | None = None, location_id: int | None = None,
) -> PartInventory:
    """moveItemToInventory: return a held record, or `quantity` of it, to stock at
    its location or `location_id`. Returns the stock record (the new PARTIAL_UNKIT record when
    partial; the record itself when whole)."""
    kit, item = _lock_item(uow, part_kit_item_id, field="partKitItemId", for_return=True)
    kit_access.authorize(uow, kit, KitAction.UNISSUE, "partKitItemId")
    target = _location(uow, location_id, "locationId")
    record = lock_records(uow, [part_inventory_id]).get(part_inventory_id)
    if record is None:
        raise NotFound(f"PartInventory {part_inventory_id} does not exist", field="partInventoryId")
    check_etag(record, etag, required=False)
    # After the lock, in one fresh statement: the record's status (an installed record is built
    # into its unit and must be uninstalled first), its part's tracking and its held link.
    status, tracking, link = uow.session.execute(_UNISSUE_FACTS, {"record_id": record.id}).one()
    plan = rules.plan_unissue(
        UnissueRecord(record.id, TrackingType(tracking), record.quantity,
                      record.location_id, link.part_kit_item_id if link else None,
                      installed=PartInventoryStatus(status) is PartInventoryStatus.INSTALLED),
        UnissueItem(item.id, PartKitStatus(kit.status)),
        None if quantity is None else _quantity(quantity),
        location_id=target,
    )
    assert link is not None  # plan_unissue refuses records the item does not hold
    refs = {"partKitId": kit.id, "partKitItemId": item.id}
    if plan.kind is PlanKind.MOVE_WHOLE:
        before = snapshot(record)
        record.location_id = plan.location_id
        _touch(record)
        uow.session.delete(link)
        _ledger(uow, LedgerOperation.KIT_UNISSUE, record, before, snapshot(record), **refs)
        stock = record
    else:
        link.issued_quantity = normalize(link.issued_quantity - plan.quantity)
        stock, entry = _split(uow, record, plan.quantity, plan.location_id, KitSplit.PARTIAL_UNKIT, **refs)
        uow.flush()
        _write_entries(uow, [entry, _Entry(LedgerOperation.KIT_UNISSUE, stock, None, None, refs)])
        _touch(record)
    uow.commit()
    return stock


# --------------------------------------------------------------------------- fulfilment


@dataclass(frozen=True)
class FulfilResult:
    kit: PartKit
    issued: list[tuple[int, PartInventory]]  # (item id, held record)
    shortages: list[Shortage]


def _strategy_order(fefo_parts: set[int], parts: set[int]) -> tuple[Any, ...]:
    """The window order of `_available_candidates`: the SQL form of the keys of
    `FulfilmentOrder.strategy` (FIFO: created, id; FEFO: undated last, expiry, created, id).
    A kit of FIFO parts only orders exactly as before FEFO existed (the stock-age index
    serves it). The engines sort NULLs differently, so "undated" is its own 0/1 key and the
    expiry key is only compared between dated records."""
    if not fefo_parts:
        return (PartInventory.created_at, PartInventory.id)
    fefo: Any = true() if fefo_parts >= parts else PartInventory.part_id.in_(sorted(fefo_parts))
    return (
        case((and_(fefo, PartInventory.expiration_date.is_(None)), 1), else_=0),
        case((fefo, PartInventory.expiration_date), else_=None),
        PartInventory.created_at,
        PartInventory.id,
    )


def _available_candidates(
    session: Session, need: Mapping[int, Decimal], source_location_id: int | None,
    exclude: set[int], fefo_parts: set[int],
) -> Select[Any]:
    """Available records of the needed parts in each part's fulfilment order (FEFO for
    `fefo_parts`, FIFO for the rest), just enough per part to cover the need (a running total
    per part: rows whose preceding total is still below the need)."""
    units = type_coerce(PartInventory.quantity, BigInteger)
    conditions = [
        PartInventory.part_id.in_(sorted(need)),
        PartInventory.on_order == False,  # noqa: E712
        PartInventory.scrapped == False,  # noqa: E712
        PartInventory.quantity > 0,
        status_is(PartInventoryStatus.AVAILABLE.value),
    ]
    if source_location_id is not None:
        conditions.append(PartInventory.location_id.in_(subtree_ids(session, source_location_id)))
    if exclude:
        conditions.append(PartInventory.id.not_in(sorted(exclude)))
    running = func.sum(units).over(
        partition_by=PartInventory.part_id, order_by=_strategy_order(fefo_parts, set(need))
    )
    inner = select(
        PartInventory.id.label("id"), PartInventory.part_id.label("part_id"),
        (running - units).label("preceding"),
    ).where(and_(*conditions)).subquery()
    # The need per part as a small derived table (UNION ALL of constants: portable to SQLite),
    # joined on part_id: a hash join, not an OR of one clause per part for every row.
    needed = union_all(*(
        select(literal(part_id, Integer).label("part_id"), literal(to_units(q), BigInteger).label("units"))
        for part_id, q in sorted(need.items())
    )).subquery("need")
    return (
        select(inner.c.id)
        .join(needed, needed.c.part_id == inner.c.part_id)
        .where(inner.c.preceding < needed.c.units)
    )


def _still_available(session: Session, ids: Sequence[int], source_location_id: int | None) -> Select[Any]:
    """Which of the locked `ids` are still available (a fresh statement, by primary key)."""
    stmt = select(PartInventory.id).where(
        PartInventory.id.in_(sorted(ids)),
        status_is(PartInventoryStatus.AVAILABLE.value),
    )
    if source_location_id is not None:
        stmt = stmt.where(PartInventory.location_id.in_(subtree_ids(session, source_location_id)))
    return stmt


# Candidate searches per fulfilment: a record taken by a concurrent issue between the search
# and the lock is replaced by searching again past it, at most this many times.
FULFIL_SEARCH_ROUNDS = 4


def fulfill_part_kit(
    uow: UnitOfWork, *, id: int, source_location_id: int | None = None,
) -> FulfilResult:
    """fulfillPartKit: each part's fulfilment order (FIFO, or FEFO for parts set so) across
    the whole kit, available records in available locations only, optionally within a
    location subtree. Partial fulfilment is fine; what cannot be found comes back as
    shortages per item. The domain plans (`plan_fulfilment`); this fetches, locks and applies."""
    kit = lock_kit(uow, id)
    kit_access.authorize(uow, kit, KitAction.FULFIL)
    status = PartKitStatus(kit.status)
    rules.check_fulfillable(status)
    source = _location(uow, source_location_id, "sourceLocationId")
    items = list(uow.session.scalars(
        select(PartKitItem).where(PartKitItem.part_kit_id == kit.id).order_by(PartKitItem.id)
        .with_for_update().execution_options(**_FRESH)
    ))
    kitted = kitted_by_item(uow.session, [item.id for item in items])
    lines = [
        OpenLine(item.id, item.part_id, rules.remaining_quantity(item.quantity, kitted[item.id]))
        for item in items
    ]
    lines = [line for line in lines if line.remaining > ZERO]
    need: dict[int, Decimal] = {}
    for line in lines:
        need[line.part_id] = need.get(line.part_id, ZERO) + line.remaining

    records: dict[int, PartInventory] = {}
    tried: set[int] = set()
    # Only the two columns the plan needs, not whole parts.
    parts = {row.id: row for row in uow.session.execute(
        select(Part.id, Part.tracking_type, Part.fulfilment_order).where(Part.id.in_(sorted(need))))} if need else {}
    orders = {part_id: FulfilmentOrder(p.fulfilment_order) for part_id, p in parts.items()}
    fefo_parts = {part_id for part_id, order in orders.items() if order is FulfilmentOrder.FEFO}
    for _round in range(FULFIL_SEARCH_ROUNDS):
        still = {part: q for part, q in need.items() if q > ZERO}
        if not still:
            break
        ids = list(uow.session.scalars(_available_candidates(uow.session, still, source, tried, fefo_parts)))
        if not ids:
            break
        tried.update(ids)
        locked = lock_records(uow, ids)
        # Re-check after the lock: a concurrent fulfil or issue may have taken some.
        ok = set(uow.session.scalars(_still_available(uow.session, ids, source)))
        for rid in sorted(ok):
            record = locked[rid]
            records[rid] = record
            need[record.part_id] = need[record.part_id] - record.quantity
        if ok == set(ids):
            break
    candidates = [
        Candidate(r.id, r.part_id, TrackingType(parts[r.part_id].tracking_type), r.quantity,
                  r.created_at, expires_at=r.expiration_date, location_id=r.location_id)
        for r in records.values()
    ]
    plan = rules.plan_fulfilment(
        lines, candidates,
        {part_id: order.strategy for part_id, order in orders.items()},
        kit=KitPlace(status, kit.staging_location_id, kit.delivery_location_id),
    )
    by_id = {item.id: item for item in items}
    held = _issue(uow, kit, [
        _Issue(by_id[a.item_id], records[a.record_id], a.quantity, a.kind, a.location_id)
        for a in plan.allocations
    ])
    issued = [(a.item_id, record) for a, record in zip(plan.allocations, held, strict=True)]
    if plan.kit_status_after is not None and plan.kit_status_after is not status:
        _set_status(kit, plan.kit_status_after)
    uow.commit()
    return FulfilResult(kit, issued, list(plan.shortages))


# --------------------------------------------------------------------------- stage


def stage_part_kit_inventory(uow: UnitOfWork, *, id: int, location_id: int) -> PartKit:
    """Stage Inventory: move all of an open kit's inventory, or the released inventory of a
    closed kit (what is still available, not since kitted elsewhere), to one location."""
    kit = lock_kit(uow, id)
    kit_access.authorize(uow, kit, KitAction.STAGE)
    target = _location(uow, location_id, "locationId")
    assert target is not None
    status = PartKitStatus(kit.status)
    if status.is_open:
        ids = [link.part_inventory_id for link in _held_links(uow.session, kit.id)]
    else:
        ids = list(uow.session.scalars(
            select(PartKitInventory.part_inventory_id).where(PartKitInventory.part_kit_id == kit.id)
            .distinct()
        ))
    records = lock_records(uow, ids)
    statuses = fresh_statuses(uow.session, records)
    moves = rules.plan_stage(
        status, [StageRecord(r.id, statuses[r.id], r.location_id) for r in records.values()], target
    )
    for rid in moves:
        _move(uow, records[rid], target, LedgerOperation.KIT_STAGE, partKitId=kit.id)
    flag_modified(kit, "status")
    uow.commit()
    return kit


# --------------------------------------------------------------------------- reads


def get_part_kit(session: Session, id: int) -> PartKit:
    from kitwright.services.uow import get

    return get(session, PartKit, id)


def get_part_kit_item(session: Session, id: int) -> PartKitItem:
    from kitwright.services.uow import get

    return get(session, PartKitItem, id)


KIT_COLUMNS: dict[str, Any] = {
    "id": PartKit.id,
    "status": PartKit.status,
    "runId": PartKit.run_id,
    "assignedToId": PartKit.assigned_to_id,
    "stagingLocationId": PartKit.staging_location_id,
    "deliveryLocationId": PartKit.delivery_location_id,
    "currentLocationId": PartKit.current_location_id,
    "priority": PartKit.priority,
    "createdAt": PartKit.created_at,
}
KIT_SORTS: dict[str, Any] = {
    "ID": PartKit.id, "CREATED_AT": PartKit.created_at, "STATUS": PartKit.status,
    "PRIORITY": PartKit.priority, "RUN_ID": PartKit.run_id,
}
ITEM_COLUMNS: dict[str, Any] = {
    "id": PartKitItem.id,
    "partKitId": PartKitItem.part_kit_id,
    "partId": PartKitItem.part_id,
    "quantity": PartKitItem.quantity,
    "createdAt": PartKitItem.created_at,
}
ITEM_SORTS: dict[str, Any] = {"ID": PartKitItem.id, "CREATED_AT": PartKitItem.created_at,
              "PART_KIT_ID": PartKitItem.part_kit_id, "PART_ID": PartKitItem.part_id,
              "QUANTITY": PartKitItem.quantity}


list_part_kits = Listing(PartKit, KIT_COLUMNS, KIT_SORTS)
list_part_kit_items = Listing(PartKitItem, ITEM_COLUMNS, ITEM_SORTS)


def pick_list(session: Session, kit_id: int) -> list[PickLine]:
    """The records a kit holds, with where to pick them, in pick-path order (one query)."""
    return pick_lists(session, [kit_id])[kit_id]


def pick_lists(session: Session, kit_ids: Iterable[int]) -> dict[int, list[PickLine]]:
    """The pick lists of many kits in one query."""
    wanted = sorted(set(kit_ids))
    rows = session.execute(
        select(PartKitInventory.part_kit_id, PartKitInventory.part_kit_item_id, PartInventory.id,
               PartInventory.part_number, Location.name, PartKitInventory.issued_quantity,
               PartInventory.serial_number, PartInventory.lot_number)
        .join(PartInventory, PartInventory.id == PartKitInventory.part_inventory_id)
        .outerjoin(Location, Location.id == PartInventory.location_id)
        .where(PartKitInventory.part_kit_id.in_(wanted), PartKitInventory.released == False)  # noqa: E712
    )
    lines: dict[int, list[PickLine]] = {kit_id: [] for kit_id in wanted}
    for kit_id, item_id, rid, number, name, q, serial, lot in rows:
        lines[kit_id].append(PickLine(record_id=rid, part_number=number, location_name=name, quantity=q,
                                      item_id=item_id, serial_number=serial, lot_number=lot))
    return {kit_id: rules.pick_path_order(found) for kit_id, found in lines.items()}


def available_by_part(session: Session, part_ids: Iterable[int]) -> dict[int, Decimal]:
    wanted = sorted(set(part_ids))
    if not wanted:
        return {}
    total = func.sum(type_coerce(PartInventory.quantity, BigInteger))
    rows = session.execute(
        select(PartInventory.part_id, total)
        .where(PartInventory.part_id.in_(wanted),
               status_is(PartInventoryStatus.AVAILABLE.value))
        .group_by(PartInventory.part_id)
    )
    return {part: from_units(int(units or 0)) for part, units in rows}


def shortage_report(session: Session) -> ShortageReport:
    """For all REQUESTED and IN_PROGRESS kits, in priority order: what could be fulfilled now
    from available stock and what is missing per part (a handful of set-based queries)."""
    kits = list(session.scalars(
        select(PartKit).where(PartKit.status.in_([s.value for s in rules.SHORTAGE_STATUSES]))
    ))
    items = list(session.scalars(
        select(PartKitItem).where(PartKitItem.part_kit_id.in_([k.id for k in kits]))
        .order_by(PartKitItem.id)
    )) if kits else []
    kitted = kitted_by_item(session, [i.id for i in items])
    lines: dict[int, list[OpenLine]] = {}
    for item in items:
        lines.setdefault(item.part_kit_id, []).append(
            OpenLine(item.id, item.part_id, rules.remaining_quantity(item.quantity, kitted[item.id]))
        )
    demands = [
        KitDemand(k.id, PartKitStatus(k.status), k.created_at, lines.get(k.id, []), k.priority)
        for k in kits
    ]
    return rules.shortage_report(demands, available_by_part(session, (i.part_id for i in items)))
