"""Kanban kits over GraphQL (docs/kanban.md): kits, their cycles and history, line stock
levels, and the cycle and replenishment mutations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.authorization import needs
from kitwright.api.context import Context, GroupLoader, Info
from kitwright.api.inventory import PartInventoryType
from kitwright.api.kits import PartKitType
from kitwright.api.lists import connection_field, primes
from kitwright.api.locations import LocationType
from kitwright.api.nodes import as_node, as_nodes
from kitwright.api.parts import PartType
from kitwright.api.relay import (
    DateTimeFilter,
    DecimalFilter,
    EnumFilter,
    IDFilter,
    StringFilter,
    optional_id,
    sort_enum,
)
from kitwright.api.scalars import DecimalScalar, parse_id
from kitwright.domain import kanban as rules
from kitwright.domain.quantities import ZERO
from kitwright.security.permissions import P
from kitwright.services import kanban
from kitwright.store.models import (
    KanbanCycle,
    KanbanCycleLine,
    KanbanKit,
    KanbanPatternLine,
    LineStockLevel,
    Location,
    Part,
    PartKit,
)

strawberry.enum(
    rules.KanbanStatus, name="KanbanKitStatus",
    description="EMPTY (never filled) -> FILLED (at home) -> AT_LINE (delivered) -> EMPTIED -> refill.",
)
KanbanKitStatusEnum: TypeAlias = rules.KanbanStatus


class KanbanLoaders:
    """Batch loaders of one request (kept in `Context.loaders` under this class)."""

    def __init__(self, context: Context) -> None:
        session = context.session
        self.pattern_by_kit = GroupLoader(session, KanbanPatternLine, KanbanPatternLine.kanban_kit_id)
        self.cycles_by_kit = GroupLoader(session, KanbanCycle, KanbanCycle.kanban_kit_id)
        self.lines_by_cycle = GroupLoader(session, KanbanCycleLine, KanbanCycleLine.kanban_cycle_id)
        self.held: dict[int, dict[int, Decimal]] = {}
        self.positions: dict[int, dict[int, Decimal]] = {}
        self.page: list[int] = []  # the kits of the list being resolved: their holdings load together
        self.context = context

    def held_by(self, kit_id: int, page: Iterable[int] = ()) -> dict[int, Decimal]:
        if kit_id not in self.held:
            self.held.update(kanban.held_by_kit(self.context.session, {kit_id, *page} - self.held.keys()))
        return self.held[kit_id]

    def position(self, location_id: int) -> dict[int, Decimal]:
        if location_id not in self.positions:
            # Every line of the stock levels loaded in this request, in one query.
            levels = self.context.loader(LineStockLevel).cache.values()
            lines = {level.location_id for level in levels if level is not None} | {location_id}
            self.positions.update(kanban.line_positions(self.context.session, lines - self.positions.keys()))
        return self.positions[location_id]


def loaders(context: Context) -> KanbanLoaders:
    found: Any = context.loaders.get(KanbanLoaders)
    if found is None:
        found = KanbanLoaders(context)
        context.loaders[KanbanLoaders] = found
    assert isinstance(found, KanbanLoaders)
    return found


@primes(KanbanKit)
def prime(context: Context, kits: Iterable[KanbanKit]) -> None:
    """Load, for a page of kits, everything their fields reach in a fixed number of queries
    whatever the page size: patterns, cycles, cycle lines, the cycles' kits, parts, locations."""
    rows = list(kits)
    if not rows:
        return
    ids = [kit.id for kit in rows]
    kl = loaders(context)
    kl.page = ids
    kl.pattern_by_kit.want(ids)
    kl.cycles_by_kit.want(ids)
    patterns = [line for kid in ids for line in kl.pattern_by_kit.get(kid)]
    cycles = [cycle for kid in ids for cycle in kl.cycles_by_kit.get(kid)]
    kl.lines_by_cycle.want(cycle.id for cycle in cycles)
    context.loader(PartKit).want(cycle.part_kit_id for cycle in cycles)
    context.loader(Part).want(line.part_id for line in patterns)
    context.loader(Location).want(
        loc for kit in rows for loc in (kit.home_location_id, kit.line_location_id)
    )


@strawberry.type(name="KanbanPatternLine", description="One part of a kanban kit's pattern, per cycle.")
class KanbanPatternLineType:
    part_id: strawberry.ID
    quantity: DecimalScalar

    @strawberry.field
    def part(self, root: strawberry.Parent[KanbanPatternLine], info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(root.part_id))


