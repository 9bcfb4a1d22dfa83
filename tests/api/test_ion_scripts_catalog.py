"""The part, location, unit-of-measure and supplier operations of ION's public scripts.

One test per operation shape (our texts, the scripts' shapes and variable values; see
tests/api/ion_shapes.py), validated against the served schema and run against demo data.
"""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from tests.api.ion_shapes import refused, run, served_schema, with_demo

NEW_PART = """
mutation NewPart($input: CreatePartInput!) { createPart(input: $input) { part { id partNumber } } }"""


def test_create_part_without_tracking_type(client: TestClient, engine: Engine) -> None:
    """The inventory importer sends only partNumber and description: ION's default applies."""
    with_demo(engine)
    schema = served_schema(client)
    made = run(client, schema, NEW_PART, {"input": {"partNumber": "IMP-1", "description": "Imported"}})
    part_id = made["createPart"]["part"]["id"]
    found = run(client, schema, "query($id: ID!) { part(id: $id) { trackingType revision } }", {"id": part_id})
    assert found["part"] == {"trackingType": "UNTRACKED", "revision": ""}


def test_create_part_with_supplier_part_number(client: TestClient, engine: Engine) -> None:
    """The SolidWorks BOM importer: partNumber, description, supplierPartNumber, revision."""
    with_demo(engine)
    schema = served_schema(client)
    made = run(client, schema, NEW_PART, {"input": {
        "partNumber": "SW-BRACKET", "description": "Bracket", "supplierPartNumber": "MCM-91290A115", "revision": "B",
    }})
    found = run(client, schema, "query($id: ID!) { part(id: $id) { supplierPartNumber revision } }",
                {"id": made["createPart"]["part"]["id"]})
    assert found["part"] == {"supplierPartNumber": "MCM-91290A115", "revision": "B"}
    listed = run(client, schema, """query($filters: PartsInputFilters) { parts(filters: $filters) {
        edges { node { partNumber } } } }""", {"filters": {"supplierPartNumber": {"eq": "MCM-91290A115"}}})
    assert [e["node"]["partNumber"] for e in listed["parts"]["edges"]] == ["SW-BRACKET"]


def test_create_part_with_tracking_level(client: TestClient, engine: Engine) -> None:
    """The Excel importer: trackingType from the sheet, upper-cased; a bad one names the field."""
    with_demo(engine)
    schema = served_schema(client)
    run(client, schema, NEW_PART, {"input": {"partNumber": "XL-1", "description": "d", "trackingType": "SERIAL", "revision": "A"}})
    bad = client.post("/graphql", json={"query": NEW_PART, "variables": {"input": {
        "partNumber": "XL-2", "description": "d", "trackingType": "BATCH"}}}).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad["errors"][0]["extensions"]["field"] == "trackingType"


FIND_PARTS = """
query FindParts($filters: PartsInputFilters) { parts(filters: $filters) { edges { node { id partNumber } } } }"""


def test_find_parts_latest_revision(client: TestClient, engine: Engine) -> None:
    """The Excel importer looks parts up by partNumber `in` and isLatestRevision `eq` true."""
    with_demo(engine)
    schema = served_schema(client)
    newer = run(client, schema, NEW_PART, {"input": {"partNumber": "FC-100", "revision": "B", "trackingType": "SERIAL"}})
    found = run(client, schema, FIND_PARTS, {"filters": {
        "partNumber": {"in": ["FC-100", "BOLT-M6", "NOPE"]}, "isLatestRevision": {"eq": True}}})
    ids = {e["node"]["partNumber"]: e["node"]["id"] for e in found["parts"]["edges"]}
    assert ids == {"FC-100": newer["createPart"]["part"]["id"], "BOLT-M6": "2"}
    older = run(client, schema, FIND_PARTS, {"filters": {"partNumber": {"eq": "FC-100"}, "isLatestRevision": {"eq": False}}})
    assert [e["node"]["id"] for e in older["parts"]["edges"]] == ["1"]
    flags = run(client, schema, "query { parts(sort: [ID_ASC]) { edges { node { partNumber isLatestRevision } } } }")
    fc = [e["node"]["isLatestRevision"] for e in flags["parts"]["edges"] if e["node"]["partNumber"] == "FC-100"]
    assert fc == [False, True]
    # The solidworks importer's lookup: partNumber `in` alone.
    every = run(client, schema, FIND_PARTS, {"filters": {"partNumber": {"in": ["FC-100"]}}})
    assert len(every["parts"]["edges"]) == 2


