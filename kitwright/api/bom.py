"""The mBOM over GraphQL in ION's names: mBOM items, reference designators, the bulk depth /
level upload and a part's whole tree (docs/runs.md)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.authorization import needs
from kitwright.api.context import Context, GroupLoader, Info
from kitwright.api.inventory import DeletePayload
from kitwright.api.lists import connection_field
from kitwright.api.nodes import as_node, as_nodes
from kitwright.api.parts import PartType
from kitwright.api.relay import (
    DateTimeFilter,
    DecimalFilter,
    IDFilter,
    input_changes,
    sort_enum,
)
from kitwright.api.scalars import DecimalScalar, parse_id
from kitwright.domain import bom as rules
from kitwright.domain.errors import BadInput
from kitwright.security.permissions import P
from kitwright.services import bom
from kitwright.store.models import MbomItem, MbomItemReferenceDesignator, Part


class _RefdesLoaderKey:
    """The key of this request's reference-designator loader in `Context.loaders`."""


def _refdes_loader(context: Context) -> GroupLoader[MbomItemReferenceDesignator]:
    found = context.loaders.get(_RefdesLoaderKey)
    if not isinstance(found, GroupLoader):
        found = GroupLoader(context.session, MbomItemReferenceDesignator, MbomItemReferenceDesignator.mbom_item_id)
        context.loaders[_RefdesLoaderKey] = found
    loader: GroupLoader[MbomItemReferenceDesignator] = found
    return loader


@strawberry.type(name="MbomItemReferenceDesignator", description="Where on the assembly an mBOM line goes.")
class ReferenceDesignatorType:
    id: strawberry.ID
    mbom_item_id: strawberry.ID
    value: str

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[MbomItemReferenceDesignator]) -> str:
        return root.etag


@strawberry.type(name="MbomItem", description="One mBOM line: quantity of part per one parent (assembly).")
class MbomItemType:
    id: strawberry.ID
    part_id: strawberry.ID = strawberry.field(description="The component.")
    parent_id: strawberry.ID = strawberry.field(description="The assembly.")
    quantity: DecimalScalar
    made_on_assembly: bool
    substitutes: str | None
    created_at: datetime

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[MbomItem]) -> str:
        return root.etag

    @strawberry.field
    def part(self, root: strawberry.Parent[MbomItem], info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(root.part_id))

    @strawberry.field
    def parent(self, root: strawberry.Parent[MbomItem], info: Info) -> PartType:
        return as_node(PartType, info.context.loader(Part).get(root.parent_id))

    @strawberry.field
    def reference_designators(self, root: strawberry.Parent[MbomItem], info: Info) -> list[ReferenceDesignatorType]:
        loader = _refdes_loader(info.context)
        loader.want(info.context.loader(MbomItem).cache.keys())
        return as_nodes(ReferenceDesignatorType, loader.get(root.id))


@strawberry.type(name="MbomTreeLine", description="One line of a part's mBOM tree.")
class MbomTreeLineType:
    depth: int = strawberry.field(description="1 = a direct component.")
    path: str = strawberry.field(description="mBOM item ids from the top, e.g. 3/17/42.")
    quantity: DecimalScalar = strawberry.field(description="Per one parent.")
    total_quantity: DecimalScalar = strawberry.field(description="Per one top assembly.")
    mbom_item: MbomItemType
    part: PartType


@strawberry.input
class MbomItemsInputFilters:
    id: IDFilter | None = UNSET
    part_id: IDFilter | None = UNSET
    parent_id: IDFilter | None = UNSET
    quantity: DecimalFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET


MbomItemSortEnum = sort_enum("MbomItemSortEnum", bom.MBOM_SORTS)


@strawberry.input(name="CreateMBomItemInput")
class CreateMbomItemInput:
    part_id: strawberry.ID = strawberry.field(description="The component.")
    parent_id: strawberry.ID = strawberry.field(description="The assembly.")
    quantity: DecimalScalar | None = strawberry.field(default=None, description="Default 1.")
    made_on_assembly: bool = False
    substitutes: str | None = None


@strawberry.input(name="UpdateMBomItemInput")
class UpdateMbomItemInput:
    id: strawberry.ID
    etag: str
    quantity: DecimalScalar | None = UNSET
    made_on_assembly: bool | None = UNSET
    substitutes: str | None = UNSET


@strawberry.input(name="CreateMBomItemReferenceDesignatorInput")
class CreateReferenceDesignatorInput:
    mbom_item_id: strawberry.ID
    value: str


@strawberry.enum(name="MBomImporterType", description="How rows place parts: by depth or by level.")
class ImporterType(enum.Enum):
    DEPTH = "DEPTH"
    LEVEL = "LEVEL"


@strawberry.input(name="MBomDepthInput", description="0 = the top assembly, 1 its components, …")
class DepthInput:
    depth: int
    part_number: str
    revision: str | None = ""
    quantity: DecimalScalar | None = strawberry.field(default=None, description="Default 1.")
    substitutes: str | None = None
    made_on_assembly: bool = False


@strawberry.input(name="MBomLevelInput", description='"1" = the top assembly, "1.1" its component, …')
class LevelInput:
    level: str
    part_number: str
    revision: str | None = ""
    quantity: DecimalScalar | None = strawberry.field(default=None, description="Default 1.")
    substitutes: str | None = None
    made_on_assembly: bool = False


@strawberry.input(name="CreateOrUpdateMultipleMBomsNotationInput")
class CreateOrUpdateMultipleInput:
    importer_type: ImporterType
    depth_inputs: list[DepthInput] | None = None
    level_inputs: list[LevelInput] | None = None


