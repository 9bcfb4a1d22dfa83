"""Every repaired example of retail-kits.md ("Availability"), through GraphQL, on both engines.

Everything is set up through the API too: parts with `components`, a location tree per DC
(a shelf, a receiving dock flagged availableSoon, a quarantine with inventoryAvailable false),
records created with createPartInventory, purchase orders received with receivePartInventory.
The Dining Set is 1 Table + 4 Chairs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.gql import data, error

FIGURE = """totalQuantity onHandQuantity futureQuantity firstAvailableFutureQuantity
            firstAvailableFutureDate buckets { date quantity }"""

AVAILABILITY = f"""
query Availability($partId: ID!, $view: AvailabilityViewInput, $asOf: Date, $siteIds: [ID!]) {{
  kitAvailability(partId: $partId, view: $view, asOf: $asOf, siteIds: $siteIds) {{
    isKitItem asOf part {{ partNumber }}
    network {{ {FIGURE} }}
    sites {{ site {{ id name }} {FIGURE} }}
    components {{ part {{ partNumber }} ratio network {{ {FIGURE} }} sites {{ site {{ name }} {FIGURE} }} }}
  }}
}}"""


class Shop:
    """Builds parts, locations and records through GraphQL."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.locations: dict[str, str] = {}

    def part(self, number: str, components: list[tuple[str, Any]] | None = None, **extra: Any) -> str:
        payload: dict[str, Any] = {"partNumber": number, "trackingType": "UNTRACKED", **extra}
        if components is not None:
            payload["components"] = [{"partId": pid, "quantity": qty} for pid, qty in components]
        result = data(
            self.client,
            "mutation($input: CreatePartInput!) { createPart(input: $input) { part { id } } }",
            {"input": payload},
        )
        return str(result["createPart"]["part"]["id"])

    def location(self, name: str, parent: str | None = None, **flags: Any) -> str:
        result = data(
            self.client,
            "mutation($input: CreateLocationInput!) { createLocation(input: $input) { location { id } } }",
            {"input": {"name": name, "parentId": self.locations.get(parent or ""), **flags}},
        )
        self.locations[name] = str(result["createLocation"]["location"]["id"])
        return self.locations[name]

    def site(self, name: str) -> str:
        """A DC: a site with a shelf, a receiving dock (available soon), a quarantine."""
        site = self.location(name)
        self.location(f"{name}/Shelf", name)
        self.location(f"{name}/Dock", name, availableSoon=True)
        self.location(f"{name}/Quarantine", name, inventoryAvailable=False)
        return site

    def stock(self, part: str, quantity: int, where: str, **extra: Any) -> dict[str, Any]:
        result = data(
            self.client,
            """mutation($input: CreatePartInventoryInput!) {
                 createPartInventory(input: $input) { partInventory { id _etag } } }""",
            {"input": {"partId": part, "quantity": quantity, "locationId": self.locations[where], **extra}},
        )
        record: dict[str, Any] = result["createPartInventory"]["partInventory"]
        return record

    def po(self, part: str, quantity: int, where: str, eta: str) -> dict[str, Any]:
        return self.stock(part, quantity, where, onOrder=True, expectedAt=eta)

    def receive(self, record: dict[str, Any]) -> None:
        data(
            self.client,
            """mutation($input: ReceivePartInventoryInput!) {
                 receivePartInventory(input: $input) { partInventory { id status received } } }""",
            {"input": {"id": record["id"], "etag": record["_etag"]}},
        )

    def availability(self, part: str, **variables: Any) -> dict[str, Any]:
        result: dict[str, Any] = data(self.client, AVAILABILITY, {"partId": part, **variables})[
            "kitAvailability"
        ]
        return result


@pytest.fixture
def shop(client: TestClient) -> Shop:
    return Shop(client)


