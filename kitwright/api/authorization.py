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

from collections.abc import Callable
from functools import cache
from typing import Any

from graphql import GraphQLField, GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.types import Info
from strawberry.types.field import StrawberryField

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
    def resolve(
        self, _next: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], *args: Any, **kwargs: Any
    ) -> Any:
        if info.path.prev is None:  # a root field: Query.x or Mutation.x
            context = info.context
            authorize_root_field(
                context.actor, info.field_name, info.parent_type.fields.get(info.field_name),
                introspection=getattr(context, "introspection", True),
            )
        return _next(root, info, *args, **kwargs)
