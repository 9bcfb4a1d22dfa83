"""Authorization of every GraphQL operation: each field declares the permission it needs.

A root field (of Query or Mutation) names its permission where it is declared, as
`@strawberry.field(permission_classes=needs(P.VIEW_KITS))`; a nested field that leads into
data guarded by another permission may declare one the same way. `Needs` checks it before the
resolver runs (FORBIDDEN naming the field, UNAUTHENTICATED without an actor), so nothing is
read or written when refused.

`Authorization` keeps the rules no field can forget: an anonymous caller is refused every root
field, introspection (`__schema`, `__type`) is refused when the deployment turns it off, and a
root field that declares no permission is for admins only (deny by default).
tests/security/test_permissions.py walks the schema: every root field declares a permission,
and no nested path reveals a type its root's permission does not (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLResolveInfo,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from kitwright.api.root_fields import check_root_fields
from kitwright.domain.errors import BadInput, Forbidden, Unauthenticated
from kitwright.security.permissions import ADMIN_ROLE, Permission, allowed
from kitwright.services.actor import Actor

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
SIGN_IN = "sign in or send Authorization: Bearer <token>"


class Needs(BasePermission):
    """The field needs `permission`; admins hold every permission."""

    permission: Permission

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        check(info.context.actor, info.field_name, self.permission)
        return True


@cache
def _needs_class(permission: Permission) -> type[Needs]:
    return type(f"Needs{permission.value}", (Needs,), {"permission": permission})


def needs(permission: Permission) -> list[type[BasePermission]]:
    """`permission_classes` for a field that needs `permission`."""
    return [_needs_class(permission)]


# id(field) -> (field, what it declares): root fields are looked up on every request; the field
# is kept so its id cannot be reused by another.
_DECLARED: dict[int, tuple[GraphQLField, Permission | None]] = {}


def declared_permission(field: GraphQLField) -> Permission | None:
    """The permission a field declares with `needs`, or None."""
    known = _DECLARED.get(id(field))
    if known is not None and known[0] is field:
        return known[1]
    found = _declared(field)
    _DECLARED[id(field)] = (field, found)
    return found


def _declared(field: GraphQLField) -> Permission | None:
    definition = (field.extensions or {}).get("strawberry-definition")
    if not isinstance(definition, StrawberryField):
        return None
    for permission_class in definition.permission_classes:
        permission = getattr(permission_class, "permission", None)
        if isinstance(permission, Permission):
            return permission
    return None


def check(actor: Actor, field_name: str, needed: Permission | None) -> None:
    """Raise unless `actor` holds `needed` (None: only an admin may)."""
    if not actor.authenticated:
        raise Unauthenticated(SIGN_IN)
    if not allowed(actor.role, actor.permissions, needed):
        what = f"the {needed} permission" if needed else "an admin (the field declares no permission)"
        raise Forbidden(f"{field_name} needs {what}; {actor.name} has role {actor.role}", field=field_name)


def authorize_root_field(actor: Actor, field_name: str, field: GraphQLField | None, *,
                         introspection: bool = True) -> None:
    """The checks every root field gets before its own `Needs`: sign-in, introspection, and
    admin-only for a field that declares no permission."""
    if field_name == "__typename":
        return
    if not actor.authenticated:
        raise Unauthenticated(SIGN_IN)
    if field_name in INTROSPECTION_FIELDS:
        if not introspection:
            raise BadInput("introspection is disabled on this server", field=field_name)
        return
    if actor.role != ADMIN_ROLE and (field is None or declared_permission(field) is None):
        check(actor, field_name, None)


class Authorization(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        check_root_fields(context.schema._schema, "authorization", _authorize_root_field)
        document = context.graphql_document
        if document is not None:
            for name in root_field_names(document, context.operation_name):
                if name in INTROSPECTION_FIELDS:  # not fields of Query: no resolver to wrap
                    authorize_root_field(context.context.actor, name, None,
                                         introspection=getattr(context.context, "introspection", True))
        yield


def _authorize_root_field(info: GraphQLResolveInfo[Any]) -> None:
    authorize_root_field(info.context.actor, info.field_name, info.parent_type.fields.get(info.field_name),
                         introspection=getattr(info.context, "introspection", True))


def root_field_names(document: DocumentNode, operation_name: str | None) -> set[str]:
    """The names of the root fields the operation selects, through fragments at the root."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    names: set[str] = set()
    seen: set[str] = set()

    def walk(selections: SelectionSetNode) -> None:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    walk(fragment.selection_set)

    for operation in chosen[:1] if operation_name is None else chosen:
        walk(operation.selection_set)
    return names
