"""The reported drift, over HTTP: updatePartInventory(onOrder: true) then receivePartInventory
on a kitted lot. Both are refused with CONFLICT naming the kit, and the kit, its pick list and
the record still agree (docs/kit-rules.md). Both engines."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api.gql import data, error


def _ids(client: TestClient) -> dict[str, Any]:
    part = data(client, 'mutation { createPart(input: {partNumber: "BOLT", trackingType: LOT}) { part { id } } }')
    part_id = part["createPart"]["part"]["id"]
    loc = data(client, 'mutation { createLocation(input: {name: "A-1"}) { location { id } } }')
    loc_id = loc["createLocation"]["location"]["id"]
    lot = data(client, """mutation($p: ID!, $l: ID!) { createPartInventory(input: {partId: $p, locationId: $l,
        lotNumber: "L-1", quantity: 20}) { partInventory { id } } }""", {"p": part_id, "l": loc_id})
    kit = data(client, "mutation { createPartKit(input: {}) { partKit { id } } }")["createPartKit"]["partKit"]["id"]
    item = data(client, """mutation($k: ID!, $p: ID!) { createPartKitItem(input: {partKitId: $k, partId: $p,
        quantity: 12.5}) { partKitItem { id } } }""", {"k": kit, "p": part_id})["createPartKitItem"]["partKitItem"]["id"]
    held = data(client, """mutation($r: ID!, $i: ID!) { issueItemToKit(input: {partInventoryId: $r,
        partKitItemId: $i, quantity: 12.5}) { partInventory { id } } }""",
                {"r": lot["createPartInventory"]["partInventory"]["id"], "i": item})
    return {"kit": kit, "item": item, "held": held["issueItemToKit"]["partInventory"]["id"]}


def _record(client: TestClient, id: str) -> dict[str, Any]:
    found: dict[str, Any] = data(client, "query($id: ID!) { partInventory(id: $id) { quantity status _etag } }",
                                 {"id": id})["partInventory"]
    return found


def test_on_order_then_receive_on_a_kitted_lot_is_refused(client: TestClient) -> None:
    ids = _ids(client)
    refused = error(client, """mutation($i: UpdatePartInventoryInput!) { updatePartInventory(input: $i) {
        partInventory { id } } }""", {"i": {"id": ids["held"], "etag": _record(client, ids["held"])["_etag"],
                                            "onOrder": True}})
    assert refused["extensions"]["code"] == "CONFLICT" and refused["extensions"]["field"] == "onOrder"
    assert f"kit {ids['kit']}" in refused["message"] and "moveItemToInventory" in refused["message"]
    for quantity in (0, 1000):
        refused = error(client, """mutation($i: ReceivePartInventoryInput!) { receivePartInventory(input: $i) {
            partInventory { id } } }""", {"i": {"id": ids["held"], "quantity": quantity}})
        assert refused["extensions"] == {"code": "CONFLICT", "field": "id", "details": refused["extensions"]["details"]}
        assert f"kit {ids['kit']}" in refused["message"]
    kit = data(client, """query($id: ID!) { partKit(id: $id) { items { kittedQuantity }
        pickList { quantity } } }""", {"id": ids["kit"]})["partKit"]
    assert kit == {"items": [{"kittedQuantity": 12.5}], "pickList": [{"quantity": 12.5}]}
    record = _record(client, ids["held"])
    assert (record["quantity"], record["status"]) == (12.5, "KITTED")