@strawberry.type(
    name="KanbanCycleLine",
    description="One part of one cycle: what the pattern asked, what was filled, consumed and returned.",
)
class KanbanCycleLineType:
    part_id: strawberry.ID
    pattern_quantity: DecimalScalar
    filled_quantity: DecimalScalar = strawberry.field(
        description="Held by the cycle (when emptied: what it held then = consumed + returned)."
    )
    consumed_quantity: DecimalScalar = strawberry.field(
        description="Used at the line: left inventory when the kit was emptied."
    )
    returned_quantity: DecimalScalar = strawberry.field(
        description="Returned to stock at the kit's home when it was emptied."
    )

    @strawberry.field
    def part(self, root: strawberry.Parent[KanbanCycleLine], info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(root.part_id))


@strawberry.type(
    name="KanbanCycle",
    description="One cycle of a kanban kit: its kit (the fill) and who filled, delivered and emptied it, when.",
)
class KanbanCycleType:
    id: strawberry.ID
    number: int = strawberry.field(description="1 for the kit's first cycle, then 2, 3, ...")
    part_kit_id: strawberry.ID
    filled_at: datetime | None
    filled_by: str | None
    delivered_at: datetime | None
    delivered_by: str | None
    emptied_at: datetime | None
    emptied_by: str | None

    @strawberry.field(description="Not emptied yet.")
    def open(self, root: strawberry.Parent[KanbanCycle]) -> bool:
        return root.emptied_at is None

    @strawberry.field(description="The kit this cycle was filled on (an ordinary PartKit).")
    def part_kit(self, root: strawberry.Parent[KanbanCycle], info: Info) -> PartKitType:
        return as_node(PartKitType, info.context.loader(PartKit).get(root.part_kit_id))

    @strawberry.field
    def lines(self, root: strawberry.Parent[KanbanCycle], info: Info) -> list[KanbanCycleLineType]:
        rows = loaders(info.context).lines_by_cycle.get(root.id)
        info.context.loader(Part).want(row.part_id for row in rows)
        return as_nodes(KanbanCycleLineType, rows)


@strawberry.type(
    name="KanbanKit",
    description="A reusable kit cycling between its home and a line location (docs/kanban.md).",
)
class KanbanKitType:
    id: strawberry.ID
    name: str | None
    home_location_id: strawberry.ID
    line_location_id: strawberry.ID
    cycle_count: int = strawberry.field(description="Cycles completed (emptied).")
    created_at: datetime

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[KanbanKit]) -> str:
        return root.etag

    @strawberry.field
    def status(self, root: strawberry.Parent[KanbanKit]) -> KanbanKitStatusEnum:
        return rules.KanbanStatus(root.status)

    @strawberry.field
    def home_location(self, root: strawberry.Parent[KanbanKit], info: Info) -> LocationType:
        return as_node(LocationType, info.context.loader(Location).get(root.home_location_id))

    @strawberry.field
    def line_location(self, root: strawberry.Parent[KanbanKit], info: Info) -> LocationType:
        return as_node(LocationType, info.context.loader(Location).get(root.line_location_id))

    @strawberry.field(description="Part + quantity per cycle.")
    def pattern(self, root: strawberry.Parent[KanbanKit], info: Info) -> list[KanbanPatternLineType]:
        rows = loaders(info.context).pattern_by_kit.get(root.id)
        info.context.loader(Part).want(row.part_id for row in rows)
        return as_nodes(KanbanPatternLineType, rows)

    @strawberry.field(description="What the open cycle holds now, per part (at home or at the line).")
    def held(self, root: strawberry.Parent[KanbanKit], info: Info) -> list[KanbanPartQuantityType]:
        kl = loaders(info.context)
        held = kl.held_by(root.id, kl.page)
        info.context.loader(Part).want(held)
        return [KanbanPartQuantityType(part_id=strawberry.ID(str(p)), quantity=q) for p, q in sorted(held.items())]

    @strawberry.field(description="The cycle not yet emptied, if any.")
    def current_cycle(self, root: strawberry.Parent[KanbanKit], info: Info) -> KanbanCycleType | None:
        cycles = loaders(info.context).cycles_by_kit.get(root.id)
        return as_node(KanbanCycleType, next((c for c in cycles if c.emptied_at is None), None))

    @strawberry.field(description="Every cycle, newest first: what was filled, consumed, returned, when, by whom.")
    def cycles(self, root: strawberry.Parent[KanbanKit], info: Info) -> list[KanbanCycleType]:
        kl = loaders(info.context)
        rows = sorted(kl.cycles_by_kit.get(root.id), key=lambda c: c.number, reverse=True)
        kl.lines_by_cycle.want(
            c.id for group in kl.cycles_by_kit.cache.values() for c in group
        )
        info.context.loader(PartKit).want(c.part_kit_id for c in rows)
        return as_nodes(KanbanCycleType, rows)


