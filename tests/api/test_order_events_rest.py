"""`POST /api/order-events` with the Manhattan sample messages of the kit-items page, verbatim
but for the release number, which is Kitwright's (the warehouse sends back the number it was
given): ItemA = 2 x ItemB + 1 x ItemC + 1 x ItemD, order 08May_ORD04 line 1, released as
08May_ORD04-1 with release lines 1 (ItemB), 2 (ItemC), 3 (ItemD) (docs/retail-orders.md). The
samples ship and short 0.5 ItemD: by the page's own rules they end unprocessed."""

from __future__ import annotations

import copy
from typing import Any

from starlette.testclient import TestClient

from tests.api.gql import data
from tests.api.test_retail_orders import Retail


def fulfil(number: str, line: str, release_line: str, item: str, quantity: Any, package: str) -> dict[str, Any]:
    return {
        "ExternalMessageId": "08May_ORD04", "EventTypeId": "Ship", "OrderId": "08May_ORD04",
        "OrderLineId": line, "ReleaseId": "08May_ORD04-1", "ReleaseLineId": release_line, "StatusId": "7000",
        "Item": item, "Quantity": quantity, "UOM": "EA", "ShortReasonId": None,
        "FulfillmentInfo": {
            "PackageId": package, "PackageDetailId": number, "TrackingNumber": f"TN-00{number}",
            "ShipViaId": "STD", "ServiceLevelCode": "0001", "ModeId": "M-001", "CarrierCode": "UPS",
            "ShipmentId": "0001", "FulfillmentId": "08May_ORD04-1", "FulfillmentDetailId": number,
        },
    }


SAMPLE_SHIP = {
    "ExternalMessageId": "08May_ORD04",
    "OrderEvent": [
        fulfil("1", "1", "1", "ItemB", 2, "PKG-001"),
        fulfil("2", "1", "2", "ItemC", 1, "PKG-001"),
        fulfil("3", "1", "3", "ItemD", 0.5, "PKG-001"),
    ],
}


def short(release_line: str, item: str, quantity: Any) -> dict[str, Any]:
    return {
        "ExternalMessageId": "08May_ORD04", "EventTypeId": "Short", "OrderId": "08May_ORD04", "OrderLineId": "1",
        "ReleaseId": "08May_ORD04-1", "ReleaseLineId": release_line, "StatusId": "7000", "Item": item,
        "Quantity": quantity, "UOM": "EA", "ShortReasonId": "3000.000",
    }


SAMPLE_SHORT = {
    "ExternalMessageId": "08May_ORD04",
    "OrderEvent": [short("1", "ItemB", 2), short("2", "ItemC", 1), short("3", "ItemD", 0.5)],
}


def item_a_order(client: TestClient, kits: int = 1, partial: bool = True) -> Retail:
    shop = Retail(client)
    b, c, d = shop.part("ItemB"), shop.part("ItemC"), shop.part("ItemD")
    item_a = shop.part("ItemA", [(b, 2), (c, 1), (d, 1)])
    shop.site("DC1")
    for part in (b, c, d):
        shop.stock(part, 10, "DC1/Shelf")
    shop.settings(partialKitSupported=partial)
    order = shop.order("08May_ORD04", {"lineNumber": "1", "partId": item_a, "quantity": kits})
    released = shop.release(shop.allocate(order))
    assert released["releases"][0]["releaseNumber"] == "08May_ORD04-1"
    assert [line["part"]["partNumber"] for line in released["releases"][0]["lines"]] == ["ItemB", "ItemC", "ItemD"]
    return shop


def post(client: TestClient, body: Any) -> Any:
    return client.post("/api/order-events", json=body)


def order_detail(client: TestClient) -> dict[str, Any]:
    found = data(client, """{ orders(filters: {orderNumber: {eq: "08May_ORD04"}}) { edges { node {
        lines { quantityDetail { released shipped shorted canceled } }
        unprocessedEvents { releaseLineId quantity } invoices { packageId } } } } }""")
    return found["orders"]["edges"][0]["node"]  # type: ignore[no-any-return]


