"""The run, aBOM and mBOM operations that First Resonance's published client scripts send
(names, argument types and selected fields as they use them), over HTTP against the demo data,
on both engines; then the bad inputs of docs/runs.md as the API answers them."""

from __future__ import annotations

from typing import Any

from graphql import parse, validate
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from kitwright.api.schema import schema
from kitwright.services.demo import load_demo
from tests.api.gql import data, error, gql

# Operation shapes of the scripts (ours, written for these tests).
RUNS_BY_PROCEDURE = """query GetRuns($filters: RunsInputFilters, $sort: [RunSortEnum]) {
  runs(sort: $sort, filters: $filters) { edges { node { id title procedureId } } }
}"""
CREATE_REFERENCE_DESIGNATOR = """mutation($input: CreateMBomItemReferenceDesignatorInput!) {
  createMbomItemReferenceDesignator(input: $input) {
    mbomItemReferenceDesignator { _etag id mbomItemId value }
  }
}"""
INVENTORY_WITH_ABOM = """query PartInventory($id: ID!) {
  partInventory(id: $id) {
    _etag id quantity status
    part { description partNumber revision }
    quantity
    abomItems { id _etag quantity }
  }
}"""
UPDATE_ABOM_ITEM = """mutation UpdateAbomItem($input: UpdateABomItemInput!) {
  updateAbomItem(input: $input) { abomItem { _etag id quantity } }
}"""
CREATE_OR_UPDATE_MBOMS = """mutation CreateOrUpdateMboms($input: CreateOrUpdateMultipleMBomsNotationInput!) {
  createOrUpdateMultipleMboms(input: $input) { errorMessages { rowId errorMsg } newMbomRowIds }
}"""
EXPORT_WITH_ABOM = """query GetInventories($after: String) {
  partInventories(first: 50, after: $after) {
    edges { node {
      part { partNumber description }
      serialNumber lotNumber
      buildRequirements { abomInstallations {
        quantity
        partInventory { part { partNumber description } serialNumber lotNumber }
      } }
    } }
    pageInfo { endCursor hasNextPage }
  }
}"""
CREATE_MBOM_ITEM = """mutation($input: CreateMBomItemInput!) {
  createMbomItem(input: $input) { mbomItem { id } }
}"""
CREATE_RUN = """mutation CreateRun($input: CreateRunInput!) {
  createRun(input: $input) { run { id title procedureId partInventoryId } }
}"""
CREATE_ABOM_FOR_INVENTORY = """mutation CreateABomForPartInventory($id: ID!, $etag: String!) {
  createAbomForPartInventory(id: $id, etag: $etag) { abomItem { id partInventoryId children { id } } }
}"""
CREATE_INVENTORY = """mutation CreatePartInventory($input: CreatePartInventoryInput!) {
  createPartInventory(input: $input) { partInventory { id _etag lotNumber serialNumber part { partNumber } } }
}"""

# The context query of the run-creation Action example.
RUN_ACTION_CONTEXT = "query($id: ID!) { run(id: $id) { partInventory { createdById } } me { id permissionGroups { name } } }"

SCRIPT_OPERATIONS = [RUN_ACTION_CONTEXT,
    RUNS_BY_PROCEDURE, CREATE_REFERENCE_DESIGNATOR, INVENTORY_WITH_ABOM, UPDATE_ABOM_ITEM,
    CREATE_OR_UPDATE_MBOMS, EXPORT_WITH_ABOM, CREATE_MBOM_ITEM, CREATE_RUN, CREATE_ABOM_FOR_INVENTORY,
]


def test_every_script_operation_validates_against_the_schema() -> None:
    graphql_schema = schema._schema
    for text in SCRIPT_OPERATIONS:
        assert validate(graphql_schema, parse(text)) == [], text


