"""Runs, build requirements, kitting to a run, install / uninstall and the aBOM (docs/runs.md).

Lock order, everywhere (and the same as the kit services below a run): the run, then a kit,
then its items, then inventory records in ascending id order. Installs into one run queue on
the run row, so "never more than required" holds under concurrency; the partial unique index
`uq_abom_item_installed` backs "a record is installed in one place". The domain
(domain.runs) decides; this module fetches facts, locks, applies the plan and writes the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Integer, bindparam, func, literal, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from kitwright.config import settings
from kitwright.domain import runs as rules
from kitwright.domain.errors import BadInput, Conflict, NotFound
from kitwright.domain.kit_access import KitAction
from kitwright.domain.kits import OPEN_STATUSES, PartKitStatus, PlanKind
from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.limits import MAX_ID, MAX_RUN_TITLE
from kitwright.domain.quantities import ONE, ZERO, from_units, normalize, parse_quantity
from kitwright.domain.runs import RunStatus
from kitwright.domain.tracking import TrackingType
from kitwright.services import kit_access, kits
from kitwright.services.inventory import NewPartInventory, build_part_inventory
from kitwright.services.ledger import record_change, snapshot
from kitwright.services.listing import Listing
from kitwright.services.uow import UnitOfWork, check_etag, check_updatable, register_constraint
from kitwright.store.models import (
    AbomItem,
    BuildRequirement,
    Location,
    MbomItem,
    Part,
    PartInventory,
    PartKit,
    PartKitInventory,
    PartKitItem,
    Run,
    utcnow,
)

register_constraint("uq_run_open_unit", "partInventoryId", "another open run is already building this unit")
register_constraint("uq_abom_item_installed", "partInventoryId", "the inventory is already installed")
register_constraint("uq_abom_item_root", "id", "the inventory already has an aBOM trace")
register_constraint("ck_run_quantity_positive", "quantity", "quantity must be greater than 0")
register_constraint("ck_abom_item_quantity_positive", "quantity", "quantity must be greater than 0")

RUN_UPDATABLE = {"title", "status", "location_id", "procedure_id"}
OPEN_RUN = [s.value for s in RunStatus if s.is_open]
OPEN_KIT = [s.value for s in OPEN_STATUSES]
_FRESH = {"populate_existing": True}


def _units_sum(column: Any) -> Any:
    return type_coerce(func.sum(type_coerce(column, BigInteger)), BigInteger)


def _ledger(uow: UnitOfWork, operation: LedgerOperation, record: PartInventory, before: dict[str, Any] | None,
            after: dict[str, Any] | None, **references: Any) -> None:
    record_change(uow, operation, record, before, after, link_change=True, **references)


def _location(uow: UnitOfWork, location_id: int | None, field: str) -> int | None:
    if location_id is None:
        return None
    location = uow.get(Location, location_id, field=field)
    if location.archived:
        raise BadInput(f"location {location.id} is archived", field=field)
    return location.id


def lock_run(uow: UnitOfWork, id: int, *, field: str = "id") -> Run:
    run = uow.session.scalars(
        select(Run).where(Run.id == id).with_for_update().execution_options(**_FRESH)
    ).one_or_none() if 0 < id <= MAX_ID else None
    if run is None:
        raise NotFound(f"Run {id} does not exist", field=field)
    return run


# --------------------------------------------------------------------------- facts


def installed_by_requirement(session: Session, requirement_ids: Iterable[int]) -> dict[int, Decimal]:
    wanted = sorted(set(requirement_ids))
    out = dict.fromkeys(wanted, ZERO)
    if wanted:
        rows = session.execute(
            select(AbomItem.build_requirement_id, _units_sum(AbomItem.quantity))
            .where(AbomItem.build_requirement_id.in_(wanted), AbomItem.parent_part_inventory_id.is_not(None))
            .group_by(AbomItem.build_requirement_id)
        )
        for rid, units in rows:
            out[rid] = from_units(int(units or 0))
    return out


def requirement_facts(session: Session, run_id: int) -> list[rules.RequirementFacts]:
    reqs = list(session.scalars(
        select(BuildRequirement).where(BuildRequirement.run_id == run_id).order_by(BuildRequirement.id)
        .execution_options(**_FRESH)
    ))
    installed = installed_by_requirement(session, (r.id for r in reqs))
    return [rules.RequirementFacts(r.id, r.part_id, r.quantity, installed[r.id], r.waived) for r in reqs]


def open_kit_demand(session: Session, run_id: int) -> dict[int, Decimal]:
    """Per part: what the run's open kits request, less what of it is already installed
    (installed records stay linked to their kit item until the kit closes)."""
    open_kits = select(PartKit.id).where(PartKit.run_id == run_id, PartKit.status.in_(OPEN_KIT))
    requested = session.execute(
        select(PartKitItem.part_id, _units_sum(PartKitItem.quantity))
        .where(PartKitItem.part_kit_id.in_(open_kits)).group_by(PartKitItem.part_id)
    )
    demand = {part: from_units(int(units or 0)) for part, units in requested}
    installed_linked = session.execute(
        select(PartKitItem.part_id, _units_sum(PartKitInventory.issued_quantity))
        .join(PartKitItem, PartKitItem.id == PartKitInventory.part_kit_item_id)
        .where(
            PartKitInventory.part_kit_id.in_(open_kits),
            PartKitInventory.released == False,  # noqa: E712
            PartKitInventory.part_inventory_id.in_(
                select(AbomItem.part_inventory_id).where(AbomItem.parent_part_inventory_id.is_not(None))
            ),
        ).group_by(PartKitItem.part_id)
    )
    for part, units in installed_linked:
        demand[part] = demand.get(part, ZERO) - from_units(int(units or 0))
    return demand


def run_needs(session: Session, run: Run) -> dict[int, tuple[int, Decimal]]:
    """requirement id -> (part id, still needed): requirements - installed - open kits."""
    facts = requirement_facts(session, run.id)
    needs = rules.run_needs(facts, open_kit_demand(session, run.id))
    return {f.id: (f.part_id, needs[f.id]) for f in facts}


# --------------------------------------------------------------------------- runs


def create_run(
    uow: UnitOfWork, *, title: str | None, part_id: int | None, quantity: object = ONE,
    procedure_id: int | None = None, part_inventory_id: int | None = None,
    location_id: int | None = None, status: RunStatus | str = RunStatus.TODO,
    attributes: Mapping[str, Any] | None = None,
) -> Run:
    """createRun: snapshot the requirements (mBOM x quantity). The unit being built is WIP from
    now if `part_inventory_id` names it; otherwise a new record is made when the run starts
    (leaves TODO), numbered per the part's tracking."""
    if part_id is None:
        raise BadInput("a run builds a part: partId is required", field="partId")
    part = uow.get(Part, part_id, field="partId")
    tracking = TrackingType(part.tracking_type)
    q = rules.check_run_quantity(quantity, tracking)
    new_status = rules.parse_run_status(status)
    if not new_status.is_open:
        raise BadInput("a new run is TODO, IN_PROGRESS or HOLD", field="status")
    lines = [
        rules.MbomLine(i.id, i.part_id, i.quantity)
        for i in uow.session.scalars(select(MbomItem).where(MbomItem.parent_id == part.id).order_by(MbomItem.id))
    ]
    plans = rules.requirements_from_mbom(f"{part.part_number} rev {part.revision}".strip(), lines, q)
    location = _location(uow, location_id, "locationId")
    if procedure_id is not None and not 0 < procedure_id <= MAX_ID:
        raise BadInput("procedureId must be a positive id", field="procedureId")
    clean_title = (title or "").strip() or f"{part.part_number} x {q}"
    if len(clean_title) > MAX_RUN_TITLE:
        raise BadInput(f"title is at most {MAX_RUN_TITLE} characters", field="title")

    unit: PartInventory | None = None
    if part_inventory_id is not None:
        unit = kits.lock_records(uow, [part_inventory_id]).get(part_inventory_id)
        if unit is None:
            raise NotFound(f"PartInventory {part_inventory_id} does not exist", field="partInventoryId")
        if unit.part_id != part.id:
            raise BadInput(f"inventory {unit.id} is not a {part.part_number}", field="partInventoryId")
        status_now = kits.fresh_statuses(uow.session, [unit.id])[unit.id]
        if status_now.value in ("WIP", "INSTALLED", "KITTED", "SCRAPPED"):
            raise BadInput(f"inventory {unit.id} is {status_now.value}; it cannot be the unit a run builds",
                           field="partInventoryId")
    run = Run(title=clean_title, status=new_status.value, part_id=part.id, quantity=q,
              procedure_id=procedure_id, part_inventory_id=unit.id if unit else None, location_id=location,
              attributes=dict(attributes or {}), created_by_id=uow.actor.id)
    uow.session.add(run)
    uow.flush()
    for plan in plans:
        uow.session.add(BuildRequirement(run_id=run.id, part_id=plan.part_id, mbom_item_id=plan.mbom_item_id,
                                         quantity=normalize(plan.quantity), waived=False))
    if unit is not None:
        _start_unit(uow, run, unit)
    elif new_status is not RunStatus.TODO:
        _new_unit(uow, run, part)
    uow.commit()
    return run


