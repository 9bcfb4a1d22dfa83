"""The executor's shorter paths answer exactly what Strawberry's own path answers
(docs/architecture.md, "GraphQL execution"): every list of the schema, every nested field two
levels down, and the error cases of a null or a value that does not coerce."""

from __future__ import annotations

import enum
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest
import strawberry
from graphql import GraphQLObjectType
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from kitwright.api.authorization import Authorization
from kitwright.api.context import Context
from kitwright.api.execution import ShortcutExecutionContext, call_simple_resolvers
from kitwright.api.scalars import SCALARS
from kitwright.api.schema import MUTATIONS, QUERIES, schema
from kitwright.services.actor import Actor
from kitwright.store.db import make_sessionmaker
from tests.api.test_list_priming import DEPTH, FORWARD_ONLY, LISTS, selection, world

ADMIN = Actor(id=1, name="admin", role="admin")

# The same types, executed by Strawberry alone.
PLAIN = strawberry.Schema(query=merge_types("Query", tuple(QUERIES)), mutation=merge_types("Mutation", tuple(MUTATIONS)),
                          config=StrawberryConfig(scalar_map=SCALARS), extensions=[Authorization])


def run(target: strawberry.Schema, engine: Engine, query: str) -> tuple[Any, list[str]]:
    with make_sessionmaker(engine)() as session:
        context = Context(session=session, actor=ADMIN, deadline=time.monotonic() + 60, max_query_cost=10**9)
        result = target.execute_sync(query, context_value=context)
        return result.data, sorted(f"{e.path}: {e.message}" for e in result.errors or [])


def test_every_list_answers_the_same_on_both_paths(session: Session, client: TestClient, engine: Engine) -> None:
    world(session, client)
    compared = 0
    for field, node in LISTS:
        size = "first: 5" if field in FORWARD_ONLY else "last: 5"
        query = (f"{{ {field}({size}) {{ totalCount pageInfo {{ hasNextPage endCursor }} "
                 f"edges {{ cursor node {{ {selection(node, DEPTH)} }} }} }} }}")
        if field in FORWARD_ONLY:
            query = query.replace("totalCount ", "")
        fast, plain = run(schema, engine, query), run(PLAIN, engine, query)
        assert fast == plain, field
        assert fast[0] is not None and fast[0][field]["edges"], (field, fast)
        compared += 1
    assert compared == len(LISTS) >= 15


@enum.unique
class Colour(enum.Enum):
    RED = "red"


class Row:
    def __init__(self, name: str | None, colour: Any, count: Any, tags: Any = (), child: Any = None) -> None:
        self.name, self.colour, self.count, self.maybe = name, colour, count, None
        self.tags, self.child = list(tags), child


@strawberry.type
class Thing:
    name: str
    colour: Colour
    maybe: str | None = None
    count: int = 0

    tags: list[str] = strawberry.field(default_factory=list)
    child: Thing | None = None

    @strawberry.field
    def shout(self, root: strawberry.Parent[Row], info: strawberry.Info) -> str:
        return f"{root.name}!{info.field_name}"

    @strawberry.field
    def twin(self, root: strawberry.Parent[Row]) -> Thing:
        return root.child or root  # type: ignore[no-any-return]

    @strawberry.field
    def orphan(self, root: strawberry.Parent[Row]) -> Thing:  # null where a row has no child
        return root.child  # type: ignore[no-any-return]


ROWS = [Row("a", Colour.RED, 1, ["x", "y"], Row("a1", Colour.RED, 5)), Row(None, Colour.RED, 2),
        Row("c", "purple", 3), Row("d", Colour.RED, "x"), Row("e", Colour.RED, 4, ["z", None]),
        Row("f", Colour.RED, 6, child=Row(None, Colour.RED, 7)), Row("g", Colour.RED, 8, child=Row("g1", Colour.RED, 9))]


@strawberry.type
class TinyQuery:
    @strawberry.field
    def things(self) -> list[Thing | None]:
        return ROWS  # type: ignore[return-value]


def tiny(fast: bool) -> strawberry.Schema:
    built = strawberry.Schema(query=TinyQuery, execution_context_class=ShortcutExecutionContext if fast else None)
    if fast:
        assert call_simple_resolvers(built._schema, built.config.info_class) == 3  # Thing.shout, twin, orphan
    return built


def test_nulls_and_values_that_do_not_coerce_fail_the_same_way() -> None:
    query = "{ things { name colour maybe count shout } }"
    fast, plain = tiny(True).execute_sync(query), tiny(False).execute_sync(query)
    assert fast.data == plain.data
    assert [(e.path, e.message) for e in fast.errors or []] == [(e.path, e.message) for e in plain.errors or []]
    # A null in a non-null field, an enum value that is not one, an int that is not one:
    assert len(fast.errors or []) == 3
    assert fast.data is not None and fast.data["things"][:4] == [
        {"name": "a", "colour": "RED", "maybe": None, "count": 1, "shout": "a!shout"}, None, None, None]


def test_a_null_object_in_a_non_null_field_fails_the_same_way() -> None:
    query = "{ things { name orphan { name } } }"
    lenient = "{ things { name child { name } } }"
    for q in (query, lenient):
        fast, plain = tiny(True).execute_sync(q), tiny(False).execute_sync(q)
        assert fast.data == plain.data
        assert [(e.path, e.message) for e in fast.errors or []] == [(e.path, e.message) for e in plain.errors or []]
    lenient_errors = len(fast.errors or [])
    assert fast.data is not None  # the lenient query: a missing child is an answer
    assert [t and t["child"] for t in fast.data["things"]][:3] == [{"name": "a1"}, None, None]
    strict = tiny(True).execute_sync(query)
    assert strict.data is not None and len(strict.errors or []) > lenient_errors
    assert [t and t["orphan"] for t in strict.data["things"]][:3] == [{"name": "a1"}, None, None]


