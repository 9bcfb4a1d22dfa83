"""Shorter paths through the GraphQL executor for the fields a page is made of.

A page of 50 records resolves 556 fields, and the executor's cost per field was larger than
the database's cost for the whole page (docs/architecture.md, "GraphQL execution"):

- **Plain leaf fields**, an attribute of a row shown as a scalar or an enum (`id`, `quantity`,
  `lotNumber`: 400 of the 556), read the attribute and coerce it, which is what the executor's
  layers of resolve info, resolver and completion amount to (`ShortcutExecutionContext`).
- **Simple resolvers**, which take only the row and the request's info (`part`, `location`,
  `status`), are called directly (`call_simple_resolvers`), without Strawberry's per-call
  argument conversion and extension chain, which they have no use for.
- **Whole objects** whose selection holds only such fields, all the way down, are completed
  by one plan per selection (`_compiled`), built once per request.

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
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.executor import to_nodes
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
        # (object type, id of its field details) -> (the details, kept alive; the plan or None)
        self.compiled: dict[tuple[Any, int], tuple[FieldDetailsList, _Object | None]] = {}

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

    # -- whole objects whose every field is plain -------------------------------------------

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if self.plain_leaves:
            compiled = self._compiled(return_type, field_details_list)
            if compiled is not None:
                try:
                    return self._complete(compiled, result, path)
                except Exception:  # the executor's own path reports it
                    pass
        return super().collect_and_execute_subfields(return_type, field_details_list, path, result,
                                                     position_context)

    def _compiled(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> _Object | None:
        """The plan of an object's selection if every field in it, all the way down, is plain
        (a leaf attribute, `__typename`, an object or a list reached by an attribute or a
        simple resolver); None otherwise. Memoized per request, like the executor's own
        collected fields."""
        cache = self.compiled
        key = (object_type, id(field_details_list))
        found = cache.get(key)
        if found is not None:
            return found[1]
        cache[key] = (field_details_list, None)  # a cycle through this object is not compiled
        compiled = self._compile(object_type, field_details_list)
        cache[key] = (field_details_list, compiled)
        return compiled

    def _compile(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> _Object | None:
        if object_type.is_type_of is not None:
            return None
        grouped, defers, _forbidden = self.collect_subfields(object_type, field_details_list)
        if defers:
            return None
        entries: list[_Entry] = []
        for response_name, details in grouped.items():
            node = details[0].node
            if node.name.value == "__typename":
                entries.append(_Entry(response_name, _TYPENAME, object_type.name))
                continue
            field = self.schema.get_field(object_type, node.name.value)
            if field is None or field.args or node.arguments:
                return None
            entry = self._entry(object_type, response_name, field, details)
            if entry is None:
                return None
            entries.append(entry)
        return _Object(object_type, entries)

    def _entry(self, parent: GraphQLObjectType, response_name: str, field: GraphQLField,
               details: FieldDetailsList) -> _Entry | None:
        resolve = field.resolve
        leaf = _plan(field)
        if leaf is not _NOT_PLAIN:
            return _Entry(response_name, _LEAF, leaf, non_null=isinstance(field.type, GraphQLNonNull))
        if not (getattr(resolve, "_is_default", False) or getattr(resolve, "_kitwright_direct", False)):
            return None
        non_null = isinstance(field.type, GraphQLNonNull)
        inner: Any = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        is_list = isinstance(inner, GraphQLList)
        item_non_null = False
        if isinstance(inner, GraphQLList):
            inner = inner.of_type
            item_non_null = isinstance(inner, GraphQLNonNull)
            inner = inner.of_type if isinstance(inner, GraphQLNonNull) else inner
        if isinstance(inner, GraphQLObjectType):
            sub = self._compiled(inner, details)
            if sub is None:
                return None
            item: Any = sub
        elif is_leaf_type(inner):
            item = inner
        else:
            return None
        kind = _LIST if is_list else (_OBJECT if isinstance(item, _Object) else _VALUE)
        by_key = getattr(resolve, "_kitwright_by_key", None)
        if by_key is not None and kind is _OBJECT:
            # the row a foreign key names, from the request's loader (api.context.by_key)
            return _Entry(response_name, _BY_KEY, item, non_null=non_null, by_key=by_key)
        # Strawberry's resolver of a field without one reads the attribute and ignores the
        # info, and so does a direct resolver whose function takes none: neither gets one built.
        definition = (field.extensions or {}).get("strawberry-definition")
        basic = isinstance(definition, StrawberryField) and definition.is_basic_field and \
            getattr(resolve, "_is_default", False)
        takes_info = not basic and getattr(resolve, "_kitwright_takes_info", True)
        return _Entry(response_name, kind, item, non_null=non_null, item_non_null=item_non_null, resolve=resolve,
                      field=field, parent=parent, nodes=to_nodes(details) if takes_info else None)

    def _complete(self, compiled: _Object, source: Any, path: Path | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for entry in compiled.entries:
            kind = entry.kind
            if kind is _LEAF:
                leaf = entry.item
                value = leaf.read(source, leaf.attribute)
                if value is None:
                    if entry.non_null:
                        raise _Fallback
                    out[entry.name] = None
                    continue
                coerced = leaf.leaf.coerce_output_value(value)
                if coerced is None or coerced is Undefined:
                    raise _Fallback
                out[entry.name] = coerced
            elif kind is _TYPENAME:
                out[entry.name] = entry.item
            elif kind is _BY_KEY:
                model, key = entry.by_key
                value = self.context_value.loader(model).get(getattr(source, key))
                if value is None:
                    if entry.non_null:
                        raise _Fallback
                    out[entry.name] = None
                else:
                    out[entry.name] = self._complete(entry.item, value, Path(path, entry.name, compiled.type.name))
            else:
                field_path = Path(path, entry.name, compiled.type.name)
                nodes = entry.nodes
                info = None if nodes is None else self.build_resolve_info(entry.field, nodes, entry.parent, field_path)
                value = entry.resolve(source, info)
                if self.is_awaitable(value):
                    raise _Fallback
                if value is None:
                    if entry.non_null:
                        raise _Fallback
                    out[entry.name] = None
                elif kind is _OBJECT:
                    out[entry.name] = self._complete(entry.item, value, field_path)
                elif kind is _VALUE:
                    coerced = entry.item.coerce_output_value(value)
                    if coerced is None or coerced is Undefined:
                        raise _Fallback
                    out[entry.name] = coerced
                else:
                    out[entry.name] = self._complete_list(entry, value, field_path)
        return out

    def _complete_list(self, entry: _Entry, values: Any, path: Path) -> list[Any]:
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise _Fallback
        items: list[Any] = []
        item = entry.item
        for index, value in enumerate(values):
            if value is None:
                if entry.item_non_null:
                    raise _Fallback
                items.append(None)
            elif isinstance(item, _Object):
                items.append(self._complete(item, value, Path(path, index, None)))
            else:
                coerced = item.coerce_output_value(value)
                if coerced is None or coerced is Undefined:
                    raise _Fallback
                items.append(coerced)
        return items


class _Fallback(Exception):
    """Not an error: this object takes the executor's own path."""