NEW_LOCATION = """
mutation NewLocation($input: CreateLocationInput!) { createLocation(input: $input) { location { id name } } }"""
FIND_LOCATIONS = """
query FindLocations($filters: LocationsInputFilters, $sort: [LocationSortEnum]) {
  locations(sort: $sort, filters: $filters) { edges { node { id name } } }
}"""


def test_create_and_find_locations_by_name(client: TestClient, engine: Engine) -> None:
    with_demo(engine)
    schema = served_schema(client)
    run(client, schema, NEW_LOCATION, {"input": {"name": "Bin 42"}})
    found = run(client, schema, FIND_LOCATIONS, {"filters": {"name": {"in": ["Bin 42", "A-2", "Nowhere"]}}, "sort": None})
    assert sorted(e["node"]["name"] for e in found["locations"]["edges"]) == ["A-2", "Bin 42"]


def test_location_entity_id(client: TestClient, engine: Engine) -> None:
    """bulk_print_location_labels.py reads `location(id) { id name entityId }`."""
    with_demo(engine)
    schema = served_schema(client)
    found = run(client, schema, "query GetLocation($id: ID!) { location(id: $id) { id name entityId } }", {"id": "5"})
    assert found["location"] == {"id": "5", "name": "A-2", "entityId": "Location:5"}


DELETE_LOCATION = """
mutation DropLocation($id: ID!, $etag: String!) { deleteLocation(id: $id, etag: $etag) { id } }"""


def test_delete_location(client: TestClient, engine: Engine) -> None:
    with_demo(engine)
    schema = served_schema(client)
    made = run(client, schema, NEW_LOCATION, {"input": {"name": "Temporary"}})["createLocation"]["location"]
    etag = run(client, schema, "query($id: ID!) { location(id: $id) { _etag } }", {"id": made["id"]})["location"]["_etag"]
    stale = refused(client, schema, DELETE_LOCATION, {"id": made["id"], "etag": "stale"})
    assert stale["extensions"]["code"] == "CONFLICT"
    assert run(client, schema, DELETE_LOCATION, {"id": made["id"], "etag": etag}) == {"deleteLocation": {"id": made["id"]}}
    gone = refused(client, schema, "query($id: ID!) { location(id: $id) { id } }", {"id": made["id"]})
    assert gone["extensions"]["code"] == "NOT_FOUND"


def test_delete_location_in_use_is_refused(client: TestClient, engine: Engine) -> None:
    """A location holding stock (5), with children (3) or used by a kit (6) stays; nothing changes."""
    with_demo(engine)
    schema = served_schema(client)
    for location_id, reason in (("5", "inventory records"), ("3", "child locations"), ("6", "kits")):
        etag = run(client, schema, "query($id: ID!) { location(id: $id) { _etag } }", {"id": location_id})["location"]["_etag"]
        error = refused(client, schema, DELETE_LOCATION, {"id": location_id, "etag": etag})
        assert error["extensions"] == {"code": "CONFLICT", "field": "id"}
        assert reason in error["message"]
        assert run(client, schema, "query($id: ID!) { location(id: $id) { _etag } }", {"id": location_id})["location"]["_etag"] == etag


