"""Part inventory records (list, get, create, update, delete) and the ledger."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.authorization import needs
from kitwright.api.catalog import SupplierType, UnitOfMeasureType
from kitwright.api.context import Context, Info, by_key
from kitwright.api.enums import PartInventoryStatus, TrackingType
from kitwright.api.lists import connection_field, primes
from kitwright.api.locations import LocationType
from kitwright.api.nodes import as_node, as_nodes
from kitwright.api.parts import PartType
from kitwright.api.relay import (
    BooleanFilter,
    DateFilter,
    DateTimeFilter,
    DecimalFilter,
    EnumFilter,
    IDFilter,
    StringFilter,
    input_changes,
    optional_id,
    sort_enum,
)
from kitwright.api.scalars import DecimalScalar, JSONObject, parse_id
from kitwright.domain.status import PartInventoryStatus as Status
from kitwright.security.permissions import P
from kitwright.services import inventory, ledger
from kitwright.store.models import LedgerEntry, Location, Part, PartInventory, Supplier, UnitOfMeasure

if TYPE_CHECKING:
    from kitwright.api.kits import PartKitType
    from kitwright.api.runs import AbomItemType, AbomTreeNodeType, BuildRequirementType, RunType

_RUNS = strawberry.lazy("kitwright.api.runs")


@strawberry.type(name="PartInventory", description="One inventory record: a serial, a lot at a location, or an untracked quantity.")
class PartInventoryType:
    id: strawberry.ID
    part_id: strawberry.ID
    serial_number: str | None
    lot_number: str | None
    location_id: strawberry.ID | None
    supplier_id: strawberry.ID | None
    unit_of_measure_id: strawberry.ID | None
    quantity: DecimalScalar
    cost: DecimalScalar | None
    usage_type: str | None
    segment: str | None = strawberry.field(description="Free segment label (e.g. ecom, retail).")
    on_order: bool = strawberry.field(description="Supply not yet received (FUTURE supply).")
    expected_at: date | None = strawberry.field(description="Expected arrival of on-order supply.")
    expiration_date: date | None = strawberry.field(
        description="When the stock expires; parts set to FEFO are fulfilled earliest expiry first."
    )
    how_created: str = strawberry.field(description="CREATED, PARTIAL_KIT, PARTIAL_UNKIT, IMPORTED, …")
    origin_part_inventory_id: strawberry.ID | None = strawberry.field(
        description="The record this one was split from."
    )
    created_at: datetime
    created_by_id: strawberry.ID | None

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[PartInventory]) -> str:
        return root.etag

    @strawberry.field
    @by_key(Part, "part_id")
    def part(self, root: strawberry.Parent[PartInventory], info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(root.part_id))

    @strawberry.field
    @by_key(Location, "location_id")
    def location(self, root: strawberry.Parent[PartInventory], info: Info) -> LocationType | None:
        return as_node(LocationType, info.context.loader(Location).get(root.location_id))

    @strawberry.field
    @by_key(Supplier, "supplier_id")
    def supplier(self, root: strawberry.Parent[PartInventory], info: Info) -> SupplierType | None:
        return as_node(SupplierType, info.context.loader(Supplier).get(root.supplier_id))

    @strawberry.field
    @by_key(UnitOfMeasure, "unit_of_measure_id")
    def unit_of_measure(self, root: strawberry.Parent[PartInventory], info: Info) -> UnitOfMeasureType | None:
        return as_node(UnitOfMeasureType, info.context.loader(UnitOfMeasure).get(root.unit_of_measure_id))

    @strawberry.field(description="The tracking type of the record's part.")
    def tracking_type(self, root: strawberry.Parent[PartInventory], info: Info) -> TrackingType:
        part = info.context.loader(Part).get(root.part_id)
        assert part is not None
        return TrackingType(part.tracking_type)

    @strawberry.field(description="Derived from the record's facts; never set directly.")
    def status(self, root: strawberry.Parent[PartInventory]) -> PartInventoryStatus:
        return Status(root.status)

    @strawberry.field(description="The quantity free for new demand: the whole quantity while the "
                      "record is AVAILABLE, else 0 (a kitted unit is split off into its own record).")
    def quantity_available(self, root: strawberry.Parent[PartInventory]) -> DecimalScalar:
        return root.quantity if root.status == Status.AVAILABLE else Decimal(0)

    @strawberry.field(description="True if the record is issued to an open kit.")
    def kitted(self, root: strawberry.Parent[PartInventory]) -> bool:
        return root.status == Status.KITTED

    @strawberry.field(description="True if the record is installed on a build (aBOM).")
    def installed(self, root: strawberry.Parent[PartInventory]) -> bool:
        return root.status == Status.INSTALLED

    @strawberry.field(description="False while the record is on order (not yet received).")
    def received(self, root: strawberry.Parent[PartInventory]) -> bool:
        return not root.on_order

    @strawberry.field(description="Custom attributes (a JSON object).")
    def attributes(self, root: strawberry.Parent[PartInventory]) -> JSONObject:
        return JSONObject(root.attributes or {})

    @strawberry.field(description="The quantity issued to a kit, when reached through a kit.")
    def issued_quantity(self, root: strawberry.Parent[PartInventory]) -> DecimalScalar | None:
        return getattr(root, "issued_quantity", None)

    @strawberry.field(
        description="Kits the record was issued to: the open kit holding it, and closed kits that "
        "held it (history)."
    )
    def part_kits(
        self, root: strawberry.Parent[PartInventory], info: Info
    ) -> list[Annotated[PartKitType, strawberry.lazy("kitwright.api.kits")]]:
        from kitwright.api.kit_loaders import kit_loaders
        from kitwright.api.kits import PartKitType

        return as_nodes(PartKitType, kit_loaders(info.context).kits_of_record(root.id))

    # Runs and the aBOM (docs/runs.md); resolved in api.runs.
    @strawberry.field(description="Runs related to the record: the run building it, runs it is installed for or kitted to.")
    def runs(self, root: strawberry.Parent[PartInventory], info: Info) -> list[Annotated[RunType, _RUNS]]:
        from kitwright.api.runs import record_runs

        return record_runs(info, root.id)

    @strawberry.field(description="aBOM items naming this record: its trace root, and where it is installed.")
    def abom_items(self, root: strawberry.Parent[PartInventory], info: Info) -> list[Annotated[AbomItemType, _RUNS]]:
        from kitwright.api.runs import record_abom_items

        return record_abom_items(info, root.id)

    @strawberry.field(description="aBOM items installed directly in this record.")
    def abom_children(self, root: strawberry.Parent[PartInventory], info: Info) -> list[Annotated[AbomItemType, _RUNS]]:
        from kitwright.api.runs import record_abom_children

        return record_abom_children(info, root.id)

    @strawberry.field(description="Build requirements of the runs building this record.")
    def build_requirements(
        self, root: strawberry.Parent[PartInventory], info: Info
    ) -> list[Annotated[BuildRequirementType, _RUNS]]:
        from kitwright.api.runs import record_build_requirements

        return record_build_requirements(info, root.id)

    @strawberry.field(description="Everything installed in this unit, to any depth (one recursive query).")
    def installed_items(self, root: strawberry.Parent[PartInventory], info: Info) -> list[Annotated[AbomTreeNodeType, _RUNS]]:
        from kitwright.api.runs import record_installed_items

        return record_installed_items(info, root.id)

    @strawberry.field(description="Every unit this record is installed in, innermost first (one recursive query).")
    def installed_in(self, root: strawberry.Parent[PartInventory], info: Info) -> list[Annotated[AbomTreeNodeType, _RUNS]]:
        from kitwright.api.runs import record_installed_in

        return record_installed_in(info, root.id)


PartInventoryStatusFilter: TypeAlias = EnumFilter[PartInventoryStatus]


@strawberry.input
class PartInventoriesInputFilters:
    id: IDFilter | None = UNSET
    part_id: IDFilter | None = UNSET
    part_number: StringFilter | None = UNSET
    location_id: IDFilter | None = UNSET
    supplier_id: IDFilter | None = UNSET
    serial_number: StringFilter | None = UNSET
    lot_number: StringFilter | None = UNSET
    quantity: DecimalFilter | None = UNSET
    cost: DecimalFilter | None = UNSET
    usage_type: StringFilter | None = UNSET
    segment: StringFilter | None = UNSET
    status: PartInventoryStatusFilter | None = UNSET
    on_order: BooleanFilter | None = UNSET
    expected_at: DateFilter | None = UNSET
    expiration_date: DateFilter | None = UNSET
    how_created: StringFilter | None = UNSET
    origin_part_inventory_id: IDFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    created_by_id: IDFilter | None = UNSET


PartInventorySortEnum = sort_enum("PartInventorySortEnum", inventory.INVENTORY_SORTS)


@strawberry.input
class CreatePartInventoryInput:
    part_id: strawberry.ID
    location_id: strawberry.ID | None = None
    supplier_id: strawberry.ID | None = None
    serial_number: str | None = None
    lot_number: str | None = None
    quantity: DecimalScalar | None = strawberry.field(default=None, description="Defaults to 0.")
    cost: DecimalScalar | None = None
    usage_type: str | None = None
    unit_of_measure_id: strawberry.ID | None = None
    autogenerate_serial_number: bool = strawberry.field(
        default=False, description="Generate a serial number when none is given."
    )
    autogenerate_lot_number: bool = strawberry.field(
        default=False, description="Generate a lot number when none is given."
    )
    segment: str | None = None
    attributes: JSONObject | None = None
    on_order: bool = False
    expected_at: date | None = None
    expiration_date: date | None = None


@strawberry.input
class UpdatePartInventoryInput:
    id: strawberry.ID
    etag: str
    part_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Refused: a record's part never changes."
    )
    location_id: strawberry.ID | None = UNSET
    supplier_id: strawberry.ID | None = UNSET
    serial_number: str | None = UNSET
    lot_number: str | None = UNSET
    quantity: DecimalScalar | None = UNSET
    cost: DecimalScalar | None = UNSET
    usage_type: str | None = UNSET
    unit_of_measure_id: strawberry.ID | None = UNSET
    segment: str | None = UNSET
    attributes: JSONObject | None = UNSET
    on_order: bool | None = UNSET
    expected_at: date | None = UNSET
    expiration_date: date | None = UNSET


@strawberry.type
class PartInventoryPayload:
    part_inventory: PartInventoryType


@strawberry.type
class DeletePayload:
    id: strawberry.ID


@strawberry.type(name="LedgerEntry", description="One immutable change of an inventory record.")
class LedgerEntryType:
    id: strawberry.ID
    at: datetime
    actor_id: strawberry.ID | None
    actor: str
    operation: str
    part_inventory_id: strawberry.ID
    part_id: strawberry.ID
    location_id: strawberry.ID | None

    @strawberry.field(description="Kits, items, runs … the change refers to.")
    def references(self, root: strawberry.Parent[LedgerEntry]) -> JSONObject:
        return JSONObject(root.references or {})

    @strawberry.field(description="The record before the change; null when it was created.")
    def before(self, root: strawberry.Parent[LedgerEntry]) -> JSONObject | None:
        return JSONObject(root.before) if root.before is not None else None

    @strawberry.field(description="The record after the change; null when it was deleted.")
    def after(self, root: strawberry.Parent[LedgerEntry]) -> JSONObject | None:
        return JSONObject(root.after) if root.after is not None else None


@strawberry.input
class LedgerEntriesInputFilters:
    id: IDFilter | None = UNSET
    part_inventory_id: IDFilter | None = UNSET
    part_id: IDFilter | None = UNSET
    location_id: IDFilter | None = UNSET
    operation: StringFilter | None = UNSET
    actor_id: IDFilter | None = UNSET
    at: DateTimeFilter | None = UNSET


LedgerEntrySortEnum = sort_enum("LedgerEntrySortEnum", ledger.LEDGER_SORTS)


@primes(PartInventory)
def _prime(context: Context, rows: list[PartInventory]) -> None:
    from kitwright.api.kit_loaders import kit_loaders

    kit_loaders(context).links_by_record.want(row.id for row in rows)


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_INVENTORY))
    def part_inventory(self, info: Info, id: strawberry.ID) -> PartInventoryType:
        return as_node(PartInventoryType, inventory.get_part_inventory(info.context.session, parse_id(id)))

    part_inventories = connection_field(
        PartInventoryType, inventory.list_part_inventories,
        filters=PartInventoriesInputFilters, sort=PartInventorySortEnum,
        permission_classes=needs(P.VIEW_INVENTORY),
    )
    ledger_entries = connection_field(
        LedgerEntryType, ledger.list_ledger_entries, filters=LedgerEntriesInputFilters, sort=LedgerEntrySortEnum,
        description="The append-only history of every inventory record.",
        permission_classes=needs(P.VIEW_INVENTORY),
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.CREATE_PART_INVENTORY))
    def create_part_inventory(self, info: Info, input: CreatePartInventoryInput) -> PartInventoryPayload | None:
        new = inventory.NewPartInventory(
            part_id=parse_id(input.part_id, field="partId"),
            location_id=optional_id(input.location_id, "locationId"),
            supplier_id=optional_id(input.supplier_id, "supplierId"),
            serial_number=input.serial_number,
            lot_number=input.lot_number,
            quantity=_decimal(input.quantity),
            cost=_decimal(input.cost),
            usage_type=input.usage_type,
            unit_of_measure_id=optional_id(input.unit_of_measure_id, "unitOfMeasureId"),
            autogenerate_serial_number=input.autogenerate_serial_number,
            autogenerate_lot_number=input.autogenerate_lot_number,
            segment=input.segment,
            attributes=dict(input.attributes or {}),
            on_order=input.on_order,
            expected_at=input.expected_at,
            expiration_date=input.expiration_date,
        )
        with info.context.uow() as uow:
            record = inventory.create_part_inventory(uow, new)
        return PartInventoryPayload(part_inventory=as_node(PartInventoryType, record))

    @strawberry.mutation(permission_classes=needs(P.UPDATE_PART_INVENTORY))
    def update_part_inventory(self, info: Info, input: UpdatePartInventoryInput) -> PartInventoryPayload | None:
        changes = input_changes(input, ids=("part_id", "location_id", "supplier_id", "unit_of_measure_id"))
        with info.context.uow() as uow:
            record = inventory.update_part_inventory(uow, parse_id(input.id), input.etag, changes)
        return PartInventoryPayload(part_inventory=as_node(PartInventoryType, record))

    @strawberry.mutation(permission_classes=needs(P.DELETE_PART_INVENTORY))
    def delete_part_inventory(self, info: Info, id: strawberry.ID, etag: str) -> DeletePayload | None:
        with info.context.uow() as uow:
            deleted = inventory.delete_part_inventory(uow, parse_id(id), etag)
        return DeletePayload(id=strawberry.ID(str(deleted)))


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)
