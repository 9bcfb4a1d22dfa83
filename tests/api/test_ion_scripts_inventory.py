"""The inventory operations of ION's public scripts: one test per operation shape.

Each operation text here is ours, written to the shape the scripts send (same root field,
variable types, selection and variable values, e.g. a quantity as the string "5"); see
tests/api/ion_shapes.py. Runs, aBOM and mBOM fields are covered with the runs.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from kitwright.store.db import make_sessionmaker
from kitwright.store.models import PartInventory
from tests.api.ion_shapes import part_id, refused, run, served_schema, with_demo

INVENTORY_AT_LOCATION = """
query inventoryAtLocation($filters: PartInventoriesInputFilters) {
  partInventories(filters: $filters) {
    edges { node { id partId quantityAvailable quantity part { partNumber description revision } } }
  }
}"""


def test_inventory_at_a_location_with_quantity_available(client: TestClient, engine: Engine) -> None:
    """Shape of get_inventory_at_location.py: location eq, status neq INSTALLED."""
    with_demo(engine)
    schema = served_schema(client)
    found = run(client, schema, INVENTORY_AT_LOCATION,
                {"filters": {"locationId": {"eq": 5}, "status": {"neq": "INSTALLED"}}})
    nodes = [edge["node"] for edge in found["partInventories"]["edges"]]
    assert nodes, "demo location 5 holds stock"
    by_status = {}
    for node in nodes:
        record = run(client, schema, "query one($id: ID!) { partInventory(id: $id) { status } }", {"id": node["id"]})
        by_status[node["id"]] = record["partInventory"]["status"]
        expected = Decimal(str(node["quantity"])) if by_status[node["id"]] == "AVAILABLE" else Decimal(0)
        assert Decimal(str(node["quantityAvailable"])) == expected
    assert "AVAILABLE" in by_status.values() and "KITTED" in by_status.values()
    assert all(node["part"]["partNumber"] for node in nodes)


GET_ONE = """
query OneInventory($id: ID!) {
  partInventory(id: $id) { _etag id quantity status part { description partNumber revision } quantity }
}"""

UPDATE_QUANTITY = """
mutation UpdateInventory($input: UpdatePartInventoryInput!) {
  updatePartInventory(input: $input) {
    partInventory { _etag id part { description partNumber revision } quantity }
  }
}"""


def test_read_then_update_quantity_sent_as_text(client: TestClient, engine: Engine) -> None:
    """Shape of update_inventory_quantities.py: read the etag, send the new quantity as a string."""
    with_demo(engine)
    schema = served_schema(client)
    lots = run(client, schema, INVENTORY_AT_LOCATION, {"filters": {"lotNumber": {"eq": "L-2026-02"}}})
    record_id = lots["partInventories"]["edges"][0]["node"]["id"]
    before = run(client, schema, GET_ONE, {"id": record_id})["partInventory"]
    assert before["status"] in ("AVAILABLE", "UNAVAILABLE")
    after = run(client, schema, UPDATE_QUANTITY,
                {"input": {"id": before["id"], "etag": before["_etag"], "quantity": "249.5"}})
    assert Decimal(str(after["updatePartInventory"]["partInventory"]["quantity"])) == Decimal("249.5")
    stale = refused(client, schema, UPDATE_QUANTITY,
                    {"input": {"id": before["id"], "etag": before["_etag"], "quantity": "1"}})
    assert stale["extensions"]["code"] == "CONFLICT"


CREATE_INVENTORY = """
mutation NewInventory($input: CreatePartInventoryInput!) {
  createPartInventory(input: $input) { partInventory { id _etag lotNumber serialNumber part { partNumber } } }
}"""


def test_create_inventory_with_quantity_as_string(client: TestClient, engine: Engine) -> None:
    """Shape of the importers: partId, locationId, lot/serial (null when empty), quantity "5"."""
    with_demo(engine)
    schema = served_schema(client)
    lot = run(client, schema, CREATE_INVENTORY, {"input": {
        "partId": 2, "locationId": 5, "lotNumber": "L-IMPORT-1", "serialNumber": None,
        "quantity": "5", "cost": "0.25", "unitOfMeasureId": 1,
    }})["createPartInventory"]["partInventory"]
    assert lot["lotNumber"] == "L-IMPORT-1" and lot["part"]["partNumber"] == "BOLT-M6"
    serial = run(client, schema, CREATE_INVENTORY, {"input": {
        "serialNumber": "FC-9001", "quantity": 1, "partId": "1", "lotNumber": None, "locationId": None,
    }})["createPartInventory"]["partInventory"]
    assert serial["serialNumber"] == "FC-9001" and serial["_etag"]
    bad = refused(client, schema, CREATE_INVENTORY, {"input": {"partId": 2, "quantity": "five", "lotNumber": "X"}})
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and bad["extensions"].get("field") == "quantity"


def test_kit_part_holds_no_stock(client: TestClient, engine: Engine) -> None:
    """A part with components (a retail kit item) is logical: creating inventory for it is refused."""
    with_demo(engine)
    schema = served_schema(client)
    kit_id = part_id(engine, "DINING-SET")
    with make_sessionmaker(engine)() as session:
        count_before = session.scalar(select(func.count()).select_from(PartInventory))
    error = refused(client, schema, CREATE_INVENTORY, {"input": {"partId": kit_id, "quantity": "5", "locationId": 5}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "partId"}
    assert "kit" in error["message"] and "holds no stock" in error["message"]
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(PartInventory)) == count_before


def test_part_with_stock_cannot_become_a_kit(client: TestClient, engine: Engine) -> None:
    with_demo(engine)
    schema = served_schema(client)
    part = run(client, schema, "query { part(id: 3) { id _etag } }")["part"]
    error = refused(client, schema, """
        mutation($input: UpdatePartInput!) { updatePart(input: $input) { part { id } } }""",
        {"input": {"id": part["id"], "etag": part["_etag"], "components": [{"partId": 2, "quantity": "2"}]}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == "components"
    assert run(client, schema, "query { part(id: 3) { _etag components { quantity } } }")["part"] == {
        "_etag": part["_etag"], "components": []}


PAGE_OF_INVENTORY = """
query PageOfInventory($after: String) {
  partInventories(first: 3, after: $after) {
    edges { node { part { partNumber description } serialNumber lotNumber } }
    pageInfo { endCursor hasNextPage }
  }
}"""


def test_paging_through_all_inventory(client: TestClient, engine: Engine) -> None:
    """Shape of export_inventories.py (its aBOM fields come with the runs): after = endCursor."""
    with_demo(engine)
    schema = served_schema(client)
    seen, after, pages = 0, None, 0
    while True:
        page = run(client, schema, PAGE_OF_INVENTORY, {"after": after})["partInventories"]
        seen += len(page["edges"])
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    with make_sessionmaker(engine)() as session:
        assert seen == session.scalar(select(func.count()).select_from(PartInventory))
    assert pages > 1


def test_action_context_part_attributes_of_an_inventory(client: TestClient, engine: Engine) -> None:
    """Shape of an Action's context: `partInventory(id) { part { id attributes { key value } } }`."""
    with_demo(engine)
    schema = served_schema(client)
    part = run(client, schema, "query { part(id: 1) { _etag } }")["part"]
    run(client, schema, "mutation($input: UpdatePartInput!) { updatePart(input: $input) { part { id } } }",
        {"input": {"id": 1, "etag": part["_etag"], "attributes": [{"key": "Approved", "value": "true", "type": "BOOLEAN"}]}})
    found = run(client, schema, "query ($id: ID!) { partInventory(id: $id) { part { id attributes { key value } } } }",
                {"id": 1})
    assert found["partInventory"]["part"]["attributes"] == [{"key": "Approved", "value": "true"}]


def test_action_context_me_permission_groups(client_for: Callable[[str], TestClient]) -> None:
    """Shape of an Action's context: `me { id permissionGroups { name } }`, our roles mapped."""
    viewer = client_for("viewer")
    keeper = client_for("inventory")
    schema = served_schema(keeper)
    query = "query { me { id permissionGroups { name } } }"
    viewer_groups = {g["name"] for g in run(viewer, schema, query)["me"]["permissionGroups"]}
    keeper_groups = {g["name"] for g in run(keeper, schema, query)["me"]["permissionGroups"]}
    assert "CreatePartInventory" in keeper_groups and "CreatePartInventory" not in viewer_groups
    assert "ViewInventory" in viewer_groups
