"""SQL- and script-injection strings in every text field of the main
create mutations are stored verbatim, come back verbatim from the API, are escaped in web
pages, and never produce a 500."""

from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import Engine
from starlette.testclient import TestClient

from tests.api.gql import gql
from tests.security.operations import row_counts

HOSTILE = [
    "'; DROP TABLE part; --",
    "Robert'); DELETE FROM app_user WHERE ('1'='1",
    "\" OR \"1\"=\"1\" --",
    "1 UNION SELECT secret_hash FROM api_key --",
    "%_\\%' ESCAPE '\\",
    "<script>alert('x')</script>",
    "\"><img src=x onerror=alert(1)>",
    "{{ 7*7 }}{% raw %}",
    "\u202egnp.exe \u00e9\u4e2d\U0001f600",
    "\x00nul",
]


def created(client: TestClient, mutation: str, variables: dict[str, object]) -> dict[str, object] | None:
    response = client.post("/graphql", json={"query": mutation, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    for problem in body.get("errors") or []:
        # Refusing an input (e.g. a NUL byte) is fine; failing on it is not.
        assert problem["extensions"]["code"] == "BAD_USER_INPUT", problem
        return None
    return body["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_stored_verbatim_and_escaped_in_pages(client: TestClient, engine: Engine, text: str) -> None:
    before = row_counts(engine)
    tag = str(HOSTILE.index(text))
    fields = {"partNumber": text[:190] + tag, "revision": text[:45] + tag, "description": text}
    made = created(client, """mutation($i: CreatePartInput!) { createPart(input: $i) {
        part { id partNumber revision description } } }""", {"i": {**fields, "trackingType": "LOT"}})
    if made is None:
        assert "\x00" in text and row_counts(engine) == before  # refused whole, nothing written
        return
    part = made["createPart"]["part"]  # type: ignore[index]
    assert {k: part[k] for k in fields} == fields
    location = created(client, """mutation($i: CreateLocationInput!) { createLocation(input: $i) {
        location { id name type description } } }""", {"i": {"name": text, "type": text[:50], "description": text}})
    assert location is not None
    loc = location["createLocation"]["location"]  # type: ignore[index]
    assert (loc["name"], loc["type"], loc["description"]) == (text, text[:50], text)
    supplier = created(client, "mutation($n: String!) { createSupplier(input: {name: $n}) { supplier { name } } }",
                       {"n": text})
    assert supplier is not None and supplier["createSupplier"]["supplier"]["name"] == text  # type: ignore[index]
    unit = created(client, """mutation($n: String!, $a: String) { createUnitOfMeasure(input: {name: $n, abbreviation: $a}) {
        unitOfMeasure { name abbreviation } } }""", {"n": text, "a": text[:20]})
    assert unit is not None
    # Lot numbers refuse direction overrides (docs/security.md); everything else is kept verbatim.
    lot = text.replace("\u202e", "")
    record = created(client, """mutation($i: CreatePartInventoryInput!) { createPartInventory(input: $i) {
        partInventory { id lotNumber usageType segment } } }""", {"i": {
        "partId": part["id"], "locationId": loc["id"], "lotNumber": text, "usageType": text[:50],
        "segment": text[:100], "quantity": 2, "attributes": {text: text}}})
    assert (record is None) == (lot != text)
    record = record or created(client, """mutation($i: CreatePartInventoryInput!) { createPartInventory(input: $i) {
        partInventory { id lotNumber usageType segment } } }""", {"i": {
        "partId": part["id"], "locationId": loc["id"], "lotNumber": lot, "usageType": text[:50],
        "segment": text[:100], "quantity": 2, "attributes": {text: text}}})
    assert record is not None
    inv = record["createPartInventory"]["partInventory"]  # type: ignore[index]
    assert (inv["lotNumber"], inv["usageType"], inv["segment"]) == (lot.strip(), text[:50], text[:100])
    # Filtering with the same text finds exactly it (no LIKE wildcard or quote escapes).
    found = gql(client, "query($t: String!) { partInventories(filters: {lotNumber: {eq: $t}}) { totalCount } }",
                {"t": lot})
    assert found["data"]["partInventories"]["totalCount"] == 1
    contains = gql(client, "query($t: String!) { parts(filters: {partNumber: {startsWith: $t}}) { totalCount } }",
                   {"t": text[:190]})
    assert contains["data"]["parts"]["totalCount"] == 1
    page = client.get("/inventory", params={"partNumber": text[:190]})
    assert page.status_code == 200
    if "<" in text or ">" in text:
        assert text not in page.text
        assert str(escape(text[:190] + tag)) in page.text  # shown, as text
    history = client.get(f"/inventory/{inv['id']}/history")
    assert history.status_code == 200 and ("<script>" not in history.text)
    assert gql(client, "{ parts { totalCount } }")["data"]["parts"]["totalCount"] == 1  # nothing dropped


def test_hostile_text_in_kit_mutations(client: TestClient) -> None:
    for text in HOSTILE:
        body = gql(client, "mutation($i: CreatePartKitItemInput!) { createPartKitItem(input: $i) { __typename } }",
                   {"i": {"partKitId": text, "partId": text, "quantity": 1}})
        assert body["errors"][0]["extensions"]["code"] in {"BAD_USER_INPUT", "NOT_FOUND"}, body
