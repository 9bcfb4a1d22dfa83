"""Installed stock follows its unit (docs/runs.md, "Installed stock follows its unit").

A record installed in a unit sits where the unit is, to any depth: a motor in a gearbox in a
robot arm stands where the arm stands. Whatever path moves a unit (an inventory update, a kit's
delivery or staging, an install of a sub-assembly, a completed unit going back to stock), the
records installed in it move with it. So no service has to remember it, a session listener
notes every inventory record whose location was flushed, and the unit of work calls
`follow_units` before it commits: one recursive CTE finds everything installed below the moved
records, one UPDATE per target location moves what is elsewhere, and one INSERT writes a ledger
entry (`FOLLOW_UNIT`) for each record moved. Rows moved by bulk SQL outside the ORM are not
noticed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, bindparam, insert, literal, select, update
from sqlalchemy.orm import Session, UOWTransaction, aliased
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.orm.base import NO_VALUE

from kitwright.domain.ledger import LedgerOperation
from kitwright.store.models import AbomItem, LedgerEntry, PartInventory, new_etag
from kitwright.store.touch import value_before

MOVED = "kitwright_moved_records"
MAX_DEPTH = 64


def note_flushed_moves(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, PartInventory) and get_history(obj, "location_id").has_changes():
            # A record marked written only so its etag changes (`touch`) has not moved.
            before = value_before(session, obj, "location_id")
            if before is NO_VALUE or before != obj.__dict__.get("location_id", NO_VALUE):
                session.info.setdefault(MOVED, set()).add(obj.id)


def note_moved(session: Session, record_ids: list[int]) -> None:
    """Records moved by a statement the flush does not see (their installed records follow)."""
    if record_ids:
        session.info.setdefault(MOVED, set()).update(record_ids)


def _below_statement() -> Any:
    """(installed record, the moved unit above it, depth, that unit's location)."""
    a = AbomItem
    base = select(
        a.part_inventory_id.label("child"), a.parent_part_inventory_id.label("unit"),
        literal(1, Integer).label("depth"),
    ).where(a.parent_part_inventory_id.in_(bindparam("starts", expanding=True)))
    tree = base.cte("installed_below", recursive=True)
    step = select(a.part_inventory_id, tree.c.unit, tree.c.depth + 1).join(
        tree, a.parent_part_inventory_id == tree.c.child
    ).where(tree.c.depth < MAX_DEPTH)
    tree = tree.union_all(step)
    unit = aliased(PartInventory)
    return select(tree.c.child, tree.c.unit, tree.c.depth, unit.location_id).join(unit, unit.id == tree.c.unit)


_BELOW = _below_statement()


def follow_units(session: Session, actor_id: int | None, actor_name: str) -> int:
    """Move everything installed in the records moved in this transaction to where each of them
    now stands; returns how many records moved. Called by UnitOfWork.commit after its flush."""
    moved = session.info.pop(MOVED, None)
    if not moved:
        return 0
    from kitwright.services.ledger import snapshot  # the ledger's module imports the unit of work

    # The nearest moved unit above a record decides (its own location was set by the caller).
    target: dict[int, tuple[int, int, int | None]] = {}
    for child, unit, depth, location in session.execute(_BELOW, {"starts": sorted(moved)}):
        if child not in target or depth < target[child][0]:
            target[child] = (depth, unit, location)
    if not target:
        return 0
    records = list(session.scalars(
        select(PartInventory).where(PartInventory.id.in_(sorted(target))).order_by(PartInventory.id)
        .with_for_update(of=PartInventory).execution_options(populate_existing=True)
    ))
    stray = [r for r in records if r.location_id != target[r.id][2]]
    if not stray:
        return 0
    by_location: dict[int | None, list[int]] = {}
    entries: list[dict[str, Any]] = []
    for record in stray:
        _depth, unit, location = target[record.id]
        by_location.setdefault(location, []).append(record.id)
        before = snapshot(record)
        entries.append({
            "actor_id": actor_id, "actor": actor_name, "operation": LedgerOperation.FOLLOW_UNIT.value,
            "part_inventory_id": record.id, "part_id": record.part_id, "location_id": location,
            "references": {"unitPartInventoryId": unit}, "before": before,
            "after": {**before, "location_id": location},
        })
    # Kit availability moves with the records; imported here, as it builds on services.uow.
    from kitwright.services import availability_changes

    availability_changes.note_places(session, [
        place for record in stray for place in ((record.part_id, record.location_id),
                                                (record.part_id, target[record.id][2]))
    ])
    for location, ids in sorted(by_location.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        session.execute(
            update(PartInventory).where(PartInventory.id.in_(ids)).values(location_id=location, etag=new_etag())
            .execution_options(synchronize_session=False)
        )
    session.execute(insert(LedgerEntry), entries)
    for record in stray:
        session.expire(record)
    return len(stray)


def forget_moves(session: Session) -> None:
    session.info.pop(MOVED, None)
