"""Run rules: statuses, build requirements from the mBOM, what a run still needs, install and
uninstall plans, and what completing a run demands. Pure; see docs/runs.md.

A run builds a unit (an inventory record, WIP while the run is open). Its build requirements are
the part's mBOM lines x the run quantity, snapshotted when the run is created. Parts kitted to the
run's open kits count against it from the moment they are requested, so planning never counts
them twice. Installing links (part of) a record to a requirement; the record then sits where the
built unit is and is INSTALLED. Nothing here creates or consumes quantity: a partial install
splits a record (PARTIAL_INSTALL), like kitting does.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from kitwright.domain.errors import BadInput, Problems
from kitwright.domain.kits import PlanKind
from kitwright.domain.quantities import ONE, ZERO, parse_quantity
from kitwright.domain.status import PartInventoryStatus
from kitwright.domain.tracking import TrackingType


class RunStatus(enum.StrEnum):
    TODO = "TODO"
    IN_PROGRESS = "IN_PROGRESS"
    HOLD = "HOLD"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"

    @property
    def is_open(self) -> bool:
        return self not in (RunStatus.COMPLETED, RunStatus.CANCELED)


PARTIAL_INSTALL = "PARTIAL_INSTALL"


def parse_run_status(value: object, field: str = "status") -> RunStatus:
    try:
        return RunStatus(str(getattr(value, "value", value)))
    except ValueError:
        raise BadInput(f"unknown run status {str(value)[:40]!r}", field=field) from None


def check_run_quantity(value: object, tracking: TrackingType) -> Decimal:
    q = parse_quantity(value, field="quantity")
    if q <= ZERO:
        raise BadInput("quantity must be greater than 0", field="quantity")
    if tracking is TrackingType.SERIAL and q != ONE:
        raise BadInput(
            "a serial-tracked part is built one unit per run: quantity must be 1", field="quantity"
        )
    return q


@dataclass(frozen=True)
class MbomLine:
    mbom_item_id: int
    part_id: int
    quantity: Decimal  # per one assembly


@dataclass(frozen=True)
class RequirementPlan:
    mbom_item_id: int
    part_id: int
    quantity: Decimal


def requirements_from_mbom(
    part_label: str, lines: Sequence[MbomLine], run_quantity: Decimal
) -> list[RequirementPlan]:
    """The run's build requirements: each direct mBOM line x the run quantity."""
    if not lines:
        raise BadInput(
            f"part {part_label} has no mBOM: add its components (createMbomItem) before "
            "creating a run for it",
            field="partId",
        )
    return [RequirementPlan(line.mbom_item_id, line.part_id, line.quantity * run_quantity) for line in lines]


@dataclass(frozen=True)
class RequirementFacts:
    id: int
    part_id: int
    quantity: Decimal
    installed: Decimal
    waived: bool = False

    @property
    def uninstalled(self) -> Decimal:
        return max(self.quantity - self.installed, ZERO)


def run_needs(
    requirements: Iterable[RequirementFacts], open_kit_demand_by_part: Mapping[int, Decimal]
) -> dict[int, Decimal]:
    """What the run still needs per requirement: required - installed - what its open kits
    already request and have not installed (kitted or waiting to be). Waived needs nothing."""
    demand = dict(open_kit_demand_by_part)
    out: dict[int, Decimal] = {}
    for req in sorted(requirements, key=lambda r: r.id):
        if req.waived:
            out[req.id] = ZERO
            continue
        covered = min(max(demand.get(req.part_id, ZERO), ZERO), req.uninstalled)
        demand[req.part_id] = demand.get(req.part_id, ZERO) - covered
        out[req.id] = req.uninstalled - covered
    return out


def check_transition(
    old: RunStatus, new: RunStatus, requirements: Sequence[RequirementFacts], *, unit_has_location: bool
) -> None:
    """A closed run stays closed. COMPLETED needs every requirement installed or waived, and a
    location for the built unit (so it becomes AVAILABLE somewhere). Every reason at once."""
    if old is new:
        return
    problems = Problems()
    if not old.is_open:
        problems.add(f"the run is {old.value}; a closed run does not change status", field="status")
    if new is RunStatus.COMPLETED:
        for req in requirements:
            if not req.waived and req.installed < req.quantity:
                problems.add(
                    f"build requirement {req.id} has {req.installed} of {req.quantity} installed; "
                    "install the rest or waive it with a reason",
                    field="status",
                )
        if not unit_has_location:
            problems.add(
                "the built unit has no location; give the run a locationId to complete it",
                field="locationId",
            )
    problems.raise_if_any()


def check_waive(waived: bool, reason: str | None) -> str | None:
    if waived and not (reason or "").strip():
        raise BadInput("waiving a build requirement needs a reason", field="waiveReason")
    return reason.strip() if waived and reason else None


# --------------------------------------------------------------------------- install


@dataclass(frozen=True)
class InstallRecord:
    id: int
    part_id: int
    part_label: str
    tracking: TrackingType
    quantity: Decimal
    status: PartInventoryStatus
    location_id: int | None
    held_by_run_id: int | None = None  # the run of the open kit holding it
    held_by_kit_id: int | None = None


@dataclass(frozen=True)
class InstallTarget:
    requirement: RequirementFacts
    run_id: int
    run_status: RunStatus
    unit_id: int | None
    unit_location_id: int | None
    part_label: str


@dataclass(frozen=True)
class InstallPlan:
    kind: PlanKind
    quantity: Decimal  # installed; the installed record holds exactly this
    origin_keeps: Decimal
    location_id: int | None  # where the installed record stands: with the built unit
    keeps_kit_link: bool  # the record is held by the run's kit: the split part stays kitted too


