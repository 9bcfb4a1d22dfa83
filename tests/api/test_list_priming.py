"""Every list of the schema primes its loaders: a page of 2N nodes, with every nested field
asked for, costs the same number of SQL statements as a page of N (docs/api.md, "Lists").

The lists are found in the schema (every root field returning a `...Connection`), so a list
added later is checked without touching this file."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLNamedType,
    GraphQLObjectType,
    get_named_type,
    is_leaf_type,
    is_object_type,
    is_required_argument,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from kitwright.api.schema import schema
from kitwright.services.demo import load_demo
from tests.api.gql import data
from tests.api.test_kanban_api import create_kit, setup
from tests.api.test_lists import counting
from tests.api.test_retail_orders import dining

N = 2
# Nested objects followed below each node: node { part { unitOfMeasure { ... } } }.
DEPTH = 2


def list_fields() -> list[tuple[str, GraphQLObjectType]]:
    """(root field, node type) for every list of the schema."""
    query = schema._schema.query_type
    assert query is not None
    found = []
    for name, field in query.fields.items():
        connection = get_named_type(field.type)
        if connection.name.endswith("Connection") and isinstance(connection, GraphQLObjectType):
            node = get_named_type(get_named_type(connection.fields["edges"].type).fields["node"].type)  # type: ignore[attr-defined]
            assert isinstance(node, GraphQLObjectType)
            found.append((name, node))
    return found


LISTS = list_fields()
FORWARD_ONLY = {name for name, field in schema._schema.query_type.fields.items() if "last" not in field.args}  # type: ignore[union-attr]


def selections(type_: GraphQLNamedType, depth: int) -> dict[str, str]:
    """Every field of `type_` that takes no required argument, with objects down to `depth`."""
    assert isinstance(type_, GraphQLObjectType)
    fields = {}
    for name, field in type_.fields.items():
        if any(is_required_argument(argument) for argument in field.args.values()):
            continue
        named = get_named_type(field.type)
        if is_leaf_type(named):
            fields[name] = name
        elif is_object_type(named) and depth > 0:
            fields[name] = f"{name} {{ {selection(named, depth - 1)} }}"
    return fields


def selection(type_: GraphQLNamedType, depth: int) -> str:
    return " ".join(selections(type_, depth).values())


def world(session: Session, client: TestClient) -> None:
    """At least 2N rows in every list, with their relations filled in."""
    load_demo(session)
    ids = setup(client)
    data(client, """mutation($p: ID!, $l: ID!) { createPartInventory(input: {partId: $p, locationId: $l,
        lotNumber: "BIG", quantity: 100}) { partInventory { id } } }""", {"p": ids["bolt"], "l": ids["stock"]})
    for _ in range(2 * N):
        kit = create_kit(client, ids)
        data(client, "mutation($id: ID!) { fillKanbanKit(input: {id: $id}) { kanbanKit { id } } }", {"id": kit["id"]})
    levels = [{"partId": ids[p], "minQuantity": 1, "maxQuantity": 2} for p in ("bolt", "motor")]
    for line in ("line", "home"):
        data(client, """mutation($l: ID!, $h: ID!, $levels: [LineStockLevelInput!]!) {
            setLineStockLevels(input: {locationId: $l, homeLocationId: $h, levels: $levels}) {
              lineStockLevels { id } } }""", {"l": ids[line], "h": ids["stock"], "levels": levels})
    shop, table, chair, kit_part = dining(client, {"DC1": (10, 40)})
    for n in range(2 * N):
        shop.part(f"SET-{n}", [(table, 1), (chair, 2)])
        order = shop.order(f"ORD-{n}", {"partId": kit_part, "quantity": 1}, {"partId": chair, "quantity": 1})
        shop.allocate(order)
    for n in range(2 * N):
        data(client, """mutation($input: CreateRuleInput!) { createRule(input: $input) { rule { id } } }""",
             {"input": {"title": f"rule {n}", "target": "PARTKITITEM", "eventType": "CREATE", "severity": "WARN",
                        "code": "true", "message": "noted"}})
    for n in range(2 * N):
        data(client, """mutation($n: String!) { createUnitOfMeasure(input: {name: $n, abbreviation: $n}) {
                          unitOfMeasure { id } } createSupplier(input: {name: $n}) { supplier { id } } }""",
             {"n": f"extra {n}"})
    [avionics] = data(client, '{ parts(filters: {partNumber: {eq: "AVIONICS-1"}}) { edges { node { id } } } }')[
        "parts"]["edges"]
    for n in range(2 * N):
        data(client, """mutation($t: String!, $p: ID!) { createRun(input: {title: $t, partId: $p}) { run { id } } }""",
             {"t": f"run {n}", "p": avionics["node"]["id"]})


def select_count(client: TestClient, engine: Engine, field: str, node: GraphQLObjectType, first: int,
                 fields: str | None = None) -> int:
    """SELECT statements for one page of `first` nodes of `field`, every nested field asked.

    Pages end at the newest rows (`last`), which `world` made alike; the N page is part of the
    2N page. The feed only pages forward; its kits are alike from the first."""
    size = f"first: {first}" if field in FORWARD_ONLY else f"last: {first}"
    query = f"{{ {field}({size}) {{ edges {{ node {{ {fields or selection(node, DEPTH)} }} }} }} }}"
    with counting(engine) as statements:
        edges = data(client, query)[field]["edges"]
    if len(edges) < first:
        return -1
    return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])


def test_the_schema_has_lists() -> None:
    names = [name for name, _ in LISTS]
    assert {"partKits", "partInventories", "orders", "kitAvailabilityFeed"} <= set(names)


def test_every_list_costs_the_same_for_n_and_2n_nodes(session: Session, client: TestClient, engine: Engine) -> None:
    world(session, client)
    counts = {
        field: (select_count(client, engine, field, node, N), select_count(client, engine, field, node, 2 * N))
        for field, node in LISTS
    }
    assert not [field for field, (_, big) in counts.items() if big < 0], f"fewer than {2 * N} nodes: {counts}"
    # A page of 2N may cost less than N (a row's parent is on the page), never more.
    costly = {field: pair for field, pair in counts.items() if pair[1] > pair[0]}
    # Name the node fields that cost a query per node, to say where a primer is missing.
    culprits = {
        field: [
            name for name, asked in selections(node, DEPTH).items()
            if select_count(client, engine, field, node, 2 * N, asked) > select_count(client, engine, field, node, N, asked)
        ]
        for field, node in LISTS if field in costly
    }
    assert not costly, f"lists whose nested fields cost a query per node (N, 2N): {costly}; fields: {culprits}"


@pytest.mark.parametrize("field", ["partKits", "orders"])
def test_an_unprimed_list_is_caught(
    session: Session, client: TestClient, engine: Engine, field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above has teeth: with priming turned off, per-node queries show."""
    from kitwright.api import lists

    world(session, client)
    node = dict(LISTS)[field]
    monkeypatch.setattr(lists, "prime", lambda context, rows: None)
    counts: list[Any] = [select_count(client, engine, field, node, n) for n in (N, 2 * N)]
    assert counts[0] < counts[1], counts