_LEAF, _TYPENAME, _VALUE, _OBJECT, _LIST, _BY_KEY = "leaf", "typename", "value", "object", "list", "by key"


class _Object:
    __slots__ = ("entries", "type")

    def __init__(self, type_: GraphQLObjectType, entries: list[_Entry]) -> None:
        self.type = type_
        self.entries = entries


class _Entry:
    __slots__ = ("by_key", "field", "item", "item_non_null", "kind", "name", "nodes", "non_null", "parent", "resolve")

    # field and parent are set for entries that call a resolver (object, list, value), nodes
    # (the field's nodes in the query) for those whose resolver takes the info, and by_key
    # (model, attribute) for a row read by key instead of calling its resolver
    def __init__(self, name: str, kind: str, item: Any, *, non_null: bool = False, item_non_null: bool = False,
                 resolve: Any = None, field: Any = None, parent: Any = None, nodes: list[Any] | None = None,
                 by_key: tuple[Any, str] | None = None) -> None:
        self.name = name
        self.kind = kind
        self.item = item
        self.non_null = non_null
        self.item_non_null = item_non_null
        self.resolve = resolve
        self.field = field
        self.parent = parent
        self.nodes = nodes
        self.by_key: tuple[Any, str] = by_key or (None, "")


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

    direct._kitwright_direct = True  # type: ignore[attr-defined]  # compiled subtrees may call it
    direct._kitwright_takes_info = info_name is not None  # type: ignore[attr-defined]
    direct._kitwright_by_key = getattr(func, "_kitwright_by_key", None)  # type: ignore[attr-defined]
    return direct