def test_script_operations_run_against_the_demo_data(session: Session, client: TestClient) -> None:
    load_demo(session)
    # Demo: part 8 is AVIONICS-1 (mBOM: FC-100, IMU-7), run 1 builds it with FC installed.
    item = data(client, CREATE_MBOM_ITEM, {"input": {"partId": 3, "parentId": 8, "quantity": 0.5}})
    item_id = item["createMbomItem"]["mbomItem"]["id"]
    for value in ("L1", "L2"):
        made = data(client, CREATE_REFERENCE_DESIGNATOR, {"input": {"mbomItemId": item_id, "value": value}})
        row = made["createMbomItemReferenceDesignator"]["mbomItemReferenceDesignator"]
        assert row["mbomItemId"] == item_id and row["value"] == value and row["_etag"]

    # Bulk mBOM, depth notation (updates DRONE-1's bolts) and level notation (adds a spare IMU).
    depth_rows = [
        {"depth": 0, "partNumber": "DRONE-1", "revision": "A", "quantity": 1.0, "substitutes": "", "madeOnAssembly": False},
        {"depth": 1, "partNumber": "BOLT-M6", "revision": "A", "quantity": 12.0, "substitutes": "", "madeOnAssembly": True},
    ]
    bulk = data(client, CREATE_OR_UPDATE_MBOMS, {"input": {"importerType": "DEPTH", "depthInputs": depth_rows, "levelInputs": []}})
    assert bulk["createOrUpdateMultipleMboms"]["errorMessages"] == []
    [bolt_line] = bulk["createOrUpdateMultipleMboms"]["newMbomRowIds"]
    level_rows = [
        {"level": "1", "partNumber": "DRONE-1", "revision": "A", "quantity": 1.0, "substitutes": "", "madeOnAssembly": False},
        {"level": "1.1", "partNumber": "IMU-7", "revision": "B", "quantity": 1.0, "substitutes": "", "madeOnAssembly": False},
    ]
    bulk = data(client, CREATE_OR_UPDATE_MBOMS, {"input": {"importerType": "LEVEL", "levelInputs": level_rows, "depthInputs": []}})
    assert bulk["createOrUpdateMultipleMboms"]["errorMessages"] == []
    tree = data(client, "query($id: ID!) { mbomTree(partId: $id) { depth totalQuantity part { partNumber } mbomItem { id } } }", {"id": 9})
    lines = {(line["part"]["partNumber"], line["depth"]): line["totalQuantity"] for line in tree["mbomTree"]}
    assert lines[("BOLT-M6", 1)] == 12 and lines[("IMU-7", 1)] == 1 and lines[("IMU-7", 2)] == 1
    assert any(line["mbomItem"]["id"] == str(bolt_line) for line in tree["mbomTree"])

    # The run importer: a serial, then a run building it and its aBOM root.
    made = data(client, CREATE_INVENTORY, {"input": {"serialNumber": "AV-100", "quantity": 1, "partId": 8}})
    unit = made["createPartInventory"]["partInventory"]
    # Sent as the importer sends them: one JSON batch; the record's etag from its creation
    # still holds after createRun.
    batch = client.post("/graphql", json=[
        {"query": CREATE_RUN, "variables": {"input": {
            "title": "AVIONICS-1 - AV-100 - build", "procedureId": 42, "partInventoryId": unit["id"], "partId": 8}}},
        {"query": CREATE_ABOM_FOR_INVENTORY, "variables": {"id": unit["id"], "etag": unit["_etag"]}},
    ]).json()
    assert [("errors" in r) for r in batch] == [False, False], batch
    run = batch[0]["data"]["createRun"]["run"]
    assert run["procedureId"] == "42" and run["partInventoryId"] == unit["id"]
    root = batch[1]["data"]["createAbomForPartInventory"]["abomItem"]
    assert root["partInventoryId"] == unit["id"] and root["children"] == []

    # alter_completed_runs: runs of a procedure.
    runs = data(client, RUNS_BY_PROCEDURE, {"filters": {"procedureId": {"eq": 42}}, "sort": ["ID_ASC"]})
    assert runs["runs"]["edges"] == [{"node": {"id": run["id"], "title": "AVIONICS-1 - AV-100 - build", "procedureId": "42"}}]

    # update_inventory_quantities: the aBOM quantity follows the record.
    record = data(client, INVENTORY_WITH_ABOM, {"id": unit["id"]})["partInventory"]
    assert record["status"] == "WIP" and record["part"]["partNumber"] == "AVIONICS-1"
    [abom] = record["abomItems"]
    updated = data(client, UPDATE_ABOM_ITEM, {"input": {"id": abom["id"], "etag": abom["_etag"], "quantity": 1}})
    assert updated["updateAbomItem"]["abomItem"]["quantity"] == 1
    assert updated["updateAbomItem"]["abomItem"]["_etag"] != abom["_etag"]

    # export_inventories_with_abom: every page, the installs of each built unit.
    rows: list[tuple[Any, ...]] = []
    after = None
    while True:
        page = data(client, EXPORT_WITH_ABOM, {"after": after})["partInventories"]
        for edge in page["edges"]:
            node = edge["node"]
            for requirement in node["buildRequirements"]:
                for installed in requirement["abomInstallations"]:
                    rows.append((node["part"]["partNumber"], installed["partInventory"]["part"]["partNumber"],
                                 installed["partInventory"]["serialNumber"], installed["quantity"]))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert rows == [("AVIONICS-1", "FC-100", "FC-0002", 1)]  # FIFO: FC-0001 went to a demo kit


