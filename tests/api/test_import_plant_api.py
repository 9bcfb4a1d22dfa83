"""Plant loading over GraphQL (`importPlant`, multipart upload) beside REST, on both engines:
the same service answers both, a bad file comes back with every row and column and writes
nothing, dryRun writes nothing, and only the inventory team may load."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from kitwright.store.db import make_sessionmaker
from kitwright.store.models import Location, MbomItem, Part, PartInventory, Supplier

MUTATION = """mutation ($kind: PlantImportKind!, $file: Upload!, $dryRun: Boolean) {
  importPlant(kind: $kind, file: $file, dryRun: $dryRun) { kind count createdCount updatedCount dryRun ids } }"""


def upload(client: TestClient, kind: str, content: str, dry_run: bool = False) -> dict[str, Any]:
    operations = {"query": MUTATION, "variables": {"kind": kind, "file": None, "dryRun": dry_run}}
    response = client.post("/graphql", data={
        "operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]}),
    }, files={"0": ("plant.csv", content.encode(), "text/csv")})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def count(engine: Engine, model: type[Any]) -> int:
    with make_sessionmaker(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_import_plant_over_graphql(client: TestClient, engine: Engine) -> None:
    suppliers = upload(client, "SUPPLIERS", "Supplier\nAcme\nGlobex\n")["data"]["importPlant"]
    assert (suppliers["count"], suppliers["createdCount"], len(suppliers["ids"])) == (2, 2, 2)
    tree = "Location,Parent\nPlant,\nShelf,Plant\n"
    dry = upload(client, "LOCATIONS", tree, dry_run=True)["data"]["importPlant"]
    assert dry["dryRun"] is True and dry["ids"] == [] and count(engine, Location) == 0
    assert upload(client, "LOCATIONS", tree)["data"]["importPlant"]["createdCount"] == 2
    parts = upload(client, "PARTS", "part_number,parent_part_number,quantity,refdes\nTOP,,,\nR1K,TOP,4,R1 R2\n")
    assert parts["data"]["importPlant"]["createdCount"] == 2 and count(engine, MbomItem) == 1
    stock = upload(client, "PART_INVENTORY", "Part Number,Quantity,Location\nR1K,100,Plant/Shelf\n")
    assert stock["data"]["importPlant"] == {"kind": "part inventory", "count": 1, "createdCount": 1,
                                            "updatedCount": 0, "dryRun": False,
                                            "ids": stock["data"]["importPlant"]["ids"]}
    # REST answers the same service, with updatedCount too.
    rest = client.post("/api/import/suppliers", files={"file": ("s.csv", b"name\nAcme\n", "text/csv")})
    assert rest.status_code == 200 and rest.json()["updatedCount"] == 1 and count(engine, Supplier) == 2


def test_a_bad_plant_file_names_every_row_and_writes_nothing(client: TestClient, engine: Engine) -> None:
    upload(client, "PARTS", "part_number\nTOP\n")
    body = upload(client, "PARTS", "part_number,parent_part_number,quantity\nA,TOP,-1\nB,NOPE,1\nC,TOP,1\n")
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [(d["row"], d["column"]) for d in error["extensions"]["details"]] == [
        (2, "quantity"), (3, "parent_part_number")]
    assert count(engine, Part) == 1 and count(engine, MbomItem) == 0
    headers = upload(client, "SUPPLIERS", "colour\nred\n")["errors"][0]
    assert headers["extensions"]["code"] == "BAD_USER_INPUT"


def test_only_the_inventory_team_loads_the_plant(client_for: Callable[[str], TestClient], engine: Engine) -> None:
    refused = upload(client_for("requester"), "SUPPLIERS", "name\nAcme\n")["errors"][0]
    assert refused["extensions"]["code"] == "FORBIDDEN" and count(engine, Supplier) == 0
    assert upload(client_for("inventory"), "SUPPLIERS", "name\nAcme\n")["data"]["importPlant"]["count"] == 1


def test_no_stock_is_imported_for_a_kit_part(client: TestClient, engine: Engine) -> None:
    """POST /api/import/part-inventory refuses a kit part's row as createPartInventory does."""
    upload(client, "LOCATIONS", "Location\nA-2\n")
    upload(client, "PARTS", "part_number\nCUSHION\n")
    document = {"ItemId": "SOFA", "ItemComponent": [{"ComponentItemId": "CUSHION", "ComponentQty": 2}]}
    assert client.post("/api/items", json=document).status_code == 201
    before = count(engine, PartInventory)
    response = client.post("/api/import/part-inventory", files={
        "file": ("s.csv", b"part_number,revision,location,quantity\nCUSHION,,A-2,4\nSOFA,,A-2,5\n", "text/csv")})
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [(d["row"], d["column"]) for d in error["extensions"]["details"]] == [(3, "part_number")]
    assert "SOFA is a kit" in error["extensions"]["details"][0]["message"]
    assert count(engine, PartInventory) == before
