"""Bad input gets a clear error naming the field; nothing is written; never a 500 (rule 8)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from kitwright.store.models import LedgerEntry, Part, PartInventory
from tests import factories
from tests.api.gql import error, gql

CREATE = """mutation C($input: CreatePartInventoryInput!) {
  createPartInventory(input: $input) { partInventory { id quantity } } }"""


@pytest.fixture
def world(session: Session) -> dict[str, int]:
    fc = factories.part(session, "FC", "SERIAL")
    bolt = factories.part(session, "BOLT", "LOT")
    shelf = factories.location(session)
    factories.record(session, fc, 1, serial_number="sn-1", location_id=shelf.id)
    session.commit()
    return {"fc": fc.id, "bolt": bolt.id, "shelf": shelf.id}


def written(session: Session) -> tuple[int, int, int]:
    session.rollback()
    return tuple(  # type: ignore[return-value]
        int(session.scalar(select(func.count()).select_from(m)) or 0) for m in (PartInventory, LedgerEntry, Part)
    )


CASES: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("negative quantity", {"partId": "bolt", "lotNumber": "L", "quantity": -1}, "BAD_USER_INPUT", "quantity"),
    ("text quantity", {"partId": "bolt", "lotNumber": "L", "quantity": "abc"}, "BAD_USER_INPUT", "quantity"),
    ("boolean quantity", {"partId": "bolt", "lotNumber": "L", "quantity": True}, "BAD_USER_INPUT", "quantity"),
    ("enormous quantity", {"partId": "bolt", "lotNumber": "L", "quantity": 1e300}, "BAD_USER_INPUT", "quantity"),
    ("too many decimals", {"partId": "bolt", "lotNumber": "L", "quantity": "0.1234567"}, "BAD_USER_INPUT", "quantity"),
    ("serial quantity 2", {"partId": "fc", "serialNumber": "sn-2", "quantity": 2}, "BAD_USER_INPUT", "quantity"),
    ("duplicate serial", {"partId": "fc", "serialNumber": "sn-1", "quantity": 1}, "BAD_USER_INPUT", "serialNumber"),
    ("serial missing", {"partId": "fc", "quantity": 1}, "BAD_USER_INPUT", "serialNumber"),
    ("lot missing", {"partId": "bolt", "quantity": 1}, "BAD_USER_INPUT", "lotNumber"),
    ("unknown part", {"partId": 999, "lotNumber": "L"}, "NOT_FOUND", "partId"),
    ("unknown location", {"partId": "bolt", "lotNumber": "L", "locationId": 999}, "NOT_FOUND", "locationId"),
    ("huge id", {"partId": "99999999999999999999", "lotNumber": "L"}, "BAD_USER_INPUT", "partId"),
    ("id beyond int32", {"partId": 2**40, "lotNumber": "L"}, "BAD_USER_INPUT", "partId"),
    ("text id", {"partId": "one", "lotNumber": "L"}, "BAD_USER_INPUT", "partId"),
    ("object id", {"partId": {"a": 1}, "lotNumber": "L"}, "BAD_USER_INPUT", "partId"),
    ("NUL in lot", {"partId": "bolt", "lotNumber": "L\u0000x"}, "BAD_USER_INPUT", "lotNumber"),
    ("enormous lot", {"partId": "bolt", "lotNumber": "L" * 100_000}, "BAD_USER_INPUT", "lotNumber"),
    ("attributes not an object", {"partId": "bolt", "lotNumber": "L", "attributes": [1, 2]}, "BAD_USER_INPUT", "attributes"),
    ("nested attributes", {"partId": "bolt", "lotNumber": "L", "attributes": {"a": {"b": 1}}}, "BAD_USER_INPUT", "attributes"),
    ("bad date", {"partId": "bolt", "lotNumber": "L", "expectedAt": "31/04/2026"}, "BAD_USER_INPUT", "expectedAt"),
    ("unknown field", {"partId": "bolt", "lotNumber": "L", "colour": "red"}, "BAD_USER_INPUT", "colour"),
]


@pytest.mark.parametrize(("name", "fields", "code", "field"), CASES, ids=[c[0] for c in CASES])
def test_create_refuses_bad_input(
    name: str, fields: dict[str, Any], code: str, field: str | None, world: dict[str, int],
    session: Session, client: TestClient,
) -> None:
    before = written(session)
    values = {k: world.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
    found = error(client, CREATE, {"input": values})
    assert found["extensions"]["code"] == code, found
    assert found["extensions"].get("field") == field, found
    assert "Traceback" not in found["message"] and found["message"]
    assert written(session) == before


def test_update_refusals(world: dict[str, int], session: Session, client: TestClient) -> None:
    etag = gql(client, "{ partInventory(id: 1) { _etag } }")["data"]["partInventory"]["_etag"]
    update = """mutation U($input: UpdatePartInventoryInput!) {
      updatePartInventory(input: $input) { partInventory { id } } }"""
    before = written(session)
    for changes, code, field in (
        ({"partId": world["bolt"]}, "BAD_USER_INPUT", "partId"),
        ({"quantity": 2}, "BAD_USER_INPUT", "quantity"),
        ({"quantity": None}, "BAD_USER_INPUT", "quantity"),
        ({"serialNumber": "  "}, "BAD_USER_INPUT", "serialNumber"),
        ({"locationId": 12345}, "NOT_FOUND", "locationId"),
    ):
        found = error(client, update, {"input": {"id": 1, "etag": etag, **changes}})
        assert (found["extensions"]["code"], found["extensions"].get("field")) == (code, field), found
    missing = error(client, update, {"input": {"id": 1, "quantity": 1}})
    assert missing["extensions"]["code"] == "BAD_USER_INPUT"
    assert written(session) == before


@pytest.mark.parametrize(
    "query",
    [
        "{ partInventory(id: 1) { id ",
        "{ nope }",
        "mutation { deletePartInventory(id: 1) { id } }",
        "{ partInventories(first: 501) { edges { cursor } } }",
        "{ partInventories(first: -1) { edges { cursor } } }",
        '{ partInventories(after: "not-a-cursor") { edges { cursor } } }',
        '{ partInventories(filters: {quantity: {eq: "x"}}) { edges { cursor } } }',
        "{ partInventories(sort: [NOPE]) { edges { cursor } } }",
        "{ " + "partInventory(id: 1) { part { " * 30 + "id" + " } }" * 30 + " }",
        "{ " + " ".join(f"a{i}: partInventory(id: 1) {{ id }}" for i in range(60)) + " }",
        "query Q($x: ID!) { partInventory(id: $x) { id } }",
    ],
)
def test_malformed_graphql_is_the_clients_error(query: str, world: dict[str, int], client: TestClient) -> None:
    body = gql(client, query)
    assert body["errors"], body
    assert all(e["extensions"]["code"] in ("BAD_USER_INPUT", "NOT_FOUND") for e in body["errors"]), body


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[]", "application/json", 400),  # an empty batch ([1, 2] is a batch: each item answered)
        (b"5", "application/json", 400),
        (b'{"query": 5}', "application/json", 400),
        (b'{"query": "{ parts { totalCount } }", "variables": [1]}', "application/json", 400),
        (b'{"query": "{ parts { totalCount } }", "variables": {"a": NaN}}', "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b'{"query": "' + b"a" * 1_100_000 + b'"}', "application/json", 413),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    ],
)
def test_transport_garbage_is_refused_cleanly(
    content: bytes, content_type: str, status: int, client: TestClient
) -> None:
    response = client.post("/graphql", content=content, headers={"content-type": content_type})
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_graphiql_is_served_to_browsers(client: TestClient) -> None:
    response = client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


@pytest.mark.parametrize("raw", ["²", "١٢", "1_000", " 12 ", "-5", "0x10", "１"])  # noqa: RUF001
def test_ids_are_plain_ascii_integers(raw: str, client: TestClient) -> None:
    found = error(client, "query Q($id: ID!) { partInventory(id: $id) { id } }", {"id": raw})
    # Ids are ASCII digits only (docs/security.md): none of these is an id.
    expected = "BAD_USER_INPUT"
    assert (found["extensions"]["code"], found["extensions"].get("field")) == (expected, "id"), found


def test_a_refused_mutation_nulls_only_its_own_field(session: Session, client: TestClient) -> None:
    """Each mutation field of a document runs on its own (docs/ion-compatibility.md, "Batches"):
    the refused one writes nothing and answers null with its error; the applied one answers
    with what it wrote, so the client can tell which happened."""
    before = written(session)
    body = gql(client, """mutation {
      first: createLocation(input: {name: "Shelf A"}) { location { id name } }
      second: createPartInventory(input: {partId: 999999, quantity: 1}) { partInventory { id } }
      third: createLocation(input: {name: "Shelf B"}) { location { id name } }
    }""")
    assert body["data"]["second"] is None
    assert [e["path"] for e in body["errors"]] == [["second"]]
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    made = {body["data"][alias]["location"]["name"]: body["data"][alias]["location"]["id"] for alias in ("first", "third")}
    assert set(made) == {"Shelf A", "Shelf B"}
    names = gql(client, "{ locations(filters: {name: {in: [\"Shelf A\", \"Shelf B\"]}}) { edges { node { id name } } } }")
    assert {e["node"]["name"]: e["node"]["id"] for e in names["data"]["locations"]["edges"]} == made
    assert written(session) == before  # no part, record or ledger entry from the refused one