def _start_unit(uow: UnitOfWork, run: Run, unit: PartInventory) -> None:
    """The unit's status became WIP: a status-driving link, so a ledger entry (its etag stays,
    so a client holding it can still act on it, as ION's run importer does)."""
    state = snapshot(unit)
    _ledger(uow, LedgerOperation.RUN_START, unit, state, state, runId=run.id)


def _new_unit(uow: UnitOfWork, run: Run, part: Part) -> PartInventory:
    """A run that starts without a unit builds a new record, numbered per the part's tracking."""
    tracking = TrackingType(part.tracking_type)
    unit = build_part_inventory(uow, NewPartInventory(
        part_id=part.id, location_id=run.location_id, quantity=run.quantity, how_created="RUN",
        autogenerate_serial_number=tracking is TrackingType.SERIAL,
        autogenerate_lot_number=tracking is TrackingType.LOT,
    ))
    uow.session.add(unit)
    uow.flush()
    record_change(uow, LedgerOperation.CREATE, unit, None, snapshot(unit), runId=run.id)
    run.part_inventory_id = unit.id
    _start_unit(uow, run, unit)
    return unit


def _resnapshot(uow: UnitOfWork, run: Run) -> None:
    """Starting a run takes its requirements from the mBOM as it is now, unless the run already
    has kits or installs (then the snapshot made at creation stands). Waivers stay by part."""
    has_kits = uow.session.scalar(select(func.count()).select_from(PartKit).where(PartKit.run_id == run.id))
    reqs = list(uow.session.scalars(
        select(BuildRequirement).where(BuildRequirement.run_id == run.id).with_for_update()
    ))
    installed = installed_by_requirement(uow.session, (r.id for r in reqs))
    if has_kits or any(q > ZERO for q in installed.values()):
        return
    part = uow.get(Part, run.part_id)
    lines = [
        rules.MbomLine(i.id, i.part_id, i.quantity)
        for i in uow.session.scalars(select(MbomItem).where(MbomItem.parent_id == part.id).order_by(MbomItem.id))
    ]
    plans = {p.part_id: p for p in rules.requirements_from_mbom(part.part_number, lines, run.quantity)}
    for req in reqs:
        plan = plans.pop(req.part_id, None)
        if plan is None:
            uow.session.delete(req)
        elif (req.quantity, req.mbom_item_id) != (normalize(plan.quantity), plan.mbom_item_id):
            req.quantity, req.mbom_item_id = normalize(plan.quantity), plan.mbom_item_id
    for plan in plans.values():
        uow.session.add(BuildRequirement(run_id=run.id, part_id=plan.part_id, mbom_item_id=plan.mbom_item_id,
                                         quantity=normalize(plan.quantity), waived=False))
    uow.flush()


