"""Kits over GraphQL (docs/api.md, "Resources"): types, lists, queries and mutations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.authorization import needs
from kitwright.api.context import Info
from kitwright.api.inventory import DeletePayload, PartInventoryPayload, PartInventoryType
from kitwright.api.kit_loaders import IssuedInventory, kit_loaders
from kitwright.api.lists import connection_field
from kitwright.api.locations import LocationType
from kitwright.api.nodes import as_node, as_nodes
from kitwright.api.parts import PartType
from kitwright.api.relay import (
    DateTimeFilter,
    DecimalFilter,
    EnumFilter,
    IDFilter,
    input_changes,
    optional_id,
    sort_enum,
)
from kitwright.api.scalars import DecimalScalar, parse_id
from kitwright.domain import kits as rules
from kitwright.domain.errors import BadInput
from kitwright.security.permissions import P
from kitwright.services import kits, runs
from kitwright.store.models import Location, Part, PartKit, PartKitItem, User

if TYPE_CHECKING:
    from kitwright.api.runs import RunType

strawberry.enum(
    rules.PartKitStatus, name="PartKitStatus",
    description="Any status may move to any other; each drives the kitted inventory.",
)
PartKitStatusEnum: TypeAlias = rules.PartKitStatus


@strawberry.type(name="User", description="A person who can be assigned work.")
class UserType:
    id: strawberry.ID
    name: str


@strawberry.type(name="PickLine", description="One record to pick for a kit, in pick-path order.")
class PickLineType:
    part_kit_item_id: strawberry.ID | None
    part_inventory_id: strawberry.ID
    part_number: str
    serial_number: str | None
    lot_number: str | None
    location_name: str | None
    quantity: DecimalScalar


def _issued(info: Info, links: list[Any]) -> list[PartInventoryType]:
    pairs = kit_loaders(info.context).records_of(links)
    info.context.loader(Part).want(record.part_id for _, record in pairs)
    info.context.loader(Location).want(record.location_id for _, record in pairs)
    return as_nodes(PartInventoryType, [IssuedInventory(record, link) for link, record in pairs])


@strawberry.type(
    name="PartKitItem",
    description="One requested line of a kit: a part and a quantity; kitted from issued inventory.",
)
class PartKitItemType:
    id: strawberry.ID
    part_kit_id: strawberry.ID
    part_id: strawberry.ID
    quantity: DecimalScalar = strawberry.field(description="Requested.")
    created_at: datetime

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[PartKitItem]) -> str:
        return root.etag

    @strawberry.field
    def part_kit(self, root: strawberry.Parent[PartKitItem], info: Info) -> PartKitType:
        return as_node(PartKitType, info.context.loader(PartKit).get(root.part_kit_id))

    @strawberry.field
    def part(self, root: strawberry.Parent[PartKitItem], info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(root.part_id))

    @strawberry.field(description="Held now: issued to the item and not released by closing the kit.")
    def kitted_quantity(self, root: strawberry.Parent[PartKitItem], info: Info) -> DecimalScalar:
        return kit_loaders(info.context).kitted(root.id)

    @strawberry.field(description="quantity - kittedQuantity, never below 0.")
    def remaining_quantity(self, root: strawberry.Parent[PartKitItem], info: Info) -> DecimalScalar:
        return rules.remaining_quantity(root.quantity, kit_loaders(info.context).kitted(root.id))

    @strawberry.field(
        description="Records issued to the item, each with issuedQuantity (released history included)."
    )
    def part_inventories(self, root: strawberry.Parent[PartKitItem], info: Info) -> list[PartInventoryType]:
        return _issued(info, kit_loaders(info.context).links_by_item.get(root.id))


@strawberry.type(name="PartKit", description="A request for parts delivered together.")
class PartKitType:
    id: strawberry.ID
    run_id: strawberry.ID | None = strawberry.field(
        description="The run the kit serves (an existing run)."
    )
    assigned_to_id: strawberry.ID | None
    staging_location_id: strawberry.ID | None
    delivery_location_id: strawberry.ID | None
    current_location_id: strawberry.ID | None
    priority: int | None = strawberry.field(
        description="Lower comes first in the shortage report; kits without one follow, oldest first."
    )
    created_at: datetime
    created_by_id: strawberry.ID | None

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[PartKit]) -> str:
        return root.etag

    @strawberry.field
    def status(self, root: strawberry.Parent[PartKit]) -> PartKitStatusEnum:
        return rules.PartKitStatus(root.status)

    @strawberry.field(description="The run the kit serves.")
    def run(
        self, root: strawberry.Parent[PartKit], info: Info
    ) -> Annotated[RunType, strawberry.lazy("kitwright.api.runs")] | None:
        from kitwright.api.runs import RunType
        from kitwright.store.models import Run

        return as_node(RunType, info.context.loader(Run).get(root.run_id))

    @strawberry.field
    def assigned_to(self, root: strawberry.Parent[PartKit], info: Info) -> UserType | None:
        return as_node(UserType, info.context.loader(User).get(root.assigned_to_id))

    @strawberry.field
    def staging_location(self, root: strawberry.Parent[PartKit], info: Info) -> LocationType | None:
        return as_node(LocationType, info.context.loader(Location).get(root.staging_location_id))

    @strawberry.field
    def delivery_location(self, root: strawberry.Parent[PartKit], info: Info) -> LocationType | None:
        return as_node(LocationType, info.context.loader(Location).get(root.delivery_location_id))

    @strawberry.field(description="Delivery location once DELIVERED, else staging (or delivery); null when closed.")
    def current_location(self, root: strawberry.Parent[PartKit], info: Info) -> LocationType | None:
        return as_node(LocationType, info.context.loader(Location).get(root.current_location_id))

    @strawberry.field
    def items(self, root: strawberry.Parent[PartKit], info: Info) -> list[PartKitItemType]:
        rows = kit_loaders(info.context).items_by_kit.get(root.id)
        loaders = kit_loaders(info.context)
        loaders.links_by_item.want(row.id for row in rows)
        info.context.loader(Part).want(row.part_id for row in rows)
        return rows

    @strawberry.field(
        description="Records issued to the kit, each with issuedQuantity. A closed kit keeps the "
        "records it held (released: they reserve nothing)."
    )
    def part_inventories(self, root: strawberry.Parent[PartKit], info: Info) -> list[PartInventoryType]:
        return _issued(info, kit_loaders(info.context).links_by_kit.get(root.id))

    @strawberry.field(
        description="The records the kit holds, in pick-path order (location name, natural sort). "
        "CSV: GET /api/kits/{id}/pick-list.csv."
    )
    def pick_list(self, root: strawberry.Parent[PartKit], info: Info) -> list[PickLineType]:
        # Computed for every kit loaded in this request at once (a page of kits: one query).
        found: dict[int, list[rules.PickLine]] = info.context.loaders.setdefault("pick_lists", {})
        if root.id not in found:
            loaded = {kit_id for kit_id, kit in info.context.loader(PartKit).cache.items() if kit is not None}
            found.update(kits.pick_lists(info.context.session, (loaded | {root.id}) - found.keys()))
        return [_pick_line(line) for line in found[root.id]]


def _pick_line(line: rules.PickLine) -> PickLineType:
    return PickLineType(
        part_kit_item_id=strawberry.ID(str(line.item_id)) if line.item_id is not None else None,
        part_inventory_id=strawberry.ID(str(line.record_id)),
        part_number=line.part_number, serial_number=line.serial_number,
        lot_number=line.lot_number, location_name=line.location_name, quantity=line.quantity,
    )


PartKitStatusFilter: TypeAlias = EnumFilter[PartKitStatusEnum]


@strawberry.input
class PartKitsInputFilters:
    id: IDFilter | None = UNSET
    status: PartKitStatusFilter | None = UNSET
    run_id: IDFilter | None = UNSET
    assigned_to_id: IDFilter | None = UNSET
    staging_location_id: IDFilter | None = UNSET
    delivery_location_id: IDFilter | None = UNSET
    current_location_id: IDFilter | None = UNSET
    priority: DecimalFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET


@strawberry.input
class PartKitItemsInputFilters:
    id: IDFilter | None = UNSET
    part_kit_id: IDFilter | None = UNSET
    part_id: IDFilter | None = UNSET
    quantity: DecimalFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET


PartKitSortEnum = sort_enum("PartKitSortEnum", kits.KIT_SORTS)
PartKitItemSortEnum = sort_enum("PartKitItemSortEnum", kits.ITEM_SORTS)


@strawberry.input
class CreatePartKitInput:
    run_id: strawberry.ID | None = strawberry.field(
        default=None, description="The run the kit serves; it must exist and be open."
    )
    assigned_to_id: strawberry.ID | None = None
    staging_location_id: strawberry.ID | None = None
    delivery_location_id: strawberry.ID | None = None
    status: PartKitStatusEnum | None = strawberry.field(default=None, description="Defaults to DRAFT.")
    priority: int | None = None


@strawberry.input
class UpdatePartKitInput:
    id: strawberry.ID
    etag: str
    status: PartKitStatusEnum | None = UNSET
    run_id: strawberry.ID | None = UNSET
    assigned_to_id: strawberry.ID | None = UNSET
    staging_location_id: strawberry.ID | None = UNSET
    delivery_location_id: strawberry.ID | None = UNSET
    priority: int | None = UNSET


@strawberry.input
class CreatePartKitItemInput:
    part_kit_id: strawberry.ID
    part_id: strawberry.ID
    quantity: DecimalScalar


@strawberry.input
class UpdatePartKitItemInput:
    id: strawberry.ID
    etag: str
    quantity: DecimalScalar | None = UNSET


@strawberry.input(description="Issue inventory to a kit item, or move it back.")
class InventoryToKitInput:
    part_inventory_id: strawberry.ID
    part_kit_item_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The kit item holding the record (required to issue). moveItemToInventory "
        "without it brings a completed run's unit back to stock at locationId.",
    )
    quantity: DecimalScalar | None = strawberry.field(
        default=None,
        description="Lot / untracked: how much (default: all the item still needs / all issued). "
        "Serial records move whole.",
    )
    etag: str | None = strawberry.field(default=None, description="The inventory record's _etag.")
    location_id: strawberry.ID | None = strawberry.field(
        default=None, description="Where the inventory goes (default: staging / where it stands)."
    )


@strawberry.input
class FulfillPartKitInput:
    id: strawberry.ID
    source_location_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only use inventory within this location's subtree."
    )


@strawberry.input
class StagePartKitInventoryInput:
    id: strawberry.ID
    location_id: strawberry.ID


@strawberry.type
class PartKitPayload:
    part_kit: PartKitType


@strawberry.type
class PartKitItemPayload:
    part_kit_item: PartKitItemType


@strawberry.type(name="KitShortage", description="What fulfilment could not find for an item.")
class KitShortageType:
    part_kit_item: PartKitItemType
    part: PartType
    quantity: DecimalScalar


@strawberry.type
class FulfillPartKitPayload:
    part_kit: PartKitType
    shortages: list[KitShortageType]
    part_inventories: list[PartInventoryType] = strawberry.field(
        description="The records issued by this fulfilment."
    )


@strawberry.type(name="ShortageLine")
class ShortageLineType:
    part_kit_item: PartKitItemType
    part: PartType
    needed: DecimalScalar
    fulfillable: DecimalScalar = strawberry.field(
        description="From the available stock left after higher-priority kits."
    )
    missing: DecimalScalar


@strawberry.type(name="KitShortageOutlook")
class KitOutlookType:
    part_kit: PartKitType
    can_fulfill_now: bool
    lines: list[ShortageLineType]


@strawberry.type(name="PartQuantity")
class PartQuantityType:
    part: PartType
    quantity: DecimalScalar


@strawberry.type(name="ShortageReport")
class ShortageReportType:
    kits: list[KitOutlookType] = strawberry.field(description="REQUESTED and IN_PROGRESS kits, in priority order.")
    missing_by_part: list[PartQuantityType]


def _changes(data: object) -> dict[str, Any]:
    return input_changes(
        data, ids=("run_id", "assigned_to_id", "staging_location_id", "delivery_location_id")
    )


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_KITS))
    def part_kit(self, info: Info, id: strawberry.ID) -> PartKitType:
        return as_node(PartKitType, kits.get_part_kit(info.context.session, parse_id(id)))

    part_kits = connection_field(
        PartKitType, kits.list_part_kits, filters=PartKitsInputFilters, sort=PartKitSortEnum
    , permission_classes=needs(P.VIEW_KITS))

    @strawberry.field(permission_classes=needs(P.VIEW_KITS))
    def part_kit_item(self, info: Info, id: strawberry.ID) -> PartKitItemType:
        return as_node(PartKitItemType, kits.get_part_kit_item(info.context.session, parse_id(id)))

    part_kit_items = connection_field(
        PartKitItemType, kits.list_part_kit_items, filters=PartKitItemsInputFilters, sort=PartKitItemSortEnum
    , permission_classes=needs(P.VIEW_KITS))

    @strawberry.field(permission_classes=needs(P.VIEW_KITS),
        description="For all REQUESTED and IN_PROGRESS kits in priority order: what could be "
        "fulfilled now from available stock, and what is missing per part."
    )
    def part_kit_shortage_report(self, info: Info) -> ShortageReportType:
        report = kits.shortage_report(info.context.session)
        ctx = info.context
        ctx.loader(PartKit).want(k.kit_id for k in report.kits)
        ctx.loader(PartKitItem).want(line.item_id for k in report.kits for line in k.lines)
        ctx.loader(Part).want(line.part_id for k in report.kits for line in k.lines)
        kit_loaders(ctx).links_by_item.want(line.item_id for k in report.kits for line in k.lines)
        return ShortageReportType(
            kits=[
                KitOutlookType(
                    part_kit=as_node(PartKitType, ctx.loader(PartKit).get(k.kit_id)),
                    can_fulfill_now=k.can_fulfil_now,
                    lines=[
                        ShortageLineType(
                            part_kit_item=as_node(PartKitItemType, ctx.loader(PartKitItem).get(line.item_id)),
                            part=as_node(PartType, ctx.loader(Part).get(line.part_id)),
                            needed=line.needed, fulfillable=line.fulfillable, missing=line.missing,
                        )
                        for line in k.lines
                    ],
                )
                for k in report.kits
            ],
            missing_by_part=[
                PartQuantityType(part=as_node(PartType, ctx.loader(Part).get(part_id)), quantity=q)
                for part_id, q in sorted(report.missing_by_part.items())
            ],
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.CREATE_PART_KIT))
    def create_part_kit(self, info: Info, input: CreatePartKitInput) -> PartKitPayload | None:
        with info.context.uow() as uow:
            kit = kits.create_part_kit(
                uow,
                run_id=optional_id(input.run_id, "runId"),
                assigned_to_id=optional_id(input.assigned_to_id, "assignedToId"),
                staging_location_id=optional_id(input.staging_location_id, "stagingLocationId"),
                delivery_location_id=optional_id(input.delivery_location_id, "deliveryLocationId"),
                status=input.status.value if input.status else rules.PartKitStatus.DRAFT,
                priority=input.priority,
            )
        return PartKitPayload(part_kit=as_node(PartKitType, kit))

    @strawberry.mutation(permission_classes=needs(P.UPDATE_PART_KIT))
    def update_part_kit(self, info: Info, input: UpdatePartKitInput) -> PartKitPayload | None:
        with info.context.uow() as uow:
            kit = kits.update_part_kit(uow, parse_id(input.id), input.etag, _changes(input))
        return PartKitPayload(part_kit=as_node(PartKitType, kit))

    @strawberry.mutation(permission_classes=needs(P.DELETE_PART_KIT), description="Refused while the kit holds inventory.")
    def delete_part_kit(self, info: Info, id: strawberry.ID, etag: str) -> DeletePayload | None:
        with info.context.uow() as uow:
            deleted = kits.delete_part_kit(uow, parse_id(id), etag)
        return DeletePayload(id=strawberry.ID(str(deleted)))

    @strawberry.mutation(permission_classes=needs(P.CREATE_PART_KIT_ITEM))
    def create_part_kit_item(self, info: Info, input: CreatePartKitItemInput) -> PartKitItemPayload | None:
        with info.context.uow() as uow:
            item = kits.create_part_kit_item(
                uow, part_kit_id=parse_id(input.part_kit_id, field="partKitId"),
                part_id=parse_id(input.part_id, field="partId"), quantity=Decimal(input.quantity),
            )
        return PartKitItemPayload(part_kit_item=as_node(PartKitItemType, item))

    @strawberry.mutation(permission_classes=needs(P.UPDATE_PART_KIT_ITEM), description="The quantity never goes below what is kitted.")
    def update_part_kit_item(self, info: Info, input: UpdatePartKitItemInput) -> PartKitItemPayload | None:
        with info.context.uow() as uow:
            item = kits.update_part_kit_item(uow, parse_id(input.id), input.etag, input_changes(input))
        return PartKitItemPayload(part_kit_item=as_node(PartKitItemType, item))

    @strawberry.mutation(permission_classes=needs(P.DELETE_PART_KIT_ITEM), description="Refused while the item holds inventory.")
    def delete_part_kit_item(self, info: Info, id: strawberry.ID, etag: str) -> DeletePayload | None:
        with info.context.uow() as uow:
            deleted = kits.delete_part_kit_item(uow, parse_id(id), etag)
        return DeletePayload(id=strawberry.ID(str(deleted)))

    @strawberry.mutation(permission_classes=needs(P.ISSUE_ITEM_TO_KIT),
        description="Issue a record (serial: whole; lot / untracked: a quantity) to a kit item. "
        "Returns the record the item now holds (a new PARTIAL_KIT record when partial)."
    )
    def issue_item_to_kit(self, info: Info, input: InventoryToKitInput) -> PartInventoryPayload | None:
        with info.context.uow() as uow:
            record = kits.issue_item_to_kit(uow, **_inventory_to_kit(input, required=True))
        return PartInventoryPayload(part_inventory=as_node(PartInventoryType, record))

    @strawberry.mutation(permission_classes=needs(P.MOVE_ITEM_TO_INVENTORY),
        description="Return a held record, or a quantity of it, to available stock. Returns the "
        "stock record (a new PARTIAL_UNKIT record when partial). Without partKitItemId: bring a "
        "completed run's unit back to stock at locationId, with what is installed in it."
    )
    def move_item_to_inventory(self, info: Info, input: InventoryToKitInput) -> PartInventoryPayload | None:
        with info.context.uow() as uow:
            if input.part_kit_item_id is None:
                record = runs.move_unit_to_inventory(
                    uow, part_inventory_id=parse_id(input.part_inventory_id, field="partInventoryId"),
                    location_id=optional_id(input.location_id, "locationId"),
                    quantity=None if input.quantity is None else Decimal(input.quantity), etag=input.etag,
                )
            else:
                record = kits.move_item_to_inventory(uow, **_inventory_to_kit(input))
        return PartInventoryPayload(part_inventory=as_node(PartInventoryType, record))

    @strawberry.mutation(permission_classes=needs(P.FULFILL_PART_KIT),
        description="Fill every open item, oldest inventory first across the whole kit. Partial "
        "fulfilment is allowed; what is missing comes back as shortages."
    )
    def fulfill_part_kit(self, info: Info, input: FulfillPartKitInput) -> FulfillPartKitPayload | None:
        with info.context.uow() as uow:
            result = kits.fulfill_part_kit(
                uow, id=parse_id(input.id),
                source_location_id=optional_id(input.source_location_id, "sourceLocationId"),
            )
        ctx = info.context
        return FulfillPartKitPayload(
            part_kit=as_node(PartKitType, result.kit),
            shortages=[
                KitShortageType(
                    part_kit_item=as_node(PartKitItemType, ctx.loader(PartKitItem).get(s.item_id)),
                    part=as_node(PartType, ctx.loader(Part).get(s.part_id)),
                    quantity=s.quantity,
                )
                for s in result.shortages
            ],
            part_inventories=as_nodes(PartInventoryType, [record for _, record in result.issued]),
        )

    @strawberry.mutation(permission_classes=needs(P.STAGE_PART_KIT_INVENTORY),
        description="Stage Inventory: move all of the kit's inventory (or a closed kit's released "
        "inventory) to one location."
    )
    def stage_part_kit_inventory(self, info: Info, input: StagePartKitInventoryInput) -> PartKitPayload | None:
        with info.context.uow() as uow:
            kit = kits.stage_part_kit_inventory(
                uow, id=parse_id(input.id), location_id=parse_id(input.location_id, field="locationId")
            )
        return PartKitPayload(part_kit=as_node(PartKitType, kit))


def _inventory_to_kit(input: InventoryToKitInput, *, required: bool = False) -> dict[str, Any]:
    if input.part_kit_item_id is None and required:
        raise BadInput("partKitItemId is required", field="partKitItemId")
    return {
        "part_inventory_id": parse_id(input.part_inventory_id, field="partInventoryId"),
        "part_kit_item_id": parse_id(input.part_kit_item_id or "", field="partKitItemId"),
        "quantity": None if input.quantity is None else Decimal(input.quantity),
        "etag": input.etag,
        "location_id": optional_id(input.location_id, "locationId"),
    }
