"""FEFO over GraphQL: Part.fulfilmentOrder and PartInventory.expirationDate are set, read,
filtered and used by fulfillPartKit; bad values are refused naming the field. Both engines."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api.gql import data, error


def _lot(client: TestClient, part: str, location: str, lot: str, expires: str | None) -> str:
    created = data(client, """mutation($i: CreatePartInventoryInput!) { createPartInventory(input: $i) {
        partInventory { id expirationDate } } }""", {"i": {
        "partId": part, "locationId": location, "lotNumber": lot, "quantity": 1, "expirationDate": expires}})
    record: dict[str, Any] = created["createPartInventory"]["partInventory"]
    assert record["expirationDate"] == expires
    return str(record["id"])


def test_fefo_part_is_fulfilled_by_expiration_date(client: TestClient) -> None:
    part = data(client, """mutation { createPart(input: {partNumber: "GEL", trackingType: LOT,
        fulfilmentOrder: FEFO}) { part { id fulfilmentOrder } } }""")["createPart"]["part"]
    assert part["fulfilmentOrder"] == "FEFO"
    loc = data(client, 'mutation { createLocation(input: {name: "A-1"}) { location { id } } }')
    loc_id = loc["createLocation"]["location"]["id"]
    undated = _lot(client, part["id"], loc_id, "UNDATED", None)  # created first: oldest
    late = _lot(client, part["id"], loc_id, "LATE", "2031-01-01")
    soon = _lot(client, part["id"], loc_id, "SOON", "2030-01-01")
    found = data(client, """{ partInventories(filters: {expirationDate: {lt: "2030-06-01"}}) {
        edges { node { id } } } }""")["partInventories"]["edges"]
    assert [e["node"]["id"] for e in found] == [soon]
    kit = data(client, "mutation { createPartKit(input: {status: REQUESTED}) { partKit { id } } }"
               )["createPartKit"]["partKit"]["id"]
    data(client, """mutation($k: ID!, $p: ID!) { createPartKitItem(input: {partKitId: $k, partId: $p,
        quantity: 2}) { partKitItem { id } } }""", {"k": kit, "p": part["id"]})
    result = data(client, """mutation($k: ID!) { fulfillPartKit(input: {id: $k}) {
        partKit { status } } }""", {"k": kit})["fulfillPartKit"]
    assert result["partKit"]["status"] == "IN_PROGRESS"
    statuses = {r: data(client, "query($id: ID!) { partInventory(id: $id) { status } }", {"id": r})
                ["partInventory"]["status"] for r in (undated, late, soon)}
    assert statuses == {soon: "KITTED", late: "KITTED", undated: "AVAILABLE"}


def test_expiration_date_is_updated_and_bad_values_are_refused(client: TestClient) -> None:
    part = data(client, 'mutation { createPart(input: {partNumber: "P", trackingType: LOT}) { part { id _etag fulfilmentOrder } } }')
    part = part["createPart"]["part"]
    assert part["fulfilmentOrder"] == "FIFO"
    loc = data(client, 'mutation { createLocation(input: {name: "A-1"}) { location { id } } }')
    record = _lot(client, part["id"], loc["createLocation"]["location"]["id"], "L", None)
    etag = data(client, "query($id: ID!) { partInventory(id: $id) { _etag } }", {"id": record})["partInventory"]["_etag"]
    updated = data(client, """mutation($i: UpdatePartInventoryInput!) { updatePartInventory(input: $i) {
        partInventory { expirationDate } } }""", {"i": {"id": record, "etag": etag, "expirationDate": "2030-02-03"}})
    assert updated["updatePartInventory"]["partInventory"]["expirationDate"] == "2030-02-03"
    refused = error(client, """mutation($i: UpdatePartInput!) { updatePart(input: $i) { part { id } } }""",
                    {"i": {"id": part["id"], "etag": part["_etag"], "fulfilmentOrder": None}})
    assert refused["extensions"]["field"] == "fulfilmentOrder"
    bad_date = error(client, """mutation($i: CreatePartInventoryInput!) { createPartInventory(input: $i) {
        partInventory { id } } }""", {"i": {"partId": part["id"], "quantity": 1, "expirationDate": "soon"}})
    assert "expirationDate" in bad_date["message"]