def update_run(uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]) -> Run:
    check_updatable(changes, RUN_UPDATABLE)
    run = lock_run(uow, id)
    check_etag(run, etag)
    old = RunStatus(run.status)
    if "status" in changes and changes["status"] is None:
        raise BadInput("status must not be null", field="status")
    new = rules.parse_run_status(changes["status"]) if "status" in changes else old
    # Closing a run closes its open kits: locked now, in id order (run, kits, then records).
    closing = list(uow.session.scalars(
        select(PartKit).where(PartKit.run_id == run.id, PartKit.status.in_(OPEN_KIT)).order_by(PartKit.id)
        .with_for_update().execution_options(**_FRESH)
    )) if new is not old and not new.is_open else []
    if "title" in changes:
        title = (changes["title"] or "").strip()
        if not title or len(title) > MAX_RUN_TITLE:
            raise BadInput(f"title is 1 to {MAX_RUN_TITLE} characters", field="title")
        run.title = title
    if "procedure_id" in changes:
        run.procedure_id = changes["procedure_id"]
    if "location_id" in changes:
        run.location_id = _location(uow, changes["location_id"], "locationId")
    unit = kits.lock_records(uow, [run.part_inventory_id or 0]).get(run.part_inventory_id or 0)
    target = (unit.location_id if unit and unit.location_id is not None else run.location_id)
    rules.check_transition(old, new, requirement_facts(uow.session, run.id),
                           unit_has_location=target is not None)
    if old is RunStatus.TODO and new.is_open and new is not RunStatus.TODO:
        _resnapshot(uow, run)
    if new is not old:
        run.status = new.value
        if unit is None and new.is_open and new is not RunStatus.TODO:
            unit = _new_unit(uow, run, uow.get(Part, run.part_id))
        if not new.is_open and unit is not None:
            before = snapshot(unit)
            if new is RunStatus.COMPLETED and unit.location_id is None:
                unit.location_id = target
            kits._touch(unit)
            run.completed_at = utcnow() if new is RunStatus.COMPLETED else None
            _ledger(uow, LedgerOperation.RUN_COMPLETE if new is RunStatus.COMPLETED else LedgerOperation.RUN_CANCEL, unit, before,
                    snapshot(unit), runId=run.id)
        # COMPLETED releases what was not installed (installed records stay INSTALLED).
        kit_status = PartKitStatus.COMPLETED if new is RunStatus.COMPLETED else PartKitStatus.CANCELED
        for kit in closing:
            kits.apply_status(uow, kit, PartKitStatus(kit.status), kit_status)
    flag_modified(run, "status")
    uow.commit()
    return run


