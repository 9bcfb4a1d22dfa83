"""Authorization of every GraphQL operation, in one place.

`Authorization` runs before the resolver of each root field (a field of Query or Mutation):
the request's actor must hold the permission `security.permissions.ROOT_FIELD_PERMISSIONS`
names for it. Unmapped fields are refused to everyone but admins (deny by default). A refused
field answers FORBIDDEN (UNAUTHENTICATED without an actor) and its resolver never runs, so
nothing is written. Introspection (`__schema`, `__type`) is refused here too when the
deployment turns it off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from kitwright.domain.errors import BadInput, Forbidden, Unauthenticated
from kitwright.security.permissions import allowed, field_permission
from kitwright.services.actor import Actor

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def authorize_root_field(actor: Actor, field_name: str, *, introspection: bool = True) -> None:
    """Raise unless `actor` may call the root field `field_name`."""
    if field_name == "__typename":
        return
    if not actor.authenticated:
        raise Unauthenticated("sign in or send Authorization: Bearer <token>")
    if field_name in INTROSPECTION_FIELDS:
        if not introspection:
            raise BadInput("introspection is disabled on this server", field=field_name)
        return
    needed = field_permission(field_name)
    if not allowed(actor.role, actor.permissions, needed):
        what = f"the {needed} permission" if needed else "an admin (the field has no permission yet)"
        raise Forbidden(f"{field_name} needs {what}; {actor.name} has role {actor.role}", field=field_name)


class Authorization(SchemaExtension):
    def resolve(
        self, _next: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], *args: Any, **kwargs: Any
    ) -> Any:
        if info.path.prev is None:  # a root field: Query.x or Mutation.x
            context = info.context
            authorize_root_field(
                context.actor, info.field_name, introspection=getattr(context, "introspection", True)
            )
        return _next(root, info, *args, **kwargs)