@strawberry.type(name="KanbanPartQuantity")
class KanbanPartQuantityType:
    part_id: strawberry.ID
    quantity: DecimalScalar

    @strawberry.field
    def part(self, info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(int(self.part_id)))


@strawberry.type(
    name="LineStockLevel",
    description="Min/max of a part at a line location; replenishment fills kanban kits to keep it.",
)
class LineStockLevelType:
    id: strawberry.ID
    location_id: strawberry.ID
    part_id: strawberry.ID
    home_location_id: strawberry.ID = strawberry.field(description="Where new kanban kits for it live.")
    min_quantity: DecimalScalar
    max_quantity: DecimalScalar

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[LineStockLevel]) -> str:
        return root.etag

    @strawberry.field
    def location(self, root: strawberry.Parent[LineStockLevel], info: Info) -> LocationType:
        return as_node(LocationType, info.context.loader(Location).get(root.location_id))

    @strawberry.field
    def home_location(self, root: strawberry.Parent[LineStockLevel], info: Info) -> LocationType:
        return as_node(LocationType, info.context.loader(Location).get(root.home_location_id))

    @strawberry.field
    def part(self, root: strawberry.Parent[LineStockLevel], info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(root.part_id))

    @strawberry.field(
        description="What the line's kanban kits hold of the part now (at the line or filled at home)."
    )
    def line_quantity(self, root: strawberry.Parent[LineStockLevel], info: Info) -> DecimalScalar:
        return loaders(info.context).position(root.location_id).get(root.part_id, ZERO)


KanbanKitStatusFilter: TypeAlias = EnumFilter[KanbanKitStatusEnum]
KanbanKitSortEnum = sort_enum("KanbanKitSortEnum", kanban.KANBAN_SORTS)
LineStockLevelSortEnum = sort_enum("LineStockLevelSortEnum", kanban.LEVEL_SORTS)


@strawberry.input
class KanbanKitsInputFilters:
    id: IDFilter | None = UNSET
    name: StringFilter | None = UNSET
    status: KanbanKitStatusFilter | None = UNSET
    home_location_id: IDFilter | None = UNSET
    line_location_id: IDFilter | None = UNSET
    cycle_count: DecimalFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET


@strawberry.input
class LineStockLevelsInputFilters:
    id: IDFilter | None = UNSET
    location_id: IDFilter | None = UNSET
    part_id: IDFilter | None = UNSET
    home_location_id: IDFilter | None = UNSET
    min_quantity: DecimalFilter | None = UNSET
    max_quantity: DecimalFilter | None = UNSET


@strawberry.input(description="One part of a pattern: quantity per cycle.")
class KanbanPatternLineInput:
    part_id: strawberry.ID
    quantity: DecimalScalar


@strawberry.input
class CreateKanbanKitInput:
    home_location_id: strawberry.ID = strawberry.field(description="Where the kit is filled and returns.")
    line_location_id: strawberry.ID = strawberry.field(description="Where it is delivered.")
    pattern: list[KanbanPatternLineInput] = strawberry.field(description="At least one part.")
    name: str | None = None


@strawberry.input(description="Locations and pattern change only between cycles.")
class UpdateKanbanKitInput:
    id: strawberry.ID
    etag: str
    name: str | None = UNSET
    home_location_id: strawberry.ID | None = UNSET
    line_location_id: strawberry.ID | None = UNSET
    pattern: list[KanbanPatternLineInput] | None = UNSET


@strawberry.input
class FillKanbanKitInput:
    id: strawberry.ID
    etag: str | None = strawberry.field(default=None, description="The kanban kit's _etag (optional).")
    source_location_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only use inventory within this location's subtree."
    )


@strawberry.input
class DeliverKanbanKitInput:
    id: strawberry.ID
    etag: str | None = None


@strawberry.input(description="How much of a part the line consumed from the kit.")
class KanbanConsumptionInput:
    part_id: strawberry.ID
    quantity: DecimalScalar