def update_run_attribute(uow: UnitOfWork, *, id: int, key: str, value: Any, etag: str | None = None) -> Run:
    """Set (or, with a null value, remove) one custom attribute of a run."""
    run = lock_run(uow, id)
    check_etag(run, etag, required=False)
    name = (key or "").strip()
    if not name or len(name) > 100:
        raise BadInput("an attribute key is 1 to 100 characters", field="key")
    attributes = dict(run.attributes or {})
    if value is None:
        attributes.pop(name, None)
    else:
        attributes[name] = value
    run.attributes = attributes
    flag_modified(run, "attributes")
    uow.commit()
    return run


def update_build_requirement(uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]) -> BuildRequirement:
    """Waive a requirement (with a reason) or take the waiver back; the quantity is the run's
    snapshot and does not change."""
    check_updatable(changes, {"waived", "waive_reason"})
    found = uow.get(BuildRequirement, id)
    run = lock_run(uow, found.run_id, field="id")
    req = uow.get(BuildRequirement, id, lock=True)
    check_etag(req, etag)
    if not RunStatus(run.status).is_open:
        raise BadInput(f"run {run.id} is {run.status}; its requirements are final", field="id")
    waived = bool(changes.get("waived", req.waived))
    req.waive_reason = rules.check_waive(waived, changes.get("waive_reason", req.waive_reason))
    req.waived = waived
    flag_modified(req, "waived")
    uow.commit()
    return req


# --------------------------------------------------------------------------- kitting to a run


def _add_needs(uow: UnitOfWork, run: Run, kit: PartKit) -> list[PartKitItem]:
    needs = {req: need for req, need in run_needs(uow.session, run).items() if need[1] > ZERO}
    if not needs:
        raise BadInput(f"run {run.id} needs nothing more: its requirements are installed, waived or "
                       "already requested by its open kits", field="runId")
    by_part: dict[int, Decimal] = {}
    for part_id, q in needs.values():
        by_part[part_id] = by_part.get(part_id, ZERO) + q
    existing = {
        item.part_id: item for item in uow.session.scalars(
            select(PartKitItem).where(PartKitItem.part_kit_id == kit.id).order_by(PartKitItem.id)
            .with_for_update().execution_options(**_FRESH)
        )
    }
    touched: list[PartKitItem] = []
    for part_id in sorted(by_part):
        item = existing.get(part_id)
        if item is None:
            item = PartKitItem(part_kit_id=kit.id, part_id=part_id, quantity=normalize(by_part[part_id]))
            uow.session.add(item)
        else:
            item.quantity = normalize(item.quantity + by_part[part_id])
        touched.append(item)
    uow.flush()
    return touched


@dataclass(frozen=True)
class RunKitResult:
    kit: PartKit
    fulfilment: kits.FulfilResult | None


def create_kit_for_run(
    uow: UnitOfWork, *, run_id: int, staging_location_id: int | None = None,
    delivery_location_id: int | None = None, fulfill: bool = True,
) -> RunKitResult:
    """createKitForRun: a REQUESTED kit whose items are what the run still needs, then (by
    default) fulfilled oldest first. Two calls for one run queue on the run row."""
    run = lock_run(uow, run_id, field="runId")
    if not RunStatus(run.status).is_open:
        raise BadInput(f"run {run.id} is {run.status}; it needs no kit", field="runId")
    kit_access.authorize_create(uow, PartKitStatus.REQUESTED)
    kit = PartKit(run_id=run.id, created_by_id=uow.actor.id,
                  staging_location_id=_location(uow, staging_location_id, "stagingLocationId"),
                  delivery_location_id=_location(uow, delivery_location_id, "deliveryLocationId"))
    kits._set_status(kit, PartKitStatus.REQUESTED)
    uow.session.add(kit)
    uow.flush()
    _add_needs(uow, run, kit)
    return _finish(uow, kit, fulfill)


def add_run_needs_to_kit(uow: UnitOfWork, *, id: int, fulfill: bool = True) -> RunKitResult:
    """Add what the run still needs to an open kit of that run (and fulfil it by default)."""
    found = uow.get(PartKit, id)
    if found.run_id is None:
        raise BadInput(f"kit {found.id} serves no run", field="id")
    run = lock_run(uow, found.run_id, field="id")
    kit = kits.lock_kit(uow, id)
    if kit.run_id != run.id:
        raise Conflict("the kit's run changed while adding; try again", field="id")
    kit_access.authorize(uow, kit, KitAction.EDIT)
    if PartKitStatus(kit.status).is_closed:
        raise BadInput(f"the kit is {kit.status}; reopen it first", field="id")
    if not RunStatus(run.status).is_open:
        raise BadInput(f"run {run.id} is {run.status}; it needs nothing", field="id")
    _add_needs(uow, run, kit)
    return _finish(uow, kit, fulfill)


