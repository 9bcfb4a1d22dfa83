"""Every rule and example of the retail order rules (docs/retail-orders.md), through GraphQL,
on both engines. The Dining Set is 1 Table + 4 Chairs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from tests.api.gql import data, error
from tests.api.test_kit_availability import Shop

LINE = """id lineNumber quantity hasComponents part { partNumber } components { part { partNumber } quantity }
          quantityDetail { ordered unallocated allocated backordered released inProgress picked packed shipped
                           shorted canceled }"""
ORDER = f"""id orderNumber lines {{ {LINE} }}
  releases {{ id releaseNumber site {{ name }} lines {{ id lineNumber orderLineId part {{ partNumber }}
             parentPart {{ partNumber }} ratio quantity }} }}
  unprocessedEvents {{ id eventType orderLineId releaseLineId quantity packageId reason processedAt }}
  invoices {{ kind packageId lines {{ orderLineId quantity }} }}"""


class Retail(Shop):
    def settings(self, **values: Any) -> dict[str, Any]:
        result: dict[str, Any] = data(self.client, """mutation($input: UpdateOrderSettingsInput!) {
            updateOrderSettings(input: $input) { orderSettings { partialKitSupported enableKits
              returnVerificationPolicy backorderShortReasonIds } } }""", {"input": values})
        return result["updateOrderSettings"]["orderSettings"]  # type: ignore[no-any-return]

    def order(self, number: str, *lines: dict[str, Any]) -> dict[str, Any]:
        result = data(self.client, f"""mutation($input: CreateOrderInput!) {{
            createOrder(input: $input) {{ order {{ {ORDER} }} }} }}""",
                      {"input": {"orderNumber": number, "lines": list(lines)}})
        return result["createOrder"]["order"]  # type: ignore[no-any-return]

    def allocate(self, order: dict[str, Any]) -> dict[str, Any]:
        result = data(self.client, f"""mutation($input: AllocateOrderInput!) {{
            allocateOrder(input: $input) {{ order {{ {ORDER} }} }} }}""", {"input": {"id": order["id"]}})
        return result["allocateOrder"]["order"]  # type: ignore[no-any-return]

    def release(self, order: dict[str, Any]) -> dict[str, Any]:
        result = data(self.client, f"""mutation($input: ReleaseOrderInput!) {{
            releaseOrder(input: $input) {{ order {{ {ORDER} }} }} }}""", {"input": {"id": order["id"]}})
        return result["releaseOrder"]["order"]  # type: ignore[no-any-return]

    def get(self, order: dict[str, Any]) -> dict[str, Any]:
        return data(self.client, f"query($id: ID!) {{ order(id: $id) {{ {ORDER} }} }}", {"id": order["id"]})[
            "order"]  # type: ignore[no-any-return]

    def events(self, message: str, *events: dict[str, Any]) -> dict[str, Any]:
        result = data(self.client, """mutation($input: ProcessOrderEventsInput!) {
            processOrderEvents(input: $input) { processed duplicate invoices { packageId }
              unprocessedEvents { eventType releaseLineId partId quantity packageId reason } } }""",
                      {"input": {"externalMessageId": message, "events": list(events)}})
        return result["processOrderEvents"]  # type: ignore[no-any-return]

    def kits_on_hand(self, part: str) -> Any:
        return self.availability(part)["network"]["onHandQuantity"]


def dining(client: TestClient, sites: dict[str, tuple[int, int]]) -> tuple[Retail, str, str, str]:
    shop = Retail(client)
    table, chair = shop.part("Table"), shop.part("Chair")
    kit = shop.part("DiningSet", [(table, 1), (chair, 4)])
    for name, (t, c) in sites.items():
        shop.site(name)
        if t:
            shop.stock(table, t, f"{name}/Shelf")
        if c:
            shop.stock(chair, c, f"{name}/Shelf")
    return shop, table, chair, kit


def detail(order: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return order["lines"][index]["quantityDetail"]  # type: ignore[no-any-return]


def release_lines(order: dict[str, Any]) -> dict[str, str]:
    """part number -> release line id, over the order's first release."""
    return {line["part"]["partNumber"]: line["id"] for line in order["releases"][0]["lines"]}


