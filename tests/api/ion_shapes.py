"""Helpers for the ION-script compatibility tests (docs/ion-compatibility.md).

The operation texts in tests/api/test_ion_scripts_*.py are ours, written to the same shapes
(root fields, argument and variable types, selected fields, variable values) as the operations
First Resonance's public scripts send. Each is first validated against the schema the server
serves (read by introspection over HTTP), then run against demo data.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLSchema, build_client_schema, get_introspection_query, parse, validate
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from kitwright.services.demo import load_demo
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import Part


def served_schema(client: TestClient) -> GraphQLSchema:
    response = client.post("/graphql", json={"query": get_introspection_query()})
    assert response.status_code == 200, response.text
    return build_client_schema(response.json()["data"])


def assert_valid(schema: GraphQLSchema, query: str) -> None:
    errors = validate(schema, parse(query))
    assert not errors, [error.message for error in errors]


def run(client: TestClient, schema: GraphQLSchema, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate against the served schema, send it, and return `data` (no errors allowed)."""
    assert_valid(schema, query)
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def refused(client: TestClient, schema: GraphQLSchema, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate against the served schema, send it, and return its first error."""
    assert_valid(schema, query)
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body.get("errors"), body
    first: dict[str, Any] = body["errors"][0]
    return first


def with_demo(engine: Engine) -> None:
    with make_sessionmaker(engine)() as session:
        load_demo(session)


def part_id(engine: Engine, part_number: str) -> int:
    with make_sessionmaker(engine)() as session:
        return session.scalars(select(Part.id).where(Part.part_number == part_number)).one()