def _finish(uow: UnitOfWork, kit: PartKit, fulfill: bool) -> RunKitResult:
    if fulfill:
        result = kits.fulfill_part_kit(uow, id=kit.id)  # commits
        return RunKitResult(result.kit, result)
    flag_modified(kit, "status")
    uow.commit()
    return RunKitResult(kit, None)


# --------------------------------------------------------------------------- install


@dataclass(frozen=True)
class Installed:
    record: PartInventory
    abom_item: AbomItem


def _holding_link(session: Session, record_id: int) -> PartKitInventory | None:
    return session.scalars(
        select(PartKitInventory).where(
            PartKitInventory.part_inventory_id == record_id, PartKitInventory.released == False,  # noqa: E712
        ).execution_options(**_FRESH)
    ).one_or_none()


def _lock_record_and_kit(uow: UnitOfWork, record_id: int, others: Sequence[int]) -> tuple[
    dict[int, PartInventory], PartKitInventory | None, PartKit | None,
]:
    """The kit holding the record (shared, so a status change of that kit waits for us), then
    the records in id order; the holding is re-read after the locks."""
    seen = _holding_link(uow.session, record_id)
    kit = kits.lock_kit(uow, seen.part_kit_id, shared=True) if seen is not None else None
    records = kits.lock_records(uow, [record_id, *[o for o in others if o]])
    link = _holding_link(uow.session, record_id)
    if (link.part_kit_id if link else None) != (kit.id if kit else None):
        raise Conflict("the inventory's kit changed while installing; try again", field="partInventoryId")
    return records, link, kit


def install_part_inventory(
    uow: UnitOfWork, *, build_requirement_id: int, part_inventory_id: int,
    quantity: object | None = None, etag: str | None = None,
) -> Installed:
    found = uow.get(BuildRequirement, build_requirement_id, field="buildRequirementId")
    run = lock_run(uow, found.run_id, field="buildRequirementId")
    req = uow.get(BuildRequirement, build_requirement_id, field="buildRequirementId")
    records, link, kit = _lock_record_and_kit(uow, part_inventory_id, [run.part_inventory_id or 0])
    record = records.get(part_inventory_id)
    if record is None:
        raise NotFound(f"PartInventory {part_inventory_id} does not exist", field="partInventoryId")
    check_etag(record, etag, required=False)
    unit = records.get(run.part_inventory_id or 0)
    status = kits.fresh_statuses(uow.session, [record.id])[record.id]
    record_part = uow.get(Part, record.part_id)
    req_part = uow.get(Part, req.part_id)
    installed = installed_by_requirement(uow.session, [req.id])[req.id]
    plan = rules.plan_install(
        rules.InstallRecord(record.id, record.part_id, record_part.part_number, TrackingType(record_part.tracking_type),
                            record.quantity, status, record.location_id,
                            held_by_run_id=kit.run_id if kit else None, held_by_kit_id=kit.id if kit else None),
        rules.InstallTarget(rules.RequirementFacts(req.id, req.part_id, req.quantity, installed, req.waived),
                            run.id, RunStatus(run.status), unit.id if unit else None,
                            unit.location_id if unit else None, req_part.part_number),
        None if quantity is None else parse_quantity(quantity, field="quantity"),
        allow_stock=settings().allow_install_from_stock,
    )
    assert unit is not None  # plan_install refuses a run without a unit
    refs = {"runId": run.id, "buildRequirementId": req.id, "parentPartInventoryId": unit.id}
    if plan.kind is PlanKind.MOVE_WHOLE:
        before = snapshot(record)
        record.location_id = plan.location_id
        kits._touch(record)
        target = record
        _ledger(uow, LedgerOperation.INSTALL, record, before, snapshot(record), **refs)
    else:
        before = snapshot(record)
        record.quantity = normalize(record.quantity - plan.quantity)
        _ledger(uow, LedgerOperation.INSTALL_SPLIT, record, before, snapshot(record), **refs)
        target = PartInventory(
            part_id=record.part_id, part_number=record.part_number, location_id=plan.location_id,
            supplier_id=record.supplier_id, unit_of_measure_id=record.unit_of_measure_id,
            lot_number=record.lot_number, quantity=normalize(plan.quantity), cost=record.cost,
            usage_type=record.usage_type, segment=record.segment, attributes=dict(record.attributes or {}),
            on_order=False, received_at=record.received_at, expiration_date=record.expiration_date,
            how_created=rules.PARTIAL_INSTALL,
            origin_part_inventory_id=record.id, created_at=record.created_at, created_by_id=uow.actor.id,
        )
        uow.session.add(target)
        uow.flush()
        _ledger(uow, LedgerOperation.INSTALL, target, None, snapshot(target), **refs)
        if plan.keeps_kit_link and link is not None:
            # Both parts stay with the run's kit item: it still holds what it was issued.
            link.issued_quantity = normalize(link.issued_quantity - plan.quantity)
            uow.session.add(PartKitInventory(
                part_kit_id=link.part_kit_id, part_kit_item_id=link.part_kit_item_id,
                part_inventory_id=target.id, issued_quantity=normalize(plan.quantity), released=False,
            ))
    item = AbomItem(part_inventory_id=target.id, parent_part_inventory_id=unit.id, build_requirement_id=req.id,
                    quantity=normalize(plan.quantity), created_by_id=uow.actor.id)
    uow.session.add(item)
    uow.commit()
    return Installed(target, item)


