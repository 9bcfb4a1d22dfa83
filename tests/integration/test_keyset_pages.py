"""Keyset pages: every sort, forwards and backwards, equals one big ordered page; deep pages
stay stable under inserts; cursors ION clients already hold (offsets) keep working."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput
from kitwright.services import inventory
from kitwright.services.inventory import INVENTORY_SORTS
from kitwright.store.models import Part, PartInventory
from kitwright.store.queries import PageRequest, encode_cursor
from tests import factories

SORTS = [f"{name}_{direction}" for name in INVENTORY_SORTS for direction in ("ASC", "DESC")]


def _stock(session: Session) -> list[PartInventory]:
    """Records with repeated quantities and part numbers, and NULL serials, lots and locations."""
    shelf = factories.location(session)
    bolt = factories.part(session, "BOLT", "LOT")
    probe = factories.part(session, "PROBE", "SERIAL")
    made = [factories.record(session, bolt, n % 3, lot_number=f"L{n % 4}-{n}", location_id=shelf.id)
            for n in range(9)]
    made += [factories.record(session, probe, 1, serial_number=f"S{n}", location_id=shelf.id if n % 2 else None)
             for n in range(6)]
    return made


def _walk_forward(session: Session, sort: list[str], size: int) -> list[int]:
    seen: list[int] = []
    after = None
    for _ in range(50):
        page = inventory.list_part_inventories(session, None, sort, PageRequest(first=size, after=after))
        seen += [row.id for row in page.rows]
        if not page.has_next_page:
            return seen
        assert page.rows, "a page that promises more must hold rows"
        after = page.cursor(len(page.rows) - 1)
    raise AssertionError("paging did not end")


def _walk_backward(session: Session, sort: list[str], size: int) -> list[int]:
    seen: list[int] = []
    before = None
    for _ in range(50):
        page = inventory.list_part_inventories(session, None, sort, PageRequest(last=size, before=before))
        seen = [row.id for row in page.rows] + seen
        if not page.has_previous_page:
            return seen
        before = page.cursor(0)
    raise AssertionError("paging did not end")


def test_every_sort_pages_the_same_rows_as_one_big_page(session: Session) -> None:
    made = _stock(session)
    for sort in [[s] for s in SORTS] + [["PART_NUMBER_ASC", "SERIAL_NUMBER_DESC"], ["QUANTITY_DESC", "LOT_NUMBER_ASC"]]:
        whole = [r.id for r in inventory.list_part_inventories(session, None, sort, PageRequest(first=500)).rows]
        assert sorted(whole) == sorted(r.id for r in made)
        for size in (1, 4):
            assert _walk_forward(session, sort, size) == whole, (sort, size)
            assert _walk_backward(session, sort, size) == whole, (sort, size)


def test_a_deep_page_is_stable_when_rows_are_inserted_before_it(session: Session) -> None:
    made = _stock(session)
    newest_first = ["CREATED_AT_DESC"]
    first = inventory.list_part_inventories(session, None, newest_first, PageRequest(first=5))
    cursor = first.cursor(4)
    expected = [r.id for r in inventory.list_part_inventories(session, None, newest_first,
                                                               PageRequest(first=5, after=cursor)).rows]
    # A new record sorts first: an offset cursor would now repeat the last row of page 1.
    bolt = session.get(Part, made[0].part_id)
    assert bolt is not None
    factories.record(session, bolt, 1, lot_number="NEWEST")
    again = inventory.list_part_inventories(session, None, newest_first, PageRequest(first=5, after=cursor))
    assert [r.id for r in again.rows] == expected
    assert not set(expected) & {r.id for r in first.rows}


def test_offset_cursors_clients_hold_keep_working(session: Session) -> None:
    made = _stock(session)
    ordered = [r.id for r in inventory.list_part_inventories(session, None, ["ID_ASC"], PageRequest(first=500)).rows]
    page = inventory.list_part_inventories(session, None, ["ID_ASC"], PageRequest(first=3, after=encode_cursor(4)))
    assert [r.id for r in page.rows] == ordered[5:8]
    assert page.has_previous_page and page.has_next_page
    assert len(made) == len(ordered)


@pytest.mark.parametrize("cursor", [
    "nonsense",
    base64.b64encode(b"keyset:[1,2").decode(),
    base64.b64encode(b'keyset:["ID+",[{"d":"NaN"}]]').decode(),
    base64.b64encode(b'keyset:["ID+",[{"x":"1"}]]').decode(),
    base64.b64encode(b"arrayconnection:-1").decode(),
    base64.b64encode(b"arrayconnection:99999999999999999999").decode(),
    "A" * 5000,
])
def test_forged_cursors_are_bad_input(session: Session, cursor: str) -> None:
    with pytest.raises(BadInput) as caught:
        inventory.list_part_inventories(session, None, ["ID_ASC"], PageRequest(first=3, after=cursor))
    assert caught.value.field == "after"


def test_a_cursor_from_another_sort_is_refused(session: Session) -> None:
    _stock(session)
    page = inventory.list_part_inventories(session, None, ["QUANTITY_DESC"], PageRequest(first=2))
    with pytest.raises(BadInput, match="sorted another way"):
        inventory.list_part_inventories(session, None, ["ID_ASC"], PageRequest(first=2, after=page.cursor(1)))


def test_keyset_cursor_is_opaque_json_of_the_sort_values(session: Session) -> None:
    _stock(session)
    page = inventory.list_part_inventories(session, None, ["QUANTITY_DESC"], PageRequest(first=1))
    text = base64.urlsafe_b64decode(page.cursor(0)).decode()
    prefix, _, rest = text.partition(":")
    signature, values = json.loads(rest)
    assert prefix == "keyset" and signature == "QUANTITY-,ID-"
    assert Decimal(values[0]["d"]) == page.rows[0].quantity and values[1] == page.rows[0].id
