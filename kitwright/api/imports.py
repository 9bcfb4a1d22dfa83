"""Imports over GraphQL: `importKitItems(file: Upload!, dryRun: Boolean)` and
`importPlant(kind: PlantImportKind!, file: Upload!, dryRun: Boolean)` (docs/importers.md).

The file arrives by the GraphQL multipart request convention (api.uploads); the service does
the rest. On any problem the error's `extensions.details` lists every `{row, column, message}`.
"""

from __future__ import annotations

import enum
from typing import IO, Any

import strawberry
from sqlalchemy import select
from strawberry.file_uploads import Upload

from kitwright.api.authorization import needs
from kitwright.api.context import Info
from kitwright.api.kits import PartKitType
from kitwright.domain.errors import BadInput
from kitwright.security.permissions import P
from kitwright.services.import_kit_items import import_kit_items
from kitwright.services.plant_import import LOADERS
from kitwright.store.models import PartKit


def upload_file(value: Any, field: str = "file") -> tuple[IO[bytes], str | None]:
    """The uploaded file's byte stream and name, or BadInput when no file was sent."""
    stream = getattr(value, "file", None)
    if stream is None or not hasattr(stream, "read"):
        raise BadInput(
            "send the file as a multipart upload (the GraphQL multipart request convention)",
            field=field,
        )
    return stream, getattr(value, "filename", None)


@strawberry.type(description="What an import changed (or, with dryRun, would change).")
class KitItemImportPayload:
    count: int = strawberry.field(description="Rows imported: items created plus items updated.")
    created_count: int
    updated_count: int
    dry_run: bool
    part_kits: list[PartKitType] = strawberry.field(description="The kits the import touched.")


@strawberry.enum(name="PlantImportKind", description="What a plant-loading file holds.")
class PlantImportKind(enum.Enum):
    SUPPLIERS = "suppliers"
    LOCATIONS = "locations"
    PARTS = "parts"
    PART_INVENTORY = "part-inventory"


@strawberry.type(description="What a plant-loading import changed (or, with dryRun, would change).")
class PlantImportPayload:
    kind: str
    count: int = strawberry.field(description="Rows imported: objects created plus objects updated.")
    created_count: int
    updated_count: int
    dry_run: bool
    ids: list[strawberry.ID] = strawberry.field(
        description="The ids created or updated, in that order (empty on a dry run).")


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.IMPORT_KIT_ITEMS),
        description=(
            "Create or update kit items from a CSV or XLSX file with the columns kit_id, "
            "part_number, revision (blank: latest), quantity. All or nothing: on any problem "
            "nothing changes and extensions.details lists every {row, column, message}. "
            "dryRun checks without writing."
        )
    )
    def import_kit_items(
        self, info: Info, file: Upload, dry_run: bool | None = False
    ) -> KitItemImportPayload | None:
        stream, filename = upload_file(file)
        with info.context.uow() as uow:
            result = import_kit_items(uow, stream, filename=filename, dry_run=bool(dry_run))
        kits: list[Any] = []
        if result.part_kit_ids:
            kits = list(info.context.session.scalars(
                select(PartKit).where(PartKit.id.in_(result.part_kit_ids)).order_by(PartKit.id)
            ))
        return KitItemImportPayload(
            count=result.count, created_count=result.created_count,
            updated_count=result.updated_count, dry_run=result.dry_run, part_kits=kits,
        )

    @strawberry.mutation(permission_classes=needs(P.CREATE_PART_INVENTORY),
        description=(
            "Plant loading: create (or update) suppliers, locations, parts with their mBOM lines, "
            "or part inventory from a CSV or XLSX file; the columns of each kind are in "
            "docs/importers.md. All or nothing: on any problem nothing changes and "
            "extensions.details lists every {row, column, message}. dryRun checks without writing."
        )
    )
    def import_plant(
        self, info: Info, kind: PlantImportKind, file: Upload, dry_run: bool | None = False
    ) -> PlantImportPayload | None:
        stream, filename = upload_file(file)
        with info.context.uow() as uow:
            result = LOADERS[kind.value](uow, stream, filename=filename, dry_run=bool(dry_run))
        return PlantImportPayload(
            kind=result.kind, count=result.count, created_count=result.created_count,
            updated_count=result.updated_count, dry_run=result.dry_run,
            ids=[strawberry.ID(str(i)) for i in result.ids],
        )
