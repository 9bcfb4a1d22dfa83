"""The kit pages over HTTP on SQLite and PostgreSQL (the browser tests cover the same flow in
chromium): every action without JavaScript, the htmx scan fragment, refusals in words that
change nothing, CSRF, and never a 500 whatever the form holds. The `engine` fixture ends each
test with the invariant check."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kitwright.services import demo
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import PartInventory, PartKit
from tests import factories
from tests.security.operations import row_counts


def signed_in(app: Starlette, engine: Engine, role: str) -> TestClient:
    with make_sessionmaker(engine)() as session:
        demo.load_demo(session)
    return factories.signed_in(app, engine, role, next_page="/kits")


@pytest.fixture
def bench(app: Starlette, engine: Engine) -> TestClient:
    return signed_in(app, engine, "inventory")


@pytest.fixture
def admin(app: Starlette, engine: Engine) -> TestClient:
    return signed_in(app, engine, "admin")


def token(client: TestClient, path: str = "/kits/1") -> str:
    return factories.form_token(client.get(path).text)


def message(client: TestClient, path: str = "/kits/1") -> str:
    found = re.search(r'class="message (ok|error)"[^>]*>([^<]*)<', client.get(path).text)
    assert found, "no message shown"
    return f"{found[1]}: {found[2]}"


def kit_status(engine: Engine, kit_id: int) -> str:
    with make_sessionmaker(engine)() as session:
        kit = session.get(PartKit, kit_id)
        assert kit is not None
        return kit.status


def test_scan_without_javascript_redirects_with_one_message(bench: TestClient, engine: Engine) -> None:
    answer = bench.post("/kits/1/scan", data={"csrf_token": token(bench), "code": "FC-0003"})
    assert answer.status_code == 303 and answer.headers["location"] == "/kits/1#scan"
    assert message(bench) == "ok: Issued FC-100 serial FC-0003 to the kit."
    assert kit_status(engine, 1) == "IN_PROGRESS"


def test_scan_with_htmx_answers_a_fragment_and_a_wrong_scan_changes_nothing(
    bench: TestClient, engine: Engine
) -> None:
    before = row_counts(engine)
    answer = bench.post("/kits/1/scan", data={"csrf_token": token(bench), "code": "FC-0001"},
                        headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert 'role="alert"' in answer.text and "“FC-0001”: Inventory 1 is already kitted" in answer.text
    assert 'id="kit-live" hx-swap-oob="true"' in answer.text
    assert row_counts(engine) == before
    assert kit_status(engine, 1) == "REQUESTED"


def test_fulfil_reports_shortages_then_deliver_and_complete(bench: TestClient, engine: Engine) -> None:
    csrf = token(bench)
    assert bench.post("/kits/1/fulfil", data={"csrf_token": csrf}).status_code == 303
    assert message(bench) == "ok: Issued 2 records, oldest or soonest-expiring first."
    with make_sessionmaker(engine)() as session:
        etag = session.scalars(select(PartKit.etag).where(PartKit.id == 1)).one()
    bench.post("/kits/1/status", data={"csrf_token": csrf, "etag": etag, "status": "DELIVERED"})
    assert message(bench).startswith("ok: Kit 1 delivered")
    with make_sessionmaker(engine)() as session:
        held = session.scalars(select(PartInventory).where(PartInventory.serial_number == "FC-0003")).one()
        assert held.location_id == 6  # Line 1, the delivery location
    # The old etag is stale now: a plain-words conflict, nothing changes.
    bench.post("/kits/1/status", data={"csrf_token": csrf, "etag": etag, "status": "COMPLETED"})
    assert message(bench).startswith("error: Someone changed this")
    assert kit_status(engine, 1) == "DELIVERED"


BAD_FORMS: list[tuple[str, dict[str, str]]] = [
    ("/kits/1/status", {"status": "BOGUS", "etag": "x"}),
    ("/kits/1/status", {"status": "DELIVERED", "etag": "stale"}),
    ("/kits/1/items", {"partId": "abc", "quantity": "1"}),
    ("/kits/1/items", {"partId": "1", "quantity": "lots"}),
    ("/kits/1/items", {"partId": "999999999", "quantity": "1"}),
    ("/kits/1/return", {"partInventoryId": "1", "partKitItemId": "1"}),
    ("/kits/1/return", {"partInventoryId": "1", "partKitItemId": "3"}),
    ("/kits/1/stage", {"locationId": ""}),
    ("/kits/1/stage", {"locationId": "-4"}),
    ("/kits/1/fulfil", {"sourceLocationId": "nowhere"}),
    ("/kits/1/scan", {"code": "\x00"}),
    ("/kits/1/scan", {"code": "L-2026-01", "quantity": "-3"}),
    ("/kits/999999/fulfil", {}),
    ("/kits/999999/scan", {"code": "FC-0003"}),
]


def test_bad_forms_get_words_and_change_nothing(admin: TestClient, engine: Engine) -> None:
    csrf = token(admin)
    before = row_counts(engine)
    for path, form in BAD_FORMS:
        answer = admin.post(path, data={"csrf_token": csrf, **form})
        assert answer.status_code == 303, (path, form, answer.text)
        if "999999" not in path:
            assert message(admin, answer.headers["location"].split("#")[0]).startswith("error: "), (path, form)
    assert row_counts(engine) == before


def test_a_new_kit_with_a_bad_line_is_refused_naming_the_line(app: Starlette, engine: Engine) -> None:
    client = signed_in(app, engine, "requester")
    csrf = token(client, "/kits/new")
    before = row_counts(engine)
    answer = client.post("/kits", data={"csrf_token": csrf, "status": "REQUESTED",
                                        "partId": ["", "1"], "quantity": ["", "0"]})
    assert answer.status_code == 400
    assert "Line 2: the quantity must be greater than 0" in answer.text
    assert row_counts(engine) == before
    answer = client.post("/kits", data={"csrf_token": csrf, "status": "REQUESTED",
                                        "partId": ["", "", "999999"], "quantity": ["", "", "1"]})
    assert "Line 3: part 999999 does not exist." in answer.text
    answer = client.post("/kits", data={"csrf_token": csrf, "status": "REQUESTED", "partId": [""], "quantity": [""]})
    assert "Add at least one item" in answer.text
    assert row_counts(engine) == before


def test_forms_without_the_csrf_token_are_refused(bench: TestClient, engine: Engine) -> None:
    before = row_counts(engine)
    for path in ("/kits/1/fulfil", "/kits/1/scan", "/kits"):
        assert bench.post(path, data={"code": "FC-0003"}).status_code == 403
    assert row_counts(engine) == before


def test_a_role_refused_an_action_gets_a_page_in_words(bench: TestClient, engine: Engine) -> None:
    before = row_counts(engine)
    answer = bench.post("/kits", data={"csrf_token": token(bench), "status": "REQUESTED", "partId": ["1"],
                                       "quantity": ["1"]})
    assert answer.status_code == 403 and answer.headers["content-type"].startswith("text/html")
    assert "needs the CreatePartKit permission" in answer.text
    assert row_counts(engine) == before


def test_unknown_pages_say_so_in_words(bench: TestClient) -> None:
    for path in ("/kits/999999", "/kits/999999/pick-list", "/inventory/999999", "/parts/999999",
                 "/availability/999999"):
        answer = bench.get(path)
        assert answer.status_code in (400, 404), path
        assert "does not exist" in answer.text, path
    assert bench.get("/inventory?locationId=abc").status_code == 400
    assert bench.get("/kits?runId=x").status_code == 400
    assert bench.get("/static/..%2F..%2Fetc%2Fpasswd").status_code in (403, 404)
    assert bench.get("/static/base.html").status_code == 404
    assert bench.get("/static/kitwright.css").status_code == 200


def test_board_filters_narrow_the_columns(bench: TestClient) -> None:
    def kits_shown(query: str) -> list[str]:
        return re.findall(r'id="kit-(\d+)"', bench.get("/kits" + query).text)

    assert kits_shown("") == ["1", "2", "3"]  # 3: the demo run's kit
    assert kits_shown("?status=REQUESTED") == ["1"]
    assert kits_shown("?locationId=6") == ["1", "2", "3"]  # all are bound for Line 1
    assert kits_shown("?runId=1") == ["3"]
    assert kits_shown("?locationId=5") == []
    assert kits_shown("?mine=1") == []  # nothing is assigned to the signed-in person
    assert kits_shown("?runId=7") == []