def ev(kind: str, line: str, part: str, quantity: Any, **extra: Any) -> dict[str, Any]:
    return {"eventType": kind, "releaseLineId": line, "partId": part, "quantity": quantity, **extra}


# -- orders and settings -----------------------------------------------------------------


def test_settings_default_off_and_return_order(client: TestClient) -> None:
    settings = data(client, "{ orderSettings { partialKitSupported enableKits returnVerificationPolicy } }")
    assert settings["orderSettings"] == {"partialKitSupported": False, "enableKits": False,
                                         "returnVerificationPolicy": "RETURN_ORDER"}
    changed = Retail(client).settings(partialKitSupported=True, returnVerificationPolicy="RETURN_LINE")
    assert (changed["partialKitSupported"], changed["enableKits"], changed["returnVerificationPolicy"]) == (
        True, False, "RETURN_LINE")


def test_components_copied_from_the_item_master_or_given_on_the_line(client: TestClient) -> None:
    shop, table, chair, kit = dining(client, {"DC1": (0, 0)})
    bench = shop.part("Bench")
    order = shop.order("ORD-1", {"partId": kit, "quantity": 1},
                       {"partId": kit, "quantity": 1, "components": [{"partId": table, "quantity": 1},
                                                                      {"partId": bench, "quantity": 2}]},
                       {"partId": chair, "quantity": 2})
    copied, given, regular = order["lines"]
    assert [(c["part"]["partNumber"], c["quantity"]) for c in copied["components"]] == [("Table", 1), ("Chair", 4)]
    assert [(c["part"]["partNumber"], c["quantity"]) for c in given["components"]] == [("Table", 1), ("Bench", 2)]
    assert (copied["hasComponents"], given["hasComponents"], regular["hasComponents"]) == (True, True, False)
    assert [line["lineNumber"] for line in order["lines"]] == ["1", "2", "3"]


def test_a_digital_and_physical_mix_is_refused(client: TestClient) -> None:
    shop, table, _chair, kit = dining(client, {"DC1": (0, 0)})
    ebook = shop.part("Manual-PDF", isDigital=True)
    failure = error(client, """mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } } }""",
                    {"input": {"orderNumber": "ORD-1", "lines": [{"partId": kit, "quantity": 1, "components": [
                        {"partId": table, "quantity": 1}, {"partId": ebook, "quantity": 1}]}]}})
    assert failure["extensions"]["code"] == "BAD_USER_INPUT"
    assert failure["extensions"]["field"] == "lines[0].components"
    assert data(client, "{ orders { pageInfo { totalCount } } }")["orders"]["pageInfo"]["totalCount"] == 0


def test_bad_order_input_names_the_field(client: TestClient) -> None:
    shop, _t, _c, kit = dining(client, {"DC1": (0, 0)})
    shop.order("ORD-1", {"partId": kit, "quantity": 1})
    for lines, field in (([{"partId": kit, "quantity": 1.5}], "lines[0].quantity"),
                         ([{"partId": "99999", "quantity": 1}], "lines[0].partId"),
                         ([], "lines")):
        failure = error(client, "mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } } }",
                        {"input": {"orderNumber": "ORD-2", "lines": lines}})
        assert failure["extensions"]["field"] == field, failure
    failure = error(client, "mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } } }",
                    {"input": {"orderNumber": "ORD-1", "lines": [{"partId": kit, "quantity": 1}]}})
    assert failure["extensions"]["field"] == "orderNumber"


# -- allocation --------------------------------------------------------------------------


def test_allocation_leaves_availability_at_once(client: TestClient) -> None:
    shop, _t, _c, kit = dining(client, {"DC1": (10, 16), "DC2": (1, 100)})
    assert shop.kits_on_hand(kit) == 5
    order = shop.allocate(shop.order("ORD-1", {"partId": kit, "quantity": 3}))
    assert (detail(order)["allocated"], detail(order)["backordered"]) == (3, 0)
    assert shop.kits_on_hand(kit) == 2
    statuses = data(client, "{ partInventories(filters: {status: {eq: ALLOCATED}}) { pageInfo { totalCount } } }")
    assert statuses["partInventories"]["pageInfo"]["totalCount"] == 2


