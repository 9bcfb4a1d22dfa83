"""Locations: the tree of sites, rooms, racks, shelves and totes."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.authorization import needs
from kitwright.api.context import Info
from kitwright.api.lists import connection_field
from kitwright.api.nodes import as_node
from kitwright.api.relay import (
    BooleanFilter,
    DateTimeFilter,
    IDFilter,
    StringFilter,
    input_changes,
    optional_id,
    sort_enum,
)
from kitwright.api.scalars import parse_id
from kitwright.security.permissions import P
from kitwright.services import locations
from kitwright.services.uow import get
from kitwright.store.models import Location


@strawberry.type(name="Location", description="A node of the location tree; a root is a site.")
class LocationType:
    id: strawberry.ID
    name: str
    type: str | None
    description: str | None
    parent_id: strawberry.ID | None
    site_id: strawberry.ID | None = strawberry.field(description="The root location (site) above this one.")
    inventory_available: bool = strawberry.field(description="Whether stock here counts as available.")
    available_soon: bool = strawberry.field(description="Stock here is on hand, available soon (e.g. a receiving dock).")
    archived: bool
    created_at: datetime

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[Location]) -> str:
        return root.etag

    @strawberry.field(description="A stable identifier unique across object types (\"Location:5\"), "
                      "where ION's scripts read entityId to label or attach to a location.")
    def entity_id(self, root: strawberry.Parent[Location]) -> strawberry.ID:
        return strawberry.ID(f"Location:{root.id}")

    @strawberry.field
    def parent(self, root: strawberry.Parent[Location], info: Info) -> LocationType | None:
        return as_node(LocationType, info.context.loader(Location).get(root.parent_id))

    @strawberry.field
    def children(self, root: strawberry.Parent[Location], info: Info) -> list[LocationType]:
        loader = info.context.group(Location.parent_id, order_by=(Location.name, Location.id))
        return loader.get(root.id)


@strawberry.input
class LocationsInputFilters:
    id: IDFilter | None = UNSET
    name: StringFilter | None = UNSET
    type: StringFilter | None = UNSET
    parent_id: IDFilter | None = UNSET
    site_id: IDFilter | None = UNSET
    inventory_available: BooleanFilter | None = UNSET
    available_soon: BooleanFilter | None = UNSET
    archived: BooleanFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET


LocationSortEnum = sort_enum("LocationSortEnum", locations.LOCATION_SORTS)


@strawberry.input
class CreateLocationInput:
    name: str
    parent_id: strawberry.ID | None = None
    type: str | None = None
    description: str | None = None
    inventory_available: bool = True
    available_soon: bool = False


@strawberry.input
class UpdateLocationInput:
    id: strawberry.ID
    etag: str
    name: str | None = UNSET
    parent_id: strawberry.ID | None = UNSET
    type: str | None = UNSET
    description: str | None = UNSET
    inventory_available: bool | None = UNSET
    available_soon: bool | None = UNSET
    archived: bool | None = UNSET


@strawberry.type
class LocationPayload:
    location: LocationType


@strawberry.type
class DeleteLocationPayload:
    id: strawberry.ID


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_INVENTORY))
    def location(self, info: Info, id: strawberry.ID) -> LocationType:
        return as_node(LocationType, get(info.context.session, Location, parse_id(id)))

    locations = connection_field(
        LocationType, locations.list_locations, filters=LocationsInputFilters, sort=LocationSortEnum
    , permission_classes=needs(P.VIEW_INVENTORY))


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.MANAGE_LOCATIONS))
    def create_location(self, info: Info, input: CreateLocationInput) -> LocationPayload | None:
        with info.context.uow() as uow:
            location = locations.create_location(
                uow,
                name=input.name,
                parent_id=optional_id(input.parent_id, "parentId"),
                type=input.type,
                description=input.description,
                inventory_available=input.inventory_available,
                available_soon=input.available_soon,
            )
        return LocationPayload(location=as_node(LocationType, location))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_LOCATIONS))
    def update_location(self, info: Info, input: UpdateLocationInput) -> LocationPayload | None:
        changes = input_changes(input, ids=("parent_id",))
        with info.context.uow() as uow:
            location = locations.update_location(uow, parse_id(input.id), input.etag, changes)
        return LocationPayload(location=as_node(LocationType, location))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_LOCATIONS), description="Delete an empty leaf location (no inventory, children or kits); "
                         "CONFLICT otherwise: archive it instead.")
    def delete_location(self, info: Info, id: strawberry.ID, etag: str) -> DeleteLocationPayload | None:
        with info.context.uow() as uow:
            deleted = locations.delete_location(uow, parse_id(id), etag)
        return DeleteLocationPayload(id=strawberry.ID(str(deleted)))
