"""Serial and lot numbers are compared in one normal form (docs/security.md): look-alikes
cannot coexist, invisible and direction-changing characters are refused; CSV exports cannot
be read as formulas by a spreadsheet."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from kitwright.domain.errors import BadInput
from kitwright.domain.text import csv_cell
from kitwright.domain.tracking import clean_number
from kitwright.services import availability
from kitwright.store.models import Part
from tests import factories
from tests.api.gql import data

CREATE = """mutation($input: CreatePartInventoryInput!) {
  createPartInventory(input: $input) { partInventory { id serialNumber lotNumber } } }"""

LOOK_ALIKES = [
    "FC\u20100002",  # HYPHEN
    "FC\u20110002",  # NON-BREAKING HYPHEN
    "FC\u22120002",  # MINUS SIGN
    "\uff26\uff23\uff0d\uff10\uff10\uff10\uff12",  # full-width letters, hyphen and digits
    " FC-0002 ",
    "FC-0002\u00a0",  # NO-BREAK SPACE
]
REFUSED = [
    "FC-0002\u200b",  # ZERO WIDTH SPACE
    "\u202eFC-0002",  # RIGHT-TO-LEFT OVERRIDE
    "FC\u2066-0002",  # LEFT-TO-RIGHT ISOLATE
    "FC-\u00ad0002",  # SOFT HYPHEN
    "FC-0002\ufeff",  # ZERO WIDTH NO-BREAK SPACE
    "FC\x07-0002",  # BEL
    "FC-\u20280002",  # LINE SEPARATOR
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alike_numbers_normalise_to_one(text: str) -> None:
    assert clean_number(text, field="serialNumber") == "FC-0002"


@pytest.mark.parametrize("text", REFUSED)
def test_invisible_and_direction_characters_are_refused(text: str) -> None:
    with pytest.raises(BadInput) as refused:
        clean_number(text, field="lotNumber")
    assert refused.value.field == "lotNumber"


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": CREATE, "variables": {"input": fields}})
    body: dict[str, Any] = response.json()
    return body


def test_look_alike_serials_cannot_coexist(session: Session, client: TestClient) -> None:
    part = factories.part(session, "FC", "SERIAL")
    first = data(client, CREATE, {"input": {"partId": part.id, "quantity": 1, "serialNumber": "FC-0002"}})
    assert first["createPartInventory"]["partInventory"]["serialNumber"] == "FC-0002"
    for text in LOOK_ALIKES:
        body = create(client, partId=part.id, quantity=1, serialNumber=text)
        error = body["errors"][0]
        assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "serialNumber"), text
    for text in REFUSED:
        body = create(client, partId=part.id, quantity=1, serialNumber=text.replace("0002", "0003"))
        error = body["errors"][0]
        assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "serialNumber"), text
    lot_part = factories.part(session, "BOLT", "LOT")
    body = create(client, partId=lot_part.id, quantity=5, lotNumber="L\u200b1")
    assert body["errors"][0]["extensions"]["field"] == "lotNumber"
    stored = data(client, CREATE, {"input": {"partId": lot_part.id, "quantity": 5, "lotNumber": "\uff2c-\uff11"}})
    assert stored["createPartInventory"]["partInventory"]["lotNumber"] == "L-1"
    for search in ("FC-0002", "FC\u20100002", "\uff26\uff23-0002"):  # filters compare in the same form
        found = data(client, "query($s: String!) { partInventories(filters: {serialNumber: {eq: $s}}) "
                             "{ totalCount } }", {"s": search})
        assert found["partInventories"]["totalCount"] == 1, search


DANGEROUS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "@SUM(1+1)", "+cmd|' /C calc'!A0", "-2+3",
             "\tTAB", "\rCR"]


def test_csv_cells_never_start_a_formula() -> None:
    for text in DANGEROUS:
        assert csv_cell(text).startswith("'")
    assert csv_cell("-12.5") == "-12.5"  # a number stays a number
    assert csv_cell("FC-0002") == "FC-0002"


def formula_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not cell.lstrip("-").replace(".", "").isdigit()]


def test_the_pick_list_csv_neutralises_formulas(session: Session, client: TestClient) -> None:
    part = factories.part(session, "@SUM(1+1)", "LOT")
    staging = factories.location(session, "=HYPERLINK(\"http://evil.example\")")
    factories.record(session, part, 4, lot_number="+cmd", location_id=staging.id)
    kit = data(client, "mutation($s: ID!) { createPartKit(input: {stagingLocationId: $s, status: REQUESTED}) "
                       "{ partKit { id } } }", {"s": staging.id})["createPartKit"]["partKit"]
    data(client, "mutation($k: ID!, $p: ID!) { createPartKitItem(input: {partKitId: $k, partId: $p, quantity: 4}) "
                 "{ partKitItem { id } } }", {"k": kit["id"], "p": part.id})
    data(client, "mutation($k: ID!) { fulfillPartKit(input: {id: $k}) { partKit { id } } }", {"k": kit["id"]})
    text = client.get(f"/api/kits/{kit['id']}/pick-list.csv").text
    assert "'@SUM(1+1)" in text and "'+cmd" in text and "'=HYPERLINK" in text
    assert formula_cells(text) == []


def test_the_availability_export_neutralises_formulas(session: Session) -> None:
    site = factories.location(session, "-site")
    chair = factories.part(session, "=chair")
    with_ = factories.part(session, "@kit", components=[(chair.id, Decimal(1))])
    factories.record(session, chair, 3, location_id=site.id)
    assert isinstance(with_, Part)
    rows = list(availability.feed_csv_rows(session, availability.feed(session)))
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    assert "'@kit" in out.getvalue() and "'-site" in out.getvalue()
    assert formula_cells(out.getvalue()) == []