def _installation(session: Session, record_id: int) -> AbomItem | None:
    return session.scalars(
        select(AbomItem).where(AbomItem.part_inventory_id == record_id,
                               AbomItem.parent_part_inventory_id.is_not(None)).execution_options(**_FRESH)
    ).one_or_none()


def _run_of(uow: UnitOfWork, abom: AbomItem | None) -> Run | None:
    if abom is None or abom.build_requirement_id is None:
        return None
    req = uow.session.get(BuildRequirement, abom.build_requirement_id)
    return lock_run(uow, req.run_id) if req is not None else None


def uninstall_part_inventory(
    uow: UnitOfWork, *, part_inventory_id: int | None = None, abom_item_id: int | None = None,
    quantity: object | None = None, etag: str | None = None, location_id: int | None = None,
) -> PartInventory:
    """Reverse an install, named by the installed record or its aBOM item. Whole (the default):
    the record is no longer in the unit; it is KITTED again if its kit is still open, else
    AVAILABLE (where it stands, or at `location_id`). `quantity` less than installed splits the
    record: a new PARTIAL_UNINSTALL record takes that quantity out (staying with the kit item
    while the kit is open) and the install keeps the rest. Returns the record taken out."""
    record_id = _uninstall_target(uow, part_inventory_id, abom_item_id)
    run = _run_of(uow, _installation(uow.session, record_id))
    target = _location(uow, location_id, "locationId")
    records, link, _kit = _lock_record_and_kit(uow, record_id, [])
    record = records.get(record_id)
    if record is None:
        raise NotFound(f"PartInventory {record_id} does not exist", field="partInventoryId")
    check_etag(record, etag, required=False)
    abom = _installation(uow.session, record.id)
    rules.check_uninstall(record.id, abom is not None, RunStatus(run.status) if run else None)
    assert abom is not None
    if abom_item_id is not None and abom.id != abom_item_id:
        raise Conflict("the install changed while uninstalling; try again", field="abomItemId")
    if quantity is not None:
        q = parse_quantity(quantity, field="quantity")
        part = uow.get(Part, record.part_id)
        rules.check_partial_uninstall(record.id, TrackingType(part.tracking_type), abom.quantity, q)
        if q < abom.quantity:
            stock = _split_uninstall(uow, abom, record, link, q, target, run, keep_kit_link=True)
            uow.commit()
            return stock
    before = snapshot(record)
    if target is not None:
        record.location_id = target
    kits._touch(record)
    refs = {"runId": run.id if run else None, "buildRequirementId": abom.build_requirement_id,
            "parentPartInventoryId": abom.parent_part_inventory_id}
    uow.session.delete(abom)
    _ledger(uow, LedgerOperation.UNINSTALL, record, before, snapshot(record), **refs)
    uow.commit()
    return record


def _uninstall_target(uow: UnitOfWork, part_inventory_id: int | None, abom_item_id: int | None) -> int:
    """The installed record named by exactly one of its id and its install's aBOM item."""
    if (part_inventory_id is None) == (abom_item_id is None):
        raise BadInput("name the install: abomItemId or partInventoryId (one of them)", field="partInventoryId")
    if part_inventory_id is not None:
        return part_inventory_id
    assert abom_item_id is not None
    item = uow.get(AbomItem, abom_item_id, field="abomItemId")
    if item.parent_part_inventory_id is None:
        raise BadInput(f"aBOM item {item.id} is a unit's root, not an install", field="abomItemId")
    return item.part_inventory_id


