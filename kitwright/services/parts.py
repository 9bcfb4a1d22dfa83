"""Parts: a part number at a revision, with its tracking type."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from kitwright.domain.attributes import normalize_attributes
from kitwright.domain.errors import BadInput, NotFound, Problems
from kitwright.domain.kit_definitions import check_may_become_kit, normalize_kit_definition
from kitwright.domain.kits import FulfilmentOrder
from kitwright.domain.limits import ID_CHUNK
from kitwright.domain.quantities import parse_quantity
from kitwright.domain.text import LONG, clean_text
from kitwright.domain.tracking import TrackingType
from kitwright.services import actions, availability_changes
from kitwright.services.listing import Listing
from kitwright.services.uow import UnitOfWork, check_etag, check_updatable
from kitwright.store.models import Part, PartComponent, PartInventory, UnitOfMeasure

UPDATABLE = {
    "part_number", "revision", "description", "tracking_type", "unit_of_measure_id", "cost", "is_digital",
    "components", "supplier_part_number", "attributes", "fulfilment_order",
}
# ION's createPart takes no tracking type: a part without one has no tracking rule, which is
# Kitwright's UNTRACKED (docs/ion-compatibility.md).
DEFAULT_TRACKING = TrackingType.UNTRACKED
MAX_COMPONENTS = 1000


def parse_fulfilment_order(value: object) -> FulfilmentOrder:
    try:
        return FulfilmentOrder(str(getattr(value, "value", value)).upper())
    except ValueError:
        raise BadInput("fulfilmentOrder must be FIFO or FEFO", field="fulfilmentOrder") from None


def parse_tracking_type(value: object) -> TrackingType:
    try:
        return TrackingType(str(value).upper())
    except ValueError:
        raise BadInput("trackingType must be SERIAL, LOT or UNTRACKED", field="trackingType") from None


def create_part(
    uow: UnitOfWork,
    *,
    part_number: str,
    tracking_type: str | TrackingType | None = None,
    revision: str | None = None,
    description: str | None = None,
    unit_of_measure_id: int | None = None,
    cost: Decimal | None = None,
    is_digital: bool = False,
    components: Sequence[tuple[int, Decimal]] | None = None,
    supplier_part_number: str | None = None,
    attributes: list[tuple[object, object, object]] | None = None,
    fulfilment_order: str | FulfilmentOrder | None = None,
) -> Part:
    part = Part(
        part_number=clean_text(part_number, field="partNumber", required=True),
        revision=clean_text(revision, field="revision", max_length=50) or "",
        description=clean_text(description, field="description", max_length=LONG, multiline=True),
        tracking_type=parse_tracking_type(tracking_type if tracking_type is not None else DEFAULT_TRACKING).value,
        cost=parse_quantity(cost, field="cost") if cost is not None else None,
        is_digital=bool(is_digital),
        supplier_part_number=clean_text(supplier_part_number, field="supplierPartNumber"),
        attributes=normalize_attributes(attributes or []),
        fulfilment_order=parse_fulfilment_order(fulfilment_order or FulfilmentOrder.FIFO).value,
    )
    if unit_of_measure_id is not None:
        part.unit_of_measure_id = uow.get(UnitOfMeasure, unit_of_measure_id, field="unitOfMeasureId").id
    uow.session.add(part)
    if components:
        uow.flush()
        set_components(uow, part, components)
    uow.commit()
    return part


def update_part(uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]) -> Part:
    check_updatable(changes, UPDATABLE)
    part = uow.get(Part, id, lock=True)
    check_etag(part, etag)
    problems = Problems()
    has_inventory = uow.session.scalar(select(exists().where(PartInventory.part_id == part.id)))
    if "tracking_type" in changes:
        tracking = parse_tracking_type(changes["tracking_type"]).value
        if tracking != part.tracking_type and has_inventory:
            problems.add(
                "trackingType cannot change while the part has inventory records", field="trackingType"
            )
        part.tracking_type = tracking
    problems.raise_if_any()
    if "part_number" in changes:
        part.part_number = clean_text(changes["part_number"], field="partNumber", required=True) or ""
        # Serial uniqueness is per part number: records carry a copy of it. The flush never
        # sees this statement, so the PARTINVENTORY UPDATE actions are run on its rows here.
        actions.check_bulk_update(uow.session, PartInventory, PartInventory.part_id == part.id,
                                  {"part_number": part.part_number})
        uow.session.execute(
            update(PartInventory)
            .where(PartInventory.part_id == part.id)
            .values(part_number=part.part_number)
            .execution_options(synchronize_session=False)
        )
    if "revision" in changes:
        part.revision = clean_text(changes["revision"], field="revision", max_length=50) or ""
    if "description" in changes:
        part.description = clean_text(
            changes["description"], field="description", max_length=LONG, multiline=True
        )
    if "unit_of_measure_id" in changes:
        unit_id = changes["unit_of_measure_id"]
        part.unit_of_measure_id = (
            uow.get(UnitOfMeasure, unit_id, field="unitOfMeasureId").id if unit_id is not None else None
        )
    if "cost" in changes:
        part.cost = parse_quantity(changes["cost"], field="cost") if changes["cost"] is not None else None
    if "is_digital" in changes:
        part.is_digital = bool(changes["is_digital"])
    if "fulfilment_order" in changes:
        part.fulfilment_order = parse_fulfilment_order(changes["fulfilment_order"]).value
    if "supplier_part_number" in changes:
        part.supplier_part_number = clean_text(changes["supplier_part_number"], field="supplierPartNumber")
    if "attributes" in changes:
        part.attributes = normalize_attributes(changes["attributes"] or [])
    if "components" in changes:
        set_components(uow, part, changes["components"] or [])
    uow.commit()
    return part


def _label(part: Part) -> str:
    return f"{part.part_number} rev {part.revision}" if part.revision else part.part_number


def is_latest_revision() -> Any:
    """True for the newest revision of its part number (the one created last), as a predicate."""
    newer = aliased(Part)
    return ~exists().where(newer.part_number == Part.part_number, newer.id > Part.id)


def latest_revision_ids(session: Session, part_numbers: set[str]) -> dict[str, int]:
    """Part number -> id of its latest revision, for many part numbers in one query."""
    stmt = select(Part.part_number, func.max(Part.id)).where(Part.part_number.in_(part_numbers)).group_by(
        Part.part_number
    )
    return {row[0]: row[1] for row in session.execute(stmt)}


_IS_KIT_PART = select(exists().where(PartComponent.part_id == bindparam("part_id")))
_LOCK_PART = select(Part.id).where(Part.id == bindparam("part_id")).with_for_update()
_HAS_INVENTORY = select(exists().where(PartInventory.part_id == bindparam("part_id")))


def _refuse_stocked_kit(uow: UnitOfWork, part: Part, field: str) -> None:
    """A part that holds inventory records is not given components (domain.kit_definitions).
    Every writer of a kit definition comes through here. The part is locked FOR UPDATE first:
    whoever creates stock share-locks it (services.inventory), so either that record is
    committed and seen below, or it waits and then finds the components."""
    uow.session.execute(_LOCK_PART, {"part_id": part.id})
    has_inventory = bool(uow.session.scalar(_HAS_INVENTORY, {"part_id": part.id}))
    check_may_become_kit(_label(part), has_inventory, field=field)


def is_kit_part(session: Session, part_id: int) -> bool:
    return bool(session.scalar(_IS_KIT_PART, {"part_id": part_id}))


_KIT_PARTS = select(PartComponent.part_id).where(
    PartComponent.part_id.in_(bindparam("ids", expanding=True))).distinct()


def kit_part_ids(session: Session, part_ids: Collection[int]) -> set[int]:
    """Which of many parts are kits (have components), in one query per ID_CHUNK ids."""
    ids = sorted(set(part_ids))
    found: set[int] = set()
    for start in range(0, len(ids), ID_CHUNK):
        found.update(session.scalars(_KIT_PARTS, {"ids": ids[start:start + ID_CHUNK]}))
    return found


PART_COLUMNS = {
    "id": Part.id,
    "partNumber": Part.part_number,
    "revision": Part.revision,
    "description": Part.description,
    "trackingType": Part.tracking_type,
    "isDigital": Part.is_digital,
    "createdAt": Part.created_at,
    "supplierPartNumber": Part.supplier_part_number,
    "isLatestRevision": is_latest_revision(),
}
PART_SORTS = {
    "ID": Part.id,
    "PART_NUMBER": Part.part_number,
    "REVISION": Part.revision,
    "CREATED_AT": Part.created_at,
}


list_parts = Listing(Part, PART_COLUMNS, PART_SORTS)


def components_of(session: Session, part_ids: list[int]) -> dict[int, list[PartComponent]]:
    """Components of many parts in one query."""
    found: dict[int, list[PartComponent]] = {pid: [] for pid in part_ids}
    stmt = select(PartComponent).where(PartComponent.part_id.in_(part_ids)).order_by(PartComponent.id)
    for row in session.scalars(stmt):
        found[row.part_id].append(row)
    return found


def set_components(
    uow: UnitOfWork, part: Part, components: Sequence[tuple[int, Decimal]], *, field: str = "components"
) -> list[PartComponent]:
    """Replace a part's kit definition with its normalised form (domain.kit_definitions).

    Nested kits are flattened with the definitions saved at this moment (a snapshot, as an
    order copies components from the item master); repeated components are summed; ratios
    must be > 0; no self-containment (directly or through nesting); no mix of digital and
    physical leaves. An empty list makes the part a regular part again. Problems name
    `components[i].partId` / `components[i].quantity`.
    """
    if len(components) > MAX_COMPONENTS:
        raise BadInput(f"a kit has at most {MAX_COMPONENTS} components", field=field)
    ids = {component_id for component_id, _ in components}
    known = set(uow.session.scalars(select(Part.id).where(Part.id.in_(ids)))) if ids else set()
    missing = Problems()
    for index, (component_id, _ratio) in enumerate(components):
        if component_id not in known and component_id != part.id:
            missing.add(f"part {component_id} does not exist", field=f"{field}[{index}].partId")
    if missing.items:
        first = missing.items[0]
        message = first.message if len(missing.items) == 1 else "; ".join(
            f"{p.field}: {p.message}" for p in missing.items[:20]
        )
        raise NotFound(message, field=first.field, details=missing.items)

    definitions: dict[int, list[tuple[int, Decimal]]] = {}
    stmt = select(PartComponent.part_id, PartComponent.component_part_id, PartComponent.quantity).where(
        PartComponent.part_id.in_(ids)
    ).order_by(PartComponent.id)
    for kit_id, component_id, ratio in uow.session.execute(stmt):
        definitions.setdefault(kit_id, []).append((component_id, ratio))
    leaves = ids | {c for rows in definitions.values() for c, _ in rows}
    digital: dict[int, bool] = {
        row[0]: row[1] for row in uow.session.execute(select(Part.id, Part.is_digital).where(Part.id.in_(leaves)))
    }
    normalised = normalize_kit_definition(part.id, list(components), definitions, digital, field=field)
    if normalised:
        _refuse_stocked_kit(uow, part, field)

    uow.session.execute(delete(PartComponent).where(PartComponent.part_id == part.id))
    if not normalised:
        # The flush notes the kit through its new rows; a kit that loses every component has
        # none, so it is noted here (once either way).
        availability_changes.note_kits(uow.session, [part.id])
    rows = [
        PartComponent(part_id=part.id, component_part_id=component_id, quantity=ratio)
        for component_id, ratio in normalised
    ]
    uow.session.add_all(rows)
    uow.flush()
    return rows
