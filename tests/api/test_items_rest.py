"""`POST /api/items`: Manhattan's item document defines a kit by part numbers (seed 003)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from tests import factories
from tests.api.gql import data

SAMPLE = {
    "ItemComponent": [
        {"ComponentItemId": "ItemB", "ComponentQty": 4.0, "Description": None},
        {"ComponentItemId": "ItemC", "ComponentQty": 2.0, "Description": None},
        {"ComponentItemId": "ItemD", "ComponentQty": 2.0, "Description": None},
    ],
    "ItemId": "ItemA",
}


def components(client: TestClient, part_id: int) -> list[tuple[str, Decimal]]:
    part = data(client, "query($id: ID!) { part(id: $id) { components { part { partNumber } quantity } } }",
                {"id": part_id})["part"]
    return [(c["part"]["partNumber"], Decimal(str(c["quantity"]))) for c in part["components"]]


def test_the_seed_sample_is_a_composition_of_two_kits(session: Session, client: TestClient) -> None:
    for number in ("ItemB", "ItemC", "ItemD"):
        factories.part(session, number)
    response = client.post("/api/items", json=SAMPLE)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["Kits"] == 2
    assert [(c["ComponentItemId"], c["Ratio"]) for c in body["ItemComponent"]] == [
        ("ItemB", 2), ("ItemC", 1), ("ItemD", 1),
    ]
    assert components(client, body["PartId"]) == [("ItemB", 2), ("ItemC", 1), ("ItemD", 1)]
    # Posting again redefines the same kit (200), here as a one-kit document with a fraction.
    again = client.post("/api/items", json={"ItemId": "ItemA", "ItemComponent": [
        {"ComponentItemId": "ItemB", "ComponentQty": 1}, {"ComponentItemId": "ItemD", "ComponentQty": 0.5}]})
    assert again.status_code == 200, again.text
    assert components(client, body["PartId"]) == [("ItemB", 1), ("ItemD", Decimal("0.5"))]


def test_items_resolve_to_the_latest_revision(session: Session, client: TestClient) -> None:
    factories.part(session, "ItemB", revision="A")
    newest = factories.part(session, "ItemB", revision="B")
    response = client.post("/api/items", json={"ItemId": "Kit", "ItemComponent": [
        {"ComponentItemId": "ItemB", "ComponentQty": 3}]})
    assert response.status_code == 201, response.text
    assert response.json()["ItemComponent"][0]["PartId"] == newest.id
    assert response.json()["ItemComponent"][0]["Ratio"] == 1


def test_unknown_component_is_404_naming_the_row(session: Session, client: TestClient) -> None:
    factories.part(session, "ItemB")
    response = client.post("/api/items", json=SAMPLE)
    assert response.status_code == 404
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert errors[0]["extensions"]["field"] == "ItemComponent[1].ComponentItemId"
    assert [d["field"] for d in errors[0]["extensions"]["details"]] == [
        "ItemComponent[1].ComponentItemId", "ItemComponent[2].ComponentItemId",
    ]
    # Nothing written: the kit item was not created.
    assert data(client, "{ parts { totalCount } }")["parts"]["totalCount"] == 1


def test_bad_documents_are_400_naming_the_field(session: Session, client: TestClient) -> None:
    factories.part(session, "ItemB")
    cases = [
        ({"ItemId": "K", "ItemComponent": [{"ComponentItemId": "ItemB", "ComponentQty": 0}]},
         "ItemComponent[0].ComponentQty"),
        ({"ItemId": "K", "ItemComponent": [{"ComponentItemId": "ItemB", "ComponentQty": -1}]},
         "ItemComponent[0].ComponentQty"),
        ({"ItemId": "K", "ItemComponent": [{"ComponentItemId": "ItemB", "ComponentQty": "two"}]},
         "ItemComponent[0].ComponentQty"),
        ({"ItemId": "ItemB", "ItemComponent": [{"ComponentItemId": "ItemB", "ComponentQty": 1}]},
         "ItemComponent[0].ComponentItemId"),
        ({"ItemComponent": []}, None),
        ([1, 2], None),
    ]
    for document, field in cases:
        response = client.post("/api/items", json=document)
        assert response.status_code == 400, (document, response.text)
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        if field is not None:
            assert error["extensions"]["field"] == field, (document, error)
    response = client.post("/api/items", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "the request body is not valid JSON"


def test_a_part_holding_stock_is_not_made_a_kit(session: Session, client: TestClient) -> None:
    """updatePart refuses components for a part with inventory records; so does the document."""
    stocked = factories.part(session, "CABLE-24")
    factories.part(session, "PLUG")
    factories.record(session, stocked, 7)
    response = client.post("/api/items", json={"ItemId": "CABLE-24", "ItemComponent": [
        {"ComponentItemId": "PLUG", "ComponentQty": 1}]})
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "ItemComponent"}
    assert "CABLE-24 has inventory records" in error["message"]
    assert components(client, stocked.id) == []