def dining_set(shop: Shop) -> tuple[str, str, str]:
    table = shop.part("Table")
    chair = shop.part("Chair")
    kit = shop.part("Dining Set", [(table, 1), (chair, 4)])
    return kit, table, chair


def q(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def kits_tables_chairs(result: dict[str, Any]) -> dict[str, tuple[Decimal | None, ...]]:
    """{site name or 'network': (kits, tables, chairs)} of the on-hand figures."""
    components = {c["part"]["partNumber"]: c for c in result["components"]}
    table, chair = components["Table"], components["Chair"]

    def per_site(entry: dict[str, Any]) -> dict[str, Decimal | None]:
        return {s["site"]["name"]: q(s["onHandQuantity"]) for s in entry["sites"]}

    kit_sites = {s["site"]["name"]: q(s["onHandQuantity"]) for s in result["sites"]}
    t_sites, c_sites = per_site(table), per_site(chair)
    figures: dict[str, tuple[Decimal | None, ...]] = {
        name: (kit_sites[name], t_sites.get(name, Decimal(0)), c_sites.get(name, Decimal(0)))
        for name in kit_sites
    }
    figures["network"] = (
        q(result["network"]["onHandQuantity"]),
        q(table["network"]["onHandQuantity"]),
        q(chair["network"]["onHandQuantity"]),
    )
    return figures


def d(*values: int) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


ONLY_AVAILABLE = {"supplyTypes": ["ON_HAND_AVAILABLE"]}


def test_two_dcs_available_only(shop: Shop) -> None:
    kit, table, chair = dining_set(shop)
    shop.site("DC1")
    shop.site("DC2")
    shop.stock(table, 10, "DC1/Shelf")
    shop.stock(chair, 16, "DC1/Shelf")
    shop.stock(table, 1, "DC2/Shelf")
    shop.stock(chair, 100, "DC2/Shelf")
    result = shop.availability(kit, view=ONLY_AVAILABLE)
    assert result["isKitItem"] is True
    assert kits_tables_chairs(result) == {
        "DC1": d(4, 10, 16), "DC2": d(1, 1, 100), "network": d(5, 11, 116),
    }
    ratios = {c["part"]["partNumber"]: q(c["ratio"]) for c in result["components"]}
    assert ratios == {"Table": 1, "Chair": 4}


def test_supply_types_available_and_soon(shop: Shop) -> None:
    kit, table, chair = dining_set(shop)
    for dc, tables, chairs in (("DC1", (10, 10, 10), (18, 10, 100)), ("DC2", (1, 1, 1), (100, 100, 100))):
        shop.site(dc)
        for part, quantities in ((table, tables), (chair, chairs)):
            for where, quantity in zip(("Shelf", "Dock", "Quarantine"), quantities, strict=True):
                shop.stock(part, quantity, f"{dc}/{where}")
    view = {"supplyTypes": ["ON_HAND_AVAILABLE", "ON_HAND_AVAILABLE_SOON"]}
    assert kits_tables_chairs(shop.availability(kit, view=view)) == {
        "DC1": d(7, 20, 28), "DC2": d(2, 2, 200), "network": d(9, 22, 228),
    }
    # Only available: the dock no longer counts; unavailable stock never by default.
    assert kits_tables_chairs(shop.availability(kit, view=ONLY_AVAILABLE))["network"] == d(5, 11, 118)
    everything = {"supplyTypes": ["ON_HAND_AVAILABLE", "ON_HAND_AVAILABLE_SOON", "ON_HAND_UNAVAILABLE"]}
    assert kits_tables_chairs(shop.availability(kit, view=everything))["DC1"] == d(30, 30, 128)


def test_segments(shop: Shop) -> None:
    kit, table, chair = dining_set(shop)
    shop.site("DC1")
    shop.site("DC2")
    shop.stock(table, 10, "DC1/Shelf", segment="ecom")
    shop.stock(chair, 16, "DC1/Shelf", segment="retail")
    shop.stock(table, 1, "DC2/Shelf", segment="ecom")
    shop.stock(table, 1, "DC2/Shelf", segment="retail")
    shop.stock(chair, 100, "DC2/Shelf", segment="ecom")
    # Outside the view: another segment, and a record with no segment.
    shop.stock(table, 50, "DC2/Shelf", segment="wholesale")
    shop.stock(table, 50, "DC1/Shelf")
    view = {"supplyTypes": ["ON_HAND_AVAILABLE"], "segments": ["ecom", "retail"]}
    assert kits_tables_chairs(shop.availability(kit, view=view)) == {
        "DC1": d(4, 10, 16), "DC2": d(2, 2, 100), "network": d(6, 12, 116),
    }


def test_attribute_filters(shop: Shop) -> None:
    kit, table, chair = dining_set(shop)
    shop.site("DC1")
    shop.site("DC2")
    shop.stock(table, 10, "DC1/Shelf", attributes={"attr1": "A"})
    shop.stock(table, 10, "DC1/Shelf", attributes={"attr1": "D"})
    shop.stock(chair, 16, "DC1/Shelf", attributes={"attr1": "B"})
    shop.stock(chair, 8, "DC1/Shelf", attributes={"attr1": "C"})
    shop.stock(table, 1, "DC2/Shelf", attributes={"attr1": "A"})
    shop.stock(table, 1, "DC2/Shelf", attributes={"attr1": "B"})
    shop.stock(chair, 100, "DC2/Shelf", attributes={"attr1": "D"})
    shop.stock(chair, 40, "DC2/Shelf")  # no attr1: does not match a filter
    view = {
        "supplyTypes": ["ON_HAND_AVAILABLE"],
        "attributeFilters": [
            {"partId": table, "attribute": "attr1", "values": ["A", "B"]},
            {"partId": chair, "attribute": "attr1", "values": ["C"]},
        ],
    }
    assert kits_tables_chairs(shop.availability(kit, view=view)) == {
        "DC1": d(2, 10, 8), "DC2": d(0, 2, 0), "network": d(2, 12, 8),
    }


def figure(entry: dict[str, Any]) -> tuple[Any, ...]:
    """(total, on hand, future, first quantity, first date) of a figure."""
    return (
        q(entry["totalQuantity"]),
        q(entry["onHandQuantity"]),
        q(entry["futureQuantity"]),
        q(entry["firstAvailableFutureQuantity"]),
        entry["firstAvailableFutureDate"],
    )


def test_future_po_only(shop: Shop) -> None:
    kit, table, chair = dining_set(shop)
    shop.site("DC1")
    t_po = shop.po(table, 6, "DC1/Shelf", "2026-04-25")
    c_po = shop.po(chair, 20, "DC1/Shelf", "2026-05-01")
    expected = (5, 0, 5, 5, "2026-05-01")
    for as_of in ("2026-04-10", "2026-04-26"):  # T0 and T1 (table PO past due: still 5 @ 1 May)
        result = shop.availability(kit, asOf=as_of)
        assert result["asOf"] == as_of
        assert figure(result["network"]) == expected
        assert figure(result["sites"][0]) == expected
        assert result["network"]["buckets"] == [{"date": "2026-05-01", "quantity": 5}]
    shop.receive(t_po)
    shop.receive(c_po)
    assert figure(shop.availability(kit, asOf="2026-05-02")["network"]) == (5, 5, 0, None, None)


def test_future_leftover_on_hand_combines_with_future(shop: Shop) -> None:
    kit, table, chair = dining_set(shop)
    shop.site("DC1")
    shop.stock(table, 5, "DC1/Shelf")
    shop.stock(chair, 11, "DC1/Shelf")
    t_po1 = shop.po(table, 6, "DC1/Shelf", "2026-04-25")
    c_po2 = shop.po(chair, 22, "DC1/Shelf", "2026-05-01")
    assert figure(shop.availability(kit, asOf="2026-04-10")["network"]) == (8, 2, 6, 6, "2026-05-01")

    t_po3 = shop.po(table, 3, "DC1/Shelf", "2026-04-27")
    c_po4 = shop.po(chair, 10, "DC1/Shelf", "2026-05-10")
    result = shop.availability(kit, asOf="2026-04-10")
    assert figure(result["network"]) == (10, 2, 8, 6, "2026-05-01")
    assert result["network"]["buckets"] == [
        {"date": "2026-05-01", "quantity": 6}, {"date": "2026-05-10", "quantity": 2},
    ]
    # Publish: each component's own curve, not reduced by the kits.
    table_figure = next(c for c in result["components"] if c["part"]["partNumber"] == "Table")
    assert figure(table_figure["network"]) == (14, 5, 9, 6, "2026-04-25")

    # Not received by 2 May: past-due ETAs count at asOf (a bucket on asOf, still future).
    assert figure(shop.availability(kit, asOf="2026-05-02")["network"]) == (10, 2, 8, 6, "2026-05-02")

    for record in (t_po1, t_po3, c_po2):
        shop.receive(record)
    assert figure(shop.availability(kit, asOf="2026-05-02")["network"]) == (10, 8, 2, 2, "2026-05-10")
    shop.receive(c_po4)
    assert figure(shop.availability(kit, asOf="2026-05-11")["network"]) == (10, 10, 0, None, None)


def test_components_at_different_sites_never_combine(shop: Shop) -> None:
    kit, table, chair = dining_set(shop)
    shop.site("DC1")
    shop.site("DC2")
    shop.stock(table, 10, "DC1/Shelf")
    shop.stock(chair, 40, "DC2/Shelf")
    result = shop.availability(kit)
    assert q(result["network"]["totalQuantity"]) == 0
    assert [q(s["totalQuantity"]) for s in result["sites"]] == [0, 0]


def test_site_ids_choose_sites_and_the_network_sums_them(shop: Shop) -> None:
    kit, table, chair = dining_set(shop)
    dc1 = shop.site("DC1")
    shop.site("DC2")
    dc3 = shop.site("DC3")
    for dc in ("DC1", "DC2"):
        shop.stock(table, 2, f"{dc}/Shelf")
        shop.stock(chair, 8, f"{dc}/Shelf")
    result = shop.availability(kit, siteIds=[dc1, dc3])
    assert [(s["site"]["name"], q(s["totalQuantity"])) for s in result["sites"]] == [("DC1", 2), ("DC3", 0)]
    assert q(result["network"]["totalQuantity"]) == 2


def test_a_regular_part_answers_with_its_own_figures(shop: Shop) -> None:
    _kit, table, _chair = dining_set(shop)
    shop.site("DC1")
    shop.stock(table, 3, "DC1/Shelf")
    shop.po(table, 2, "DC1/Dock", "2026-04-20")
    result = shop.availability(table, asOf="2026-04-10")
    assert result["isKitItem"] is False
    assert result["components"] == []
    assert figure(result["network"]) == (5, 3, 2, 2, "2026-04-20")


def test_committed_inventory_never_counts(shop: Shop) -> None:
    kit, table, chair = dining_set(shop)
    shop.site("DC1")
    shop.stock(table, 1, "DC1/Shelf")
    chairs = shop.stock(chair, 4, "DC1/Shelf")
    assert q(shop.availability(kit)["network"]["totalQuantity"]) == 1
    # A deleted record is gone; scrapped/kitted records are excluded by the status expression
    # (see tests/integration/test_supply_sql.py).
    data(shop.client, "mutation($id: ID!, $etag: String!) { deletePartInventory(id: $id, etag: $etag) { id } }",
         {"id": chairs["id"], "etag": chairs["_etag"]})
    assert q(shop.availability(kit)["network"]["totalQuantity"]) == 0


def test_nested_kits_flatten_and_repeats_sum(shop: Shop) -> None:
    table = shop.part("Table")
    chair = shop.part("Chair")
    pair = shop.part("Chair Pair", [(chair, 2)])
    kit = shop.part("Dining Set", [(table, 1), (pair, 1), (chair, 1), (chair, 1)])
    result = data(shop.client, "query($id: ID!) { part(id: $id) { components { part { id } quantity } } }",
                  {"id": kit})["part"]
    assert sorted((c["part"]["id"], q(c["quantity"])) for c in result["components"]) == sorted(
        [(table, 1), (chair, 4)]
    )
    # Manhattan's composition of 2 kits through REST gives the same ratios (see test_items_rest).


# -- bad input ---------------------------------------------------------------------------

CREATE = "mutation($input: CreatePartInput!) { createPart(input: $input) { part { id } } }"
UPDATE = "mutation($input: UpdatePartInput!) { updatePart(input: $input) { part { id components { quantity } } } }"


def test_unknown_component_part(shop: Shop) -> None:
    err = error(shop.client, CREATE, {"input": {"partNumber": "K", "trackingType": "UNTRACKED",
                                                 "components": [{"partId": 999, "quantity": 1}]}})
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "components[0].partId",
                                 "details": [{"message": "part 999 does not exist", "field": "components[0].partId"}]}
    # Nothing written.
    assert data(shop.client, "{ parts { totalCount } }")["parts"]["totalCount"] == 0