def test_default_allocation_is_one_site_all_or_nothing(client: TestClient) -> None:
    shop, _t, _c, kit = dining(client, {"DC1": (4, 16), "DC2": (1, 100)})
    order = shop.allocate(shop.order("ORD-1", {"partId": kit, "quantity": 5}))
    assert (detail(order)["allocated"], detail(order)["backordered"]) == (0, 5)
    assert shop.kits_on_hand(kit) == 5  # nothing stays reserved for a backordered line
    shop.settings(enableKits=True)
    order = shop.allocate(order)
    assert (detail(order)["allocated"], detail(order)["backordered"]) == (5, 0)
    released = shop.release(order)
    assert sorted(r["site"]["name"] for r in released["releases"]) == ["DC1", "DC2"]
    for release in released["releases"]:
        assert {line["part"]["partNumber"] for line in release["lines"]} == {"Table", "Chair"}
        assert {line["parentPart"]["partNumber"] for line in release["lines"]} == {"DiningSet"}
        quantities = {line["part"]["partNumber"]: line["quantity"] for line in release["lines"]}
        assert quantities["Chair"] == 4 * quantities["Table"]


def test_enable_kits_allocates_partially_in_whole_kits(client: TestClient) -> None:
    shop, _t, _c, kit = dining(client, {"DC1": (3, 10)})
    shop.settings(enableKits=True)
    order = shop.allocate(shop.order("ORD-1", {"partId": kit, "quantity": 4}))
    assert (detail(order)["allocated"], detail(order)["backordered"]) == (2, 2)


def test_lines_sharing_components_are_allocated_in_line_order_never_oversold(client: TestClient) -> None:
    shop, _t, chair, kit = dining(client, {"DC1": (2, 10)})
    order = shop.allocate(shop.order("ORD-1", {"partId": kit, "quantity": 2}, {"partId": chair, "quantity": 3}))
    assert (detail(order, 0)["allocated"], detail(order, 1)["allocated"], detail(order, 1)["backordered"]) == (2, 0, 3)
    order = shop.allocate(shop.order("ORD-2", {"partId": chair, "quantity": 2}))
    assert detail(order)["allocated"] == 2


# -- order events: the page's examples (3 dining sets released) -------------------------


def three_released(client: TestClient, partial: bool = True) -> tuple[Retail, str, str, dict[str, Any], dict[str, str]]:
    shop, table, chair, kit = dining(client, {"DC1": (10, 40)})
    shop.settings(partialKitSupported=partial)
    order = shop.release(shop.allocate(shop.order("ORD-1", {"partId": kit, "quantity": 3})))
    return shop, table, chair, order, release_lines(order)


def test_short_one_kit_is_processed_two_remain(client: TestClient) -> None:
    shop, table, chair, order, rl = three_released(client)
    outcome = shop.events("M1", ev("SHORT", rl["Table"], table, 1, shortReasonId="R"),
                          ev("SHORT", rl["Chair"], chair, 4, shortReasonId="R"))
    assert outcome["processed"] and outcome["unprocessedEvents"] == []
    d = detail(shop.get(order))
    assert (d["shorted"], d["canceled"], d["released"]) == (1, 1, 2)
    assert shop.kits_on_hand(_kit_id(client)) == 8


def _kit_id(client: TestClient) -> str:
    found = data(client, '{ parts(filters: {partNumber: {eq: "DiningSet"}}) { edges { node { id } } } }')
    return str(found["parts"]["edges"][0]["node"]["id"])


