"""Every inventory operation of seed 001, sent verbatim with its variables.

The query texts below are copied character for character from
../shared/seeds/001_*.txt. The only substitution is the placeholder etag "etag1", which is
first sent as written (and refused with CONFLICT, since it is stale) and then replaced by the
record's real etag.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from tests import factories
from tests.api.gql import data, error

LIST_QUERY = """query PartInventories($filters: PartInventoriesInputFilters, $sort: [PartInventorySortEnum]) {
    partInventories(sort: $sort, filters: $filters, first: 50) {
        edges {
            node {
                id cost quantity usageType
                part { partNumber }
                location { id }
            }
        }
    }
}"""

GET_QUERY = """query PartInventory {
    partInventory(id: 1) {
        id cost quantity usageType
        part { partNumber }
        location { id }
    }
}"""

CREATE_MUTATION = """mutation CreatePartInventory($input: CreatePartInventoryInput!) {
    createPartInventory(input: $input) {
        partInventory {
            id quantity cost usageType createdById
            trackingType locationId supplierId _etag
        }
    }
}"""

UPDATE_MUTATION = """mutation UpdatePartInventory($input: UpdatePartInventoryInput!) {
    updatePartInventory(input: $input) {
        partInventory {
            id quantity cost locationId serialNumber lotNumber
        }
    }
}"""

DELETE_MUTATION = """mutation DeletePartInventory($id: ID!, $etag: String!) {
    deletePartInventory(id: $id, etag: $etag) {
        id
    }
}"""

SERIAL_VARIABLES = {
    "input": {"serialNumber": "sn-1", "lotNumber": "123", "quantity": 1, "partId": 1, "supplierId": 1, "locationId": 5}
}
LOT_VARIABLES = {"input": {"lotNumber": "lot-12", "partId": 2, "supplierId": 1, "locationId": 5}}
AUTOGENERATE_VARIABLES = {
    "input": {
        "autogenerateSerialNumber": True,
        "autogenerateLotNumber": True,
        "lotNumber": "123",
        "quantity": 1,
        "partId": 1,
        "supplierId": 1,
        "locationId": 5,
    }
}


def seed_world(session: Session) -> None:
    """What the seed assumes exists: serial part 1, lot part 2, supplier 1, location 5."""
    factories.part(session, "FC-100", "SERIAL")
    factories.part(session, "BOLT-M6", "LOT")
    factories.supplier(session)
    site = factories.location(session, "Site")
    room = factories.location(session, "Room", site)
    rack = factories.location(session, "Rack", room)
    factories.location(session, "A-1", rack)
    factories.location(session, "A-2", rack)


def test_seed_001_inventory_operations_verbatim(session: Session, client: TestClient) -> None:
    seed_world(session)

    serial = data(client, CREATE_MUTATION, SERIAL_VARIABLES)["createPartInventory"]["partInventory"]
    me = data(client, "{ me { id } }")["me"]["id"]  # the record names the user whose key created it
    assert serial == {
        "id": "1", "quantity": 1, "cost": None, "usageType": None, "createdById": me,
        "trackingType": "SERIAL", "locationId": "5", "supplierId": "1", "_etag": serial["_etag"],
    }
    lot = data(client, CREATE_MUTATION, LOT_VARIABLES)["createPartInventory"]["partInventory"]
    assert (lot["id"], lot["quantity"], lot["trackingType"]) == ("2", 0, "LOT")  # no quantity: 0
    generated = data(client, CREATE_MUTATION, AUTOGENERATE_VARIABLES)["createPartInventory"]["partInventory"]
    assert generated["trackingType"] == "SERIAL"

    listed = data(client, LIST_QUERY, {"filters": {"locationId": {"eq": 1}}})
    assert listed["partInventories"]["edges"] == []
    listed = data(client, LIST_QUERY, {"filters": {"locationId": {"eq": 5}}})
    nodes = [edge["node"] for edge in listed["partInventories"]["edges"]]
    assert [n["id"] for n in nodes] == ["1", "2", "3"]
    assert nodes[0] == {
        "id": "1", "cost": None, "quantity": 1, "usageType": None,
        "part": {"partNumber": "FC-100"}, "location": {"id": "5"},
    }

    fetched = data(client, GET_QUERY)["partInventory"]
    assert fetched == nodes[0]

    update_variables: dict[str, Any] = {
        "input": {"id": 1, "etag": "etag1", "lotNumber": "ion-21", "cost": 11.21, "locationId": 1}
    }
    refused = error(client, UPDATE_MUTATION, update_variables)
    assert refused["extensions"]["code"] == "CONFLICT"
    update_variables["input"]["etag"] = serial["_etag"]
    updated = data(client, UPDATE_MUTATION, update_variables)["updatePartInventory"]["partInventory"]
    assert updated == {
        "id": "1", "quantity": 1, "cost": 11.21, "locationId": "1", "serialNumber": "sn-1", "lotNumber": "ion-21",
    }

    delete_variables = {"id": 1, "etag": "etag1"}
    assert error(client, DELETE_MUTATION, delete_variables)["extensions"]["code"] == "CONFLICT"
    current = data(client, "{ partInventory(id: 1) { _etag } }")["partInventory"]["_etag"]
    deleted = data(client, DELETE_MUTATION, {"id": 1, "etag": current})
    assert deleted == {"deletePartInventory": {"id": "1"}}
    assert error(client, GET_QUERY)["extensions"]["code"] == "NOT_FOUND"
