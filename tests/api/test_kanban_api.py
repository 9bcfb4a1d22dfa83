"""Kanban kits over GraphQL on both engines (docs/kanban.md): a whole cycle and its history,
line-side replenishment, the list as a Relay connection, errors naming the field, and who
may do what."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from starlette.testclient import TestClient

from kitwright.domain.ledger import LedgerOperation
from tests.api.gql import data, error, gql
from tests.security.operations import row_counts

KIT_FIELDS = """
  id _etag name status cycleCount homeLocation { id name } lineLocation { id name }
  pattern { part { partNumber } quantity }
  held { part { partNumber } quantity }
  currentCycle { number open partKit { id status } }
  cycles { number open filledBy deliveredBy emptiedBy filledAt emptiedAt partKit { id status }
           lines { part { partNumber } patternQuantity filledQuantity consumedQuantity returnedQuantity } }
"""


def setup(client: TestClient) -> dict[str, Any]:
    made = data(client, """
      mutation {
        bolt: createPart(input: {partNumber: "BOLT", trackingType: LOT}) { part { id } }
        motor: createPart(input: {partNumber: "MOTOR", trackingType: SERIAL}) { part { id } }
        stock: createLocation(input: {name: "Stockroom"}) { location { id } }
        home: createLocation(input: {name: "Kanban rack"}) { location { id } }
        line: createLocation(input: {name: "Line 1"}) { location { id } }
      }""")
    ids = {key: next(iter(value.values()))["id"] for key, value in made.items()}
    for lot, quantity in (("L-OLD", 10), ("L-NEW", 5)):
        data(client, """mutation($p: ID!, $l: ID!, $lot: String!, $q: Decimal!) {
            createPartInventory(input: {partId: $p, locationId: $l, lotNumber: $lot, quantity: $q}) {
              partInventory { id } } }""", {"p": ids["bolt"], "l": ids["stock"], "lot": lot, "q": quantity})
    for n in range(3):
        data(client, """mutation($p: ID!, $l: ID!, $s: String!) {
            createPartInventory(input: {partId: $p, locationId: $l, serialNumber: $s, quantity: 1}) {
              partInventory { id } } }""", {"p": ids["motor"], "l": ids["stock"], "s": f"M-{n}"})
    return ids


def create_kit(client: TestClient, ids: dict[str, Any]) -> dict[str, Any]:
    result = data(client, f"""mutation($h: ID!, $l: ID!, $b: ID!, $m: ID!) {{
        createKanbanKit(input: {{name: "Bin A", homeLocationId: $h, lineLocationId: $l,
                                pattern: [{{partId: $b, quantity: 4}}, {{partId: $m, quantity: 2}}]}}) {{
          kanbanKit {{ {KIT_FIELDS} }} }} }}""",
        {"h": ids["home"], "l": ids["line"], "b": ids["bolt"], "m": ids["motor"]})
    kit: dict[str, Any] = result["createKanbanKit"]["kanbanKit"]
    return kit


def test_a_whole_cycle_over_graphql(client: TestClient) -> None:
    ids = setup(client)
    kit = create_kit(client, ids)
    assert kit["status"] == "EMPTY" and kit["cycleCount"] == 0 and kit["currentCycle"] is None
    assert kit["pattern"] == [{"part": {"partNumber": "BOLT"}, "quantity": 4},
                              {"part": {"partNumber": "MOTOR"}, "quantity": 2}]

    filled = data(client, """mutation($id: ID!, $etag: String) {
        fillKanbanKit(input: {id: $id, etag: $etag}) {
          kanbanKit { status held { part { partNumber } quantity } }
          cycle { number open partKit { status } }
          shortages { part { partNumber } quantity }
          partInventories { lotNumber serialNumber quantity location { name } status } } }""",
        {"id": kit["id"], "etag": kit["_etag"]})["fillKanbanKit"]
    assert filled["kanbanKit"]["status"] == "FILLED" and filled["shortages"] == []
    assert filled["cycle"] == {"number": 1, "open": True, "partKit": {"status": "IN_PROGRESS"}}
    assert sorted((r["lotNumber"] or r["serialNumber"], r["quantity"]) for r in filled["partInventories"]) == [
        ("L-OLD", 4), ("M-0", 1), ("M-1", 1)]
    assert {(r["location"]["name"], r["status"]) for r in filled["partInventories"]} == {("Kanban rack", "KITTED")}

    delivered = data(client, """mutation($id: ID!) { deliverKanbanKit(input: {id: $id}) {
        kanbanKit { status currentCycle { partKit { status partInventories { location { name } } } } } } }""",
        {"id": kit["id"]})["deliverKanbanKit"]["kanbanKit"]
    assert delivered["status"] == "AT_LINE"
    assert delivered["currentCycle"]["partKit"]["status"] == "DELIVERED"
    assert {r["location"]["name"] for r in delivered["currentCycle"]["partKit"]["partInventories"]} == {"Line 1"}

    emptied = data(client, f"""mutation($id: ID!, $b: ID!, $m: ID!) {{
        emptyKanbanKit(input: {{id: $id, consumption: [{{partId: $b, quantity: 3}}, {{partId: $m, quantity: 1}}]}}) {{
          kanbanKit {{ {KIT_FIELDS} }} cycle {{ number open }} }} }}""",
        {"id": kit["id"], "b": ids["bolt"], "m": ids["motor"]})["emptyKanbanKit"]
    assert emptied["cycle"] == {"number": 1, "open": False}
    after = emptied["kanbanKit"]
    assert (after["status"], after["cycleCount"], after["held"], after["currentCycle"]) == ("EMPTIED", 1, [], None)
    [cycle] = after["cycles"]
    assert cycle["partKit"]["status"] == "COMPLETED"
    assert cycle["filledBy"] == cycle["deliveredBy"] == cycle["emptiedBy"]
    assert cycle["filledBy"].startswith("test-admin via key")
    assert cycle["lines"] == [
        {"part": {"partNumber": "BOLT"}, "patternQuantity": 4, "filledQuantity": 4, "consumedQuantity": 3,
         "returnedQuantity": 1},
        {"part": {"partNumber": "MOTOR"}, "patternQuantity": 2, "filledQuantity": 2, "consumedQuantity": 1,
         "returnedQuantity": 1},
    ]
    # Consumption left inventory: one ledger entry each, and the totals dropped.
    ledger = data(client, """{ ledgerEntries(filters: {operation: {in: ["KANBAN_CONSUME", "KANBAN_RETURN"]}}) {
        edges { node { operation } } } }""")["ledgerEntries"]["edges"]
    assert sorted(e["node"]["operation"] for e in ledger) == [LedgerOperation.KANBAN_CONSUME] * 2 + [LedgerOperation.KANBAN_RETURN] * 2
    stock = data(client, """query($p: ID!) { partInventories(filters: {partId: {eq: $p}, status: {eq: AVAILABLE}}) {
        edges { node { quantity location { name } } } } }""", {"p": ids["bolt"]})["partInventories"]["edges"]
    assert sum(e["node"]["quantity"] for e in stock) == 12

    # Refill starts cycle 2.
    again = data(client, """mutation($id: ID!) { fillKanbanKit(input: {id: $id}) { cycle { number } kanbanKit {
        cycles { number open } } } }""", {"id": kit["id"]})["fillKanbanKit"]
    assert again["cycle"]["number"] == 2
    assert again["kanbanKit"]["cycles"] == [{"number": 2, "open": True}, {"number": 1, "open": False}]


def test_kanban_kits_list_is_a_relay_connection(client: TestClient) -> None:
    ids = setup(client)
    first, second = create_kit(client, ids), create_kit(client, ids)
    data(client, "mutation($id: ID!) { fillKanbanKit(input: {id: $id}) { kanbanKit { id } } }", {"id": second["id"]})
    page = data(client, f"""query($line: ID!) {{
        kanbanKits(filters: {{lineLocationId: {{eq: $line}}}}, sort: [ID_DESC], first: 1) {{
          edges {{ cursor node {{ {KIT_FIELDS} }} }} pageInfo {{ totalCount count hasNextPage endCursor }} }} }}""",
        {"line": ids["line"]})["kanbanKits"]
    assert page["pageInfo"]["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    [edge] = page["edges"]
    assert edge["node"]["id"] == second["id"] and edge["node"]["status"] == "FILLED"
    assert edge["node"]["held"] == [{"part": {"partNumber": "BOLT"}, "quantity": 4},
                                    {"part": {"partNumber": "MOTOR"}, "quantity": 2}]
    rest = data(client, """query($after: String) { kanbanKits(sort: [ID_DESC], after: $after) {
        edges { node { id held { quantity } } } } }""", {"after": page["pageInfo"]["endCursor"]})["kanbanKits"]
    assert [e["node"] for e in rest["edges"]] == [{"id": first["id"], "held": []}]
    filtered = data(client, "{ kanbanKits(filters: {status: {eq: FILLED}}) { edges { node { id } } } }")
    assert [e["node"]["id"] for e in filtered["kanbanKits"]["edges"]] == [second["id"]]


def test_line_replenishment_over_graphql(client: TestClient) -> None:
    ids = setup(client)
    levels = data(client, """mutation($line: ID!, $home: ID!, $b: ID!) {
        setLineStockLevels(input: {locationId: $line, homeLocationId: $home,
                                   levels: [{partId: $b, minQuantity: 4, maxQuantity: 8}]}) {
          lineStockLevels { id part { partNumber } minQuantity maxQuantity lineQuantity homeLocation { name } } } }""",
        {"line": ids["line"], "home": ids["home"], "b": ids["bolt"]})["setLineStockLevels"]["lineStockLevels"]
    assert levels == [{"id": levels[0]["id"], "part": {"partNumber": "BOLT"}, "minQuantity": 4, "maxQuantity": 8,
                       "lineQuantity": 0, "homeLocation": {"name": "Kanban rack"}}]
    replenish = """mutation($line: ID!) { replenishLineLocation(input: {locationId: $line}) {
        kanbanKits { id status pattern { quantity } } createdKanbanKits { id } shortages { quantity } } }"""
    first = data(client, replenish, {"line": ids["line"]})["replenishLineLocation"]
    assert len(first["createdKanbanKits"]) == 1 and first["shortages"] == []
    assert first["kanbanKits"][0]["status"] == "FILLED" and first["kanbanKits"][0]["pattern"] == [{"quantity": 8}]
    second = data(client, replenish, {"line": ids["line"]})["replenishLineLocation"]
    assert second == {"kanbanKits": [], "createdKanbanKits": [], "shortages": []}
    listed = data(client, "{ lineStockLevels { edges { node { lineQuantity } } pageInfo { totalCount } } }")
    assert listed["lineStockLevels"]["edges"] == [{"node": {"lineQuantity": 8}}]


def test_bad_input_names_the_field_and_changes_nothing(client: TestClient, engine: Engine) -> None:
    ids = setup(client)
    before = row_counts(engine)
    create = """mutation($h: ID!, $l: ID!, $pattern: [KanbanPatternLineInput!]!) {
        createKanbanKit(input: {homeLocationId: $h, lineLocationId: $l, pattern: $pattern}) { kanbanKit { id } } }"""
    cases = [
        ({"pattern": []}, "BAD_USER_INPUT", "pattern"),
        ({"pattern": [{"partId": 999, "quantity": 1}]}, "BAD_USER_INPUT", "pattern[0].partId"),
        ({"pattern": [{"partId": "9999999999999999999", "quantity": 1}]}, "BAD_USER_INPUT",
         "pattern[0].partId"),
        ({"pattern": [{"partId": ids["bolt"], "quantity": 0}]}, "BAD_USER_INPUT", "pattern[0].quantity"),
        ({"pattern": [{"partId": ids["bolt"], "quantity": 1}], "h": 999}, "NOT_FOUND", "homeLocationId"),
    ]
    for overrides, code, field in cases:
        variables = {"h": ids["home"], "l": ids["line"], **overrides}
        err = error(client, create, variables)
        assert (err["extensions"]["code"], err["extensions"]["field"]) == (code, field), (overrides, err)
    assert row_counts(engine) == before
    kit = create_kit(client, ids)
    for query, code, field in (
        ("mutation($id: ID!) { deliverKanbanKit(input: {id: $id}) { kanbanKit { id } } }", "BAD_USER_INPUT", "id"),
        ("mutation($id: ID!) { emptyKanbanKit(input: {id: $id}) { kanbanKit { id } } }", "BAD_USER_INPUT", "id"),
        ("mutation { fillKanbanKit(input: {id: 999}) { kanbanKit { id } } }", "NOT_FOUND", "id"),
        ('mutation { emptyKanbanKit(input: {id: "9999999999999999999"}) { kanbanKit { id } } }',
         "BAD_USER_INPUT", "id"),  # beyond 2^31-1 cannot be an id (docs/security.md)
        ('mutation($id: ID!) { fillKanbanKit(input: {id: $id, etag: "stale"}) { kanbanKit { id } } }',
         "CONFLICT", "etag"),
        ("mutation($id: ID!) { replenishLineLocation(input: {locationId: $id}) { shortages { quantity } } }",
         "BAD_USER_INPUT", "locationId"),
    ):
        variables = {"id": kit["id"]} if "$id" in query else None
        if "replenish" in query:
            variables = {"id": ids["line"]}
        err = error(client, query, variables)
        assert (err["extensions"]["code"], err["extensions"]["field"]) == (code, field), (query, err)
    data(client, "mutation($id: ID!) { fillKanbanKit(input: {id: $id}) { kanbanKit { id } } }", {"id": kit["id"]})
    data(client, "mutation($id: ID!) { deliverKanbanKit(input: {id: $id}) { kanbanKit { id } } }", {"id": kit["id"]})
    err = error(client, """mutation($id: ID!, $b: ID!) {
        emptyKanbanKit(input: {id: $id, consumption: [{partId: $b, quantity: 5}]}) { kanbanKit { id } } }""",
        {"id": kit["id"], "b": ids["bolt"]})
    assert err["extensions"]["field"] == "consumption[0].quantity"
    err = error(client, """mutation($l: ID!, $b: ID!) { setLineStockLevels(input: {locationId: $l,
        homeLocationId: $l, levels: [{partId: $b, minQuantity: 1, maxQuantity: 2}]}) { lineStockLevels { id } } }""",
        {"l": ids["line"], "b": ids["bolt"]})
    assert err["extensions"]["field"] == "homeLocationId"


def test_inventory_moves_stock_planners_define_viewers_read(
    client: TestClient, client_for: Callable[[str], TestClient],
) -> None:
    ids = setup(client)
    kit = create_kit(client, ids)
    viewer, planner, inventory = client_for("viewer"), client_for("planner"), client_for("inventory")
    fill = "mutation($id: ID!) { fillKanbanKit(input: {id: $id}) { kanbanKit { status } } }"
    for who in (viewer, planner):
        err = error(who, fill, {"id": kit["id"]})
        assert err["extensions"]["code"] == "FORBIDDEN"
    assert data(inventory, fill, {"id": kit["id"]})["fillKanbanKit"]["kanbanKit"]["status"] == "FILLED"
    read = data(viewer, "{ kanbanKits { edges { node { status cycles { number } } } } }")
    assert read["kanbanKits"]["edges"] == [{"node": {"status": "FILLED", "cycles": [{"number": 1}]}}]
    create = """mutation($h: ID!, $l: ID!, $b: ID!) { createKanbanKit(input: {homeLocationId: $h,
        lineLocationId: $l, pattern: [{partId: $b, quantity: 1}]}) { kanbanKit { id } } }"""
    variables = {"h": ids["home"], "l": ids["line"], "b": ids["bolt"]}
    assert error(viewer, create, variables)["extensions"]["code"] == "FORBIDDEN"
    assert "errors" not in gql(planner, create, variables)


def test_the_list_costs_the_same_queries_for_2_kits_as_for_6(client: TestClient, engine: Engine) -> None:
    from tests.api.test_lists import counting

    ids = setup(client)
    for _ in range(30):  # stock for six cycles and six fills
        data(client, """mutation($p: ID!, $l: ID!) { createPartInventory(input: {partId: $p, locationId: $l,
            autogenerateSerialNumber: true, quantity: 1}) { partInventory { id } } }""",
             {"p": ids["motor"], "l": ids["stock"]})
    data(client, """mutation($p: ID!, $l: ID!) { createPartInventory(input: {partId: $p, locationId: $l,
        lotNumber: "BIG", quantity: 100}) { partInventory { id } } }""", {"p": ids["bolt"], "l": ids["stock"]})

    def add_kits(n: int) -> None:
        for _ in range(n):
            kit = create_kit(client, ids)
            for step in ("fillKanbanKit", "deliverKanbanKit", "emptyKanbanKit", "fillKanbanKit"):
                data(client, f"mutation($id: ID!) {{ {step}(input: {{id: $id}}) {{ kanbanKit {{ id }} }} }}",
                     {"id": kit["id"]})

    query = f"{{ kanbanKits(sort: [ID_ASC]) {{ edges {{ node {{ {KIT_FIELDS} }} }} pageInfo {{ totalCount }} }} }}"
    counts = []
    for n in (2, 4):
        add_kits(n)
        with counting(engine) as statements:
            page = data(client, query)["kanbanKits"]
        assert page["pageInfo"]["totalCount"] == len(counts) * 2 + n if counts else n
        assert all(len(e["node"]["cycles"]) == 2 for e in page["edges"])
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1], counts