def test_short_one_table_eight_chairs_is_stored_unprocessed_on_both_lines(client: TestClient) -> None:
    shop, table, chair, order, rl = three_released(client)
    outcome = shop.events("M1", ev("SHORT", rl["Table"], table, 1, shortReasonId="R"),
                          ev("SHORT", rl["Chair"], chair, 8, shortReasonId="R"))
    assert not outcome["processed"]
    assert [(e["releaseLineId"], e["quantity"]) for e in outcome["unprocessedEvents"]] == [
        (rl["Table"], 1), (rl["Chair"], 8)]
    again = shop.get(order)
    assert detail(again)["released"] == 3 and len(again["unprocessedEvents"]) == 2


def test_ship_two_packages_of_one_kit_each_makes_two_invoices(client: TestClient) -> None:
    shop, table, chair, order, rl = three_released(client)
    outcome = shop.events("M1", ev("SHIP", rl["Table"], table, 1, packageId="P1"),
                          ev("SHIP", rl["Table"], table, 1, packageId="P2"),
                          ev("SHIP", rl["Chair"], chair, 4, packageId="P1"),
                          ev("SHIP", rl["Chair"], chair, 4, packageId="P2"))
    assert outcome["processed"] and sorted(i["packageId"] for i in outcome["invoices"]) == ["P1", "P2"]
    after = shop.get(order)
    assert (detail(after)["shipped"], detail(after)["released"]) == (2, 1)
    assert sorted((i["packageId"], i["lines"][0]["quantity"]) for i in after["invoices"]) == [("P1", 1), ("P2", 1)]
    # shipping consumed the components: 8 tables and 32 chairs are left in all
    left = data(client, "{ partInventories(first: 500) { edges { node { quantity part { partNumber } } } } }")
    totals: dict[str, Any] = {}
    for edge in left["partInventories"]["edges"]:
        node = edge["node"]
        totals[node["part"]["partNumber"]] = totals.get(node["part"]["partNumber"], 0) + node["quantity"]
    assert totals == {"Table": 8, "Chair": 32}


def test_ship_tables_and_chairs_in_different_packages_is_unprocessed(client: TestClient) -> None:
    shop, table, chair, order, rl = three_released(client)
    outcome = shop.events("M1", ev("SHIP", rl["Table"], table, 2, packageId="P1"),
                          ev("SHIP", rl["Chair"], chair, 8, packageId="P2"))
    assert not outcome["processed"] and len(outcome["unprocessedEvents"]) == 2
    assert "package" in outcome["unprocessedEvents"][0]["reason"]
    assert detail(shop.get(order))["shipped"] == 0


def test_in_progress_pick_pack_move_whole_kits_through_the_stages(client: TestClient) -> None:
    shop, table, chair, order, rl = three_released(client)
    assert shop.events("M1", ev("IN_PROGRESS", rl["Table"], table, 3), ev("IN_PROGRESS", rl["Chair"], chair, 12))[
        "processed"]
    assert shop.events("M2", ev("PICK", rl["Table"], table, 2, packageId="ignored"),
                       ev("PICK", rl["Chair"], chair, 8, packageId="other"))["processed"]
    assert not shop.events("M3", ev("PACK", rl["Table"], table, 1), ev("PACK", rl["Chair"], chair, 4))["processed"]
    assert shop.events("M4", ev("PACK", rl["Table"], table, 1, packageId="B"),
                       ev("PACK", rl["Chair"], chair, 4, packageId="B"))["processed"]
    d = detail(shop.get(order))
    assert (d["inProgress"], d["picked"], d["packed"], d["released"]) == (1, 1, 1, 0)


def test_without_partial_support_events_cover_the_whole_open_quantity(client: TestClient) -> None:
    shop, table, chair, order, rl = three_released(client, partial=False)
    outcome = shop.events("M1", ev("SHIP", rl["Table"], table, 1, packageId="P1"),
                          ev("SHIP", rl["Chair"], chair, 4, packageId="P1"))
    assert not outcome["processed"]
    outcome = shop.events("M2", ev("SHIP", rl["Table"], table, 1, packageId="P1", cancelUnfulfilledQuantity=True),
                          ev("SHIP", rl["Chair"], chair, 4, packageId="P1", cancelUnfulfilledQuantity=True))
    assert (outcome["processed"], outcome["unprocessedEvents"]) == (True, [])
    d = detail(shop.get(order))
    assert (d["shipped"], d["canceled"], d["released"]) == (1, 2, 0)
    assert shop.kits_on_hand(_kit_id(client)) == 9  # the canceled kits went back to stock


