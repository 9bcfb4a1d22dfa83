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


# -- bad fields are named as the document names them ------------------------------------

GOOD_EVENT = {"EventTypeId": "Pick", "OrderId": "08May_ORD04", "OrderLineId": "1", "ReleaseId": "08May_ORD04-1",
              "ReleaseLineId": "1", "Item": "ItemB", "Quantity": 2, "ShortReasonId": None,
              "CancelUnfulfilledQuantity": False, "FulfillmentInfo": {"PackageId": "PKG-001"}}
WITHOUT = object()  # a key left out of the event
BAD_FIELDS: list[tuple[dict[str, Any], int, str]] = [
    ({"EventTypeId": "Teleport"}, 400, "EventTypeId"),
    ({"EventTypeId": WITHOUT}, 400, "EventTypeId"),
    ({"EventTypeId": {"Id": "Pick"}}, 400, "EventTypeId"),
    ({"Item": WITHOUT}, 400, "Item"),
    ({"Item": "NoSuchItem"}, 404, "Item"),
    ({"Quantity": "two"}, 400, "Quantity"),
    ({"Quantity": WITHOUT}, 400, "Quantity"),
    ({"Quantity": -2}, 400, "Quantity"),
    ({"Quantity": 10 ** 12}, 400, "Quantity"),
    ({"Quantity": 0.0000001}, 400, "Quantity"),
    ({"OrderId": "NoSuchOrder"}, 404, "OrderId"),
    ({"OrderId": ["08May_ORD04"]}, 400, "OrderId"),
    ({"ReleaseId": WITHOUT, "ReleaseLineId": WITHOUT, "OrderLineId": "9"}, 404, "OrderLineId"),
    ({"ReleaseId": WITHOUT, "ReleaseLineId": WITHOUT, "OrderId": WITHOUT}, 404, "OrderId"),
    ({"ReleaseId": WITHOUT, "ReleaseLineId": WITHOUT, "OrderId": WITHOUT, "OrderLineId": WITHOUT}, 400,
     "OrderLineId"),
    ({"ReleaseId": WITHOUT, "ReleaseLineId": WITHOUT, "OrderLineId": WITHOUT}, 400, "Item"),
    ({"OrderLineId": True}, 400, "OrderLineId"),
    ({"ReleaseId": "08May_ORD04-9"}, 404, "ReleaseId"),
    ({"ReleaseId": WITHOUT}, 404, "ReleaseId"),
    ({"ReleaseLineId": "9"}, 404, "ReleaseLineId"),
    ({"ReleaseLineId": {"Id": 1}}, 400, "ReleaseLineId"),
    ({"ShortReasonId": ["3000"]}, 400, "ShortReasonId"),
    ({"CancelUnfulfilledQuantity": "yes"}, 400, "CancelUnfulfilledQuantity"),
    ({"FulfillmentInfo": "PKG-001"}, 400, "FulfillmentInfo"),
    ({"FulfillmentInfo": {"PackageId": {"Id": "PKG-001"}}}, 400, "FulfillmentInfo.PackageId"),
]


def event_with(changes: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(GOOD_EVENT)
    for key, value in changes.items():
        if value is WITHOUT:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def assert_in_document_terms(error: dict[str, Any]) -> None:
    """Nothing in an error speaks the GraphQL mutation's names."""
    text = str(error)
    for name in ("events[", "eventType", "partId", "orderLineId", "releaseLineId", "orderId", "packageId",
                 "shortReasonId", "cancelUnfulfilledQuantity", "externalMessageId"):
        assert name not in text, (name, error)


def test_every_bad_field_of_an_event_is_named_as_the_document_names_it(client: TestClient) -> None:
    item_a_order(client)
    for number, (changes, status, field) in enumerate(BAD_FIELDS):
        # The bad event second, after a good one: the index is the event's own.
        body = {"ExternalMessageId": f"BAD-{number}", "OrderEvent": [event_with({}), event_with(changes)]}
        response = post(client, body)
        assert response.status_code == status, (changes, response.text)
        error = response.json()["errors"][0]
        assert error["extensions"].get("field") == f"OrderEvent[1].{field}", (changes, error)
        assert_in_document_terms(error)
    assert order_detail(client)["unprocessedEvents"] == []
    # Nothing was stored, the message ids included: the same ids are still new.
    good = post(client, {"ExternalMessageId": "BAD-0", "OrderEvent": [event_with({"Quantity": 2}),
                                                                      event_with({"ReleaseLineId": "2",
                                                                                  "Item": "ItemC", "Quantity": 1}),
                                                                      event_with({"ReleaseLineId": "3",
                                                                                  "Item": "ItemD", "Quantity": 1})]})
    assert good.status_code == 200 and good.json()["processed"] is True and not good.json()["duplicate"]


def test_several_bad_events_are_all_named_in_document_terms(client: TestClient) -> None:
    item_a_order(client)
    response = post(client, {"ExternalMessageId": "BAD", "OrderEvent": [
        event_with({"Quantity": -1}), event_with({"EventTypeId": "Teleport"})]})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert [d["field"] for d in error["extensions"]["details"]] == ["OrderEvent[0].Quantity",
                                                                   "OrderEvent[1].EventTypeId"]
    assert "OrderEvent[0].Quantity" in error["message"] and "OrderEvent[1].EventTypeId" in error["message"]
    assert_in_document_terms(error)


def test_the_document_has_a_name_for_every_field_of_the_mutation() -> None:
    from pathlib import Path

    from graphql import build_schema

    from kitwright.api.rest_orders import DOCUMENT_NAMES

    schema = build_schema((Path(__file__).parents[2] / "schema.graphql").read_text())
    for input_type in ("ProcessOrderEventsInput", "OrderEventInput"):
        fields = schema.type_map[input_type].fields  # type: ignore[union-attr]
        assert set(fields) <= set(DOCUMENT_NAMES), (input_type, set(fields) - set(DOCUMENT_NAMES))
