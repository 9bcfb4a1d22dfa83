"""Relay connections: filters, sorts, cursors, totalCount, and no query per row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from kitwright.domain.ledger import LedgerOperation
from kitwright.store.models import LedgerEntry, Location, Part, PartInventory, Supplier, UnitOfMeasure
from tests import factories
from tests.api.gql import data

PAGE = """query P($filters: PartInventoriesInputFilters, $after: String) {
  partInventories(filters: $filters, sort: [QUANTITY_DESC], first: 3, after: $after) {
    edges { cursor node { id quantity status part { partNumber } location { name parent { name } } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor totalCount count }
  } }"""


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_pages_follow_cursors_with_counts(session: Session, client: TestClient, engine: Engine) -> None:
    site = factories.location(session, "Site")
    shelf = factories.location(session, "Shelf", site)
    bolt = factories.part(session, "BOLT", "LOT")
    for n in range(1, 8):
        factories.record(session, bolt, n, lot_number=f"L{n}", location_id=shelf.id)
    filters = {"quantity": {"gt": 1}, "status": {"in": ["AVAILABLE"]}, "partId": {"eq": str(bolt.id)}}
    with counting(engine) as statements:
        first = data(client, PAGE, {"filters": filters})["partInventories"]
    # authentication (one query for key and user), then page, parts, locations, parent
    # locations, count: never one per row
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len([s for s in selects if "FROM api_key" in s]) == 1, statements
    assert len(selects) <= 6, statements
    assert [e["node"]["quantity"] for e in first["edges"]] == [7, 6, 5]
    assert first["edges"][0]["node"]["location"] == {"name": "Shelf", "parent": {"name": "Site"}}
    assert first["pageInfo"]["totalCount"] == 6 and first["pageInfo"]["count"] == 3
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    second = data(client, PAGE, {"filters": filters, "after": first["pageInfo"]["endCursor"]})["partInventories"]
    assert [e["node"]["quantity"] for e in second["edges"]] == [4, 3, 2]
    assert not second["pageInfo"]["hasNextPage"] and second["pageInfo"]["hasPreviousPage"]


def test_every_list_of_the_contract_answers(session: Session, client: TestClient) -> None:
    factories.part(session, "P", "LOT")
    factories.record(session, factories.part(session, "Q"), 2, location_id=factories.location(session, "A").id)
    session.rollback()
    models: dict[str, Any] = {"parts": Part, "locations": Location, "suppliers": Supplier, "unitsOfMeasure": UnitOfMeasure,
              "partInventories": PartInventory, "ledgerEntries": LedgerEntry}
    for name, model in models.items():
        result = data(client, f"{{ {name}(first: 1) {{ edges {{ node {{ id }} }} pageInfo {{ totalCount }} }} }}")
        ids = set(session.scalars(select(model.id)))
        assert result[name]["pageInfo"]["totalCount"] == len(ids), name
        shown = [int(e["node"]["id"]) for e in result[name]["edges"]]
        assert len(shown) == min(1, len(ids)) and set(shown) <= ids, name


def test_ledger_entries_filter_by_record(session: Session, client: TestClient) -> None:
    cable = factories.part(session, "CABLE")
    made = factories.record(session, cable, "2.5")
    result = data(
        client,
        """query L($f: LedgerEntriesInputFilters) { ledgerEntries(filters: $f) {
             edges { node { operation actor partInventoryId before after } } } }""",
        {"f": {"partInventoryId": {"eq": made.id}}},
    )["ledgerEntries"]["edges"]
    assert len(result) == 1
    node = result[0]["node"]
    assert (node["operation"], node["actor"], node["before"]) == (LedgerOperation.CREATE, "system", None)
    assert node["after"]["quantity"] == "2.5"