def test_events_above_what_is_open_are_stored_and_unknown_lines_are_errors(client: TestClient) -> None:
    shop, table, chair, _order, rl = three_released(client)
    outcome = shop.events("M1", ev("SHIP", rl["Table"], table, 4, packageId="P"),
                          ev("SHIP", rl["Chair"], chair, 16, packageId="P"))
    assert not outcome["processed"] and "exceed" in outcome["unprocessedEvents"][0]["reason"]
    failure = error(client, """mutation($input: ProcessOrderEventsInput!) { processOrderEvents(input: $input) {
        processed } }""", {"input": {"externalMessageId": "M2", "events": [ev("SHIP", "99999", table, 1)]}})
    assert (failure["extensions"]["code"], failure["extensions"]["field"]) == ("NOT_FOUND", "events[0].releaseLineId")
    # nothing was stored for the refused message, so the id is still free
    assert shop.events("M2", ev("PICK", rl["Table"], table, 3), ev("PICK", rl["Chair"], chair, 12))["processed"]


def test_the_same_message_id_is_processed_once(client: TestClient) -> None:
    shop, table, chair, order, rl = three_released(client)
    events = (ev("PICK", rl["Table"], table, 1), ev("PICK", rl["Chair"], chair, 4))
    assert shop.events("M1", *events)["processed"] is True
    again = shop.events("M1", *events)
    assert again["processed"] and again["duplicate"]
    assert detail(shop.get(order))["picked"] == 1


def test_reconciler_processes_stored_events_once_they_form_whole_kits(client: TestClient) -> None:
    shop, table, chair, order, rl = three_released(client)
    shop.events("M1", ev("PICK", rl["Table"], table, 1))
    reconcile = "mutation { reconcileOrderEvents { processed { id } stuck { ageSeconds reason event { id } } } }"
    first = data(client, reconcile)["reconcileOrderEvents"]
    assert first["processed"] == [] and len(first["stuck"]) == 1 and first["stuck"][0]["ageSeconds"] >= 0
    shop.events("M2", ev("PICK", rl["Chair"], chair, 4))
    second = data(client, reconcile)["reconcileOrderEvents"]
    assert len(second["processed"]) == 2 and second["stuck"] == []
    after = shop.get(order)
    assert detail(after)["picked"] == 1
    assert all(e["processedAt"] for e in after["unprocessedEvents"])


# -- returns -----------------------------------------------------------------------------


def shipped_three(client: TestClient, partial: bool) -> tuple[Retail, str, str, dict[str, Any]]:
    shop, table, chair, order, rl = three_released(client, partial)
    assert shop.events("S1", ev("SHIP", rl["Table"], table, 3, packageId="P"),
                       ev("SHIP", rl["Chair"], chair, 12, packageId="P"))["processed"]
    return shop, table, chair, order


RETURN = """mutation($input: CreateReturnOrderInput!) { createReturnOrder(input: $input) { returnOrder {
  id exchangeType exchangeOrder { lines { hasComponents part { partNumber } quantity components { quantity } } }
  lines { id status quantity } } } }"""
VERIFY = """mutation($input: RecordReturnVerificationInput!) { recordReturnVerification(input: $input) {
  returnLine { id status unexpected quantityVarianceHold conditionVarianceHold part { partNumber } } } }"""
RESOLVE = """mutation($input: ResolveReturnLineInput!) { resolveReturnLine(input: $input) {
  returnLine { status invoicedQuantity canceledQuantity } } }"""


def create_return(client: TestClient, order: dict[str, Any], quantity: int, **extra: Any) -> dict[str, Any]:
    result = data(client, RETURN, {"input": {"orderId": order["id"], "lines": [
        {"orderLineId": order["lines"][0]["id"], "quantity": quantity}], **extra}})
    return result["createReturnOrder"]["returnOrder"]  # type: ignore[no-any-return]


