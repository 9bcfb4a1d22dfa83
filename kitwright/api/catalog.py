"""Units of measure and suppliers."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.attributes import (
    KeyValueAttributeInput,
    KeyValueAttributeType,
    attribute_list,
    attribute_triples,
)
from kitwright.api.authorization import needs
from kitwright.api.context import Info
from kitwright.api.lists import connection_field
from kitwright.api.nodes import as_node
from kitwright.api.relay import (
    DateTimeFilter,
    IDFilter,
    StringFilter,
    sort_enum,
)
from kitwright.api.scalars import parse_id
from kitwright.security.permissions import P
from kitwright.services import catalog
from kitwright.services.uow import get
from kitwright.store.models import Supplier, UnitOfMeasure


@strawberry.type(name="UnitOfMeasure")
class UnitOfMeasureType:
    id: strawberry.ID
    name: str
    abbreviation: str | None
    created_at: datetime

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[UnitOfMeasure]) -> str:
        return root.etag

    @strawberry.field(description="ION's name for the unit's name (e.g. \"each\").")
    def type(self, root: strawberry.Parent[UnitOfMeasure]) -> str:
        return root.name


@strawberry.type(name="Supplier")
class SupplierType:
    id: strawberry.ID
    name: str
    created_at: datetime

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[Supplier]) -> str:
        return root.etag

    @strawberry.field(description="Custom key/value attributes.")
    def attributes(self, root: strawberry.Parent[Supplier]) -> list[KeyValueAttributeType]:
        return attribute_list(root.attributes)

    @strawberry.field(name="Attributes", description="The same as `attributes`: ION's supplier scripts "
                      "spell it with a capital A.")
    def attributes_capitalised(self, root: strawberry.Parent[Supplier]) -> list[KeyValueAttributeType]:
        return attribute_list(root.attributes)


@strawberry.input
class UnitsOfMeasureInputFilters:
    id: IDFilter | None = UNSET
    name: StringFilter | None = UNSET


@strawberry.input(description="ION's filters of unitsOfMeasurement: `type` is the unit's name.")
class UnitsOfMeasurementInputFilters:
    id: IDFilter | None = UNSET
    type: StringFilter | None = UNSET


@strawberry.input
class SuppliersInputFilters:
    id: IDFilter | None = UNSET
    name: StringFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET


UnitOfMeasureSortEnum = sort_enum("UnitOfMeasureSortEnum", catalog.UNIT_SORTS)
SupplierSortEnum = sort_enum("SupplierSortEnum", catalog.SUPPLIER_SORTS)
UnitOfMeasurementSortEnum = sort_enum(
    "UnitOfMeasurementSortEnum", {"ID": catalog.UNIT_SORTS["ID"], "TYPE": catalog.UNIT_SORTS["TYPE"]}
)


@strawberry.input
class CreateUnitOfMeasureInput:
    name: str
    abbreviation: str | None = None


@strawberry.type
class CreateUnitOfMeasurePayload:
    unit_of_measure: UnitOfMeasureType


@strawberry.input(description="ION's createUnitOfMeasurement: `type` is the unit's name.")
class CreateUnitOfMeasurementInput:
    type: str
    abbreviation: str | None = None


@strawberry.type
class CreateUnitOfMeasurementPayload:
    unit_of_measurement: UnitOfMeasureType


@strawberry.input
class CreateSupplierInput:
    name: str
    attributes: list[KeyValueAttributeInput] | None = None


@strawberry.type
class CreateSupplierPayload:
    supplier: SupplierType


@strawberry.input
class UpdateSupplierInput:
    id: strawberry.ID
    etag: str
    name: str | None = None
    attributes: list[KeyValueAttributeInput] | None = strawberry.field(
        default=None, description="Replaces all attributes ([] removes them); null leaves them."
    )


@strawberry.type
class UpdateSupplierPayload:
    supplier: SupplierType


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_INVENTORY))
    def unit_of_measure(self, info: Info, id: strawberry.ID) -> UnitOfMeasureType:
        return as_node(UnitOfMeasureType, get(info.context.session, UnitOfMeasure, parse_id(id)))

    units_of_measure = connection_field(
        UnitOfMeasureType, catalog.list_units_of_measure, filters=UnitsOfMeasureInputFilters, sort=UnitOfMeasureSortEnum,
        permission_classes=needs(P.VIEW_INVENTORY),
    )

    units_of_measurement = connection_field(
        UnitOfMeasureType, catalog.list_units_of_measure, filters=UnitsOfMeasurementInputFilters, sort=UnitOfMeasurementSortEnum,
        description="ION's name for unitsOfMeasure, filtered and sorted by `type` (the name).",
        permission_classes=needs(P.VIEW_INVENTORY),
    )

    @strawberry.field(permission_classes=needs(P.VIEW_INVENTORY))
    def supplier(self, info: Info, id: strawberry.ID) -> SupplierType:
        return as_node(SupplierType, get(info.context.session, Supplier, parse_id(id)))

    suppliers = connection_field(
        SupplierType, catalog.list_suppliers, filters=SuppliersInputFilters, sort=SupplierSortEnum
    , permission_classes=needs(P.VIEW_INVENTORY))


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.MANAGE_CATALOG))
    def create_unit_of_measure(self, info: Info, input: CreateUnitOfMeasureInput) -> CreateUnitOfMeasurePayload | None:
        with info.context.uow() as uow:
            unit = catalog.create_unit_of_measure(uow, name=input.name, abbreviation=input.abbreviation)
        return CreateUnitOfMeasurePayload(unit_of_measure=as_node(UnitOfMeasureType, unit))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_CATALOG), description="ION's name for createUnitOfMeasure.")
    def create_unit_of_measurement(
        self, info: Info, input: CreateUnitOfMeasurementInput
    ) -> CreateUnitOfMeasurementPayload | None:
        with info.context.uow() as uow:
            unit = catalog.create_unit_of_measure(uow, name=input.type, abbreviation=input.abbreviation)
        return CreateUnitOfMeasurementPayload(unit_of_measurement=as_node(UnitOfMeasureType, unit))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_CATALOG))
    def create_supplier(self, info: Info, input: CreateSupplierInput) -> CreateSupplierPayload | None:
        with info.context.uow() as uow:
            supplier = catalog.create_supplier(
                uow, name=input.name, attributes=attribute_triples(input.attributes)
            )
        return CreateSupplierPayload(supplier=as_node(SupplierType, supplier))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_CATALOG))
    def update_supplier(self, info: Info, input: UpdateSupplierInput) -> UpdateSupplierPayload | None:
        with info.context.uow() as uow:
            supplier = catalog.update_supplier(
                uow, parse_id(input.id), input.etag, name=input.name,
                attributes=attribute_triples(input.attributes) if input.attributes is not None else None,
            )
        return UpdateSupplierPayload(supplier=as_node(SupplierType, supplier))