def test_whole_objects_take_the_short_path_and_fail_the_same_way() -> None:
    """Nested objects, lists of leaves, aliases, fragments, directives and __typename; a null in
    a non-null list item or a nested non-null field fails exactly as Strawberry's own path."""
    query = """query($skip: Boolean!) { things { ...T n: name tags child { name count __typename }
        twin { twin { name shout } } skipped: count @skip(if: $skip) } }
        fragment T on Thing { __typename colour }"""
    for skip in (True, False):
        fast = tiny(True).execute_sync(query, variable_values={"skip": skip})
        plain = tiny(False).execute_sync(query, variable_values={"skip": skip})
        assert fast.data == plain.data
        assert [(e.path, e.message) for e in fast.errors or []] == [(e.path, e.message) for e in plain.errors or []]
    assert fast.data is not None
    first, fifth, sixth, seventh = (fast.data["things"][i] for i in (0, 4, 5, 6))
    assert first == {"__typename": "Thing", "colour": "RED", "n": "a", "tags": ["x", "y"],
                     "child": {"name": "a1", "count": 5, "__typename": "Thing"},
                     "twin": {"twin": {"name": "a1", "shout": "a1!shout"}}, "skipped": 1}
    assert fifth is None  # a null tag in [String!]!
    assert sixth is None  # twin's name is null and twin is non-null
    assert seventh["twin"] == {"twin": {"name": "g1", "shout": "g1!shout"}}


def test_root_fields_keep_their_checks() -> None:
    """Simple resolvers of Query and Mutation are left to the wrappers of api.root_fields."""
    class Caller:
        actor, introspection, deadline = ADMIN, True, None

    assert schema.execute_sync("{ __typename }", context_value=Caller()).data == {"__typename": "Query"}
    query_type = schema._schema.query_type
    assert isinstance(query_type, GraphQLObjectType)
    assert all(field.resolve is not None and field.resolve.__name__ == "checked" for field in query_type.fields.values())


def test_only_resolvers_that_read_the_info_are_given_one() -> None:
    """On the compiled path a plain object field (`child`) and a resolver without an info
    parameter (`twin`) are called without building one; `shout` reads its info and gets it."""
    built: list[str] = []

    class Counting(ShortcutExecutionContext):
        def build_resolve_info(self, field_def: Any, field_nodes: Any, parent_type: Any, path: Any) -> Any:
            built.append(field_nodes[0].name.value)
            return super().build_resolve_info(field_def, field_nodes, parent_type, path)

    @strawberry.type
    class GoodQuery:
        @strawberry.field
        def things(self) -> list[Thing]:
            return [ROWS[0], ROWS[6]]  # type: ignore[list-item]

    query = "{ things { name child { name count } twin { name shout } shout } }"
    fast_schema = strawberry.Schema(query=GoodQuery, execution_context_class=Counting)
    call_simple_resolvers(fast_schema._schema, fast_schema.config.info_class)
    fast = fast_schema.execute_sync(query)
    plain = strawberry.Schema(query=GoodQuery).execute_sync(query)
    assert fast.errors is None and fast.data == plain.data
    assert fast.data is not None and fast.data["things"][0]["twin"] == {"name": "a1", "shout": "a1!shout"}
    assert sorted(set(built)) == ["shout", "things"] and built.count("shout") == 4, built


def test_each_resolver_marked_by_key_answers_the_row_its_loader_holds() -> None:
    """Compiled plans read a `by_key(model, key)` field as `loader(model).get(root.<key>)`
    without calling its resolver: every marked resolver must answer exactly that."""
    context = Context(session=cast(Session, None))
    marked = []
    for named in schema._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType):
            continue
        for name, field in named.fields.items():
            by_key = getattr(field.resolve, "_kitwright_by_key", None)
            if by_key is None:
                continue
            model, key = by_key
            row = object()
            context.loader(model).cache[7] = row
            assert field.resolve(SimpleNamespace(**{key: 7}), SimpleNamespace(context=context)) is row, name
            assert field.resolve(SimpleNamespace(**{key: None}), SimpleNamespace(context=context)) is None, name
            marked.append(f"{named.name}.{name}")
    assert {"PartInventory.part", "PartInventory.location"} <= set(marked), marked


def test_rows_named_by_key_are_read_without_calling_their_resolvers(
    session: Session, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    world(session, client)
    built: list[str] = []
    original = ShortcutExecutionContext.build_resolve_info

    def counting(self: Any, field_def: Any, field_nodes: Any, parent_type: Any, path: Any) -> Any:
        built.append(field_nodes[0].name.value)
        return original(self, field_def, field_nodes, parent_type, path)

    monkeypatch.setattr(ShortcutExecutionContext, "build_resolve_info", counting)
    query = "{ partInventories(first: 5) { edges { node { id part { partNumber } location { name } supplier { name } } } } }"
    fast = run(schema, engine, query)
    assert fast == run(PLAIN, engine, query)
    assert fast[0] is not None and any(e["node"]["location"] for e in fast[0]["partInventories"]["edges"])
    assert built == ["partInventories"], built
