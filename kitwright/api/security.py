"""Who am I (`me`) and the audit trail (`auditEntries`, admins: ViewAudit)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.authorization import needs
from kitwright.api.context import Info
from kitwright.api.lists import connection_field
from kitwright.api.relay import (
    DateTimeFilter,
    IDFilter,
    StringFilter,
    sort_enum,
)
from kitwright.api.scalars import JSONObject
from kitwright.security.permissions import P
from kitwright.services import audit
from kitwright.store.models import AuditEntry


@strawberry.type(name="PermissionGroup", description="ION's name for one permission: what `me { permissionGroups "
                 "{ name } }` lists (e.g. CreatePartInventory).")
class PermissionGroupType:
    name: str


@strawberry.type(name="CurrentActor", description="The user (or API key of a user) making this request.")
class CurrentActorType:
    id: strawberry.ID | None
    name: str = strawberry.field(description='"alice", or "alice via key kwk_…" for an API key.')
    role: str | None
    permissions: list[str] = strawberry.field(description="Permissions in force for this request.")
    api_key_id: strawberry.ID | None

    @strawberry.field(description="The permissions in force, as ION's permission groups: ION scripts "
                      "test `'CreatePartInventory' in {g.name for g in permissionGroups}`.")
    def permission_groups(self) -> list[PermissionGroupType]:
        return [PermissionGroupType(name=name) for name in self.permissions]


@strawberry.type(name="AuditEntry", description="One immutable change of a user, API key, kit, kit item, "
                 "rule, run, part or location, naming who made it.")
class AuditEntryType:
    id: strawberry.ID
    at: datetime
    actor_id: strawberry.ID | None
    actor: str
    action: str = strawberry.field(description="CREATE, UPDATE or DELETE.")
    target_type: str = strawberry.field(description="User, ApiKey, PartKit, PartKitItem, Rule, Run, Part, Location.")
    target_id: strawberry.ID | None

    @strawberry.field(description="Fields set (CREATE, DELETE) or [before, after] per changed field (UPDATE); "
                      "secrets are never shown.")
    def changes(self, root: strawberry.Parent[AuditEntry]) -> JSONObject:
        return JSONObject(root.changes or {})


@strawberry.input
class AuditEntriesInputFilters:
    id: IDFilter | None = UNSET
    actor_id: IDFilter | None = UNSET
    actor: StringFilter | None = UNSET
    action: StringFilter | None = UNSET
    target_type: StringFilter | None = UNSET
    target_id: IDFilter | None = UNSET
    at: DateTimeFilter | None = UNSET


AuditEntrySortEnum = sort_enum("AuditEntrySortEnum", audit.AUDIT_SORTS)


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_SELF), description="Who is making this request, and with which rights.")
    def me(self, info: Info) -> CurrentActorType:
        actor = info.context.actor
        return CurrentActorType(
            id=strawberry.ID(str(actor.id)) if actor.id is not None else None,
            name=actor.name, role=actor.role, permissions=sorted(actor.permissions),
            api_key_id=strawberry.ID(str(actor.api_key_id)) if actor.api_key_id is not None else None,
        )

    audit_entries = connection_field(
        AuditEntryType, audit.list_audit_entries, filters=AuditEntriesInputFilters, sort=AuditEntrySortEnum,
        description="The audit trail of users, keys, kits, rules, runs, parts and locations (ViewAudit).",
        permission_classes=needs(P.VIEW_AUDIT),
    )