def test_the_sample_ship_message_ends_unprocessed(client: TestClient) -> None:
    item_a_order(client)
    response = post(client, SAMPLE_SHIP)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["processed"] is False
    assert [(e["quantity"], e["packageId"]) for e in body["unprocessedEvents"]] == [
        (2, "PKG-001"), (1, "PKG-001"), (0.5, "PKG-001")]
    node = order_detail(client)
    assert node["lines"][0]["quantityDetail"]["shipped"] == 0 and len(node["unprocessedEvents"]) == 3


def test_the_sample_short_message_ends_unprocessed(client: TestClient) -> None:
    item_a_order(client)
    body = post(client, SAMPLE_SHORT).json()
    assert body["processed"] is False and len(body["unprocessedEvents"]) == 3
    assert order_detail(client)["lines"][0]["quantityDetail"]["shorted"] == 0


def test_the_sample_ship_with_whole_kits_is_processed_once(client: TestClient) -> None:
    item_a_order(client)
    whole = copy.deepcopy(SAMPLE_SHIP)
    whole["OrderEvent"][2]["Quantity"] = 1  # type: ignore[index]
    body = post(client, whole).json()
    assert (body["processed"], body["unprocessedEvents"]) == (True, [])
    assert [i["packageId"] for i in body["invoices"]] == ["PKG-001"]
    again = post(client, whole).json()
    assert (again["processed"], again["duplicate"]) == (True, True)
    node = order_detail(client)
    assert node["lines"][0]["quantityDetail"]["shipped"] == 1 and len(node["invoices"]) == 1


def test_cancel_unfulfilled_quantity_ships_whole_kits_and_cancels_the_rest(client: TestClient) -> None:
    item_a_order(client, kits=3, partial=False)
    events = [
        {"EventTypeId": "Ship", "ReleaseId": "08May_ORD04-1", "ReleaseLineId": str(n), "Item": item,
         "Quantity": quantity, "UOM": "EA", "CancelUnfulfilledQuantity": True,
         "FulfillmentInfo": {"PackageId": "LPN_1", "PackageDetailId": "1", "EventDate": "2024-11-15T00:00:00"}}
        for n, item, quantity in ((1, "ItemB", 2), (2, "ItemC", 1), (3, "ItemD", 1))
    ]
    body = post(client, {"ExternalMessageId": "CC10614", "OrderEvent": events}).json()
    assert body["processed"] is True
    detail = order_detail(client)["lines"][0]["quantityDetail"]
    assert (detail["shipped"], detail["canceled"], detail["released"]) == (1, 2, 0)


def test_unreadable_documents_are_4xx_and_change_nothing(client: TestClient) -> None:
    item_a_order(client)
    assert client.post("/api/order-events", content=b"{not json", headers={"Content-Type": "application/json"}
                       ).status_code == 400
    for body, field in (
        ([], None),
        ({"ExternalMessageId": "X"}, "OrderEvent"),
        ({"OrderEvent": [{"EventTypeId": "Ship", "Item": "ItemB", "Quantity": 1}]}, "ExternalMessageId"),
        ({"ExternalMessageId": "X", "OrderEvent": [{"EventTypeId": "Ship", "Item": "ItemB", "Quantity": "two"}]},
         "OrderEvent[0].Quantity"),
    ):
        response = post(client, body)
        assert response.status_code == 400, response.text
        if field:
            assert response.json()["errors"][0]["extensions"]["field"] == field
    unknown = copy.deepcopy(SAMPLE_SHIP)
    unknown["OrderEvent"][0]["Item"] = "NoSuchItem"  # type: ignore[index]
    response = post(client, unknown)
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["field"] == "OrderEvent[0].Item"
    assert order_detail(client)["unprocessedEvents"] == []