RUN_VIEW = """query($id: ID!) { run(id: $id) { id status _etag partInventory { id status serialNumber }
  buildRequirements { id quantity installedQuantity remainingQuantity part { partNumber }
    abomInstallations { id quantity partInventory { id } } }
  partKits { id status items { part { partNumber } quantity kittedQuantity } } } }"""


def test_kit_install_and_complete_a_run_over_the_api(session: Session, client: TestClient) -> None:
    load_demo(session)
    # Run 1 (avionics) has FC installed and an IMU kitted: install the IMU, complete the run.
    view = data(client, RUN_VIEW, {"id": 1})["run"]
    imu_req = next(r for r in view["buildRequirements"] if r["part"]["partNumber"] == "IMU-7")
    assert imu_req["remainingQuantity"] == 1
    kit = data(client, "{ partKits(filters: {runId: {eq: 1}}) { edges { node { id partInventories { id part { partNumber } } } } } }")
    [node] = [e["node"] for e in kit["partKits"]["edges"]]
    imu = next(r["id"] for r in node["partInventories"] if r["part"]["partNumber"] == "IMU-7")
    installed = data(client, """mutation($input: InstallPartInventoryInput!) { installPartInventory(input: $input) {
        partInventory { id status installed location { name } } abomItem { quantity parentPartInventoryId } } }""",
                     {"input": {"buildRequirementId": imu_req["id"], "partInventoryId": imu}})["installPartInventory"]
    assert installed["partInventory"]["status"] == "INSTALLED" and installed["partInventory"]["installed"] is True
    assert installed["abomItem"]["parentPartInventoryId"] == view["partInventory"]["id"]
    unit = view["partInventory"]["id"]
    tree = data(client, "query($id: ID!) { partInventory(id: $id) { installedItems { depth abomItem { partInventory { part { partNumber } } } } runs { id } } }", {"id": unit})
    assert sorted(n["abomItem"]["partInventory"]["part"]["partNumber"] for n in tree["partInventory"]["installedItems"]) == ["FC-100", "IMU-7"]
    assert tree["partInventory"]["runs"] == [{"id": "1"}]
    etag = data(client, RUN_VIEW, {"id": 1})["run"]["_etag"]
    done = data(client, """mutation($input: UpdateRunInput!) { updateRun(input: $input) { run { status partInventory { status } } } }""",
                {"input": {"id": 1, "etag": etag, "status": "COMPLETED"}})
    assert done["updateRun"]["run"] == {"status": "COMPLETED", "partInventory": {"status": "AVAILABLE"}}
    # moveItemToInventory with no kit item brings the built unit back to stock, with its contents.
    to_stock = """mutation($input: InventoryToKitInput!) { moveItemToInventory(input: $input) {
        partInventory { id status location { id } installedItems { abomItem { partInventory { location { id } } } } } } }"""
    where = data(client, "{ locations(first: 1) { edges { node { id } } } }")["locations"]["edges"][0]["node"]["id"]
    nowhere = error(client, to_stock, {"input": {"partInventoryId": unit}})
    assert (nowhere["extensions"]["code"], nowhere["extensions"]["field"]) == ("BAD_USER_INPUT", "locationId")
    moved = data(client, to_stock, {"input": {"partInventoryId": unit, "locationId": where}})["moveItemToInventory"]
    assert moved["partInventory"]["status"] == "AVAILABLE" and moved["partInventory"]["location"] == {"id": where}
    assert {n["abomItem"]["partInventory"]["location"]["id"] for n in moved["partInventory"]["installedItems"]} == {where}
    # The built avionics unit is stock now: the drone run (2) kits it like any part.
    start = data(client, RUN_VIEW, {"id": 2})["run"]
    data(client, """mutation($input: UpdateRunInput!) { updateRun(input: $input) { run { id } } }""",
         {"input": {"id": 2, "etag": start["_etag"], "status": "IN_PROGRESS"}})
    kitted = data(client, """mutation($input: CreateKitForRunInput!) { createKitForRun(input: $input) {
        partKit { id run { id } items { part { partNumber } quantity kittedQuantity } } shortages { quantity part { partNumber } } } }""",
                  {"input": {"runId": 2}})["createKitForRun"]
    items = {i["part"]["partNumber"]: (i["quantity"], i["kittedQuantity"]) for i in kitted["partKit"]["items"]}
    assert items["AVIONICS-1"] == (1, 1) and kitted["partKit"]["run"] == {"id": "2"}