@pytest.mark.parametrize("ratio", [0, -2])
def test_ratio_must_be_positive(shop: Shop, ratio: int) -> None:
    table = shop.part("Table")
    err = error(shop.client, CREATE, {"input": {"partNumber": "K", "trackingType": "UNTRACKED",
                                                 "components": [{"partId": table, "quantity": ratio}]}})
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["extensions"]["field"] == "components[0].quantity"
    assert "greater than 0" in err["message"]


def test_a_kit_cannot_contain_itself(shop: Shop) -> None:
    kit, table, _chair = dining_set(shop)
    etag = data(shop.client, "query($id: ID!) { part(id: $id) { _etag } }", {"id": kit})["part"]["_etag"]
    err = error(shop.client, UPDATE, {"input": {"id": kit, "etag": etag,
                                                 "components": [{"partId": kit, "quantity": 1}]}})
    assert err["extensions"]["field"] == "components[0].partId"
    assert "cannot contain itself" in err["message"]
    # Through nesting: Table may not contain the Dining Set, which contains the Table.
    t_etag = data(shop.client, "query($id: ID!) { part(id: $id) { _etag } }", {"id": table})["part"]["_etag"]
    err = error(shop.client, UPDATE, {"input": {"id": table, "etag": t_etag,
                                                 "components": [{"partId": kit, "quantity": 1}]}})
    assert err["extensions"]["field"] == "components[0].partId"
    assert "cannot contain itself" in err["message"]


