"""Imports, runs, orders and kanban kits in a real browser (docs/web.md): import a file with
errors (the table by row and column), then a good one (dry run, then the counts); a run's
requirements, aBOM and actions; an order's kit quantities and unprocessed events; kanban kits
with their cycles; each role seeing only its actions; no serious axe-core violation."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlparse

from playwright.sync_api import FilePayload, Page, expect

from tests.browser.conftest import axe_violations, screenshot

AsRole = Callable[..., Page]

BAD = (b"kit_id,part_number,revision,quantity\n1,CABLE-24,,3\n1,NO-SUCH-PART,,2\n"
       b"99999,BOLT-M6,A,1\n1,IMU-7,B,lots\n")
GOOD = b"kit_id,part_number,revision,quantity\n4,IMU-7,B,1\n4,CABLE-24,,20\n"


def choose(page: Page, name: str, body: bytes) -> None:
    payload: FilePayload = {"name": name, "mimeType": "text/csv", "buffer": body}
    page.get_by_label("File (CSV or XLSX)").set_input_files(files=[payload])


def test_import_a_file_with_errors_then_a_good_one(as_role: AsRole) -> None:
    page = as_role("inventory", 1024)  # may edit any kit's items (a requester only their own)
    page.goto("/")
    page.get_by_role("link", name="Import kit items").click()
    choose(page, "kit-items-bad.csv", BAD)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"Nothing was imported: the file has 3 problems"))
    rows = page.locator("table.problems tbody tr")
    expect(rows).to_have_count(3)
    assert [r.split("\t")[:2] for r in rows.all_inner_texts()] == [
        ["3", "part_number"], ["4", "kit_id"], ["5", "quantity"]]
    screenshot(page, "import-errors")
    assert axe_violations(page) == []

    # The good file: the dry run first (the file stays chosen), then the import with its counts.
    choose(page, "kit-items.csv", GOOD)
    page.get_by_role("button", name="Check (dry run)").click()
    expect(page.locator("#import-result [role=status]")).to_contain_text(
        "Dry run of kit-items.csv: 2 rows would be imported (1 new item, 1 updated) in 1 kit.")
    screenshot(page, "import-dry-run")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-result [role=status]")).to_have_text(
        "Imported kit-items.csv: 2 rows, 1 new item, 1 updated, in 1 kit.")
    expect(page.locator("#import-result").get_by_role("link", name="kit 4")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(page, "import-done")
    assert axe_violations(page) == []
    page.goto("/kits/4")
    expect(page.locator("#kit-live")).to_contain_text("IMU-7")


def test_a_run_page_offers_actions_by_role(as_role: AsRole) -> None:
    planner = as_role("planner")
    planner.goto("/runs")
    expect(planner.get_by_role("link", name="Run 1", exact=True)).to_be_visible()
    screenshot(planner, "runs")
    planner.get_by_role("link", name="Run 2", exact=True).click()
    expect(planner.get_by_role("heading", name="Run 2: Drone build")).to_be_visible()
    planner.get_by_role("button", name="Start").click()
    expect(planner.get_by_role("status")).to_have_text("Run 2 is now in progress.")
    expect(planner.get_by_label("fulfil it now, oldest or soonest-expiring first")).to_have_count(0)  # not the planner's
    planner.get_by_role("button", name="Create kit for run").click()
    expect(planner.get_by_role("status")).to_contain_text("requested for the run")
    expect(planner.locator("main ul").last).to_contain_text("Requested")

    bench = as_role("inventory")
    bench.goto("/runs/1")
    expect(bench.get_by_role("button", name="Start")).to_have_count(0)
    expect(bench.get_by_role("button", name="Create kit for run")).to_have_count(0)
    expect(bench.get_by_role("button", name="Install")).to_have_count(1)  # the kitted IMU
    bench.get_by_role("button", name="Install").click()
    expect(bench.get_by_role("status")).to_contain_text("Installed 1 of record")
    expect(bench.locator("table").nth(1)).to_contain_text("IMU-7")
    screenshot(bench, "run-abom")
    token = bench.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    answer = bench.request.post("/runs/1/status", form={"csrf_token": token, "status": "CANCELED"},
                                max_redirects=0)
    assert answer.status == 403

    viewer = as_role("viewer")
    viewer.goto("/runs/1")
    expect(viewer.get_by_role("button")).to_have_count(1)  # sign out only
    expect(viewer.get_by_role("link", name="Import kit items")).to_have_count(0)


def test_no_serious_accessibility_violation_on_the_new_pages(as_role: AsRole) -> None:
    page = as_role("admin")
    page.goto("/orders")
    page.get_by_role("link", name="SO-1001").click()
    order = page.url.rsplit("/", 1)[1]
    row = page.locator("tbody tr").first.locator("td")
    assert row.all_inner_texts()[1:6] == ["1", "0", "0", "0", "1"]  # ordered, …, released
    expect(page.locator("table").nth(1)).to_contain_text("Pick")
    page.goto("/kanban")
    expect(page.get_by_role("heading", name=re.compile("Glove bin"))).to_contain_text("At line")
    pages = {
        "imports": "/imports", "runs": "/runs", "run": "/runs/1", "orders": "/orders",
        "order": f"/orders/{order}", "kanban": "/kanban", "home-admin": "/",
    }
    page.goto("/runs/2")
    page.locator("main dl a").first.click()  # the part the run builds: DRONE-1
    expect(page.get_by_role("heading", name="mBOM (what one is built from)")).to_be_visible()
    expect(page.locator("#mbom ~ table")).to_contain_text("AVIONICS-1")
    pages["part-mbom"] = urlparse(page.url).path
    found = {}
    for name, path in pages.items():
        page.goto(path)
        screenshot(page, name)
        violations = axe_violations(page)
        if violations:
            found[path] = violations
    assert found == {}
    page.set_viewport_size({"width": 1024, "height": 800})
    for path in pages.values():
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024, path
    page.goto(f"/orders/{order}")
    screenshot(page, "order-1024")
    assert axe_violations(page) == []
    assert page.evaluate("(() => { const w = document.querySelector('.wide'); return w.scrollWidth <= w.clientWidth })()")