def test_bad_inputs_over_the_api(session: Session, client: TestClient) -> None:
    load_demo(session)
    cycle = error(client, CREATE_MBOM_ITEM, {"input": {"partId": 9, "parentId": 8, "quantity": 1}})
    assert cycle["extensions"] == {"code": "BAD_USER_INPUT", "field": "partId"} and "cycle" in cycle["message"]
    no_mbom = error(client, CREATE_RUN, {"input": {"title": "x", "partId": 1}})
    assert no_mbom["extensions"] == {"code": "BAD_USER_INPUT", "field": "partId"}
    unknown_run = error(client, "mutation { createPartKit(input: {runId: 99}) { partKit { id } } }")
    assert unknown_run["extensions"] == {"code": "NOT_FOUND", "field": "runId"}
    bulk = data(client, CREATE_OR_UPDATE_MBOMS, {"input": {"importerType": "DEPTH", "depthInputs": [
        {"depth": 0, "partNumber": "DRONE-1", "revision": "A", "quantity": 1},
        {"depth": 2, "partNumber": "BOLT-M6", "revision": "A", "quantity": 1},
        {"depth": 1, "partNumber": "NOPE", "revision": "", "quantity": 1},
    ]}})["createOrUpdateMultipleMboms"]
    assert [e["rowId"] for e in bulk["errorMessages"]] == [2, 3] and bulk["newMbomRowIds"] == []
    # a kitted IMU of run 1 into the drone run: another run's kit
    start = data(client, RUN_VIEW, {"id": 2})["run"]
    data(client, """mutation($input: UpdateRunInput!) { updateRun(input: $input) { run { id } } }""",
         {"input": {"id": 2, "etag": start["_etag"], "status": "IN_PROGRESS"}})
    drone = data(client, RUN_VIEW, {"id": 2})["run"]
    avionics_req = next(r["id"] for r in drone["buildRequirements"] if r["part"]["partNumber"] == "AVIONICS-1")
    kit = data(client, "{ partKits(filters: {runId: {eq: 1}}) { edges { node { partInventories { id part { partNumber } } } } } }")
    imu = next(r["id"] for e in kit["partKits"]["edges"] for r in e["node"]["partInventories"] if r["part"]["partNumber"] == "IMU-7")
    wrong = gql(client, """mutation($input: InstallPartInventoryInput!) { installPartInventory(input: $input) { abomItem { id } } }""",
                {"input": {"buildRequirementId": avionics_req, "partInventoryId": imu}})
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    fields = {d.get("field") for d in wrong["errors"][0]["extensions"].get("details", [])} | {
        wrong["errors"][0]["extensions"].get("field")}
    assert "partInventoryId" in fields