def test_digital_and_physical_do_not_mix(shop: Shop) -> None:
    table = shop.part("Table")
    manual = shop.part("E-Manual", isDigital=True)
    err = error(shop.client, CREATE, {"input": {"partNumber": "K", "trackingType": "UNTRACKED", "components": [
        {"partId": table, "quantity": 1}, {"partId": manual, "quantity": 1}]}})
    assert err["extensions"]["field"] == "components"
    assert "digital" in err["message"]


def test_update_replaces_and_clears_components(shop: Shop) -> None:
    kit, table, _chair = dining_set(shop)
    etag = data(shop.client, "query($id: ID!) { part(id: $id) { _etag } }", {"id": kit})["part"]["_etag"]
    result = data(shop.client, UPDATE, {"input": {"id": kit, "etag": etag,
                                                   "components": [{"partId": table, "quantity": "1.5"}]}})
    assert [q(c["quantity"]) for c in result["updatePart"]["part"]["components"]] == [Decimal("1.5")]


def test_unparseable_as_of(shop: Shop) -> None:
    kit, _t, _c = dining_set(shop)
    err = error(shop.client, AVAILABILITY, {"partId": kit, "asOf": "10 April"})
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "asOf"}
    assert "Date" in err["message"]
    err = error(shop.client, AVAILABILITY, {"partId": kit, "asOf": "2026-02-30"})
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "asOf"}