NEW_UNIT = """
mutation NewUnit($input: CreateUnitOfMeasurementInput!) {
  createUnitOfMeasurement(input: $input) { unitOfMeasurement { id type } }
}"""
FIND_UNITS = """
query FindUnits($filters: UnitsOfMeasurementInputFilters, $sort: [UnitOfMeasurementSortEnum]) {
  unitsOfMeasurement(sort: $sort, filters: $filters) { edges { node { id type } } }
}"""


def test_units_of_measurement_by_type(client: TestClient, engine: Engine) -> None:
    """The inventory importer: look units up by `type in [...]`, create the missing ones."""
    with_demo(engine)
    schema = served_schema(client)
    found = run(client, schema, FIND_UNITS, {"filters": {"type": {"in": ["each", "kg"]}}})
    assert [e["node"] for e in found["unitsOfMeasurement"]["edges"]] == [{"id": "1", "type": "each"}]
    made = run(client, schema, NEW_UNIT, {"input": {"type": "kg"}})
    assert made["createUnitOfMeasurement"]["unitOfMeasurement"]["type"] == "kg"
    again = run(client, schema, FIND_UNITS, {"filters": {"type": {"in": ["each", "kg"]}}, "sort": ["TYPE_DESC"]})
    assert [e["node"]["type"] for e in again["unitsOfMeasurement"]["edges"]] == ["kg", "each"]
    duplicate = refused(client, schema, NEW_UNIT, {"input": {"type": "kg"}})
    assert duplicate["extensions"]["code"] == "BAD_USER_INPUT"


SUPPLIER_ATTRIBUTES = """
query SupplierAttributes($supplierFilters: SuppliersInputFilters, $first: Int, $after: String) {
  suppliers(filters: $supplierFilters, first: $first, after: $after) {
    edges { node { id name Attributes { key value type } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def test_supplier_attributes_as_the_download_script_reads_them(client: TestClient, engine: Engine) -> None:
    with_demo(engine)
    schema = served_schema(client)
    supplier = run(client, schema, "query { supplier(id: 1) { _etag } }")["supplier"]
    run(client, schema, """mutation($input: UpdateSupplierInput!) { updateSupplier(input: $input) { supplier { id } } }""",
        {"input": {"id": 1, "etag": supplier["_etag"], "attributes": [
            {"key": "Brochure", "value": "https://example.com/acme.pdf", "type": "FILE_ATTACHMENT"},
            {"key": "Tier", "value": "1"}]}})
    page = run(client, schema, SUPPLIER_ATTRIBUTES, {"first": 1})["suppliers"]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["edges"][0]["node"]["Attributes"] == [
        {"key": "Brochure", "value": "https://example.com/acme.pdf", "type": "FILE_ATTACHMENT"},
        {"key": "Tier", "value": "1", "type": "TEXT"}]
    rest = run(client, schema, SUPPLIER_ATTRIBUTES, {"first": 1, "after": page["pageInfo"]["endCursor"]})["suppliers"]
    assert rest["edges"][0]["node"]["Attributes"] == []
    named = run(client, schema, SUPPLIER_ATTRIBUTES, {"supplierFilters": {"name": {"eq": "Acme Components"}}, "first": 100})
    assert [e["node"]["id"] for e in named["suppliers"]["edges"]] == ["1"]


def test_bad_attributes_are_named_and_nothing_changes(client: TestClient, engine: Engine) -> None:
    with_demo(engine)
    schema = served_schema(client)
    error = refused(client, schema, """mutation($input: CreateSupplierInput!) { createSupplier(input: $input) { supplier { id } } }""",
                    {"input": {"name": "Globex", "attributes": [{"key": "A", "value": "1"}, {"key": "a", "value": "2"},
                                                                 {"key": " ", "value": "3"}, {"key": "B", "type": "no way"}]}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    fields = {d["field"] for d in error["extensions"]["details"]}
    assert fields == {"attributes[1].key", "attributes[2].key", "attributes[3].type"}
    none = run(client, schema, "query { suppliers(filters: {name: {eq: \"Globex\"}}) { edges { node { id } } } }")
    assert none["suppliers"]["edges"] == []