@strawberry.input
class EmptyKanbanKitInput:
    id: strawberry.ID
    etag: str | None = None
    consumption: list[KanbanConsumptionInput] = strawberry.field(
        default_factory=list, description="Per part; parts not listed consumed nothing."
    )


@strawberry.input
class LineStockLevelInput:
    part_id: strawberry.ID
    min_quantity: DecimalScalar
    max_quantity: DecimalScalar


@strawberry.input(description="Replace the line location's levels (parts not listed lose theirs).")
class SetLineStockLevelsInput:
    location_id: strawberry.ID
    levels: list[LineStockLevelInput]
    home_location_id: strawberry.ID | None = strawberry.field(
        default=None, description="Home of the kanban kits replenishment creates; required with levels."
    )


@strawberry.input
class ReplenishLineLocationInput:
    location_id: strawberry.ID
    source_location_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only use inventory within this location's subtree."
    )


@strawberry.type
class KanbanKitPayload:
    kanban_kit: KanbanKitType


@strawberry.type(name="KanbanShortage", description="What a fill could not find.")
class KanbanShortageType:
    kanban_kit: KanbanKitType
    part: PartType
    quantity: DecimalScalar


@strawberry.type
class FillKanbanKitPayload:
    kanban_kit: KanbanKitType
    cycle: KanbanCycleType
    shortages: list[KanbanShortageType]
    part_inventories: list[PartInventoryType] = strawberry.field(description="The records issued by this fill.")


@strawberry.type
class EmptyKanbanKitPayload:
    kanban_kit: KanbanKitType
    cycle: KanbanCycleType = strawberry.field(description="The cycle just closed.")


@strawberry.type
class SetLineStockLevelsPayload:
    line_stock_levels: list[LineStockLevelType]


@strawberry.type
class ReplenishLineLocationPayload:
    kanban_kits: list[KanbanKitType] = strawberry.field(description="Every kit filled, refilled or created.")
    created_kanban_kits: list[KanbanKitType]
    shortages: list[KanbanShortageType]


def _pattern(lines: list[KanbanPatternLineInput] | None) -> list[kanban.PatternEntry]:
    return [
        kanban.PatternEntry(parse_id(line.part_id, field=f"pattern[{i}].partId"), Decimal(line.quantity))
        for i, line in enumerate(lines or [])
    ]