def test_unknown_supply_type_in_view(shop: Shop) -> None:
    kit, _t, _c = dining_set(shop)
    err = error(shop.client, AVAILABILITY, {"partId": kit, "view": {"supplyTypes": ["ON_HAND_SOMEWHERE"]}})
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "ON_HAND_SOMEWHERE" in err["message"]
    assert err["extensions"]["field"] == "supplyTypes"
    err = error(shop.client, AVAILABILITY, {"partId": kit, "view": {"supplyTypes": []}})
    assert err["extensions"]["field"] == "view.supplyTypes"


def test_unknown_part_site_and_filter_part(shop: Shop) -> None:
    kit, _t, _c = dining_set(shop)
    dc1 = shop.site("DC1")
    err = error(shop.client, AVAILABILITY, {"partId": 999})
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "partId"}
    err = error(shop.client, AVAILABILITY, {"partId": kit, "siteIds": [shop.locations["DC1/Shelf"]]})
    assert err["extensions"]["field"] == "siteIds[0]"
    assert "not a site" in err["message"]
    err = error(shop.client, AVAILABILITY, {"partId": kit, "siteIds": [dc1, 999]})
    assert err["extensions"]["field"] == "siteIds[1]"
    err = error(shop.client, AVAILABILITY, {"partId": kit, "view": {
        "attributeFilters": [{"partId": kit, "attribute": "attr1", "values": ["A"]}]}})
    assert err["extensions"]["field"] == "view.attributeFilters[0].partId"


