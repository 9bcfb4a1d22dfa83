"""Generated queries and mutations (hypothesis-graphql) against the
live schema never produce a 500 or an INTERNAL_SERVER_ERROR, whatever they ask."""

from __future__ import annotations

from decimal import Decimal

import pytest
from graphql import print_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes
from starlette.testclient import TestClient

from kitwright.api.schema import schema

SDL = print_schema(schema._schema)
SCALARS = {
    "Date": st.dates().map(lambda d: nodes.String(d.isoformat())),
    "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat())),
    "Decimal": st.one_of(
        st.integers(min_value=-(10**12), max_value=10**12).map(nodes.Int),
        st.decimals(min_value=Decimal(-1000), max_value=Decimal(1000), places=3, allow_nan=False).map(
            lambda d: nodes.Float(float(d))),
        st.text(max_size=8).map(nodes.String),
    ),
    "JSONObject": st.just(nodes.Object([])),
    # A query's literal is never a file: the upload fields must refuse it as bad input.
    "Upload": st.text(max_size=8).map(nodes.String),
}
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def check(client: TestClient, query: str) -> None:
    response = client.post("/graphql", json={"query": query})
    assert response.status_code < 500, (query, response.text)
    if response.status_code == 200:
        codes = {e.get("extensions", {}).get("code") for e in response.json().get("errors") or []}
        assert "INTERNAL_SERVER_ERROR" not in codes, (query, response.text)
        assert codes <= {"BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "GONE", "FORBIDDEN", "UNAUTHENTICATED"}, (query, codes)


@pytest.mark.slow
@FUZZ
@given(query=from_schema(SDL, custom_scalars=SCALARS))
def test_generated_queries_and_mutations_never_fail(client: TestClient, query: str) -> None:
    check(client, query)


@pytest.mark.slow
@FUZZ
@given(query=from_schema(SDL, custom_scalars=SCALARS, fields=["createPart", "createPartInventory",
                                                              "createLocation", "issueItemToKit",
                                                              "fulfillPartKit", "createPartKitItem"]))
def test_generated_write_mutations_never_fail(client: TestClient, query: str) -> None:
    check(client, query)
