"""Numbers from callers (docs/security.md): ids, cursors and path parameters out of range are
BAD_USER_INPUT or 404, never a 500; quantities are plain decimal text; per-record quantities
are bounded so that totals stay exact on both engines and availability never fails."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, column, func, select, text
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from kitwright.domain.errors import BadInput
from kitwright.domain.quantities import MAX_QUANTITY, parse_quantity
from kitwright.store.queries import combine_sum, exact_sum
from tests.api.test_kit_availability import Shop

OUT_OF_RANGE = ["2147483648", "99999999999999999999", "-1", "9223372036854775808", "1e3", " 7", "abc", "\u0663"]


def codes(body: dict[str, Any]) -> set[str]:
    return {error["extensions"]["code"] for error in body.get("errors") or []}


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_ids_out_of_range_are_bad_input_or_not_found(client: TestClient, value: str) -> None:
    for query in ("query($id: ID!) { partInventory(id: $id) { id } }", "query($id: ID!) { part(id: $id) { id } }",
                  "query($id: ID!) { partKit(id: $id) { id } }",
                  "query($id: ID!) { partInventories(filters: {id: {eq: $id}}) { totalCount } }",
                  "query($id: ID!) { partInventories(filters: {locationId: {in: [$id]}}) { totalCount } }",
                  "query($id: ID!) { kitAvailability(partId: $id) { partId } }"):
        body = client.post("/graphql", json={"query": query, "variables": {"id": value}}).json()
        assert codes(body) <= {"BAD_USER_INPUT", "NOT_FOUND"} and codes(body), (query, value, body)


@pytest.mark.parametrize("offset", ["2147483648", "99999999999999999999", "-5", "x", "\u0663", " 3"])
def test_cursors_out_of_range_are_bad_input(client: TestClient, offset: str) -> None:
    cursor = base64.b64encode(f"arrayconnection:{offset}".encode()).decode()
    for argument in ("after", "before"):
        body = client.post("/graphql", json={
            "query": f'{{ partInventories({argument}: "{cursor}") {{ totalCount edges {{ cursor }} }} }}'}).json()
        assert codes(body) == {"BAD_USER_INPUT"}, body


@pytest.mark.parametrize("value", ["2147483648", "99999999999999999999", "9999999999"])
def test_path_parameters_out_of_range_are_not_found(client: TestClient, value: str) -> None:
    assert client.get(f"/api/kits/{value}/pick-list.csv").status_code in (400, 404)
    assert client.get(f"/inventory/{value}/history").status_code == 404


@pytest.mark.parametrize("text", ["1_000", "\u0663", "+3", " 5", "5 ", "1e3", "0x10", "1.2.3", "--1", "", "\u0661\u0660", "\uff15"])
def test_quantities_are_plain_decimal_text(text: str) -> None:
    with pytest.raises(BadInput):
        parse_quantity(text, allow_negative=True)


def test_plain_decimal_text_is_accepted() -> None:
    assert parse_quantity("12.5") == Decimal("12.5")
    assert parse_quantity("-3", allow_negative=True) == Decimal(-3)
    assert parse_quantity("0.000001") == Decimal("0.000001")
    with pytest.raises(BadInput):
        parse_quantity("-3")


@pytest.mark.parametrize("text", ["1_000", "+3", " 5", "\u0663"])
def test_the_api_refuses_quantities_that_are_not_plain_text(client: TestClient, text: str) -> None:
    part = Shop(client).part("Q")
    body = client.post("/graphql", json={
        "query": "mutation($q: Decimal!, $p: ID!) { createPartInventory(input: {partId: $p, quantity: $q}) "
                 "{ partInventory { id } } }", "variables": {"q": text, "p": part}}).json()
    assert codes(body) == {"BAD_USER_INPUT"}, body


def test_totals_of_the_largest_records_are_exact_and_availability_works(client: TestClient) -> None:
    shop = Shop(client)
    shop.site("Big")
    part = shop.part("BIG")
    kit = shop.part("BIGKIT", [(part, 1)])
    too_big = client.post("/graphql", json={
        "query": "mutation($input: CreatePartInventoryInput!) { createPartInventory(input: $input) { partInventory { id } } }",
        "variables": {"input": {"partId": part, "quantity": str(MAX_QUANTITY + 1), "locationId": shop.locations["Big/Shelf"]}}}).json()
    assert codes(too_big) == {"BAD_USER_INPUT"}
    for _ in range(12):
        shop.stock(part, int(MAX_QUANTITY), "Big/Shelf")
    figures = shop.availability(kit)
    assert Decimal(str(figures["network"]["onHandQuantity"])) == 12 * MAX_QUANTITY
    assert Decimal(str(shop.availability(part)["network"]["onHandQuantity"])) == 12 * MAX_QUANTITY
    feed = client.post("/graphql", json={"query": "{ kitAvailabilityFeed { edges { node { partId } } } }"}).json()
    assert "errors" not in feed, feed


def test_availability_sums_stay_exact_past_64_bit_integers(engine: Engine) -> None:
    """10,000 records of the largest quantity hold 10^19 millionths: more than SQLite's
    64-bit SUM holds. The two halves of exact_sum never overflow."""
    rows = 10_000
    units = int(MAX_QUANTITY) * 10**6
    numbers = text(f"WITH RECURSIVE n(i, q) AS (SELECT 1, {units} UNION ALL SELECT i + 1, q FROM n WHERE i < {rows}) "
                   "SELECT i, q FROM n").columns(column("i"), column("q")).subquery()
    high, low = exact_sum(numbers.c.q)
    with engine.connect() as conn:
        found = conn.execute(select(high, low)).one()
        assert combine_sum(*found) == rows * MAX_QUANTITY
        if engine.dialect.name == "sqlite":
            with pytest.raises(OperationalError, match="overflow"):
                conn.execute(select(func.sum(numbers.c.q))).one()