_REASONS = {
    PartInventoryStatus.INSTALLED: "is already installed",
    PartInventoryStatus.WIP: "is a unit still being built",
    PartInventoryStatus.ON_ORDER: "is on order, not received",
    PartInventoryStatus.SCRAPPED: "is scrapped",
    PartInventoryStatus.UNAVAILABLE: "is not available (empty, or at a location whose stock does not count)",
}


def plan_install(
    record: InstallRecord, target: InstallTarget, quantity: Decimal | None, *, allow_stock: bool
) -> InstallPlan:
    """installPartInventory. From stock kitted to the run (or, with the setting, any available
    stock); a serial whole; a lot or untracked quantity splits the record when partial."""
    problems = Problems()
    req = target.requirement
    if not target.run_status.is_open:
        problems.add(
            f"run {target.run_id} is {target.run_status.value}; nothing more is installed on it",
            field="buildRequirementId",
        )
    if target.unit_id is None:
        problems.add(f"run {target.run_id} has no unit being built yet; start it (IN_PROGRESS) first",
                     field="buildRequirementId")
    if record.id == target.unit_id:
        problems.add("a unit cannot be installed into itself", field="partInventoryId")
    if record.part_id != req.part_id:
        problems.add(
            f"inventory {record.id} is {record.part_label}; build requirement {req.id} names "
            f"{target.part_label}",
            field="partInventoryId",
        )
    held_here = False
    if record.status is PartInventoryStatus.KITTED:
        if record.held_by_run_id != target.run_id:
            owner = (
                f"run {record.held_by_run_id}'s kit {record.held_by_kit_id}"
                if record.held_by_run_id is not None
                else f"kit {record.held_by_kit_id}, which serves no run"
            )
            problems.add(
                f"inventory {record.id} is kitted to {owner}, not to run {target.run_id}",
                field="partInventoryId",
            )
        else:
            held_here = True
    elif record.status is PartInventoryStatus.AVAILABLE:
        if not allow_stock:
            problems.add(
                f"inventory {record.id} is not kitted to run {target.run_id}; kit it first "
                "(or allow installing from stock: KITWRIGHT_ALLOW_INSTALL_FROM_STOCK)",
                field="partInventoryId",
            )
    else:
        problems.add(
            f"inventory {record.id} {_REASONS.get(record.status, 'cannot be installed')}",
            field="partInventoryId",
        )
    remaining = req.uninstalled
    if remaining <= ZERO:
        problems.add(
            f"build requirement {req.id} already has its {req.quantity} installed", field="buildRequirementId"
        )
    q: Decimal | None
    if quantity is None:
        q = ONE if record.tracking is TrackingType.SERIAL else min(record.quantity, remaining)
    else:
        q = parse_quantity(quantity, field="quantity")
    if q <= ZERO:
        if quantity is not None or record.quantity <= ZERO:
            problems.add("quantity must be greater than 0", field="quantity")
    else:
        if record.tracking is TrackingType.SERIAL and q != ONE:
            problems.add("a serial record is installed whole: quantity must be 1", field="quantity")
        if q > record.quantity:
            problems.add(
                f"quantity {q} is more than inventory {record.id} holds ({record.quantity})", field="quantity"
            )
        if q > remaining > ZERO:
            problems.add(
                f"quantity {q} is more than build requirement {req.id} still needs ({remaining})",
                field="quantity",
            )
    problems.raise_if_any()
    whole = q == record.quantity
    return InstallPlan(
        kind=PlanKind.MOVE_WHOLE if whole else PlanKind.SPLIT,
        quantity=q,
        origin_keeps=record.quantity - q,
        location_id=target.unit_location_id if target.unit_location_id is not None else record.location_id,
        keeps_kit_link=held_here,
    )


def check_uninstall(record_id: int, installed: bool, run_status: RunStatus | None) -> None:
    problems = Problems()
    if not installed:
        problems.add(f"inventory {record_id} is not installed", field="partInventoryId")
    if run_status is RunStatus.COMPLETED:
        problems.add(
            "the run that installed it is COMPLETED; its as-built record is final", field="partInventoryId"
        )
    problems.raise_if_any()


def check_unit_to_stock(
    record_id: int, run_id: int | None, run_status: RunStatus | None, status: str,
    location_id: int | None, quantity: Decimal | None, held: Decimal,
) -> None:
    """moveItemToInventory without a kit item: a unit a run has built goes back to stock as a
    whole, to a named location, so a higher-level run can kit and install it (docs/runs.md)."""
    problems = Problems()
    if run_id is None:
        problems.add(f"inventory {record_id} is no unit a run built; name the kit item it is held by",
                     field="partKitItemId")
    elif run_status is not RunStatus.COMPLETED:
        problems.add(f"run {run_id} building inventory {record_id} is {run_status.value if run_status else '?'}; "
                     "only a completed run's unit goes back to stock", field="partInventoryId")
    elif status != "AVAILABLE":
        problems.add(f"inventory {record_id} is {status}; only an available built unit goes back to stock",
                     field="partInventoryId")
    if location_id is None:
        problems.add("name the stock location the unit goes to", field="locationId")
    if quantity is not None and quantity != held:
        problems.add(f"a built unit goes back whole ({held})", field="quantity")
    problems.raise_if_any()


def check_partial_uninstall(record_id: int, tracking: TrackingType, installed: Decimal, quantity: Decimal) -> None:
    """Uninstalling `quantity` of an install: more than 0, at most what is installed, whole
    serials only."""
    if quantity <= ZERO:
        raise BadInput("quantity must be greater than 0", field="quantity")
    if quantity > installed:
        raise BadInput(f"quantity {quantity} is more than inventory {record_id} has installed ({installed})",
                       field="quantity")
    if tracking is TrackingType.SERIAL and quantity != installed:
        raise BadInput("a serial is uninstalled whole", field="quantity")