def _split_uninstall(
    uow: UnitOfWork, item: AbomItem, record: PartInventory, link: PartKitInventory | None, back: Decimal,
    location_id: int | None, run: Run | None, *, keep_kit_link: bool,
) -> PartInventory:
    """Take `back` out of an install into a new PARTIAL_UNINSTALL record (at `location_id`, or
    where the installed record stands); the install and its record keep the rest. With
    `keep_kit_link` the new record stays with the kit item (so the item still holds what it was
    issued); otherwise it leaves the kit as stock."""
    refs = {"runId": run.id if run else None, "buildRequirementId": item.build_requirement_id,
            "parentPartInventoryId": item.parent_part_inventory_id}
    before = snapshot(record)
    record.quantity = normalize(record.quantity - back)
    _ledger(uow, LedgerOperation.INSTALL_SPLIT, record, before, snapshot(record), **refs)
    stock = PartInventory(
        part_id=record.part_id, part_number=record.part_number, location_id=location_id or record.location_id,
        supplier_id=record.supplier_id, unit_of_measure_id=record.unit_of_measure_id,
        lot_number=record.lot_number, quantity=normalize(back), cost=record.cost, usage_type=record.usage_type,
        segment=record.segment, attributes=dict(record.attributes or {}), on_order=False,
        received_at=record.received_at, expiration_date=record.expiration_date,
        how_created="PARTIAL_UNINSTALL", origin_part_inventory_id=record.id,
        created_at=record.created_at, created_by_id=uow.actor.id,
    )
    uow.session.add(stock)
    item.quantity = normalize(item.quantity - back)
    uow.flush()
    if link is not None:
        link.issued_quantity = normalize(link.issued_quantity - back)
        if keep_kit_link:
            uow.session.add(PartKitInventory(
                part_kit_id=link.part_kit_id, part_kit_item_id=link.part_kit_item_id,
                part_inventory_id=stock.id, issued_quantity=normalize(back), released=False,
            ))
    _ledger(uow, LedgerOperation.UNINSTALL, stock, None, snapshot(stock), **refs)
    return stock


def move_unit_to_inventory(
    uow: UnitOfWork, *, part_inventory_id: int, location_id: int | None, quantity: object | None = None,
    etag: str | None = None,
) -> PartInventory:
    """moveItemToInventory with no kit item: a completed run's unit goes back to stock at
    `location_id` (whole), ready to be kitted and installed into a higher-level assembly.
    What is installed in it moves with it (services.installed)."""
    target = _location(uow, location_id, "locationId")
    record = kits.lock_records(uow, [part_inventory_id]).get(part_inventory_id)
    if record is None:
        raise NotFound(f"PartInventory {part_inventory_id} does not exist", field="partInventoryId")
    check_etag(record, etag, required=False)
    run = uow.session.scalars(
        select(Run).where(Run.part_inventory_id == record.id).order_by(Run.id.desc()).limit(1)
    ).one_or_none()
    status = kits.fresh_statuses(uow.session, [record.id])[record.id]
    rules.check_unit_to_stock(
        record.id, run.id if run else None, RunStatus(run.status) if run else None, status.value, target,
        None if quantity is None else parse_quantity(quantity, field="quantity"), record.quantity,
    )
    assert run is not None
    before = snapshot(record)
    record.location_id = target
    kits._touch(record)
    _ledger(uow, LedgerOperation.UNIT_TO_STOCK, record, before, snapshot(record), runId=run.id)
    uow.commit()
    return record


# --------------------------------------------------------------------------- aBOM items


def create_abom_for_part_inventory(uow: UnitOfWork, *, id: int, etag: str) -> AbomItem:
    """The root of a unit's aBOM trace (idempotent: the existing root is returned)."""
    record = kits.lock_records(uow, [id]).get(id)
    if record is None:
        raise NotFound(f"PartInventory {id} does not exist", field="id")
    check_etag(record, etag)
    root = uow.session.scalars(
        select(AbomItem).where(AbomItem.part_inventory_id == id, AbomItem.parent_part_inventory_id.is_(None))
    ).one_or_none()
    if root is None:
        root = AbomItem(part_inventory_id=id, quantity=record.quantity if record.quantity > ZERO else ONE,
                        created_by_id=uow.actor.id)
        uow.session.add(root)
        uow.commit()
    return root


def update_abom_item(uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]) -> AbomItem:
    """updateAbomItem(quantity). A root's traced quantity may be set to any positive amount (to
    follow its record). An installation's quantity may only go down: the difference is
    uninstalled into a new stock record (PARTIAL_UNINSTALL); install more with
    installPartInventory."""
    check_updatable(changes, {"quantity"})
    found = uow.get(AbomItem, id)
    run = _run_of(uow, found) if found.parent_part_inventory_id is not None else None
    item = uow.session.scalars(
        select(AbomItem).where(AbomItem.id == id).with_for_update().execution_options(**_FRESH)
    ).one_or_none()
    if item is None:
        raise NotFound(f"AbomItem {id} does not exist")
    check_etag(item, etag)
    if changes.get("quantity") is None:
        flag_modified(item, "quantity")
        uow.commit()
        return item
    q = parse_quantity(changes["quantity"], field="quantity")
    if q <= ZERO:
        raise BadInput("quantity must be greater than 0 (uninstall to remove it)", field="quantity")
    if item.parent_part_inventory_id is None:
        item.quantity = q
        flag_modified(item, "quantity")
        uow.commit()
        return item
    if run is not None and RunStatus(run.status) is RunStatus.COMPLETED:
        raise BadInput(f"run {run.id} is COMPLETED; its as-built record is final", field="quantity")
    if q > item.quantity:
        raise BadInput(f"quantity {q} is more than installed ({item.quantity}); install more with "
                       "installPartInventory", field="quantity")
    if q == item.quantity:
        flag_modified(item, "quantity")
        uow.commit()
        return item
    records, link, _kit = _lock_record_and_kit(uow, item.part_inventory_id, [])
    record = records[item.part_inventory_id]
    _split_uninstall(uow, item, record, link, normalize(item.quantity - q), None, run, keep_kit_link=False)
    uow.commit()
    return item