@strawberry.type(name="MBomRowError")
class RowErrorType:
    row_id: int = strawberry.field(description="1-based position of the row in its input list.")
    error_msg: str


@strawberry.type
class CreateOrUpdateMultipleMbomsPayload:
    error_messages: list[RowErrorType] = strawberry.field(
        description="Every problem of every row; when any, nothing was written."
    )
    new_mbom_row_ids: list[int] = strawberry.field(description="mBOM items created or updated, in row order.")


@strawberry.type
class MbomItemPayload:
    mbom_item: MbomItemType


@strawberry.type
class ReferenceDesignatorPayload:
    mbom_item_reference_designator: ReferenceDesignatorType


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_RUNS))
    def mbom_item(self, info: Info, id: strawberry.ID) -> MbomItemType:
        from kitwright.services.uow import get

        return as_node(MbomItemType, get(info.context.session, MbomItem, parse_id(id)))

    mbom_items = connection_field(
        MbomItemType, bom.list_mbom_items, filters=MbomItemsInputFilters, sort=MbomItemSortEnum
    , permission_classes=needs(P.VIEW_RUNS))

    @strawberry.field(permission_classes=needs(P.VIEW_RUNS), description="A part's whole mBOM to any depth (one recursive query).")
    def mbom_tree(self, info: Info, part_id: strawberry.ID) -> list[MbomTreeLineType]:
        session = info.context.session
        from kitwright.services.uow import get

        part = get(session, Part, parse_id(part_id, field="partId"), field="partId")
        lines = bom.mbom_tree(session, part.id)
        items = info.context.loader(MbomItem)
        items.want(line.mbom_item_id for line in lines)
        info.context.loader(Part).want(line.part_id for line in lines)
        return [
            MbomTreeLineType(
                depth=line.depth, path=line.path, quantity=line.quantity, total_quantity=line.total_quantity,
                mbom_item=as_node(MbomItemType, items.get(line.mbom_item_id)),
                part=as_node(PartType, info.context.loader(Part).get(line.part_id)),
            )
            for line in lines
        ]


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS), description="Add a component to an assembly; a cycle is refused.")
    def create_mbom_item(self, info: Info, input: CreateMbomItemInput) -> MbomItemPayload | None:
        with info.context.uow() as uow:
            item = bom.create_mbom_item(
                uow, part_id=parse_id(input.part_id, field="partId"),
                parent_id=parse_id(input.parent_id, field="parentId"),
                quantity=Decimal(1) if input.quantity is None else input.quantity,
                made_on_assembly=input.made_on_assembly, substitutes=input.substitutes,
            )
        return MbomItemPayload(mbom_item=as_node(MbomItemType, item))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS))
    def update_mbom_item(self, info: Info, input: UpdateMbomItemInput) -> MbomItemPayload | None:
        with info.context.uow() as uow:
            item = bom.update_mbom_item(uow, parse_id(input.id), input.etag, input_changes(input))
        return MbomItemPayload(mbom_item=as_node(MbomItemType, item))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS), description="Runs already created keep their requirements.")
    def delete_mbom_item(self, info: Info, id: strawberry.ID, etag: str) -> DeletePayload | None:
        with info.context.uow() as uow:
            deleted = bom.delete_mbom_item(uow, parse_id(id), etag)
        return DeletePayload(id=strawberry.ID(str(deleted)))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS))
    def create_mbom_item_reference_designator(
        self, info: Info, input: CreateReferenceDesignatorInput
    ) -> ReferenceDesignatorPayload | None:
        with info.context.uow() as uow:
            row = bom.create_reference_designator(
                uow, mbom_item_id=parse_id(input.mbom_item_id, field="mbomItemId"), value=input.value
            )
        return ReferenceDesignatorPayload(mbom_item_reference_designator=as_node(ReferenceDesignatorType, row))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS))
    def delete_mbom_item_reference_designator(self, info: Info, id: strawberry.ID, etag: str) -> DeletePayload | None:
        with info.context.uow() as uow:
            deleted = bom.delete_reference_designator(uow, parse_id(id), etag)
        return DeletePayload(id=strawberry.ID(str(deleted)))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RUNS),
        description="Create or update many mBOM lines from depth or level rows: all or nothing; "
        "row problems come back in errorMessages."
    )
    def create_or_update_multiple_mboms(
        self, info: Info, input: CreateOrUpdateMultipleInput
    ) -> CreateOrUpdateMultipleMbomsPayload | None:
        notation = rules.Notation(input.importer_type.value)
        source: list[DepthInput | LevelInput] = list(
            (input.depth_inputs or []) if notation is rules.Notation.DEPTH else (input.level_inputs or [])
        )
        if not source:
            raise BadInput(f"no {notation.value.lower()}Inputs rows given",
                           field="depthInputs" if notation is rules.Notation.DEPTH else "levelInputs")
        rows = [
            rules.BomRow(
                row_id=i, position=str(r.depth if isinstance(r, DepthInput) else r.level),
                part=(r.part_number.strip(), (r.revision or "").strip()), quantity=Decimal(1) if r.quantity is None else Decimal(r.quantity),
                made_on_assembly=r.made_on_assembly, substitutes=r.substitutes or None,
            )
            for i, r in enumerate(source, start=1)
        ]
        with info.context.uow() as uow:
            result = bom.create_or_update_multiple(uow, notation, rows)
        return CreateOrUpdateMultipleMbomsPayload(
            error_messages=[
                RowErrorType(row_id=p.row or 0, error_msg=(f"{p.column}: " if p.column else "") + p.message)
                for p in result.errors
            ],
            new_mbom_row_ids=result.mbom_item_ids,
        )
