"""Oversized, deeply nested and greedy requests are refused
cleanly (never a 500) and write nothing; production turns introspection and GraphiQL off."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from kitwright.api.schema import MAX_ALIASES, MAX_DEPTH
from kitwright.app import create_app
from kitwright.security.settings import SecuritySettings
from tests import factories
from tests.security.operations import row_counts


def refused(client: TestClient, query: str, status: int = 200) -> dict[str, object]:
    response = client.post("/graphql", json={"query": query})
    assert response.status_code == status, response.text
    body: dict[str, object] = response.json()
    errors = body["errors"]
    assert isinstance(errors, list) and errors
    assert all(e["extensions"]["code"] == "BAD_USER_INPUT" for e in errors), errors
    return body


def test_oversized_bodies_are_refused(client: TestClient, engine: Engine) -> None:
    before = row_counts(engine)
    huge = "mutation { " + " ".join(f'a{i}: createSupplier(input: {{name: "{"x" * 100}{i}"}}) {{ __typename }}'
                                    for i in range(10_000)) + " }"
    response = client.post("/graphql", json={"query": huge})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    nested_json = "[" * 100_000 + "]" * 100_000
    response = client.post("/graphql", content=nested_json, headers={"content-type": "application/json"})
    assert response.status_code in (400, 413)
    assert row_counts(engine) == before


def test_deep_queries_are_refused(client: TestClient) -> None:
    deep = "{ partInventories { edges { node { " + "location { parent { " * MAX_DEPTH + "id" + " } }" * MAX_DEPTH + " } } } }"
    refused(client, deep)
    fragments = "fragment F on Location { parent { ...F } } { locations { edges { node { ...F } } } }"
    refused(client, fragments)  # a fragment cycle


def test_too_many_aliases_and_tokens_are_refused_and_write_nothing(client: TestClient, engine: Engine) -> None:
    before = row_counts(engine)
    many = " ".join(f'a{i}: createSupplier(input: {{name: "s{i}"}}) {{ __typename }}' for i in range(MAX_ALIASES + 1))
    refused(client, "mutation { " + many + " }")
    tokens = "{ " + " ".join("__typename" for _ in range(6000)) + " }"
    refused(client, tokens)
    assert row_counts(engine) == before


def test_page_size_is_capped(client: TestClient) -> None:
    body = client.post("/graphql", json={"query": "{ parts(first: 100000) { totalCount } }"}).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "500" in body["errors"][0]["message"]


def test_production_turns_introspection_and_graphiql_off(engine: Engine) -> None:
    secret = factories.api_key_for(engine, "admin")
    app = create_app(engine, SecuritySettings(production=True, introspection=False, graphiql=False,
                                              https_only=True, secret_key="k"))
    with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
        body = refused(client, "{ __schema { types { name } } }")
        assert "introspection" in str(body["errors"])
        refused(client, '{ __type(name: "Part") { name } }')
        assert client.post("/graphql", json={"query": "{ __typename parts { totalCount } }"}).json()["data"][
            "parts"] == {"totalCount": 0}
        assert client.get("/graphql", headers={"accept": "text/html"}).status_code == 404
    with TestClient(create_app(engine, SecuritySettings(secret_key="k")),
                    headers={"Authorization": f"Bearer {secret}"}) as client:
        assert client.post("/graphql", json={"query": "{ __schema { queryType { name } } }"}).json() == {
            "data": {"__schema": {"queryType": {"name": "Query"}}}}
        assert client.get("/graphql", headers={"accept": "text/html"}).status_code == 200


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    mp = monkeypatch
    mp.setenv("KITWRIGHT_PRODUCTION", "1")
    with pytest.raises(ValueError, match="KITWRIGHT_SECRET_KEY"):
        SecuritySettings.from_env()  # production never signs cookies with a generated key
    mp.setenv("KITWRIGHT_SECRET_KEY", "a-long-random-string")
    settings = SecuritySettings.from_env()
    assert (settings.introspection, settings.graphiql, settings.https_only) == (False, False, True)
    mp.setenv("KITWRIGHT_INTROSPECTION", "1")
    assert SecuritySettings.from_env().introspection
    mp.setenv("KITWRIGHT_INSECURE_DEV", "1")
    with pytest.raises(ValueError, match="PRODUCTION"):
        SecuritySettings.from_env()
