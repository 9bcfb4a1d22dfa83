"""Read models for the run, order and kanban pages and a part's mBOM (docs/web.md).

Read-only, like services.views: a few set-based queries per page, no query per row. The
figures come from the same service functions the GraphQL API uses (runs.installed_by_requirement,
runs.installed_in, orders.quantity_details, bom.mbom_tree), so a page and the API never differ.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from kitwright.services import bom, orders, runs
from kitwright.services.uow import get
from kitwright.services.views import location_names
from kitwright.store.models import (
    BuildRequirement,
    KanbanCycle,
    KanbanKit,
    MbomItem,
    OrderLine,
    Part,
    PartInventory,
    PartKit,
    RetailOrder,
    Run,
    UnprocessedOrderEvent,
)
from kitwright.store.queries import PageRequest


def parts_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Part]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Part).where(Part.id.in_(wanted)))}


def records_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, PartInventory]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return {r.id: r for r in session.scalars(select(PartInventory).where(PartInventory.id.in_(wanted)))}


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RequirementLine:
    requirement: BuildRequirement
    part: Part | None
    installed: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(self.requirement.quantity - self.installed, Decimal(0))


@dataclass(frozen=True)
class InstalledLine:
    depth: int
    record: PartInventory | None
    part: Part | None
    parent_id: int
    quantity: Decimal


@dataclass
class RunView:
    run: Run
    part: Part
    unit: PartInventory | None
    location: str | None
    requirements: list[RequirementLine]
    installed: list[InstalledLine]
    kits: list[PartKit]
    # records held by the run's open kits that an install could use, per part
    kitted: dict[int, list[PartInventory]]


def run_list(session: Session, status: str | None = None, limit: int = 200) -> tuple[list[Run], dict[int, Part]]:
    filters = {"status": {"eq": status}} if status else None
    rows = list(runs.list_runs(session, filters, ["CREATED_AT_DESC"], PageRequest(first=limit)).rows)
    return rows, parts_by_id(session, (r.part_id for r in rows))


def run_view(session: Session, run_id: int) -> RunView:
    run = get(session, Run, run_id)
    reqs = list(session.scalars(select(BuildRequirement).where(BuildRequirement.run_id == run.id)
                                .order_by(BuildRequirement.id)))
    installed = runs.installed_by_requirement(session, (r.id for r in reqs))
    nodes = runs.installed_in(session, run.part_inventory_id) if run.part_inventory_id else []
    kit_rows = list(session.scalars(select(PartKit).where(PartKit.run_id == run.id).order_by(PartKit.id)))
    from kitwright.services.views import kit_view  # the kit page's own read model

    kitted: dict[int, list[PartInventory]] = defaultdict(list)
    held_ids: list[int] = []
    for kit in kit_rows:
        if kit.status in ("COMPLETED", "CANCELED"):
            continue
        for line in kit_view(session, kit.id).lines:
            held_ids += [h.record_id for h in line.held]
    records = records_by_id(session, [*(n.part_inventory_id for n in nodes), run.part_inventory_id, *held_ids])
    installed_ids = {n.part_inventory_id for n in nodes}
    for rid in held_ids:
        if rid not in installed_ids:  # an installed record stays linked to its kit for the trace
            kitted[records[rid].part_id].append(records[rid])
    parts = parts_by_id(session, [run.part_id, *(r.part_id for r in reqs), *(r.part_id for r in records.values())])
    return RunView(
        run, parts[run.part_id], records.get(run.part_inventory_id or 0),
        location_names(session, [run.location_id]).get(run.location_id or 0),
        [RequirementLine(r, parts.get(r.part_id), installed[r.id]) for r in reqs],
        [InstalledLine(n.depth, records.get(n.part_inventory_id),
                       parts.get(records[n.part_inventory_id].part_id) if n.part_inventory_id in records else None,
                       n.parent_part_inventory_id, n.quantity) for n in nodes],
        kit_rows, dict(kitted),
    )


# --------------------------------------------------------------------------- part mBOM


@dataclass(frozen=True)
class MbomLine:
    depth: int
    part: Part | None
    quantity: Decimal
    total_quantity: Decimal


@dataclass
class PartBuild:
    mbom: list[MbomLine]
    where_used: list[tuple[Part, Decimal]]
    runs: list[Run]


def part_build(session: Session, part_id: int, run_limit: int = 50) -> PartBuild:
    # Each line under its parent (depth first), not level by level
    tree = sorted(bom.mbom_tree(session, part_id), key=lambda t: [int(i) for i in t.path.split("/")])
    used = session.execute(
        select(Part, MbomItem.quantity).join(MbomItem, MbomItem.parent_id == Part.id)
        .where(MbomItem.part_id == part_id).order_by(Part.part_number, Part.id)
    ).all()
    parts = parts_by_id(session, (t.part_id for t in tree))
    run_rows = list(session.scalars(select(Run).where(Run.part_id == part_id).order_by(Run.id.desc()).limit(run_limit)))
    return PartBuild([MbomLine(t.depth, parts.get(t.part_id), t.quantity, t.total_quantity) for t in tree],
                     [(p, q) for p, q in used], run_rows)


# --------------------------------------------------------------------------- orders


@dataclass
class OrderView:
    order: RetailOrder
    lines: list[tuple[OrderLine, Part | None, orders.QuantityDetail]]
    unprocessed: list[UnprocessedOrderEvent]
    line_numbers: dict[int, str]  # order line id -> its line number
    part_numbers: dict[int, str]  # the events' parts (components of a kit line)


def order_list(session: Session, limit: int = 200) -> list[tuple[RetailOrder, int]]:
    rows = list(orders.list_orders(session, None, ["CREATED_AT_DESC"], PageRequest(first=limit)).rows)
    lines = orders.lines_of(session, (o.id for o in rows))
    return [(o, len(lines.get(o.id, []))) for o in rows]


def order_view(session: Session, order_id: int) -> OrderView:
    order = orders.get_order(session, order_id)
    lines = orders.lines_of(session, [order.id]).get(order.id, [])
    details = orders.quantity_details(session, lines)
    parts = parts_by_id(session, (line.part_id for line in lines))
    events = list(session.scalars(
        select(UnprocessedOrderEvent).where(UnprocessedOrderEvent.order_line_id.in_([line.id for line in lines]))
        .order_by(UnprocessedOrderEvent.id)
    )) if lines else []
    event_parts = parts_by_id(session, (e.part_id for e in events))
    return OrderView(order, [(line, parts.get(line.part_id), details[line.id]) for line in lines], events,
                     {line.id: line.line_number for line in lines},
                     {i: p.part_number for i, p in event_parts.items()})


# --------------------------------------------------------------------------- kanban


@dataclass
class KanbanLine:
    kit: KanbanKit
    home: str
    line: str
    cycles: list[KanbanCycle]  # newest first


def kanban_list(session: Session, limit: int = 200, history: int = 10) -> list[KanbanLine]:
    from kitwright.services.kanban import list_kanban_kits

    kits = list(list_kanban_kits(session, None, ["ID_ASC"], PageRequest(first=limit)).rows)
    ids = [k.id for k in kits]
    cycles: dict[int, list[KanbanCycle]] = defaultdict(list)
    if ids:
        for cycle in session.scalars(select(KanbanCycle).where(KanbanCycle.kanban_kit_id.in_(ids))
                                     .order_by(KanbanCycle.kanban_kit_id, KanbanCycle.number.desc())):
            if len(cycles[cycle.kanban_kit_id]) < history:
                cycles[cycle.kanban_kit_id].append(cycle)
    names = location_names(session, [*(k.home_location_id for k in kits), *(k.line_location_id for k in kits)])
    return [KanbanLine(k, names.get(k.home_location_id, str(k.home_location_id)),
                       names.get(k.line_location_id, str(k.line_location_id)), cycles.get(k.id, []))
            for k in kits]