def verify(client: TestClient, line: str, part: str, quantity: Any, condition: str = "GOOD") -> dict[str, Any]:
    result = data(client, VERIFY, {"input": {"returnLineId": line, "partId": part, "quantity": quantity,
                                             "condition": condition}})
    return result["recordReturnVerification"]["returnLine"]  # type: ignore[no-any-return]


def resolve(client: TestClient, line: str) -> dict[str, Any]:
    return data(client, RESOLVE, {"input": {"returnLineId": line}})["resolveReturnLine"]["returnLine"]  # type: ignore[no-any-return]


def test_return_resolves_into_complete_kits_with_partial_support(client: TestClient) -> None:
    shop, table, chair, order = shipped_three(client, partial=True)
    ret = create_return(client, order, 3)
    line = ret["lines"][0]["id"]
    assert verify(client, line, table, 3)["quantityVarianceHold"] is True
    held = verify(client, line, chair, 8)
    assert (held["status"], held["quantityVarianceHold"]) == ("HELD", True)
    assert resolve(client, line) == {"status": "RESOLVED", "invoicedQuantity": 2, "canceledQuantity": 1}
    # received components went back to stock: the spare table is recorded as received
    assert shop.kits_on_hand(_kit_id(client)) == 7 + 2


def test_return_line_policy_lets_the_rest_be_verified_later(client: TestClient) -> None:
    shop, table, chair, order = shipped_three(client, partial=True)
    shop.settings(returnVerificationPolicy="RETURN_LINE")
    line = create_return(client, order, 3)["lines"][0]["id"]
    verify(client, line, table, 3)
    verify(client, line, chair, 8)
    assert resolve(client, line) == {"status": "HELD", "invoicedQuantity": 2, "canceledQuantity": 0}
    verify(client, line, chair, 4)
    assert resolve(client, line) == {"status": "RESOLVED", "invoicedQuantity": 3, "canceledQuantity": 0}


def test_return_order_policy_cancels_a_line_without_a_complete_kit(client: TestClient) -> None:
    _shop, table, chair, order = shipped_three(client, partial=True)
    line = create_return(client, order, 1)["lines"][0]["id"]
    verify(client, line, table, 1)
    verify(client, line, chair, 3)
    assert resolve(client, line) == {"status": "CANCELED", "invoicedQuantity": 0, "canceledQuantity": 1}


def test_condition_variance_and_unexpected_items_are_held(client: TestClient) -> None:
    shop, table, chair, order = shipped_three(client, partial=True)
    line = create_return(client, order, 1)["lines"][0]["id"]
    verify(client, line, table, 1)
    held = verify(client, line, chair, 4, "DAMAGED")
    assert (held["status"], held["conditionVarianceHold"], held["quantityVarianceHold"]) == ("HELD", True, False)
    lamp = shop.part("Lamp")
    unexpected = verify(client, line, lamp, 1)
    assert (unexpected["unexpected"], unexpected["status"], unexpected["part"]["partNumber"]) == (True, "HELD", "Lamp")
    assert unexpected["id"] != line


def test_kit_level_returns_by_default(client: TestClient) -> None:
    _shop, table, _chair, order = shipped_three(client, partial=False)
    line = create_return(client, order, 2)["lines"][0]["id"]
    failure = error(client, VERIFY, {"input": {"returnLineId": line, "partId": table, "quantity": 2}})
    assert failure["extensions"]["field"] == "partId"
    kit = _kit_id(client)
    failure = error(client, VERIFY, {"input": {"returnLineId": line, "partId": kit, "quantity": 1}})
    assert failure["extensions"]["field"] == "quantity"
    assert verify(client, line, kit, 2)["status"] == "OPEN"
    assert resolve(client, line) == {"status": "RESOLVED", "invoicedQuantity": 2, "canceledQuantity": 0}