def _shortages(info: Info, fills: list[kanban.FillOutcome]) -> list[KanbanShortageType]:
    return [
        KanbanShortageType(kanban_kit=as_node(KanbanKitType, fill.kit), part=as_node(PartType, info.context.loader(Part).get(s.part_id)),
                           quantity=s.quantity)
        for fill in fills for s in fill.shortages
    ]


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_KITS))
    def kanban_kit(self, info: Info, id: strawberry.ID) -> KanbanKitType:
        return as_node(KanbanKitType, kanban.get_kanban_kit(info.context.session, parse_id(id)))

    kanban_kits = connection_field(
        KanbanKitType, kanban.list_kanban_kits, filters=KanbanKitsInputFilters, sort=KanbanKitSortEnum,
        permission_classes=needs(P.VIEW_KITS),
    )
    line_stock_levels = connection_field(
        LineStockLevelType, kanban.list_line_stock_levels, filters=LineStockLevelsInputFilters,
        sort=LineStockLevelSortEnum,
        permission_classes=needs(P.VIEW_KITS),
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.MANAGE_KANBAN_KITS), description="A reusable kit with a pattern (at least one part), a home and a line.")
    def create_kanban_kit(self, info: Info, input: CreateKanbanKitInput) -> KanbanKitPayload | None:
        with info.context.uow() as uow:
            kit = kanban.create_kanban_kit(
                uow, name=input.name,
                home_location_id=parse_id(input.home_location_id, field="homeLocationId"),
                line_location_id=parse_id(input.line_location_id, field="lineLocationId"),
                pattern=_pattern(input.pattern),
            )
        return KanbanKitPayload(kanban_kit=as_node(KanbanKitType, kit))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_KANBAN_KITS), description="Name any time; locations and pattern only between cycles.")
    def update_kanban_kit(self, info: Info, input: UpdateKanbanKitInput) -> KanbanKitPayload | None:
        changes: dict[str, Any] = {}
        if input.name is not UNSET:
            changes["name"] = input.name
        for attr, field in (("home_location_id", "homeLocationId"), ("line_location_id", "lineLocationId")):
            value = getattr(input, attr)
            if value is not UNSET:
                changes[attr] = optional_id(value, field)
        if input.pattern is not UNSET:
            changes["pattern"] = None if input.pattern is None else _pattern(input.pattern)
        with info.context.uow() as uow:
            kit = kanban.update_kanban_kit(uow, parse_id(input.id), input.etag, changes)
        return KanbanKitPayload(kanban_kit=as_node(KanbanKitType, kit))

    @strawberry.mutation(permission_classes=needs(P.CYCLE_KANBAN_KITS),
        description="Fill to the pattern, oldest inventory first (the kit fulfilment of fulfillPartKit): "
        "opens a cycle, or tops up a short one. Partial fills are allowed; what is missing comes back."
    )
    def fill_kanban_kit(self, info: Info, input: FillKanbanKitInput) -> FillKanbanKitPayload | None:
        with info.context.uow() as uow:
            outcome = kanban.fill_kanban_kit(
                uow, id=parse_id(input.id), etag=input.etag,
                source_location_id=optional_id(input.source_location_id, "sourceLocationId"),
            )
        return FillKanbanKitPayload(
            kanban_kit=as_node(KanbanKitType, outcome.kit), cycle=as_node(KanbanCycleType, outcome.cycle),
            shortages=_shortages(info, [outcome]),
            part_inventories=as_nodes(PartInventoryType, outcome.issued),
        )

    @strawberry.mutation(permission_classes=needs(P.CYCLE_KANBAN_KITS), description="Send a FILLED kit to its line location (its stock moves there).")
    def deliver_kanban_kit(self, info: Info, input: DeliverKanbanKitInput) -> KanbanKitPayload | None:
        with info.context.uow() as uow:
            kit = kanban.deliver_kanban_kit(uow, id=parse_id(input.id), etag=input.etag)
        return KanbanKitPayload(kanban_kit=as_node(KanbanKitType, kit))

    @strawberry.mutation(permission_classes=needs(P.CYCLE_KANBAN_KITS),
        description="Close the cycle: consumption per part leaves inventory (oldest first); the rest "
        "returns to stock at home."
    )
    def empty_kanban_kit(self, info: Info, input: EmptyKanbanKitInput) -> EmptyKanbanKitPayload | None:
        consumption = [
            kanban.ConsumptionEntry(parse_id(c.part_id, field=f"consumption[{i}].partId"), Decimal(c.quantity))
            for i, c in enumerate(input.consumption)
        ]
        with info.context.uow() as uow:
            kit, cycle = kanban.empty_kanban_kit(uow, id=parse_id(input.id), etag=input.etag,
                                                 consumption=consumption)
        return EmptyKanbanKitPayload(kanban_kit=as_node(KanbanKitType, kit), cycle=as_node(KanbanCycleType, cycle))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_KANBAN_KITS), description="Replace a line location's min/max levels per part.")
    def set_line_stock_levels(self, info: Info, input: SetLineStockLevelsInput) -> SetLineStockLevelsPayload | None:
        levels = [
            kanban.LevelEntry(parse_id(level.part_id, field=f"levels[{i}].partId"),
                              Decimal(level.min_quantity), Decimal(level.max_quantity))
            for i, level in enumerate(input.levels)
        ]
        with info.context.uow() as uow:
            rows = kanban.set_line_stock_levels(
                uow, location_id=parse_id(input.location_id, field="locationId"),
                home_location_id=optional_id(input.home_location_id, "homeLocationId"), levels=levels,
            )
        return SetLineStockLevelsPayload(line_stock_levels=as_nodes(LineStockLevelType, rows))

    @strawberry.mutation(permission_classes=needs(P.CYCLE_KANBAN_KITS),
        description="For every part below its minimum at the line: refill the line's kanban kits and "
        "create kits for the rest, up to (never above) each maximum."
    )
    def replenish_line_location(self, info: Info, input: ReplenishLineLocationInput) -> ReplenishLineLocationPayload | None:
        with info.context.uow() as uow:
            outcome = kanban.replenish_line_location(
                uow, location_id=parse_id(input.location_id, field="locationId"),
                source_location_id=optional_id(input.source_location_id, "sourceLocationId"),
            )
        return ReplenishLineLocationPayload(
            kanban_kits=as_nodes(KanbanKitType, [fill.kit for fill in outcome.fills]),
            created_kanban_kits=as_nodes(KanbanKitType, outcome.created),
            shortages=_shortages(info, outcome.fills),
        )
