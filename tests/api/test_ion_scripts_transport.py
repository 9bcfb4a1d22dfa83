"""How ION's scripts sign in and send work: the bare token, ION's token path, JSON-array batches.

See docs/ion-compatibility.md. The batch shapes follow the importer scripts: a list of
`{query, variables: {input}}` objects, one result read back per operation, in order.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from kitwright.app import create_app
from kitwright.security.settings import SecuritySettings
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import Location, Part, UnitOfMeasure
from tests import factories
from tests.api.ion_shapes import assert_valid, served_schema, with_demo
from tests.conftest import TEST_SECURITY

ION_TOKEN_PATH = "/realms/api-keys/protocol/openid-connect/token"
ME = {"query": "query { me { name role } }"}


def _key(engine: Engine, role: str = "admin") -> tuple[str, str]:
    key = factories.api_key(engine, role, f"script-{role}", key_name="ion script")
    return key.client_id, key.secret


def test_token_from_ion_path_then_bare_authorization(engine: Engine) -> None:
    """The examples' client: form post to ION's token path (with an audience), then the bare token."""
    client_id, secret = _key(engine)
    with TestClient(create_app(engine, TEST_SECURITY)) as anonymous:
        response = anonymous.post(ION_TOKEN_PATH, data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
            "audience": "https://api.example.invalid",
        }, headers={"content-type": "application/x-www-form-urlencoded"})
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        me = anonymous.post("/graphql", json=ME, headers={"Authorization": token})
        assert me.status_code == 200 and me.json()["data"]["me"]["role"] == "admin"
        # The importers' client posts JSON to Auth0's path.
        as_json = anonymous.post("/oauth/token", json={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
        assert as_json.status_code == 200 and as_json.json()["token_type"] == "Bearer"
        wrong = anonymous.post(ION_TOKEN_PATH, data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": "kws_wrong"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_bare_api_key_secret_is_accepted(engine: Engine) -> None:
    _client_id, secret = _key(engine, "viewer")
    with TestClient(create_app(engine, TEST_SECURITY)) as anonymous:
        me = anonymous.post("/graphql", json=ME, headers={"Authorization": f"  {secret} "})
        assert me.status_code == 200 and me.json()["data"]["me"]["role"] == "viewer"


@pytest.mark.parametrize("form", [
    "Basic {t}", "Token {t}", "Bearer", "Bearer  ", "bearer {t} extra", "{t} extra", "JWT {t}", "",
])
def test_other_authorization_forms_are_refused(engine: Engine, form: str) -> None:
    _client_id, secret = _key(engine)
    with TestClient(create_app(engine, TEST_SECURITY)) as anonymous:
        response = anonymous.post("/graphql", json=ME, headers={"Authorization": form.format(t=secret)})
        assert response.status_code == 401
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert "Bearer" in error["message"]
        assert response.headers["www-authenticate"].startswith("Bearer")


NEW_UNIT = "mutation U($input: CreateUnitOfMeasurementInput!) { createUnitOfMeasurement(input: $input) { unitOfMeasurement { id type } } }"
NEW_PART = "mutation P($input: CreatePartInput!) { createPart(input: $input) { part { id partNumber } } }"
NEW_LOCATION = "mutation L($input: CreateLocationInput!) { createLocation(input: $input) { location { id name } } }"
NEW_INVENTORY = ("mutation I($input: CreatePartInventoryInput!) { createPartInventory(input: $input) "
                 "{ partInventory { id _etag lotNumber serialNumber part { partNumber } } } }")


def _counts(engine: Engine) -> tuple[int, int, int]:
    with make_sessionmaker(engine)() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) for model in (UnitOfMeasure, Part, Location)
        )


def test_importer_batches_run_in_order_with_one_result_each(client: TestClient, engine: Engine) -> None:
    """The inventory importer: a batch of units, parts and locations, then one of inventories
    whose ids come from the first batch's results."""
    with_demo(engine)
    schema = served_schema(client)
    for query in (NEW_UNIT, NEW_PART, NEW_LOCATION, NEW_INVENTORY):
        assert_valid(schema, query)
    first = [
        {"query": NEW_UNIT, "variables": {"input": {"type": "box"}}},
        {"query": NEW_PART, "variables": {"input": {"partNumber": "IMP-A", "description": "imported"}}},
        {"query": NEW_PART, "variables": {"input": {"partNumber": "IMP-B", "description": None}}},
        {"query": NEW_LOCATION, "variables": {"input": {"name": "Import Bay"}}},
    ]
    response = client.post("/graphql", content=json.dumps(first), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    results = response.json()
    assert [list(r["data"]) for r in results] == [
        ["createUnitOfMeasurement"], ["createPart"], ["createPart"], ["createLocation"]]
    unit = results[0]["data"]["createUnitOfMeasurement"]["unitOfMeasurement"]
    part_a = results[1]["data"]["createPart"]["part"]
    bay = results[3]["data"]["createLocation"]["location"]
    second = [{"query": NEW_INVENTORY, "variables": {"input": {
        "partId": part_a["id"], "unitOfMeasureId": unit["id"], "cost": None, "quantity": "5",
        "locationId": bay["id"], "lotNumber": None, "serialNumber": None}}}]
    made = client.post("/graphql", json=second).json()
    assert made[0]["data"]["createPartInventory"]["partInventory"]["part"]["partNumber"] == "IMP-A"


def test_batch_mixing_valid_and_invalid_operations(client: TestClient, engine: Engine) -> None:
    """Each operation is answered on its own, in its own transaction: a refused one writes
    nothing and does not undo the others."""
    with_demo(engine)
    before = _counts(engine)
    batch = [
        {"query": NEW_LOCATION, "variables": {"input": {"name": "Good 1"}}},
        {"query": NEW_LOCATION, "variables": {"input": {"name": "  "}}},  # refused by the service
        "not an object",
        {"variables": {"input": {"name": "no query"}}},
        {"query": "query { nope }"},  # fails validation
        {"query": NEW_LOCATION, "variables": {"input": {"name": "Good 2"}}},
    ]
    results = client.post("/graphql", json=batch).json()
    assert len(results) == 6
    assert results[0]["data"]["createLocation"]["location"]["name"] == "Good 1"
    assert results[1]["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}
    assert results[2]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "operation [2]" in results[2]["errors"][0]["message"]
    assert results[3]["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "query"}
    assert results[4]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert results[5]["data"]["createLocation"]["location"]["name"] == "Good 2"
    assert _counts(engine) == (before[0], before[1], before[2] + 2)


def test_empty_batch_and_batch_over_the_cap_are_refused_whole(client: TestClient, engine: Engine) -> None:
    before = _counts(engine)
    empty = client.post("/graphql", json=[])
    assert empty.status_code == 400 and "empty batch" in empty.json()["errors"][0]["message"]
    over = [{"query": NEW_LOCATION, "variables": {"input": {"name": f"L{i}"}}} for i in range(101)]
    response = client.post("/graphql", json=over)
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "at most 100" in error["message"]
    assert _counts(engine) == before
    at_cap = client.post("/graphql", json=over[:100])
    assert at_cap.status_code == 200 and all("errors" not in r for r in at_cap.json())
    assert _counts(engine) == (before[0], before[1], before[2] + 100)


def test_batch_cap_from_the_environment(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITWRIGHT_BATCH_LIMIT", "2")
    _client_id, secret = _key(engine)
    with TestClient(create_app(engine, TEST_SECURITY), headers={"Authorization": secret}) as client:
        assert client.post("/graphql", json=[ME, ME]).status_code == 200
        assert client.post("/graphql", json=[ME, ME, ME]).status_code == 413
    monkeypatch.setenv("KITWRIGHT_BATCH_LIMIT", "zero")
    with pytest.raises(ValueError, match="KITWRIGHT_BATCH_LIMIT"):
        create_app(engine, TEST_SECURITY)


def test_each_operation_of_a_batch_counts_against_the_rate_limit(engine: Engine) -> None:
    """Burst 5: a batch of 6 is refused whole with 429, Retry-After and RATE_LIMITED; 5 pass."""
    _client_id, secret = _key(engine)
    tight = SecuritySettings(secret_key="k", rate_per_minute=6, rate_burst=5, auth_rate_per_minute=6000)
    before = _counts(engine)
    with TestClient(create_app(engine, tight), headers={"Authorization": secret}) as client:
        batch = [{"query": NEW_LOCATION, "variables": {"input": {"name": f"R{i}"}}} for i in range(6)]
        refused = client.post("/graphql", json=batch)
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1
        assert _counts(engine) == before
    # Buckets are shared by every app on the database: a fresh key starts a full bucket.
    _client_id, fresh = _key(engine, "inventory")
    with TestClient(create_app(engine, tight), headers={"Authorization": fresh}) as client:
        assert client.post("/graphql", json=batch[:5]).status_code == 200
        assert _counts(engine) == (before[0], before[1], before[2] + 5)
        after = client.post("/graphql", json=ME)  # the five used the whole burst
        assert after.status_code == 429 and int(after.headers["retry-after"]) >= 1


def test_serve_needs_both_tls_files(tmp_path: object) -> None:
    """ION's scripts fetch tokens over https only, so `serve` can terminate TLS itself."""
    from typer.testing import CliRunner

    from kitwright.cli.main import app as cli

    result = CliRunner().invoke(cli, ["serve", "--database-url", f"sqlite:///{tmp_path}/k.db",
                                      "--ssl-certfile", "cert.pem"])
    assert result.exit_code != 0 and "go together" in result.output


def test_each_operation_of_a_batch_meets_the_depth_and_token_limits_on_its_own(client: TestClient, engine: Engine) -> None:
    from kitwright.api.schema import MAX_DEPTH

    deep = "{ partInventories { edges { node { " + "location { parent { " * MAX_DEPTH + "id" + " } }" * MAX_DEPTH + " } } } }"
    before = _counts(engine)
    results = client.post("/graphql", json=[
        {"query": NEW_LOCATION, "variables": {"input": {"name": "Before"}}},
        {"query": deep},
        {"query": NEW_LOCATION, "variables": {"input": {"name": "After"}}},
    ]).json()
    assert results[0]["data"]["createLocation"]["location"]["name"] == "Before"
    assert results[1]["errors"] and results[1]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert results[2]["data"]["createLocation"]["location"]["name"] == "After"
    assert _counts(engine) == (before[0], before[1], before[2] + 2)
