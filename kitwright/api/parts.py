"""Parts: a part number at a revision."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TypeAlias

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.attributes import (
    KeyValueAttributeInput,
    KeyValueAttributeType,
    attribute_list,
    attribute_triples,
)
from kitwright.api.authorization import needs
from kitwright.api.catalog import UnitOfMeasureType
from kitwright.api.context import Info
from kitwright.api.enums import FulfilmentOrder, TrackingType
from kitwright.api.lists import connection_field
from kitwright.api.nodes import as_node
from kitwright.api.relay import (
    BooleanFilter,
    DateTimeFilter,
    EnumFilter,
    IDFilter,
    StringFilter,
    input_changes,
    optional_id,
    sort_enum,
)
from kitwright.api.scalars import DecimalScalar, parse_id
from kitwright.security.permissions import P
from kitwright.services import parts
from kitwright.services.uow import get
from kitwright.store.models import Part, PartComponent, UnitOfMeasure


@strawberry.type(name="PartComponent", description="One component of a kit definition / BOM.")
class PartComponentType:
    quantity: DecimalScalar = strawberry.field(description="Quantity per one of the parent part.")

    @strawberry.field
    def part(self, root: strawberry.Parent[PartComponent], info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(root.component_part_id))


@strawberry.type(name="Part", description="A part number at a revision.")
class PartType:
    id: strawberry.ID
    part_number: str
    revision: str
    description: str | None
    tracking_type: TrackingType
    cost: DecimalScalar | None
    is_digital: bool
    unit_of_measure_id: strawberry.ID | None
    created_at: datetime
    fulfilment_order: FulfilmentOrder = strawberry.field(
        description="FIFO (default) or FEFO: the order fulfillPartKit uses this part's records in."
    )
    supplier_part_number: str | None = strawberry.field(description="The supplier's number for this part.")

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[Part]) -> str:
        return root.etag

    @strawberry.field(description="Custom key/value attributes, as ION's scripts read them.")
    def attributes(self, root: strawberry.Parent[Part]) -> list[KeyValueAttributeType]:
        return attribute_list(root.attributes)

    @strawberry.field(description="True for the newest revision of this part number (the one created last).")
    def is_latest_revision(self, root: strawberry.Parent[Part], info: Info) -> bool:
        return latest_part_ids(info, root).get(root.part_number) == root.id

    @strawberry.field
    def unit_of_measure(self, root: strawberry.Parent[Part], info: Info) -> UnitOfMeasureType | None:
        return as_node(UnitOfMeasureType, info.context.loader(UnitOfMeasure).get(root.unit_of_measure_id))

    @strawberry.field(description="Components with their quantity per one of this part.")
    def components(self, root: strawberry.Parent[Part], info: Info) -> list[PartComponentType]:
        return info.context.group(PartComponent.part_id).get(root.id)


def latest_part_ids(info: Info, part: Part) -> dict[str, int]:
    """Part number -> id of its latest revision, for every part loaded in this request so far,
    in one query per batch of newly seen part numbers (not one per row)."""
    cache: dict[str, int] = info.context.__dict__.setdefault("_latest_part_ids", {})
    session = info.context.session
    loaded = {obj.part_number for obj in list(session.identity_map.values()) if isinstance(obj, Part)}
    missing = loaded - cache.keys()
    if cache.get(part.part_number, part.id) < part.id:  # created after the cache was filled
        missing.add(part.part_number)
    if missing:
        cache.update(parts.latest_revision_ids(session, missing))
    return cache


TrackingTypeFilter: TypeAlias = EnumFilter[TrackingType]


@strawberry.input
class PartsInputFilters:
    id: IDFilter | None = UNSET
    part_number: StringFilter | None = UNSET
    revision: StringFilter | None = UNSET
    description: StringFilter | None = UNSET
    tracking_type: TrackingTypeFilter | None = UNSET
    is_digital: BooleanFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    supplier_part_number: StringFilter | None = UNSET
    is_latest_revision: BooleanFilter | None = UNSET


PartSortEnum = sort_enum("PartSortEnum", parts.PART_SORTS)


@strawberry.input(description="One component of a kit definition: a part and its quantity per one kit.")
class PartComponentInput:
    part_id: strawberry.ID
    quantity: DecimalScalar = strawberry.field(description="Quantity per one kit (the ratio), > 0.")


def component_pairs(items: list[PartComponentInput] | None) -> list[tuple[int, Decimal]]:
    return [
        (parse_id(item.part_id, field=f"components[{index}].partId"), Decimal(item.quantity))
        for index, item in enumerate(items or [])
    ]


@strawberry.input
class CreatePartInput:
    part_number: str
    tracking_type: TrackingType | None = strawberry.field(
        default=None, description="Default UNTRACKED: ION's createPart takes no tracking type."
    )
    revision: str | None = None
    description: str | None = None
    unit_of_measure_id: strawberry.ID | None = None
    cost: DecimalScalar | None = None
    is_digital: bool = False
    components: list[PartComponentInput] | None = strawberry.field(
        default=None,
        description="Kit definition: components per one kit; normalised on save (nested kits "
        "flattened, repeats summed, ratios > 0, no self-containment, no digital/physical mix).",
    )
    supplier_part_number: str | None = None
    attributes: list[KeyValueAttributeInput] | None = None
    fulfilment_order: FulfilmentOrder | None = strawberry.field(
        default=None, description="Default FIFO."
    )


@strawberry.input
class UpdatePartInput:
    id: strawberry.ID
    etag: str
    part_number: str | None = UNSET
    revision: str | None = UNSET
    description: str | None = UNSET
    tracking_type: TrackingType | None = UNSET
    unit_of_measure_id: strawberry.ID | None = UNSET
    cost: DecimalScalar | None = UNSET
    is_digital: bool | None = UNSET
    components: list[PartComponentInput] | None = strawberry.field(
        default=UNSET,
        description="Replaces the kit definition (normalised on save); [] or null makes it a regular part.",
    )
    supplier_part_number: str | None = UNSET
    attributes: list[KeyValueAttributeInput] | None = strawberry.field(
        default=UNSET, description="Replaces all attributes; [] or null removes them."
    )
    fulfilment_order: FulfilmentOrder | None = UNSET


@strawberry.type
class PartPayload:
    part: PartType


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_INVENTORY))
    def part(self, info: Info, id: strawberry.ID) -> PartType:
        return as_node(PartType, get(info.context.session, Part, parse_id(id)))

    parts = connection_field(PartType, parts.list_parts, filters=PartsInputFilters, sort=PartSortEnum, permission_classes=needs(P.VIEW_INVENTORY))


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.MANAGE_PARTS))
    def create_part(self, info: Info, input: CreatePartInput) -> PartPayload | None:
        with info.context.uow() as uow:
            part = parts.create_part(
                uow,
                part_number=input.part_number,
                tracking_type=input.tracking_type.value if input.tracking_type else None,
                revision=input.revision,
                description=input.description,
                unit_of_measure_id=optional_id(input.unit_of_measure_id, "unitOfMeasureId"),
                cost=Decimal(input.cost) if input.cost is not None else None,
                is_digital=input.is_digital,
                components=component_pairs(input.components),
                supplier_part_number=input.supplier_part_number,
                attributes=attribute_triples(input.attributes),
                fulfilment_order=input.fulfilment_order.value if input.fulfilment_order else None,
            )
        return PartPayload(part=as_node(PartType, part))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_PARTS))
    def update_part(self, info: Info, input: UpdatePartInput) -> PartPayload | None:
        changes = input_changes(input, ids=("unit_of_measure_id",))
        if "components" in changes:
            changes["components"] = component_pairs(changes["components"])
        if "attributes" in changes:
            changes["attributes"] = attribute_triples(changes["attributes"])
        with info.context.uow() as uow:
            part = parts.update_part(uow, parse_id(input.id), input.etag, changes)
        return PartPayload(part=as_node(PartType, part))
