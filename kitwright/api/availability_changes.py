"""kitAvailabilityChanges: the kit x site figures that changed since a token (docs/retail.md).

Kept apart from `api.availability` (the feed and its paging) so the two evolve separately;
figures and tokens come from `services.availability_changes`.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from kitwright.api.authorization import needs
from kitwright.api.availability import AvailabilityViewInput, BucketType, figure_fields, parse_view
from kitwright.api.context import Info
from kitwright.api.locations import LocationType
from kitwright.api.nodes import as_node
from kitwright.api.parts import PartType
from kitwright.api.scalars import DecimalScalar
from kitwright.domain import availability as domain
from kitwright.domain.errors import BadInput
from kitwright.security.permissions import P
from kitwright.services import availability_changes
from kitwright.store.models import Location, Part
from kitwright.store.queries import DEFAULT_PAGE, MAX_PAGE


@strawberry.type(
    name="KitSiteAvailability",
    description="A kit's figures at one site (whole kits); zero when it has no supply there.",
)
class KitSiteAvailabilityType:
    kit_id: strawberry.ID
    site_id: strawberry.ID
    total_quantity: DecimalScalar
    on_hand_quantity: DecimalScalar
    future_quantity: DecimalScalar
    first_available_future_quantity: DecimalScalar | None
    first_available_future_date: dt.date | None
    buckets: list[BucketType]

    @strawberry.field(description="Null once the kit's part is deleted (its figures are then zero).")
    def kit(self, info: Info) -> PartType | None:
        return as_node(PartType, info.context.loader(Part).get(int(self.kit_id)))

    @strawberry.field
    def site(self, info: Info) -> LocationType:
        return as_node(LocationType, info.context.loader(Location).get(int(self.site_id)))

    @staticmethod
    def of(kit_id: int, curve: domain.SiteCurve, info: Info) -> KitSiteAvailabilityType:
        site_id, on_hand, buckets = curve
        info.context.loader(Part).want([kit_id])
        info.context.loader(Location).want([site_id])
        return KitSiteAvailabilityType(kit_id=strawberry.ID(str(kit_id)), site_id=strawberry.ID(str(site_id)),
                                       **figure_fields(domain.whole_figure(on_hand, buckets)))


@strawberry.type(name="KitAvailabilityChanges")
class KitAvailabilityChangesType:
    token: str = strawberry.field(
        description="Pass as `since` next time: it continues right after this page (the next page when "
        "`hasNextPage`, else what changes after this answer)."
    )
    as_of: dt.date
    changes: list[KitSiteAvailabilityType] = strawberry.field(
        description="Current figures of the kit x site pairs whose supply changed (kit, then site ascending), "
        "at most `first`. A pair can appear again in a later answer; its figures are then current again."
    )
    has_next_page: bool = strawberry.field(
        description="More changed pairs follow: ask again at once with `since: token`."
    )


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=needs(P.VIEW_AVAILABILITY),
        description="The kit x site figures that changed since `since` (a token from an earlier answer), "
        f"`first` at a time (default {DEFAULT_PAGE}, at most {MAX_PAGE}). Without `since`: no changes, only a "
        "token to start from; take it before reading the full feed. A token older than the change log's "
        "retention answers GONE: read the full feed again."
    )
    def kit_availability_changes(
        self,
        info: Info,
        since: str | None = None,
        first: int | None = None,
        as_of: dt.date | None = None,
        view: AvailabilityViewInput | None = None,
    ) -> KitAvailabilityChangesType:
        if first is not None and not 0 <= first <= MAX_PAGE:
            raise BadInput(f"first must be between 0 and {MAX_PAGE}", field="first")
        result = availability_changes.changes_since(
            info.context.session, since, view=parse_view(view), as_of=as_of,
            first=DEFAULT_PAGE if first is None else first,
        )
        return KitAvailabilityChangesType(
            token=result.token,
            as_of=result.as_of,
            changes=[KitSiteAvailabilityType.of(kit, curve, info) for kit, curve in result.figures],
            has_next_page=result.has_next_page,
        )