def test_a_kit_level_return_is_verified_once(client: TestClient) -> None:
    shop, _table, _chair, order = shipped_three(client, partial=False)
    line = create_return(client, order, 2)["lines"][0]["id"]
    kit = _kit_id(client)
    on_hand = shop.kits_on_hand(kit)
    assert verify(client, line, kit, 2, "DAMAGED")["conditionVarianceHold"] is True
    assert shop.kits_on_hand(kit) == on_hand + 2
    failure = error(client, VERIFY, {"input": {"returnLineId": line, "partId": kit, "quantity": 2,
                                               "condition": "GOOD"}})
    assert (failure["extensions"]["code"], failure["extensions"]["field"]) == ("CONFLICT", "returnLineId")
    assert shop.kits_on_hand(kit) == on_hand + 2
    assert resolve(client, line) == {"status": "RESOLVED", "invoicedQuantity": 2, "canceledQuantity": 0}


def test_returns_larger_than_shipped_are_refused(client: TestClient) -> None:
    _shop, _t, _c, order = shipped_three(client, partial=True)
    failure = error(client, RETURN, {"input": {"orderId": order["id"], "lines": [
        {"orderLineId": order["lines"][0]["id"], "quantity": 4}]}})
    assert (failure["extensions"]["code"], failure["extensions"]["field"]) == ("BAD_USER_INPUT", "lines[0].quantity")
    create_return(client, order, 2)
    failure = error(client, RETURN, {"input": {"orderId": order["id"], "lines": [
        {"orderLineId": order["lines"][0]["id"], "quantity": 2}]}})
    assert failure["extensions"]["field"] == "lines[0].quantity"


def test_even_exchange_copies_components_uneven_creates_a_regular_line(client: TestClient) -> None:
    shop, _t, _c, order = shipped_three(client, partial=True)
    even = create_return(client, order, 1, exchange="EVEN")
    (line,) = even["exchangeOrder"]["lines"]
    assert (line["hasComponents"], line["part"]["partNumber"], [c["quantity"] for c in line["components"]]) == (
        True, "DiningSet", [1, 4])
    lamp = shop.part("Lamp")
    uneven = create_return(client, order, 1, exchange="UNEVEN", exchangePartId=lamp)
    (line,) = uneven["exchangeOrder"]["lines"]
    assert (line["hasComponents"], line["part"]["partNumber"], line["quantity"]) == (False, "Lamp", 1)


def test_a_viewer_cannot_change_orders(client: TestClient, client_for: Callable[[str], TestClient]) -> None:
    viewer = client_for("viewer")
    failure = error(viewer, """mutation { createOrder(input: {orderNumber: "X", lines: []}) { order { id } } }""")
    assert failure["extensions"]["code"] == "FORBIDDEN"
    assert data(viewer, "{ orders { edges { node { id } } pageInfo { totalCount } } }")["orders"]["pageInfo"][
        "totalCount"] == 0


def test_events_naming_no_line_are_for_a_regular_item_of_the_order(client: TestClient) -> None:
    shop, table, chair, kit = dining(client, {"DC1": (10, 40)})
    order = shop.release(shop.allocate(shop.order("ORD-1", {"partId": kit, "quantity": 1},
                                                  {"partId": chair, "quantity": 2})))
    outcome = shop.events("M1", {"eventType": "PICK", "orderId": order["id"], "partId": chair, "quantity": 2})
    assert (outcome["processed"], outcome["unprocessedEvents"]) == (True, [])
    assert (detail(shop.get(order), 1)["picked"], detail(shop.get(order), 0)["picked"]) == (2, 0)
    failure = error(client, """mutation($input: ProcessOrderEventsInput!) { processOrderEvents(input: $input) {
        processed } }""", {"input": {"externalMessageId": "M2", "events": [
        {"eventType": "PICK", "orderId": order["id"], "partId": table, "quantity": 1}]}})
    assert failure["extensions"]["field"] == "events[0].partId"
    by_line = shop.events("M3", {"eventType": "PICK", "orderLineId": order["lines"][0]["id"], "partId": table,
                                 "quantity": 1}, {"eventType": "PICK", "orderLineId": order["lines"][0]["id"],
                                                  "partId": chair, "quantity": 4})
    assert by_line["processed"] and detail(shop.get(order), 0)["picked"] == 1
