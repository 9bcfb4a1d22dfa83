"""Retail kit availability (docs/retail.md): kitAvailability, the publish feed, receipts.

Figures come from `services.availability` (set-based SQL + the pure domain); this module only
shapes them. A regular (non-kit) part answers kitAvailability with its own figures and
`isKitItem: false`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeAlias

import strawberry
from sqlalchemy.orm import Session

from kitwright.api.authorization import needs
from kitwright.api.context import Info
from kitwright.api.inventory import PartInventoryPayload, PartInventoryType
from kitwright.api.lists import connection_field
from kitwright.api.locations import LocationType
from kitwright.api.nodes import as_node
from kitwright.api.parts import PartType
from kitwright.api.relay import optional_id
from kitwright.api.scalars import DecimalScalar, parse_id
from kitwright.domain import availability as domain
from kitwright.security.permissions import P
from kitwright.services import availability, inventory
from kitwright.store.models import Location, Part
from kitwright.store.queries import Page, PageRequest

strawberry.enum(
    domain.SupplyType,
    name="SupplyType",
    description="Kind of supply of an inventory record: FUTURE if on order; otherwise by its "
    "location (inventoryAvailable false → ON_HAND_UNAVAILABLE, availableSoon → "
    "ON_HAND_AVAILABLE_SOON, else ON_HAND_AVAILABLE).",
)
SupplyType: TypeAlias = domain.SupplyType


@strawberry.type(name="AvailabilityBucket", description="Quantity that becomes available on a date.")
class BucketType:
    date: dt.date
    quantity: DecimalScalar


def figure_fields(figure: domain.Figure) -> dict[str, Any]:
    """The figure fields that AvailabilityFigure, SiteAvailability and KitSiteAvailability share,
    as keyword arguments of their constructors."""
    return {
        "total_quantity": figure.total,
        "on_hand_quantity": figure.on_hand,
        "future_quantity": figure.future,
        "first_available_future_quantity": figure.first_future_quantity,
        "first_available_future_date": figure.first_future_date,
        "buckets": [BucketType(date=b.date, quantity=b.quantity) for b in figure.buckets],
    }


@strawberry.type(
    name="AvailabilityFigure",
    description="Figures of one curve: on hand at asOf, plus each future increase. For kits, whole kits.",
)
class FigureType:
    total_quantity: DecimalScalar
    on_hand_quantity: DecimalScalar
    future_quantity: DecimalScalar
    first_available_future_quantity: DecimalScalar | None
    first_available_future_date: dt.date | None
    buckets: list[BucketType]

    @staticmethod
    def of(figure: domain.Figure) -> FigureType:
        return FigureType(**figure_fields(figure))


@strawberry.type(name="SiteAvailability", description="Figures of one site (a root location and its subtree).")
class SiteAvailabilityType:
    site_id: strawberry.ID
    total_quantity: DecimalScalar
    on_hand_quantity: DecimalScalar
    future_quantity: DecimalScalar
    first_available_future_quantity: DecimalScalar | None
    first_available_future_date: dt.date | None
    buckets: list[BucketType]

    @strawberry.field
    def site(self, info: Info) -> LocationType:
        return as_node(LocationType, info.context.loader(Location).get(int(self.site_id)))

    @staticmethod
    def of(site: domain.SiteFigure, info: Info) -> SiteAvailabilityType:
        info.context.loader(Location).want([site.site_id])
        return SiteAvailabilityType(site_id=strawberry.ID(str(site.site_id)), **figure_fields(site.figure))


@strawberry.type(
    name="ComponentAvailability",
    description="Publish figures of one component: its own supply, NOT reduced by the kits (never add them up).",
)
class ComponentAvailabilityType:
    part_id: strawberry.ID
    ratio: DecimalScalar = strawberry.field(description="Quantity per one kit.")
    network: FigureType
    sites: list[SiteAvailabilityType]

    @strawberry.field
    def part(self, info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(int(self.part_id)))


@strawberry.type(name="KitAvailability", description="Get (kit figures) and publish (per component) availability.")
class KitAvailabilityType:
    part_id: strawberry.ID
    is_kit_item: bool = strawberry.field(description="False for a regular part: it answers with its own figures.")
    as_of: dt.date = strawberry.field(description="The day figures are computed for (past-due ETAs count on it).")
    network: FigureType = strawberry.field(description="Sum of the site figures.")
    sites: list[SiteAvailabilityType]
    components: list[ComponentAvailabilityType]

    @strawberry.field
    def part(self, info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(int(self.part_id)))

    @staticmethod
    def of(result: domain.KitAvailability, as_of: dt.date, info: Info) -> KitAvailabilityType:
        info.context.loader(Part).want([result.part_id, *(c.part_id for c in result.components)])
        return KitAvailabilityType(
            part_id=strawberry.ID(str(result.part_id)),
            is_kit_item=result.is_kit,
            as_of=as_of,
            network=FigureType.of(result.network),
            sites=[SiteAvailabilityType.of(s, info) for s in result.sites],
            components=[
                ComponentAvailabilityType(
                    part_id=strawberry.ID(str(c.part_id)),
                    ratio=c.ratio,
                    network=FigureType.of(c.network),
                    sites=[SiteAvailabilityType.of(s, info) for s in c.sites],
                )
                for c in result.components
            ],
        )


@strawberry.input(description="Only records of this component whose attribute is one of values count.")
class AttributeFilterInput:
    part_id: strawberry.ID
    attribute: str
    values: list[str]


@strawberry.input(
    description="Which supply counts, per component before the division. Omitted: "
    "supplyTypes [ON_HAND_AVAILABLE, FUTURE], every segment, no attribute filter."
)
class AvailabilityViewInput:
    supply_types: list[SupplyType] | None = None
    segments: list[str] | None = strawberry.field(
        default=None, description="Only records with one of these segments (records without one are excluded)."
    )
    attribute_filters: list[AttributeFilterInput] | None = strawberry.field(
        default=None, description="Per component: attributes AND, values OR; a missing attribute does not match."
    )


def parse_view(view: AvailabilityViewInput | None) -> domain.View:
    if view is None:
        return domain.DEFAULT_VIEW
    filters = [
        availability.AttributeFilter(
            part_id=parse_id(item.part_id, field=f"view.attributeFilters[{index}].partId"),
            attribute=item.attribute,
            values=list(item.values),
        )
        for index, item in enumerate(view.attribute_filters or [])
    ]
    return availability.build_view(view.supply_types, view.segments, filters)


@strawberry.input(description="Receive an on-order record: it becomes on-hand stock (a ledger entry).")
class ReceivePartInventoryInput:
    id: strawberry.ID
    etag: str | None = None
    location_id: strawberry.ID | None = strawberry.field(default=None, description="Where it was received; default: its location.")
    quantity: DecimalScalar | None = strawberry.field(default=None, description="Quantity received; default: the ordered quantity.")


def _feed_page(session: Session, filters: object, sort: object, page: PageRequest) -> Page[int]:
    return availability.kit_ids_page(session, page)


def _feed_nodes(info: Info, ids: list[int], arguments: Mapping[str, Any]) -> list[KitAvailabilityType]:
    day = arguments["as_of"] or availability.today()
    results = availability.kit_availabilities(
        info.context.session, ids, view=parse_view(arguments["view"]), as_of=day
    )
    return [KitAvailabilityType.of(result, day, info) for result in results]


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_AVAILABILITY),
        description="Availability of a kit (or a regular part) per site and network, on hand and future, "
        "with each component's publish figures. Sites: siteIds, else every site holding supply of a component."
    )
    def kit_availability(
        self,
        info: Info,
        part_id: strawberry.ID,
        view: AvailabilityViewInput | None = None,
        as_of: dt.date | None = None,
        site_ids: list[strawberry.ID] | None = None,
    ) -> KitAvailabilityType:
        day = as_of or availability.today()
        sites = (
            [parse_id(s, field=f"siteIds[{i}]") for i, s in enumerate(site_ids)] if site_ids is not None else None
        )
        result = availability.get_kit_availability(
            info.context.session, parse_id(part_id, field="partId"), view=parse_view(view), as_of=day, site_ids=sites,
        )
        return KitAvailabilityType.of(result, day, info)

    kit_availability_feed = connection_field(
        KitAvailabilityType, _feed_page, backwards=False,
        arguments={"as_of": dt.date, "view": AvailabilityViewInput}, nodes=_feed_nodes,
        permission_classes=needs(P.VIEW_AVAILABILITY),
        description="The publish feed: every kit's figures, kits in id order. Forward pagination "
        "(first, after); figures of a page are computed with two set-based queries.",
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.RECEIVE_PART_INVENTORY), description="Turn an on-order record into on-hand stock (writes a ledger entry).")
    def receive_part_inventory(self, info: Info, input: ReceivePartInventoryInput) -> PartInventoryPayload | None:
        with info.context.uow() as uow:
            record = inventory.receive_part_inventory(
                uow,
                parse_id(input.id),
                input.etag,
                location_id=optional_id(input.location_id, "locationId"),
                quantity=Decimal(input.quantity) if input.quantity is not None else None,
            )
        return PartInventoryPayload(part_inventory=as_node(PartInventoryType, record))
