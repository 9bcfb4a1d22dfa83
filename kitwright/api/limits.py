"""Limits on one GraphQL request: its estimated cost, its running time, and the memory the
parse and validation caches may hold (docs/security.md).

- Cost: every field selected costs 1; a paged list (a field taking `first` / `last`) costs
  its page size times what each row selects (`first`, else `last`, else the default page of
  50); a paged field answering one object that is not a connection (kitAvailabilityChanges)
  costs its selection once, with its lists at the page size; any other list costs 10 rows
  times its selection. Nested lists multiply and
  aliases add, so `a1: …, a2: …` costs twice one. A query whose estimate is over the limit is
  refused before it runs.
- Time: each root field, and each batch of rows a query loads, checks the request's deadline;
  past it the request stops.
- Caches: parsed documents and validation results are kept by query text in one LRU bounded
  by the estimated bytes it holds, not by a count of entries.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    parse,
)
from graphql.type.definition import GraphQLInterfaceType, GraphQLType
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension

from kitwright.api.root_fields import check_root_fields
from kitwright.domain.errors import KitwrightError

DEFAULT_PAGE = 50
# A list that takes no page size (a kit's items, a figure's buckets, a part's components) is
# bounded by the data, not by the caller; it is estimated at this many rows.
UNPAGED_LIST = 10
DEFAULT_MAX_COST = 50_000
DEFAULT_CACHE_BYTES = 32 * 1024 * 1024


class TooSlow(KitwrightError):
    code = "TIMEOUT"


# -- cost ------------------------------------------------------------------------------------


def _unwrap(kind: GraphQLType) -> tuple[GraphQLType, bool]:
    is_list = False
    while isinstance(kind, (GraphQLNonNull, GraphQLList)):
        if isinstance(kind, GraphQLList):
            is_list = True
        kind = kind.of_type
    return kind, is_list


def _page_size(field: FieldNode, variables: dict[str, Any]) -> int | None:
    """`first`, else `last` of a paged field; None if it names neither."""
    values: dict[str, int | None] = {}
    for argument in field.arguments or ():
        name = argument.name.value
        if name not in ("first", "last"):
            continue
        node = argument.value
        value: object = None
        if isinstance(node, IntValueNode):
            value = int(node.value)
        elif isinstance(node, VariableNode):
            value = variables.get(node.name.value)
        values[name] = max(0, value) if isinstance(value, int) and not isinstance(value, bool) else None
    for name in ("first", "last"):
        if values.get(name) is not None:
            return values[name]
    return None


class _Estimator:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any], ceiling: int) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.ceiling = ceiling

    def selection(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType,
                  seen: frozenset[str] = frozenset(), page: int | None = None) -> int:
        """`page`: the page size of the paged field whose object this is (its lists hold the page)."""
        if selection_set is None:
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent, seen, page)
            elif isinstance(node, InlineFragmentNode):
                kind = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                total += self.selection(node.selection_set, kind or parent, seen, page)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # validation reports unknown and cyclic fragments
                kind = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selection(fragment.selection_set, kind or parent, seen | {name}, page)
            if total > self.ceiling:
                return total  # refused anyway; stop walking a huge document
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType, seen: frozenset[str],
              page: int | None = None) -> int:
        if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return 1
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 1  # __typename and introspection fields; validation handles the unknown
        kind, is_list = _unwrap(definition.type)
        paged = "first" in definition.args or "last" in definition.args
        if paged:
            size = _page_size(node, self.variables)
            rows = DEFAULT_PAGE if size is None else size
            if not is_list and isinstance(kind, GraphQLNamedType) and not kind.name.endswith("Connection"):
                # One object holding the page in its lists: the page multiplies those lists only.
                return 1 + self.selection(node.selection_set, kind, seen, page=rows)
        inner = self.selection(node.selection_set, kind, seen) if isinstance(kind, GraphQLNamedType) else 0
        if paged:
            pass  # rows is the page size
        elif is_list and parent.name.endswith("Connection") and node.name.value == "edges":
            rows = 1  # already counted by the paged field above
        elif is_list and page is not None:
            rows = page
        elif is_list:
            rows = UNPAGED_LIST
        else:
            rows = 1
        return 1 + rows * inner


def query_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
               variables: dict[str, Any] | None, ceiling: int = 10**12) -> int:
    """The estimated cost of the operation that would run (see the module's docstring)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    estimator = _Estimator(schema, fragments, variables or {}, ceiling)
    cost = 0
    for operation in operations[:1]:
        root = schema.get_root_type(operation.operation)
        if root is not None:
            cost += estimator.selection(operation.selection_set, root)
    return cost


class QueryCost(SchemaExtension):
    """Refuses an operation whose estimated cost is above `max_cost`, before it runs."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        limit = getattr(context.context, "max_query_cost", None) or DEFAULT_MAX_COST
        document = context.graphql_document
        if document is not None:
            cost = query_cost(context.schema._schema, document, context.operation_name, context.variables,
                              ceiling=limit)
            if cost > limit:
                raise GraphQLError(
                    f"the query is too costly: estimated cost {cost} is over the limit of {limit} "
                    f"(a list costs its page size, `first`/`last` or {DEFAULT_PAGE}, times what each row "
                    "selects; ask for smaller pages or fewer fields)",
                    extensions={"cost": cost, "maxCost": limit},
                )
        yield


class Deadline(SchemaExtension):
    """Stops a request that runs past its deadline (`Context.deadline`, time.monotonic).

    Checked before each root field starts (api.root_fields) and, in a query, before each batch
    of rows a nested field loads (`Context.check_deadline`): the time a query takes is spent
    loading rows, and a check at every field cost more than the fields themselves."""

    def on_execute(self) -> Iterator[None]:
        check_root_fields(self.execution_context.schema._schema, "deadline", _before_root_field)
        yield


def _before_root_field(info: GraphQLResolveInfo[Any]) -> None:
    context = info.context
    deadline = getattr(context, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise TooSlow(TOO_SLOW)
    if info.operation.operation == OperationType.MUTATION and hasattr(context, "stoppable"):
        # Once a mutation has started it may commit, and then its answer must reach the caller:
        # its reply's fields are not stopped.
        context.stoppable = False


TOO_SLOW = "the request ran past its time limit and was stopped; ask for less"


# -- caches bounded by bytes ----------------------------------------------------------------


class ByteLRU:
    """An LRU whose entries carry an estimated size; the total stays under `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Any, value: Any, size: int) -> None:
        if size > self.max_bytes // 8:
            return  # one huge query may not push out every other entry
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped

    def __len__(self) -> int:
        return len(self._entries)


# Bytes a parsed document holds per character of query text: the text itself is kept twice
# (the key, and string values in the tree) plus node objects; measured with tracemalloc
# on this schema's queries at 3 to 6 times the text.
BYTES_PER_CHAR = 8
ENTRY_OVERHEAD = 2_000


def entry_size(query: str) -> int:
    return ENTRY_OVERHEAD + BYTES_PER_CHAR * len(query)


class QueryCache(SchemaExtension):
    """Parses and validates each query text once, in a cache bounded by bytes.

    The limits on a query's text apply where the cache misses, the only place they can act:
    at most `max_tokens` tokens when parsing, and `rules` (depth, aliases) beside GraphQL's own
    when validating. Kept here rather than as extensions of their own, which were built and
    entered on every request only to find the work cached."""

    def __init__(self, cache: ByteLRU, *, max_tokens: int | None = None,
                 rules: tuple[type[ASTValidationRule], ...] = ()) -> None:
        super().__init__()
        self.cache = cache
        self.max_tokens = max_tokens
        self.rules = rules

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query or ""
        found = self.cache.get(("parse", query))
        if found is None:
            options: dict[str, Any] = dict(context.parse_options)
            if self.max_tokens is not None:
                options["max_tokens"] = self.max_tokens
            found = parse(query, **options)
            self.cache.put(("parse", query), found, entry_size(query))
        context.graphql_document = found
        yield

    def on_validate(self) -> Iterator[None]:
        from strawberry.schema.schema import validate_document

        context = self.execution_context
        query = context.query or ""
        document = context.graphql_document
        assert document is not None
        # Keyed by text alone: the schema and its rules are the same for every request.
        key = ("validate", query)
        errors = self.cache.get(key)
        if errors is None:
            errors = validate_document(context.schema._schema, document, (*context.validation_rules, *self.rules))
            self.cache.put(key, errors, ENTRY_OVERHEAD + len(query) + 64 * len(errors))
        context.pre_execution_errors = errors
        yield


def document_cache(max_bytes: int = DEFAULT_CACHE_BYTES) -> ByteLRU:
    return ByteLRU(max_bytes)


