"""Runs, build requirements, kitting to a run, installs and the aBOM over GraphQL, in ION's
names (docs/runs.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.authorization import needs
from kitwright.api.context import Context, GroupLoader, Info
from kitwright.api.inventory import PartInventoryPayload, PartInventoryType
from kitwright.api.kit_loaders import prime_kits
from kitwright.api.lists import connection_field
from kitwright.api.locations import LocationType
from kitwright.api.nodes import as_node, as_nodes
from kitwright.api.parts import PartType
from kitwright.api.relay import (
    DateTimeFilter,
    EnumFilter,
    IDFilter,
    StringFilter,
    input_changes,
    optional_id,
    sort_enum,
)
from kitwright.api.scalars import DecimalScalar, JSONObject, parse_id
from kitwright.domain import runs as rules
from kitwright.domain.quantities import ZERO
from kitwright.security.permissions import P
from kitwright.services import runs
from kitwright.store.models import AbomItem, BuildRequirement, Location, Part, PartInventory, PartKit, Run

if TYPE_CHECKING:
    from kitwright.api.kits import KitShortageType, PartKitType

strawberry.enum(
    rules.RunStatus, name="RunStatus",
    description="TODO, IN_PROGRESS and HOLD are open (the unit is WIP); COMPLETED and CANCELED are final.",
)
RunStatusEnum: TypeAlias = rules.RunStatus


class RunLoaders:
    """Batch loaders of one request: rows grouped by run, requirement or inventory record."""

    def __init__(self, context: Context) -> None:
        s = context.session
        self.context = context
        self.requirements_by_run = GroupLoader(s, BuildRequirement, BuildRequirement.run_id)
        self.abom_by_requirement = GroupLoader(s, AbomItem, AbomItem.build_requirement_id)
        self.abom_by_record = GroupLoader(s, AbomItem, AbomItem.part_inventory_id)
        self.abom_by_parent = GroupLoader(s, AbomItem, AbomItem.parent_part_inventory_id)
        self.runs_by_unit = GroupLoader(s, Run, Run.part_inventory_id)
        self.kits_by_run = GroupLoader(s, PartKit, PartKit.run_id)
        self.installed: dict[int, Decimal] = {}
        self.related_runs: dict[int, list[int]] = {}

    def loaded_records(self) -> list[int]:
        """Every inventory record this request has loaded: record-keyed loaders fetch for all
        of them at once (a page of 50 costs one query, not 50)."""
        return [obj.id for obj in list(self.context.session.identity_map.values())
                if isinstance(obj, PartInventory)]

    def by_record(self, loader: GroupLoader[Any], record_id: int) -> list[Any]:
        if record_id not in loader.cache:
            loader.want(self.loaded_records())
        return loader.get(record_id)

    def installed_quantity(self, requirement_id: int) -> Decimal:
        if requirement_id not in self.installed:
            ids = {requirement_id, *(r.id for group in self.requirements_by_run.cache.values() for r in group)}
            self.installed.update(runs.installed_by_requirement(self.context.session, ids - self.installed.keys()))
        return self.installed[requirement_id]

    def runs_of(self, record_id: int) -> list[int]:
        if record_id not in self.related_runs:
            ids = {record_id, *self.loaded_records()} - self.related_runs.keys()
            self.related_runs.update(runs.runs_of_records(self.context.session, ids))
        return self.related_runs[record_id]


def run_loaders(context: Context) -> RunLoaders:
    found: Any = context.loaders.get(RunLoaders)
    if found is None:
        found = RunLoaders(context)
        context.loaders[RunLoaders] = found
    assert isinstance(found, RunLoaders)
    return found


def _record(info: Info, id: int | None) -> PartInventoryType | None:
    return as_node(PartInventoryType, info.context.loader(PartInventory).get(id))


@strawberry.type(
    name="AbomItem",
    description="A node of the as-built BOM: with a parent, `partInventory` is installed in "
    "`parentPartInventory` against a build requirement; without one, the root of a unit's trace.",
)
class AbomItemType:
    id: strawberry.ID
    part_inventory_id: strawberry.ID
    parent_part_inventory_id: strawberry.ID | None
    build_requirement_id: strawberry.ID | None
    quantity: DecimalScalar
    created_at: datetime

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[AbomItem]) -> str:
        return root.etag

    @strawberry.field
    def part_inventory(self, root: strawberry.Parent[AbomItem], info: Info) -> PartInventoryType | None:
        return _record(info, root.part_inventory_id)

    @strawberry.field(description="The unit it is installed in (null for a root).")
    def parent_part_inventory(self, root: strawberry.Parent[AbomItem], info: Info) -> PartInventoryType | None:
        return _record(info, root.parent_part_inventory_id)

    @strawberry.field
    def build_requirement(self, root: strawberry.Parent[AbomItem], info: Info) -> BuildRequirementType | None:
        return as_node(BuildRequirementType, info.context.loader(BuildRequirement).get(root.build_requirement_id))

    @strawberry.field(description="What is installed directly in this item's inventory record.")
    def children(self, root: strawberry.Parent[AbomItem], info: Info) -> list[AbomItemType]:
        return record_abom_children(info, root.part_inventory_id)


@strawberry.type(name="AbomTreeNode", description="One installation in a tree walk, with its depth.")
class AbomTreeNodeType:
    depth: int = strawberry.field(description="1 = directly in (or directly holding) the start.")
    path: str = strawberry.field(description="aBOM item ids from the start, e.g. 12/40/41.")
    abom_item: AbomItemType


@strawberry.type(
    name="BuildRequirement",
    description="What a run needs of one part: its mBOM line x the run quantity (a snapshot).",
)
class BuildRequirementType:
    id: strawberry.ID
    run_id: strawberry.ID
    part_id: strawberry.ID
    mbom_item_id: strawberry.ID | None
    quantity: DecimalScalar
    waived: bool
    waive_reason: str | None
    created_at: datetime

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[BuildRequirement]) -> str:
        return root.etag

    @strawberry.field
    def run(self, root: strawberry.Parent[BuildRequirement], info: Info) -> RunType:
        return as_node(RunType, info.context.loader(Run).get(root.run_id))

    @strawberry.field
    def part(self, root: strawberry.Parent[BuildRequirement], info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(root.part_id))

    @strawberry.field
    def installed_quantity(self, root: strawberry.Parent[BuildRequirement], info: Info) -> DecimalScalar:
        return run_loaders(info.context).installed_quantity(root.id)

    @strawberry.field(description="quantity - installedQuantity (0 when waived).")
    def remaining_quantity(self, root: strawberry.Parent[BuildRequirement], info: Info) -> DecimalScalar:
        if root.waived:
            return ZERO
        return max(root.quantity - run_loaders(info.context).installed_quantity(root.id), ZERO)

    @strawberry.field(description="The installs made against this requirement.")
    def abom_installations(self, root: strawberry.Parent[BuildRequirement], info: Info) -> list[AbomItemType]:
        loaders = run_loaders(info.context)
        loaders.abom_by_requirement.want(r.id for group in loaders.requirements_by_run.cache.values() for r in group)
        rows = loaders.abom_by_requirement.get(root.id)
        # The installed records of every requirement loaded so far, in one batch.
        info.context.loader(PartInventory).want(
            r.part_inventory_id for group in loaders.abom_by_requirement.cache.values() for r in group
        )
        return as_nodes(AbomItemType, rows)


@strawberry.type(name="Run", description="A work order building a part (the unit it builds is WIP while open).")
class RunType:
    id: strawberry.ID
    title: str
    part_id: strawberry.ID
    quantity: DecimalScalar
    procedure_id: strawberry.ID | None = strawberry.field(
        description="The ION procedure the run follows (a stored reference; Kitwright has no procedures)."
    )
    part_inventory_id: strawberry.ID | None = strawberry.field(description="The unit being built.")
    location_id: strawberry.ID | None
    created_at: datetime
    completed_at: datetime | None
    created_by_id: strawberry.ID | None

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[Run]) -> str:
        return root.etag

    @strawberry.field
    def status(self, root: strawberry.Parent[Run]) -> RunStatusEnum:
        return rules.RunStatus(root.status)

    @strawberry.field
    def part(self, root: strawberry.Parent[Run], info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(root.part_id))

    @strawberry.field(description="The unit being built.")
    def part_inventory(self, root: strawberry.Parent[Run], info: Info) -> PartInventoryType | None:
        return _record(info, root.part_inventory_id)

    @strawberry.field
    def location(self, root: strawberry.Parent[Run], info: Info) -> LocationType | None:
        return as_node(LocationType, info.context.loader(Location).get(root.location_id))

    @strawberry.field(description="Custom attributes (updateRunAttribute).")
    def attributes(self, root: strawberry.Parent[Run]) -> JSONObject:
        return JSONObject(root.attributes or {})

    @strawberry.field
    def build_requirements(self, root: strawberry.Parent[Run], info: Info) -> list[BuildRequirementType]:
        loaders = run_loaders(info.context)
        loaders.requirements_by_run.want(info.context.loader(Run).cache.keys())
        rows = loaders.requirements_by_run.get(root.id)
        info.context.loader(Part).want(r.part_id for r in rows)
        return as_nodes(BuildRequirementType, rows)

    @strawberry.field(description="Kits serving the run.")
    def part_kits(
        self, root: strawberry.Parent[Run], info: Info
    ) -> list[Annotated[PartKitType, strawberry.lazy("kitwright.api.kits")]]:
        loaders = run_loaders(info.context)
        loaders.kits_by_run.want(info.context.loader(Run).cache.keys())
        rows = loaders.kits_by_run.get(root.id)
        prime_kits(info.context, rows)
        from kitwright.api.kits import PartKitType

        return as_nodes(PartKitType, rows)


def _cache_runs(info: Info, rows: list[Run]) -> None:
    loader = info.context.loader(Run)
    for row in rows:
        loader.cache[row.id] = row


# --------------------------------------------------------------------------- PartInventory fields
# Resolvers that api.inventory.PartInventoryType delegates to (ION's `runs` field and aBOM).


def record_runs(info: Info, record_id: int) -> list[RunType]:
    ids = run_loaders(info.context).runs_of(record_id)
    info.context.loader(Run).want(ids)
    return as_nodes(RunType, [info.context.loader(Run).get(i) for i in ids])


def record_abom_items(info: Info, record_id: int) -> list[AbomItemType]:
    loaders = run_loaders(info.context)
    return loaders.by_record(loaders.abom_by_record, record_id)


def record_abom_children(info: Info, record_id: int) -> list[AbomItemType]:
    loaders = run_loaders(info.context)
    rows = loaders.by_record(loaders.abom_by_parent, record_id)
    info.context.loader(PartInventory).want(
        r.part_inventory_id for group in loaders.abom_by_parent.cache.values() for r in group
    )
    return rows


def record_build_requirements(info: Info, record_id: int) -> list[BuildRequirementType]:
    loaders = run_loaders(info.context)
    built_by = loaders.by_record(loaders.runs_by_unit, record_id)
    _cache_runs(info, [r for group in loaders.runs_by_unit.cache.values() for r in group])
    loaders.requirements_by_run.want(r.id for group in loaders.runs_by_unit.cache.values() for r in group)
    out: list[Any] = []
    for run in built_by:
        out.extend(loaders.requirements_by_run.get(run.id))
    requirement_ids = [r.id for group in loaders.requirements_by_run.cache.values() for r in group]
    loaders.abom_by_requirement.want(requirement_ids)
    return out


def _nodes(nodes: list[runs.AbomNode], info: Info) -> list[AbomTreeNodeType]:
    loader = info.context.loader(AbomItem)
    loader.want(n.abom_item_id for n in nodes)
    info.context.loader(PartInventory).want(n.part_inventory_id for n in nodes)
    info.context.loader(PartInventory).want(n.parent_part_inventory_id for n in nodes)
    return [
        AbomTreeNodeType(depth=n.depth, path=n.path, abom_item=as_node(AbomItemType, loader.get(n.abom_item_id)))
        for n in nodes
    ]


def record_installed_items(info: Info, record_id: int) -> list[AbomTreeNodeType]:
    return _nodes(runs.installed_in(info.context.session, record_id), info)


def record_installed_in(info: Info, record_id: int) -> list[AbomTreeNodeType]:
    return _nodes(runs.installed_where(info.context.session, record_id), info)


# --------------------------------------------------------------------------- inputs


RunStatusFilter: TypeAlias = EnumFilter[RunStatusEnum]


@strawberry.input
class RunsInputFilters:
    id: IDFilter | None = UNSET
    title: StringFilter | None = UNSET
    status: RunStatusFilter | None = UNSET
    part_id: IDFilter | None = UNSET
    procedure_id: IDFilter | None = UNSET
    part_inventory_id: IDFilter | None = UNSET
    location_id: IDFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET


RunSortEnum = sort_enum("RunSortEnum", runs.RUN_SORTS)


@strawberry.input
class CreateRunInput:
    title: str | None = strawberry.field(default=None, description="Default: part number x quantity.")
    part_id: strawberry.ID | None = strawberry.field(default=None, description="The part built; it needs an mBOM.")
    quantity: DecimalScalar | None = strawberry.field(default=None, description="Default 1; 1 for serial parts.")
    procedure_id: strawberry.ID | None = None
    part_inventory_id: strawberry.ID | None = strawberry.field(
        default=None, description="The unit to build (default: a new record, numbered per its tracking)."
    )
    location_id: strawberry.ID | None = strawberry.field(default=None, description="Where the unit is built.")
    status: RunStatusEnum | None = None
    attributes: JSONObject | None = None


@strawberry.input
class UpdateRunInput:
    id: strawberry.ID
    etag: str
    title: str | None = UNSET
    status: RunStatusEnum | None = UNSET
    location_id: strawberry.ID | None = UNSET
    procedure_id: strawberry.ID | None = UNSET


@strawberry.input
class UpdateRunAttributeInput:
    id: strawberry.ID = strawberry.field(description="The run.")
    key: str
    value: str | None = strawberry.field(default=None, description="Null removes the attribute.")
    etag: str | None = None


@strawberry.input
class UpdateBuildRequirementInput:
    id: strawberry.ID
    etag: str
    waived: bool | None = UNSET
    waive_reason: str | None = UNSET


@strawberry.input
class CreateKitForRunInput:
    run_id: strawberry.ID
    staging_location_id: strawberry.ID | None = None
    delivery_location_id: strawberry.ID | None = None
    fulfill: bool = strawberry.field(default=True, description="Also fulfil it oldest first (default).")


@strawberry.input
class AddRunNeedsToPartKitInput:
    id: strawberry.ID = strawberry.field(description="An open kit serving a run.")
    fulfill: bool = True


@strawberry.input
class InstallPartInventoryInput:
    build_requirement_id: strawberry.ID
    part_inventory_id: strawberry.ID
    quantity: DecimalScalar | None = strawberry.field(
        default=None, description="Lot / untracked: how much (default: what the record holds, up to "
        "what the requirement still needs). A partial install splits the record (PARTIAL_INSTALL)."
    )
    etag: str | None = None


@strawberry.input
class UninstallPartInventoryInput:
    part_inventory_id: strawberry.ID | None = strawberry.field(
        default=None, description="The installed record (or name its install by abomItemId)."
    )
    abom_item_id: strawberry.ID | None = strawberry.field(default=None, description="The install's aBOM item.")
    quantity: DecimalScalar | None = strawberry.field(
        default=None, description="Lot / untracked: how much to take out (default: all). Less than installed "
        "splits the record (PARTIAL_UNINSTALL)."
    )
    etag: str | None = None
    location_id: strawberry.ID | None = strawberry.field(default=None, description="Where it goes (default: stays).")


@strawberry.input(name="UpdateABomItemInput")
class UpdateAbomItemInput:
    id: strawberry.ID
    etag: str
    quantity: DecimalScalar | None = UNSET


@strawberry.type
class RunPayload:
    run: RunType


@strawberry.type
class BuildRequirementPayload:
    build_requirement: BuildRequirementType


@strawberry.type
class AbomItemPayload:
    abom_item: AbomItemType


@strawberry.type
class InstallPayload:
    part_inventory: PartInventoryType = strawberry.field(description="The installed record.")
    abom_item: AbomItemType


@strawberry.type
class RunKitPayload:
    part_kit: Annotated[PartKitType, strawberry.lazy("kitwright.api.kits")]
    shortages: list[Annotated[KitShortageType, strawberry.lazy("kitwright.api.kits")]]


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_RUNS))
    def run(self, info: Info, id: strawberry.ID) -> RunType:
        from kitwright.services.uow import get

        return as_node(RunType, get(info.context.session, Run, parse_id(id)))

    runs = connection_field(RunType, runs.list_runs, filters=RunsInputFilters, sort=RunSortEnum, permission_classes=needs(P.VIEW_RUNS))

    @strawberry.field(permission_classes=needs(P.VIEW_RUNS))
    def build_requirement(self, info: Info, id: strawberry.ID) -> BuildRequirementType:
        from kitwright.services.uow import get

        return as_node(BuildRequirementType, get(info.context.session, BuildRequirement, parse_id(id)))

    @strawberry.field(permission_classes=needs(P.VIEW_RUNS))
    def abom_item(self, info: Info, id: strawberry.ID) -> AbomItemType:
        from kitwright.services.uow import get

        return as_node(AbomItemType, get(info.context.session, AbomItem, parse_id(id)))


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS), description="Snapshot the requirements (mBOM x quantity); the unit becomes WIP.")
    def create_run(self, info: Info, input: CreateRunInput) -> RunPayload | None:
        with info.context.uow() as uow:
            run = runs.create_run(
                uow, title=input.title, part_id=optional_id(input.part_id, "partId"),
                quantity=1 if input.quantity is None else input.quantity,
                procedure_id=optional_id(input.procedure_id, "procedureId"),
                part_inventory_id=optional_id(input.part_inventory_id, "partInventoryId"),
                location_id=optional_id(input.location_id, "locationId"),
                status=input.status.value if input.status else rules.RunStatus.TODO,
                attributes=dict(input.attributes) if input.attributes else None,
            )
        return RunPayload(run=as_node(RunType, run))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS), description="COMPLETED needs every requirement installed or waived; the unit becomes AVAILABLE.")
    def update_run(self, info: Info, input: UpdateRunInput) -> RunPayload | None:
        with info.context.uow() as uow:
            run = runs.update_run(uow, parse_id(input.id), input.etag,
                                  input_changes(input, ids=("location_id", "procedure_id")))
        return RunPayload(run=as_node(RunType, run))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS))
    def update_run_attribute(self, info: Info, input: UpdateRunAttributeInput) -> RunPayload | None:
        with info.context.uow() as uow:
            run = runs.update_run_attribute(uow, id=parse_id(input.id), key=input.key, value=input.value,
                                            etag=input.etag)
        return RunPayload(run=as_node(RunType, run))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS), description="Waive a requirement (a reason is required) or take the waiver back.")
    def update_build_requirement(self, info: Info, input: UpdateBuildRequirementInput) -> BuildRequirementPayload | None:
        with info.context.uow() as uow:
            req = runs.update_build_requirement(uow, parse_id(input.id), input.etag, input_changes(input))
        return BuildRequirementPayload(build_requirement=as_node(BuildRequirementType, req))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS),
        description="A kit whose items are what the run still needs (requirements - installed - "
        "requested by its open kits), fulfilled oldest first unless fulfill is false."
    )
    def create_kit_for_run(self, info: Info, input: CreateKitForRunInput) -> RunKitPayload | None:
        with info.context.uow() as uow:
            result = runs.create_kit_for_run(
                uow, run_id=parse_id(input.run_id, field="runId"),
                staging_location_id=optional_id(input.staging_location_id, "stagingLocationId"),
                delivery_location_id=optional_id(input.delivery_location_id, "deliveryLocationId"),
                fulfill=input.fulfill,
            )
        return _run_kit(info, result)

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS), description="Add what the kit's run still needs to the kit (and fulfil it).")
    def add_run_needs_to_part_kit(self, info: Info, input: AddRunNeedsToPartKitInput) -> RunKitPayload | None:
        with info.context.uow() as uow:
            result = runs.add_run_needs_to_kit(uow, id=parse_id(input.id), fulfill=input.fulfill)
        return _run_kit(info, result)

    @strawberry.mutation(permission_classes=needs(P.INSTALL_PART_INVENTORY), description="Install (part of) a record kitted to the run on one of its requirements.")
    def install_part_inventory(self, info: Info, input: InstallPartInventoryInput) -> InstallPayload | None:
        with info.context.uow() as uow:
            done = runs.install_part_inventory(
                uow, build_requirement_id=parse_id(input.build_requirement_id, field="buildRequirementId"),
                part_inventory_id=parse_id(input.part_inventory_id, field="partInventoryId"),
                quantity=input.quantity, etag=input.etag,
            )
        return InstallPayload(part_inventory=as_node(PartInventoryType, done.record), abom_item=as_node(AbomItemType, done.abom_item))

    @strawberry.mutation(permission_classes=needs(P.INSTALL_PART_INVENTORY),
        description="Reverse an install, or part of it: KITTED again while its kit is open, else AVAILABLE. "
        "Returns the record taken out (a new PARTIAL_UNINSTALL record when partial)."
    )
    def uninstall_part_inventory(self, info: Info, input: UninstallPartInventoryInput) -> PartInventoryPayload | None:
        with info.context.uow() as uow:
            record = runs.uninstall_part_inventory(
                uow, part_inventory_id=optional_id(input.part_inventory_id, "partInventoryId"),
                abom_item_id=optional_id(input.abom_item_id, "abomItemId"), quantity=input.quantity,
                etag=input.etag, location_id=optional_id(input.location_id, "locationId"),
            )
        return PartInventoryPayload(part_inventory=as_node(PartInventoryType, record))

    @strawberry.mutation(permission_classes=needs(P.INSTALL_PART_INVENTORY), description="The root of a unit's aBOM trace (returns the existing one if any).")
    def create_abom_for_part_inventory(self, info: Info, id: strawberry.ID, etag: str) -> AbomItemPayload | None:
        with info.context.uow() as uow:
            item = runs.create_abom_for_part_inventory(uow, id=parse_id(id), etag=etag)
        return AbomItemPayload(abom_item=as_node(AbomItemType, item))

    @strawberry.mutation(permission_classes=needs(P.INSTALL_PART_INVENTORY),
        description="A root's traced quantity, or a smaller installed quantity (the rest is uninstalled "
        "into a PARTIAL_UNINSTALL stock record)."
    )
    def update_abom_item(self, info: Info, input: UpdateAbomItemInput) -> AbomItemPayload | None:
        with info.context.uow() as uow:
            item = runs.update_abom_item(uow, parse_id(input.id), input.etag, input_changes(input))
        return AbomItemPayload(abom_item=as_node(AbomItemType, item))


def _run_kit(info: Info, result: runs.RunKitResult) -> RunKitPayload:
    from kitwright.api.kits import KitShortageType, PartKitItemType, PartKitType
    from kitwright.store.models import PartKitItem

    ctx = info.context
    shortages = result.fulfilment.shortages if result.fulfilment else []
    return RunKitPayload(
        part_kit=as_node(PartKitType, result.kit),
        shortages=[
            KitShortageType(
                part_kit_item=as_node(PartKitItemType, ctx.loader(PartKitItem).get(s.item_id)),
                part=as_node(PartType, ctx.loader(Part).get(s.part_id)),
                quantity=s.quantity,
            )
            for s in shortages
        ],
    )
