"""The kitting flow of docs/web.md in a real browser: request a kit, fulfil it oldest first,
issue by scan (a good serial and wrong ones), move back, stage, pick list, deliver, complete;
each role seeing only the actions it may take (and refused server-side); no serious
accessibility violation on any page."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Server, axe_violations, screenshot, sign_in

AsRole = Callable[..., Page]


def kitted_cells(page: Page) -> list[str]:
    return page.locator("#kit-live tbody tr td:nth-child(4)").all_inner_texts()


def scan(page: Page, code: str) -> None:
    box = page.get_by_label("Serial or lot number")
    box.fill(code)
    box.press("Enter")


def test_sign_in_refuses_a_wrong_password_in_words(browser: Browser, server: Server) -> None:
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.goto("/kits")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_label("Name").fill("inventory")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    screenshot(page, "signin")
    assert axe_violations(page) == []
    context.close()


def test_the_whole_kit_flow_in_a_browser(as_role: AsRole) -> None:
    # A requester asks for a kit, on a 1024-px tablet.
    requester = as_role("requester", 1024)
    requester.goto("/kits")
    requester.get_by_role("link", name="New kit").click()
    requester.get_by_label("Deliver to").select_option(label="Line 1 (Main Plant)")
    requester.get_by_label("Part on line 1").select_option(label="FC-100 rev A · Flight computer")
    requester.get_by_label("Quantity on line 1").fill("3")
    requester.get_by_label("Part on line 2").select_option(label="BOLT-M6 rev A · M6 bolt, titanium")
    requester.get_by_label("Quantity on line 2").fill("100")
    requester.get_by_label("Part on line 3").select_option(label="CABLE-24 · 24 AWG cable")
    requester.get_by_label("Quantity on line 3").fill("-2")
    screenshot(requester, "kit-new")
    requester.get_by_role("button", name="Request kit").click()
    expect(requester.get_by_role("alert")).to_contain_text("Line 3: the quantity must not be negative.")
    requester.get_by_label("Part on line 3").select_option("")
    requester.get_by_label("Quantity on line 3").fill("")
    requester.get_by_role("button", name="Request kit").click()
    expect(requester.get_by_role("status")).to_contain_text("created with 2 items")
    kit_url = requester.url
    kit_id = kit_url.rsplit("/", 1)[1]
    expect(requester.locator("#kit-status-badge")).to_have_text("Requested")
    # The requester may not issue or fulfil.
    expect(requester.get_by_role("button", name="Fulfil oldest or soonest-expiring first")).to_have_count(0)
    expect(requester.get_by_label("Serial or lot number")).to_have_count(0)

    # The inventory team scans at the bench: the box keeps the focus, Enter issues.
    bench = as_role("inventory")
    bench.goto(f"/kits/{kit_id}")
    box = bench.get_by_label("Serial or lot number")
    expect(box).to_be_focused()
    scan(bench, "FC-0003")
    expect(bench.locator("#scan-message")).to_have_text("Issued FC-100 serial FC-0003 to the kit.")
    expect(box).to_be_focused()
    expect(box).to_have_value("")
    expect(bench.locator("#kit-status-badge")).to_have_text("In progress")
    assert kitted_cells(bench) == ["1", "0"]
    # Wrong scans: one clear message each, nothing changes.
    for code, words in (("NO-SUCH-LABEL", "Nothing carries the serial or lot number “NO-SUCH-LABEL”"),
                        ("SN-000001", "is IMU-7; this kit does not ask for that part"),
                        ("FC-0001", "kitted")):
        scan(bench, code)
        expect(bench.locator("#scan-message [role=alert]")).to_contain_text(words)
        expect(box).to_be_focused()
        assert kitted_cells(bench) == ["1", "0"]
    screenshot(bench, "kit-scan-wrong")

    # Fulfil oldest first: the next flight computer and the oldest bolt lot; one still short.
    bench.get_by_role("button", name="Fulfil oldest or soonest-expiring first").click()
    expect(bench.get_by_role("status")).to_contain_text("Issued 2 records, oldest or soonest-expiring first. Short: FC-100 needs 1 more.")
    assert kitted_cells(bench) == ["2", "100"]
    expect(bench.locator("#kit-live")).to_contain_text("serial FC-0004")
    expect(bench.locator("#kit-live")).to_contain_text("lot L-2026-01")
    screenshot(bench, "kit-fulfilled")

    # Move 10 bolts back, then stage what the kit holds.
    bolts = bench.locator("#kit-live form[action$='/return']").filter(has=bench.locator("input[name=quantity]"))
    bolts.locator("input[name=quantity]").fill("10")
    bolts.get_by_role("button", name=re.compile("Move back record")).click()
    expect(bench.get_by_role("status")).to_contain_text("Moved 10 of record")
    assert kitted_cells(bench) == ["2", "90"]
    bench.get_by_label("Stage at").select_option(label="A-1 (Main Plant)")
    bench.get_by_role("button", name="Stage", exact=True).click()
    expect(bench.get_by_role("status")).to_contain_text("Staged: the kit's inventory is now at A-1.")

    # The printable pick list, in pick-path order.
    bench.get_by_role("link", name="Pick list").click()
    expect(bench.get_by_role("heading", name=f"Pick list: kit {kit_id}")).to_be_visible()
    expect(bench.locator("table.pick tbody tr")).to_have_count(3)
    bench.emulate_media(media="print")
    screenshot(bench, "pick-list-print")
    expect(bench.get_by_role("button", name="Print")).to_be_hidden()
    bench.emulate_media(media="screen")
    bench.go_back()

    # Deliver (inventory moves to Line 1), then complete.
    bench.get_by_role("button", name="Deliver").click()
    expect(bench.get_by_role("status")).to_contain_text("delivered")
    expect(bench.locator("#kit-status-badge")).to_have_text("Delivered")
    expect(bench.locator("#kit-live")).to_contain_text("Line 1")
    screenshot(bench, "kit-delivered")
    bench.get_by_role("button", name="Complete").click()
    expect(bench.locator("#kit-status-badge")).to_have_text("Completed")
    expect(bench.get_by_label("Serial or lot number")).to_have_count(0)

    # The record's page tells the story.
    bench.goto("/inventory?serialNumber=FC-0003")
    bench.get_by_role("link", name=re.compile(r"^\d+$")).first.click()
    expect(bench.locator("#history ~ table")).to_contain_text("Kit issue")
    expect(bench.locator("main")).to_contain_text("Line 1")
    screenshot(bench, "record")

    # The board shows the completed kit in its column.
    bench.goto("/kits")
    expect(bench.locator("#col-COMPLETED").locator("xpath=..")).to_contain_text(f"Kit {kit_id}")
    screenshot(bench, "kits-board")


EXPECTED = {
    # role: (fulfil + scan + move back + stage, deliver/move on board, new kit, add item)
    "viewer": (False, False, False, False),
    "requester": (False, True, True, True),
    "inventory": (True, True, False, True),
    "planner": (False, True, True, True),
    "admin": (True, True, True, True),
}


def test_each_role_sees_only_the_actions_it_may_take(as_role: AsRole) -> None:
    for role, (bench_work, status_change, requesting, adds_items) in EXPECTED.items():
        page = as_role(role)
        page.goto("/kits/2")  # the demo's fulfilled kit: holds inventory
        count = 1 if bench_work else 0
        expect(page.get_by_role("button", name="Fulfil oldest or soonest-expiring first")).to_have_count(0)  # fully kitted
        expect(page.get_by_label("Serial or lot number")).to_have_count(count)
        expect(page.get_by_role("button", name="Stage", exact=True)).to_have_count(count)
        expect(page.get_by_role("button", name=re.compile("Move back record")).first).to_have_count(count)
        expect(page.get_by_role("button", name="Deliver")).to_have_count(1 if status_change else 0)
        expect(page.get_by_role("button", name="Add item")).to_have_count(1 if adds_items else 0)
        page.goto("/kits/1")  # the demo's requested kit: nothing kitted yet
        expect(page.get_by_role("button", name="Fulfil oldest or soonest-expiring first")).to_have_count(count)
        page.goto("/kits")
        expect(page.get_by_role("link", name="New kit")).to_have_count(1 if requesting else 0)
        expect(page.get_by_role("button", name="Move kit 1")).to_have_count(1 if status_change else 0)
        # Hidden is not enough: the server refuses what the role may not do, and nothing changes.
        token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
        if not bench_work:
            for action, form in (("fulfil", {}), ("scan", {"code": "FC-0004"})):
                answer = page.request.post(f"/kits/1/{action}", form={"csrf_token": token, **form},
                                           max_redirects=0)
                assert answer.status == 403, (role, action)
                assert "permission" in answer.text()
        if not requesting:
            answer = page.request.post("/kits", form={"csrf_token": token, "partId": "1", "quantity": "1",
                                                      "status": "DRAFT"}, max_redirects=0)
            assert answer.status == 403, role
        if not status_change:
            answer = page.request.post("/kits/1/status", form={"csrf_token": token, "status": "CANCELED"},
                                       max_redirects=0)
            assert answer.status == 403, role
        page.goto("/kits/1")
        if role == "viewer":
            assert kitted_cells(page) == ["0", "0"]
            screenshot(page, "kit-viewer")


def test_no_serious_accessibility_violation_on_any_page(as_role: AsRole) -> None:
    page = as_role("admin")
    page.goto("/availability")
    page.get_by_role("link", name="DINING-SET").click()
    dining = page.url.rsplit("/", 1)[1]
    pages = {
        "home": "/", "kits-board-admin": "/kits", "kit-new-admin": "/kits/new", "kit": "/kits/1",
        "kit-held": "/kits/2", "pick-list": "/kits/2/pick-list", "inventory": "/inventory",
        "inventory-filtered": "/inventory?status=KITTED", "record-kitted": "/inventory/1",
        "part": "/parts/1", "part-kit": f"/parts/{dining}", "availability-list": "/availability",
        "availability": f"/availability/{dining}", "not-found": "/kits/999999",
    }
    found = {}
    for name, path in pages.items():
        page.goto(path)
        screenshot(page, name)
        violations = axe_violations(page)
        if violations:
            found[path] = violations
    assert found == {}
    # The chart shows on-hand and future kits, with words for screen readers.
    page.goto(f"/availability/{dining}")
    expect(page.locator("svg.chart").first).to_have_accessible_name(re.compile(r"Kits available: on hand: \d+"))
    assert page.locator("svg.chart").first.locator("rect.future").count() == 2
    # Usable at 1024 px: nothing wider than the window.
    page.set_viewport_size({"width": 1024, "height": 800})
    for path in ("/kits", "/kits/2", "/inventory", f"/availability/{dining}"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024, path
    page.goto("/kits/2")
    screenshot(page, "kit-1024")


def test_keyboard_only_skip_link_then_scan_box_then_actions(as_role: AsRole) -> None:
    page = as_role("admin")
    page.goto("/kits/1")
    expect(page.get_by_label("Serial or lot number")).to_be_focused()  # ready for the scanner
    page.keyboard.press("Tab")
    expect(page.locator("#scan-qty")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Issue")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Fulfil oldest or soonest-expiring first")).to_be_focused()
    page.goto("/kits")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Assigned to")).to_be_focused()


def test_pages_scripts_run_under_the_real_csp(browser: Browser, server: Server) -> None:
    """htmx and the page script load from /static under the policy every page is sent with."""
    page = sign_in(browser, server, "inventory", bypass_csp=False)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    page.goto("/kits")
    page.wait_for_load_state("load")
    assert page.evaluate("typeof window.htmx") == "object"
    assert refused == []
    page.context.close()