def _built_avionics(session: Session, n: int) -> None:
    """A completed avionics run installing a new flight computer and IMU (from stock)."""
    from dataclasses import replace

    from sqlalchemy import select

    from kitwright.config import settings, use_settings
    from kitwright.services import runs
    from kitwright.services.uow import UnitOfWork
    from kitwright.store.models import BuildRequirement, Part, Run
    from tests import factories

    by_number = {p.part_number: p for p in session.scalars(select(Part))}
    fc = factories.record(session, by_number["FC-100"], 1, serial_number=f"FC-X{n}", location_id=5)
    imu = factories.record(session, by_number["IMU-7"], 1, serial_number=f"IMU-X{n}", location_id=5)
    run = factories.run(session, by_number["AVIONICS-1"], status="IN_PROGRESS", location_id=5)
    old = settings()
    use_settings(replace(old, allow_install_from_stock=True))
    try:
        for record in (fc, imu):
            req = session.scalars(select(BuildRequirement).where(
                BuildRequirement.run_id == run.id, BuildRequirement.part_id == record.part_id)).one()
            with UnitOfWork(session) as uow:
                runs.install_part_inventory(uow, build_requirement_id=req.id, part_inventory_id=record.id)
    finally:
        use_settings(old)
    with UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, uow.get(Run, run.id).etag, {"status": "COMPLETED"})


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def test_the_export_query_costs_the_same_statements_whatever_the_number_of_units(
    session: Session, client: TestClient
) -> None:
    from sqlalchemy import event

    load_demo(session)
    engine = session.get_bind()

    def count() -> int:
        seen: list[str] = []

        def listen(*args: Any) -> None:
            statement = str(args[2])
            # A worker's rate-limit lease renews now and then, in a transaction of its own on
            # SQLite: neither its write nor transaction control is the export's work.
            if "rate_limit_bucket" not in statement and not statement.startswith(TRANSACTION_CONTROL):
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", listen)
        try:
            page = data(client, EXPORT_WITH_ABOM, {"after": None})["partInventories"]
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        installs = sum(len(r["abomInstallations"]) for e in page["edges"] for r in e["node"]["buildRequirements"])
        assert installs > 0
        return len(seen)

    _built_avionics(session, 1)
    few = count()
    for n in range(2, 6):
        _built_avionics(session, n)
    many = count()
    assert few == many, (few, many)


def test_an_ion_depth_sheet_counts_its_top_assembly_as_depth_one(session: Session, client: TestClient) -> None:
    # ION's mBOM sheets put the top assembly at depth 1 (its LEVEL "1"); the same upload as
    # Kitwright's 0-based form.
    load_demo(session)
    rows = [
        {"depth": 1, "partNumber": "DRONE-1", "revision": "A", "quantity": 1, "substitutes": "", "madeOnAssembly": False},
        {"depth": 2, "partNumber": "AVIONICS-1", "revision": "A", "quantity": 1, "substitutes": "", "madeOnAssembly": False},
        {"depth": 3, "partNumber": "FC-100", "revision": "A", "quantity": 2, "substitutes": "", "madeOnAssembly": False},
        {"depth": 2, "partNumber": "BOLT-M6", "revision": "A", "quantity": 10, "substitutes": "", "madeOnAssembly": True},
    ]
    bulk = data(client, CREATE_OR_UPDATE_MBOMS, {"input": {"importerType": "DEPTH", "depthInputs": rows,
                                                           "levelInputs": []}})["createOrUpdateMultipleMboms"]
    assert bulk["errorMessages"] == []
    tree = data(client, "query($id: ID!) { mbomTree(partId: $id) { depth quantity part { partNumber } } }",
                {"id": 9})["mbomTree"]
    lines = {(line["part"]["partNumber"], line["depth"]): line["quantity"] for line in tree}
    assert lines[("FC-100", 2)] == 2 and lines[("BOLT-M6", 1)] == 10 and lines[("AVIONICS-1", 1)] == 1


def test_a_duplicate_mbom_line_is_refused_by_name_on_both_engines(session: Session, client: TestClient) -> None:
    # SQLite names only the columns of a violated unique rule; the answer is the same as
    # PostgreSQL's: the rule's own message and field.
    load_demo(session)
    data(client, CREATE_MBOM_ITEM, {"input": {"partId": 3, "parentId": 8, "quantity": 1}})
    duplicate = error(client, CREATE_MBOM_ITEM, {"input": {"partId": 3, "parentId": 8, "quantity": 1}})
    assert duplicate["extensions"] == {"code": "BAD_USER_INPUT", "field": "partId"}
    assert "not unique" in duplicate["message"] and "UNIQUE" not in duplicate["message"]
    item = data(client, "query { mbomItems(filters: {parentId: {eq: 8}, partId: {eq: 3}}) { edges { node { id } } } }")
    [edge] = item["mbomItems"]["edges"]
    data(client, CREATE_REFERENCE_DESIGNATOR, {"input": {"mbomItemId": edge["node"]["id"], "value": "U1"}})
    again = error(client, CREATE_REFERENCE_DESIGNATOR, {"input": {"mbomItemId": edge["node"]["id"], "value": "U1"}})
    assert again["extensions"] == {"code": "BAD_USER_INPUT", "field": "value"}