# --------------------------------------------------------------------------- trees and reads

MAX_DEPTH = 64


@dataclass(frozen=True)
class AbomNode:
    abom_item_id: int
    part_inventory_id: int
    parent_part_inventory_id: int
    quantity: Decimal
    depth: int  # 1 = directly in (or directly holding) the starting unit
    path: str


def _abom_walk_statement(down: bool) -> Any:
    """The recursive CTE, built once per direction (`start` is a bound parameter)."""
    a = AbomItem
    near = a.parent_part_inventory_id if down else a.part_inventory_id
    base = select(
        a.id.label("abom_id"), a.part_inventory_id.label("child"), a.parent_part_inventory_id.label("parent"),
        a.quantity.label("quantity"), literal(1, Integer).label("depth"),
    ).where(near == bindparam("start", type_=Integer), a.parent_part_inventory_id.is_not(None))
    tree = base.cte("abom_tree", recursive=True)
    joined_on = tree.c.child if down else tree.c.parent
    step = select(a.id, a.part_inventory_id, a.parent_part_inventory_id, a.quantity, tree.c.depth + 1).join(
        tree, near == joined_on
    ).where(a.parent_part_inventory_id.is_not(None), tree.c.depth < MAX_DEPTH)
    tree = tree.union_all(step)
    return select(tree.c.abom_id, tree.c.child, tree.c.parent, tree.c.quantity, tree.c.depth).order_by(
        tree.c.depth, tree.c.abom_id
    )


_WALKS = {True: _abom_walk_statement(True), False: _abom_walk_statement(False)}


def _abom_walk(session: Session, start: int, *, down: bool) -> list[AbomNode]:
    """One recursive CTE: down = everything installed in `start` (to any depth); up = every unit
    `start` is installed in, innermost first. A record is installed in one place at most, so the
    installs form a tree and each node's path follows from its parent's (built here)."""
    paths: dict[int, str] = {}
    nodes: list[AbomNode] = []
    for abom_id, child, parent, quantity, depth in session.execute(_WALKS[down], {"start": start}):
        via = parent if down else child
        above = paths.get(via)
        path = f"{above}/{abom_id}" if above else str(abom_id)
        paths[child if down else parent] = path
        nodes.append(AbomNode(abom_id, child, parent, quantity, depth, path))
    return nodes


def installed_in(session: Session, part_inventory_id: int) -> list[AbomNode]:
    return _abom_walk(session, part_inventory_id, down=True)


def installed_where(session: Session, part_inventory_id: int) -> list[AbomNode]:
    return _abom_walk(session, part_inventory_id, down=False)


RUN_COLUMNS: dict[str, Any] = {
    "id": Run.id, "title": Run.title, "status": Run.status, "partId": Run.part_id,
    "procedureId": Run.procedure_id, "partInventoryId": Run.part_inventory_id,
    "locationId": Run.location_id, "createdAt": Run.created_at,
}
RUN_SORTS: dict[str, Any] = {"ID": Run.id, "CREATED_AT": Run.created_at, "TITLE": Run.title,
                             "STATUS": Run.status, "PART_ID": Run.part_id}


list_runs = Listing(Run, RUN_COLUMNS, RUN_SORTS)


def runs_of_records(session: Session, record_ids: Iterable[int]) -> dict[int, list[int]]:
    """Runs related to each record (ION's `runs` field): the run building it, the runs it is
    installed for, and the runs whose open kits hold it. One UNION query for all records."""
    wanted = sorted(set(record_ids))
    out: dict[int, list[int]] = {i: [] for i in wanted}
    if not wanted:
        return out
    building = select(Run.part_inventory_id.label("rid"), Run.id.label("run_id")).where(
        Run.part_inventory_id.in_(wanted))
    installed = select(AbomItem.part_inventory_id, BuildRequirement.run_id).join(
        BuildRequirement, BuildRequirement.id == AbomItem.build_requirement_id
    ).where(AbomItem.part_inventory_id.in_(wanted))
    kitted = select(PartKitInventory.part_inventory_id, PartKit.run_id).join(
        PartKit, PartKit.id == PartKitInventory.part_kit_id
    ).where(PartKitInventory.part_inventory_id.in_(wanted), PartKitInventory.released == False,  # noqa: E712
            PartKit.run_id.is_not(None))
    union = building.union(installed, kitted).subquery()
    for rid, run_id in session.execute(select(union.c.rid, union.c.run_id).order_by(union.c.rid, union.c.run_id)):
        out[rid].append(run_id)
    return out
