"""mBOM use cases: create / update / delete mBOM items, reference designators, the bulk
depth / level upload, and a part's whole mBOM tree in one recursive query (docs/runs.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, String, cast, literal, select, tuple_
from sqlalchemy.orm import Session

from kitwright.domain import bom as rules
from kitwright.domain.errors import BadInput, Problem
from kitwright.domain.quantities import ONE
from kitwright.services.listing import Listing
from kitwright.services.uow import UnitOfWork, check_etag, check_updatable, register_constraint
from kitwright.store.models import MbomItem, MbomItemReferenceDesignator, Part

register_constraint(
    "uq_mbom_item_parent_part", "partId", "this part is already a component of that parent (not unique)"
)
register_constraint("ck_mbom_item_not_self", "partId", "a part cannot be a component of itself")
register_constraint("ck_mbom_item_quantity_positive", "quantity", "quantity must be greater than 0")
register_constraint("uq_mbom_refdes_value", "value", "the mBOM item already has this reference designator")

MAX_DEPTH = 64  # a guard for the recursive queries; cycles are refused on write anyway


def reachable_edges(session: Session, roots: Iterable[int]) -> list[tuple[int, int]]:
    """Every mBOM edge (parent, part) below `roots`, to any depth: one recursive CTE."""
    wanted = sorted(set(roots))
    if not wanted:
        return []
    base = select(MbomItem.parent_id, MbomItem.part_id, literal(1, Integer).label("depth")).where(
        MbomItem.parent_id.in_(wanted)
    )
    tree = base.cte("tree", recursive=True)
    step = select(MbomItem.parent_id, MbomItem.part_id, (tree.c.depth + 1).label("depth")).join(
        tree, MbomItem.parent_id == tree.c.part_id
    ).where(tree.c.depth < MAX_DEPTH)
    tree = tree.union(step)
    return [(p, c) for p, c in session.execute(select(tree.c.parent_id, tree.c.part_id).distinct())]


def _check_acyclic(uow: UnitOfWork, new_edges: Sequence[tuple[int, int]], field: str) -> None:
    cycle = rules.find_cycle(reachable_edges(uow.session, (c for _, c in new_edges)), new_edges)
    if cycle is not None:
        names = {p.id: p.part_number for p in uow.session.scalars(select(Part).where(Part.id.in_(set(cycle))))}
        raise BadInput(rules.cycle_message(cycle, names), field=field)


def create_mbom_item(
    uow: UnitOfWork, *, part_id: int, parent_id: int, quantity: object = ONE,
    made_on_assembly: bool = False, substitutes: str | None = None,
) -> MbomItem:
    parent = uow.get(Part, parent_id, field="parentId", lock=True)
    part = uow.get(Part, part_id, field="partId")
    q = rules.check_mbom_quantity(quantity)
    _check_acyclic(uow, [(parent.id, part.id)], "partId")
    item = MbomItem(parent_id=parent.id, part_id=part.id, quantity=q,
                    made_on_assembly=made_on_assembly, substitutes=substitutes)
    uow.session.add(item)
    uow.commit()
    return item


def update_mbom_item(uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]) -> MbomItem:
    check_updatable(changes, {"quantity", "made_on_assembly", "substitutes"})
    item = uow.get(MbomItem, id, lock=True)
    check_etag(item, etag)
    if "quantity" in changes:
        item.quantity = rules.check_mbom_quantity(changes["quantity"])
    if changes.get("made_on_assembly") is not None:
        item.made_on_assembly = bool(changes["made_on_assembly"])
    if "substitutes" in changes:
        item.substitutes = changes["substitutes"]
    uow.commit()
    return item


def delete_mbom_item(uow: UnitOfWork, id: int, etag: str) -> int:
    """Started runs keep their snapshot: their requirements only lose the link to the line."""
    item = uow.get(MbomItem, id, lock=True)
    check_etag(item, etag)
    uow.session.delete(item)
    uow.commit()
    return id


def create_reference_designator(uow: UnitOfWork, *, mbom_item_id: int, value: str) -> MbomItemReferenceDesignator:
    item = uow.get(MbomItem, mbom_item_id, field="mbomItemId")
    text = (value or "").strip()
    if not text or len(text) > 100:
        raise BadInput("a reference designator is 1 to 100 characters", field="value")
    row = MbomItemReferenceDesignator(mbom_item_id=item.id, value=text)
    uow.session.add(row)
    uow.commit()
    return row


def delete_reference_designator(uow: UnitOfWork, id: int, etag: str) -> int:
    row = uow.get(MbomItemReferenceDesignator, id)
    check_etag(row, etag)
    uow.session.delete(row)
    uow.commit()
    return id


@dataclass(frozen=True)
class BulkResult:
    errors: list[Problem]
    mbom_item_ids: list[int]  # created or updated, in row order


def create_or_update_multiple(uow: UnitOfWork, notation: rules.Notation, rows: Sequence[rules.BomRow]) -> BulkResult:
    """createOrUpdateMultipleMboms: all rows or none. Row problems come back as data (the
    script reads errorMessages); nothing is written when there is any."""
    edges, problems = rules.plan_bom_rows(notation, rows)
    keys = sorted({row.part for row in rows})
    parts: dict[rules.PartKey, Part] = {}
    if keys:
        for part in uow.session.scalars(select(Part).where(tuple_(Part.part_number, Part.revision).in_(keys))):
            parts[(part.part_number, part.revision)] = part
    for row in rows:
        if row.part not in parts:
            rev = f" rev {row.part[1]}" if row.part[1] else ""
            problems.add(f"no part {row.part[0]}{rev}", row=row.row_id, column="partNumber")
    if problems:
        return BulkResult(problems.items, [])
    pairs = [(parts[e.parent].id, parts[e.part].id) for e in edges]
    # Lock the parents (ascending) so two uploads of the same assembly queue up.
    uow.lock_many(Part, [p for p, _ in pairs])
    try:
        _check_acyclic(uow, pairs, "partNumber")
    except BadInput as exc:
        return BulkResult([Problem(exc.message, column="partNumber")], [])
    existing = {
        (i.parent_id, i.part_id): i
        for i in uow.session.scalars(
            select(MbomItem).where(tuple_(MbomItem.parent_id, MbomItem.part_id).in_(pairs))
        )
    } if pairs else {}
    touched: list[MbomItem] = []
    for edge, pair in zip(edges, pairs, strict=True):
        item = existing.get(pair)
        if item is None:
            item = MbomItem(parent_id=pair[0], part_id=pair[1], quantity=edge.quantity,
                            made_on_assembly=edge.made_on_assembly, substitutes=edge.substitutes)
            uow.session.add(item)
        else:
            item.quantity = edge.quantity
            item.made_on_assembly = edge.made_on_assembly
            item.substitutes = edge.substitutes
        touched.append(item)
    uow.commit()
    return BulkResult([], [item.id for item in touched])


@dataclass(frozen=True)
class TreeLine:
    mbom_item_id: int
    parent_id: int
    part_id: int
    depth: int  # 1 = a direct component
    quantity: Decimal  # per one parent
    total_quantity: Decimal  # per one top assembly (product of quantities down the path)
    path: str  # mBOM item ids from the top, "3/17/42"


def mbom_tree(session: Session, part_id: int) -> list[TreeLine]:
    """A part's whole mBOM, to any depth, in one recursive query. Each row carries its path
    (the mBOM item ids from the top), so a part used in two places appears once per place."""
    path_of = cast(MbomItem.id, String(20))
    base = select(
        MbomItem.id.label("item_id"), MbomItem.parent_id, MbomItem.part_id, MbomItem.quantity,
        literal(1, Integer).label("depth"), cast(path_of, String(2000)).label("path"),
    ).where(MbomItem.parent_id == part_id)
    tree = base.cte("mbom_tree", recursive=True)
    step = select(
        MbomItem.id, MbomItem.parent_id, MbomItem.part_id, MbomItem.quantity,
        tree.c.depth + 1, cast(tree.c.path + "/" + path_of, String(2000)),
    ).join(tree, MbomItem.parent_id == tree.c.part_id).where(tree.c.depth < MAX_DEPTH)
    tree = tree.union_all(step)
    rows = session.execute(
        select(tree.c.item_id, tree.c.parent_id, tree.c.part_id, tree.c.quantity, tree.c.depth, tree.c.path)
        .order_by(tree.c.depth, tree.c.path)
    ).all()
    totals: dict[str, Decimal] = {}
    out: list[TreeLine] = []
    for item_id, parent, part, q, depth, path in rows:
        above = path.rsplit("/", 1)[0] if depth > 1 else ""
        total = totals.get(above, ONE) * q
        totals[path] = total
        out.append(TreeLine(item_id, parent, part, depth, q, total, path))
    return out


MBOM_COLUMNS: dict[str, Any] = {
    "id": MbomItem.id, "partId": MbomItem.part_id, "parentId": MbomItem.parent_id,
    "quantity": MbomItem.quantity, "createdAt": MbomItem.created_at,
}
MBOM_SORTS: dict[str, Any] = {"ID": MbomItem.id, "CREATED_AT": MbomItem.created_at,
                              "PART_ID": MbomItem.part_id, "PARENT_ID": MbomItem.parent_id}


list_mbom_items = Listing(MbomItem, MBOM_COLUMNS, MBOM_SORTS)


def reference_designators(session: Session, item_ids: Iterable[int]) -> dict[int, list[MbomItemReferenceDesignator]]:
    wanted = sorted(set(item_ids))
    out: dict[int, list[MbomItemReferenceDesignator]] = {i: [] for i in wanted}
    if wanted:
        for row in session.scalars(
            select(MbomItemReferenceDesignator).where(MbomItemReferenceDesignator.mbom_item_id.in_(wanted))
            .order_by(MbomItemReferenceDesignator.id)
        ):
            out[row.mbom_item_id].append(row)
    return out