def test_receive_refuses_a_record_not_on_order(shop: Shop) -> None:
    table = shop.part("Table")
    shop.site("DC1")
    record = shop.stock(table, 1, "DC1/Shelf")
    err = error(shop.client, """mutation($input: ReceivePartInventoryInput!) {
        receivePartInventory(input: $input) { partInventory { id } } }""", {"input": {"id": record["id"]}})
    assert err["extensions"]["field"] == "id"
    assert "not on order" in err["message"]


def test_inventory_issued_to_an_open_kit_never_counts(shop: Shop) -> None:
    kit, table, chair = dining_set(shop)
    shop.site("DC1")
    shop.stock(table, 2, "DC1/Shelf")
    chairs = shop.stock(chair, 8, "DC1/Shelf")
    assert q(shop.availability(kit)["network"]["totalQuantity"]) == 2
    part_kit = data(shop.client, "mutation($input: CreatePartKitInput!) { createPartKit(input: $input) "
                    "{ partKit { id } } }", {"input": {"status": "REQUESTED"}})["createPartKit"]["partKit"]
    item = data(shop.client, "mutation($input: CreatePartKitItemInput!) { createPartKitItem(input: $input) "
                "{ partKitItem { id } } }", {"input": {"partKitId": part_kit["id"], "partId": chair,
                                                      "quantity": 4}})["createPartKitItem"]["partKitItem"]
    data(shop.client, "mutation($input: InventoryToKitInput!) { issueItemToKit(input: $input) "
         "{ partInventory { id } } }", {"input": {"partInventoryId": chairs["id"], "partKitItemId": item["id"],
                                                  "quantity": 4}})
    # 4 chairs are committed to the open kit: 4 remain, 1 dining set; the publish figure shows 4.
    result = shop.availability(kit)
    assert q(result["network"]["totalQuantity"]) == 1
    chair_figure = next(c for c in result["components"] if c["part"]["partNumber"] == "Chair")
    assert q(chair_figure["network"]["onHandQuantity"]) == 4
