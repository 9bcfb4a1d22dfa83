"""Shorter paths through the GraphQL executor for the fields a page is made of.

A page of 50 records resolves 556 fields, and the executor's cost per field was larger than
the database's cost for the whole page (docs/architecture.md, "GraphQL execution"):

- **Plain leaf fields**, an attribute of a row shown as a scalar or an enum (`id`, `quantity`,
  `lotNumber`: 400 of the 556), read the attribute and coerce it, which is what the executor's
  layers of resolve info, resolver and completion amount to (`ShortcutExecutionContext`).
- **Simple resolvers**, which take only the row and the request's info (`part`, `location`,
  `status`), are called directly (`call_simple_resolvers`), without Strawberry's per-call
  argument conversion and extension chain, which they have no use for.

Anything else (arguments, permissions, field extensions, async resolvers, middleware, a null
or a value that does not coerce) takes the executor's own path, which also reports every
error exactly as before.
"""

from __future__ import annotations

import threading
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField


class _Leaf:
    """How to answer one plain leaf field: the attribute to read and the type to coerce to."""

    __slots__ = ("attribute", "leaf", "read")

    def __init__(self, attribute: str, leaf: GraphQLLeafType, read: Any) -> None:
        self.attribute = attribute
        self.leaf = leaf
        self.read = read


_NOT_PLAIN = object()
_LOCK = threading.Lock()
# id(field) -> (field, its _Leaf or _NOT_PLAIN); the field is kept so its id is not reused.
_PLANS: dict[int, tuple[GraphQLField, Any]] = {}


def _plan(field: GraphQLField) -> Any:
    found = _PLANS.get(id(field))
    if found is not None and found[0] is field:
        return found[1]
    plan: Any = _NOT_PLAIN
    definition = (field.extensions or {}).get("strawberry-definition")
    field_type = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if (
        isinstance(definition, StrawberryField)
        and definition.is_basic_field  # no resolver, no field extension, no permission
        and not field.args
        and getattr(field.resolve, "_is_default", False)
        and is_leaf_type(field_type)
    ):
        plan = _Leaf(definition.python_name, field_type, definition.default_resolver)
    with _LOCK:
        _PLANS[id(field)] = (field, plan)
    return plan


class ShortcutExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry always passes a middleware manager; it wraps nothing without middleware.
        manager = self.middleware_manager
        self.plain_leaves = manager is None or not manager.middlewares

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        if field is not None and self.plain_leaves:
            plan = _plan(field)
            if plan is not _NOT_PLAIN:
                try:
                    value = plan.read(source, plan.attribute)
                    if value is not None:
                        coerced = plan.leaf.coerce_output_value(value)
                        if coerced is not None and coerced is not Undefined:
                            return coerced
                    elif not isinstance(field.type, GraphQLNonNull):
                        return None
                except Exception:
                    pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)


def call_simple_resolvers(schema: GraphQLSchema, info_class: type[Any]) -> int:
    """Give every field whose resolver takes only the row and the info a resolve function that
    calls it directly; returns how many fields were given one."""
    count = 0
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        if named in (schema.query_type, schema.mutation_type, schema.subscription_type):
            continue  # root fields carry the request-wide checks (api.root_fields)
        for field in named.fields.values():
            direct = _direct_resolver(field, info_class)
            if direct is not None:
                field.resolve = direct
                count += 1
    return count


def _direct_resolver(field: GraphQLField, info_class: type[Any]) -> Any:
    definition = (field.extensions or {}).get("strawberry-definition")
    if not isinstance(definition, StrawberryField) or field.args or definition.extensions:
        return None
    resolver = definition.base_resolver
    if resolver is None or resolver.is_async or resolver.arguments:
        return None
    func: Any = resolver.wrapped_func
    if not callable(func):
        return None
    takes_self = resolver.self_parameter is not None
    source_names = [p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p is not None]
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None

    def direct(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        kwargs = dict.fromkeys(source_names, source)
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=definition)
        return func(source, **kwargs) if takes_self else func(**kwargs)

    return direct
