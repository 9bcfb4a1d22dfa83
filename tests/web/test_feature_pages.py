"""The imports, runs, orders and kanban pages over HTTP on SQLite and PostgreSQL (the browser
tests cover imports and runs in chromium): each page reads what the API reads, each action is
offered and allowed only to the roles the API allows, CSRF on every form, errors in words that
change nothing. The `engine` fixture ends each test with the invariant check."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kitwright.services import kanban, orders
from kitwright.services.kanban import PatternEntry
from kitwright.services.orders import NewEvent, NewLine
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import (
    AbomItem,
    BuildRequirement,
    Location,
    OrderReleaseLine,
    Part,
    PartKit,
    PartKitItem,
    Run,
)
from tests import factories
from tests.security.operations import row_counts
from tests.web.test_kit_pages import signed_in


@pytest.fixture
def planner(app: Starlette, engine: Engine) -> TestClient:
    return signed_in(app, engine, "planner")


@pytest.fixture
def stock_keeper(app: Starlette, engine: Engine) -> TestClient:
    """Imports into the demo kits, which the inventory team may edit (a planner edits only kits
    they requested)."""
    return signed_in(app, engine, "inventory")


def other(app: Starlette, engine: Engine, role: str) -> TestClient:
    return factories.signed_in(app, engine, role, next_page="/")


def flash_text(client: TestClient, path: str) -> str:
    found = re.search(r'class="message (ok|error)"[^>]*>([^<]*)<', client.get(path).text)
    assert found, "no message shown"
    return f"{found[1]}: {found[2]}"


def part_id(engine: Engine, number: str) -> int:
    with make_sessionmaker(engine)() as session:
        return session.scalars(select(Part.id).where(Part.part_number == number)).one()


# ----------------------------------------------------------------------------- imports

GOOD = b"kit_id,part_number,revision,quantity\n1,CABLE-24,,3\n1,BOLT-M6,A,12\n"
BAD = b"kit_id,part_number,revision,quantity\n1,CABLE-24,,3\n1,NO-SUCH-PART,,2\n99999,BOLT-M6,A,1\n1,IMU-7,B,lots\n"


def upload(client: TestClient, body: bytes, mode: str, *, htmx: bool = False, name: str = "items.csv",
           csrf: str | None = None) -> httpx.Response:
    token = factories.form_token(client.get("/imports").text) if csrf is None else csrf
    headers = {"HX-Request": "true", "X-CSRF-Token": token} if htmx else {}
    url = "/imports/kit-items" if htmx else f"/imports/kit-items?csrf_token={token}"
    answer: httpx.Response = client.post(url, files={"file": (name, body, "text/csv")}, data={"mode": mode},
                                         headers=headers)
    return answer


def item_count(engine: Engine) -> int:
    with make_sessionmaker(engine)() as session:
        return len(list(session.scalars(select(PartKitItem.id))))


def test_import_with_errors_shows_each_row_and_column_and_writes_nothing(
        stock_keeper: TestClient, engine: Engine) -> None:
    before = row_counts(engine)
    answer = upload(stock_keeper, BAD, "import")
    assert answer.status_code == 400
    text = answer.text
    assert "Nothing was imported: the file has 3 problems" in text
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', text)
    assert [(r, c) for r, c, _ in rows] == [("3", "part_number"), ("4", "kit_id"), ("5", "quantity")]
    assert row_counts(engine) == before


def test_a_planner_importing_into_a_kit_they_did_not_request_is_refused_per_row(
        planner: TestClient, engine: Engine) -> None:
    before = row_counts(engine)
    answer = upload(planner, GOOD, "import")
    assert answer.status_code == 403
    assert "Nothing was imported: the file has 2 problems" in answer.text
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', answer.text)
    assert [(r, c) for r, c, _ in rows] == [("2", "kit_id"), ("3", "kit_id")]
    assert "only its requester or the inventory team may" in rows[0][2]
    assert row_counts(engine) == before


def test_dry_run_then_import_with_htmx_counts_and_writes_once(stock_keeper: TestClient, engine: Engine) -> None:
    planner = stock_keeper
    before = item_count(engine)
    dry = upload(planner, GOOD, "check", htmx=True)
    assert dry.status_code == 200
    assert "Dry run of items.csv: 2 rows would be imported" in dry.text
    assert "<html" not in dry.text  # a fragment for htmx
    assert item_count(engine) == before
    done = upload(planner, GOOD, "import", htmx=True)
    assert "Imported items.csv: 2 rows" in done.text
    assert item_count(engine) > before


def test_import_page_needs_a_file_and_a_token(planner: TestClient, engine: Engine) -> None:
    before = row_counts(engine)
    token = factories.form_token(planner.get("/imports").text)
    empty = planner.post(f"/imports/kit-items?csrf_token={token}", files={"file": ("", b"", "text/csv")})
    assert empty.status_code == 400 and "Choose a CSV or XLSX file to import" in empty.text
    forged = upload(planner, GOOD, "import", csrf="wrong")
    assert forged.status_code == 403
    junk = upload(planner, b"\x00\x01PK\x03\x04garbage", "import", name="items.xlsx")
    assert junk.status_code == 400
    assert "Nothing was imported: the file has 1 problem, listed below by row and column. Fix it" in junk.text
    assert "the file is named .xlsx but is not an XLSX workbook" in junk.text
    assert row_counts(engine) == before


def test_viewer_is_not_offered_imports_and_is_refused(app: Starlette, engine: Engine,
                                                     planner: TestClient) -> None:
    viewer = other(app, engine, "viewer")
    assert "/imports" not in viewer.get("/").text
    assert viewer.get("/imports").status_code == 403
    token = factories.form_token(viewer.get("/").text)
    refused = viewer.post(f"/imports/kit-items?csrf_token={token}", files={"file": ("a.csv", GOOD, "text/csv")})
    assert refused.status_code == 403


# ----------------------------------------------------------------------------- runs and parts


def run_ids(engine: Engine) -> dict[str, int]:
    with make_sessionmaker(engine)() as session:
        return {r.title: r.id for r in session.scalars(select(Run))}


def test_runs_list_and_run_page_show_requirements_abom_and_kits(planner: TestClient, engine: Engine) -> None:
    ids = run_ids(engine)
    listing = planner.get("/runs").text
    assert "Avionics build" in listing and "Drone build" in listing
    page = planner.get(f"/runs/{ids['Avionics build']}").text
    assert "Build requirements" in page and "FC-100" in page and "IMU-7" in page
    assert "As built (aBOM)" in page and "Nothing installed yet." not in page
    assert re.search(r'href="/kits/\d+">Kit \d+</a>', page)
    assert 'action="/runs/' in page and "Create kit for run" in page
    assert planner.get("/runs/999999").status_code == 404


def test_a_planner_creates_a_kit_for_a_run_without_fulfilling_it(planner: TestClient, engine: Engine) -> None:
    drone = run_ids(engine)["Drone build"]
    page = planner.get(f"/runs/{drone}").text
    assert 'name="fulfill"' not in page  # fulfilling is the inventory team's (FulfillPartKit)
    planner.post(f"/runs/{drone}/kit", data={"csrf_token": factories.form_token(page), "deliveryLocationId": ""})
    assert flash_text(planner, f"/runs/{drone}").startswith("ok: Kit ")
    with make_sessionmaker(engine)() as session:
        kit = session.scalars(select(PartKit).where(PartKit.run_id == drone)).one()
        assert kit.status == "REQUESTED"
    refused = planner.post(f"/runs/{drone}/kit", data={"csrf_token": factories.form_token(page), "fulfill": "yes"})
    assert refused.status_code == 303
    assert flash_text(planner, f"/runs/{drone}") == (
        f"error: Run {drone} needs nothing more: its requirements are installed, waived or already "
        "requested by its open kits.")
    with make_sessionmaker(engine)() as session:
        assert len(list(session.scalars(select(PartKit.id).where(PartKit.run_id == drone)))) == 1


def test_start_a_run_and_create_its_kit_then_install_from_it(app: Starlette, engine: Engine,
                                                              planner: TestClient) -> None:
    planner = other(app, engine, "admin")
    drone = run_ids(engine)["Drone build"]
    page = planner.get(f"/runs/{drone}").text
    etag = re.search(r'name="etag" value="([^"]+)"', page)
    assert etag
    token = factories.form_token(page)
    assert planner.post(f"/runs/{drone}/status", data={"csrf_token": token, "etag": etag[1],
                                                       "status": "IN_PROGRESS"}).status_code == 303
    assert flash_text(planner, f"/runs/{drone}") == f"ok: Run {drone} is now in progress."
    stale = planner.post(f"/runs/{drone}/status", data={"csrf_token": token, "etag": etag[1], "status": "HOLD"})
    assert stale.status_code == 303
    assert flash_text(planner, f"/runs/{drone}").startswith("error: Someone changed this")
    planner.post(f"/runs/{drone}/kit", data={"csrf_token": token, "deliveryLocationId": "", "fulfill": "yes"})
    assert flash_text(planner, f"/runs/{drone}").startswith("ok: Kit ")
    with make_sessionmaker(engine)() as session:
        kit = session.scalars(select(PartKit).where(PartKit.run_id == drone)).one()
        bolt = session.scalars(select(BuildRequirement).join(Part, Part.id == BuildRequirement.part_id)
                               .where(BuildRequirement.run_id == drone, Part.part_number == "BOLT-M6")).one()
        requirement_id = bolt.id
    assert kit.status in ("IN_PROGRESS", "REQUESTED")
    page = planner.get(f"/runs/{drone}").text
    held = re.search(rf'name="buildRequirementId" value="{requirement_id}">.*?<option value="(\d+)"', page, re.S)
    assert held, "the kitted bolts are offered for install"
    planner.post(f"/runs/{drone}/install", data={"csrf_token": token, "buildRequirementId": str(requirement_id),
                                                 "partInventoryId": held[1], "quantity": "8"})
    assert flash_text(planner, f"/runs/{drone}").startswith("ok: Installed 8 of record")
    with make_sessionmaker(engine)() as session:
        assert session.scalars(select(AbomItem).where(AbomItem.build_requirement_id == requirement_id)).first()


def test_install_names_the_problem_and_changes_nothing(planner: TestClient, engine: Engine) -> None:
    ids = run_ids(engine)
    before = row_counts(engine)
    token = factories.form_token(planner.get("/runs").text)
    with make_sessionmaker(engine)() as session:
        theirs = session.scalars(select(BuildRequirement.id).where(BuildRequirement.run_id == ids["Drone build"])).first()
    for data, words in [
        ({"buildRequirementId": "", "partInventoryId": "1"}, "error: Choose a build requirement."),
        ({"buildRequirementId": str(theirs), "partInventoryId": "1"},
         "error: That requirement belongs to another run."),
        ({"buildRequirementId": "x1", "partInventoryId": "1"}, "error: A build requirement must be a whole number."),
    ]:
        planner.post(f"/runs/{ids['Avionics build']}/install", data={"csrf_token": token, **data})
        assert flash_text(planner, f"/runs/{ids['Avionics build']}") == words
    assert row_counts(engine) == before


@pytest.mark.parametrize("role", ["viewer", "requester", "inventory"])
def test_run_actions_are_hidden_and_refused_by_role(app: Starlette, engine: Engine, planner: TestClient,
                                                    role: str) -> None:
    person = other(app, engine, role)
    drone = run_ids(engine)["Drone build"]
    page = person.get(f"/runs/{drone}").text
    assert "Build requirements" in page
    assert "Create kit for run" not in page and 'value="IN_PROGRESS"' not in page
    token = factories.form_token(page)
    before = row_counts(engine)
    assert person.post(f"/runs/{drone}/status", data={"csrf_token": token, "status": "IN_PROGRESS",
                                                      "etag": "x"}).status_code == 403
    assert person.post(f"/runs/{drone}/kit", data={"csrf_token": token}).status_code == 403
    install = person.post(f"/runs/{drone}/install", data={"csrf_token": token, "buildRequirementId": "1",
                                                          "partInventoryId": "1"})
    assert install.status_code == (303 if role == "inventory" else 403)
    assert row_counts(engine) == before


def test_part_page_shows_its_mbom_and_where_used(planner: TestClient, engine: Engine) -> None:
    drone = planner.get(f"/parts/{part_id(engine, 'DRONE-1')}").text
    assert "AVIONICS-1" in drone and "FC-100" in drone  # the whole tree, two levels
    used = planner.get(f"/parts/{part_id(engine, 'AVIONICS-1')}").text
    assert re.search(r'Where used \(mBOM\).*DRONE-1', used, re.S)
    assert "Runs building it" in used


# ----------------------------------------------------------------------------- orders, kanban


def test_orders_show_kit_quantities_and_unprocessed_events(planner: TestClient, engine: Engine) -> None:
    with make_sessionmaker(engine)() as session:
        kit = session.scalars(select(Part).where(Part.part_number == "DINING-SET")).one()
        table = session.scalars(select(Part.id).where(Part.part_number == "TABLE-OAK")).one()
        with UnitOfWork(session) as uow:
            orders.update_order_settings(uow, {"partial_kit_supported": True})
        with UnitOfWork(session) as uow:
            order_id = orders.create_order(uow, "WEB-1", [NewLine("1", kit.id, 1)]).id
        with UnitOfWork(session) as uow:
            orders.allocate_order(uow, order_id)
        with UnitOfWork(session) as uow:
            orders.release_order(uow, order_id)
        line = session.scalars(select(OrderReleaseLine).where(OrderReleaseLine.part_id == table)).one()
        with UnitOfWork(session) as uow:
            orders.process_order_events(uow, "M1", [NewEvent("PICK", table, 1, release_line_id=line.id)])
    listing = planner.get("/orders").text
    assert f'href="/orders/{order_id}">WEB-1<' in listing
    page = planner.get(f"/orders/{order_id}").text
    cells = re.search(r"<td class=\"nowrap\">1 · <a[^>]*>DINING-SET</a> <span class=\"status\">kit</span></td>(.*?)</tr>",
                      page, re.S)
    assert cells
    assert re.findall(r'<td class="num">(\d+)</td>', cells[1])[:7] == ["1", "0", "0", "0", "1", "0", "0"]
    assert "Pick" in page and "not yet" in page and ">TABLE-OAK</a>" in page
    assert planner.get("/orders/999999").status_code == 404


def test_kanban_list_shows_status_and_cycle_history(planner: TestClient, engine: Engine) -> None:
    with make_sessionmaker(engine)() as session:
        home = session.scalars(select(Location.id).where(Location.name == "Stores")).one()
        line = session.scalars(select(Location.id).where(Location.name == "Line 1")).one()
        cable = session.scalars(select(Part.id).where(Part.part_number == "CABLE-24")).one()
        with UnitOfWork(session) as uow:
            made = kanban.create_kanban_kit(uow, home_location_id=home, line_location_id=line,
                                            pattern=[PatternEntry(cable, 2)], name="Cable bin")
            kid = made.id
        with UnitOfWork(session) as uow:
            kanban.fill_kanban_kit(uow, id=kid)
    page = planner.get("/kanban").text
    assert "Cable bin" in page and "Filled" in page and "Home Stores" in page
    assert re.search(r'<td class="num">1</td><td><a href="/kits/\d+">kit \d+</a></td>', page)
