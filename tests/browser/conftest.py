"""Browser tests: the real app under uvicorn on a loopback port, a fresh SQLite database with
demo data and one person per role, driven by Playwright through Debian's chromium (launched
by its path; no browser download). Screenshots land in tests/browser/screenshots/ (ignored
by git). docs/web.md says how to run them.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from sqlalchemy.orm import Session

from kitwright.services import demo
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.migrate import upgrade
from kitwright.store.models import Location, OrderReleaseLine, Part
from tests import factories

CHROMIUM = os.environ.get("KITWRIGHT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
PASSWORD = "browser tests password"
ROLES = ("viewer", "requester", "inventory", "planner", "admin")
SCREENSHOTS = Path(__file__).parent / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"


@dataclass(frozen=True)
class Server:
    url: str
    database_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        demo.load_demo(session)
        for role in ROLES:
            factories.user(engine, role, role, PASSWORD)
        # The demo run installs FC-0002; one more flight computer for fulfil to find after a scan.
        computer = session.query(Part).filter(Part.part_number == "FC-100").one()
        factories.record(session, computer, 1, serial_number="FC-0004", location_id=5)
        # Future supply for the availability chart: chairs on order at the main site.
        chair = session.query(Part).filter(Part.part_number == "CHAIR-OAK").one()
        shelf = session.get(Location, 5)
        assert shelf is not None
        for days, count in ((10, 8), (30, 12)):
            factories.record(session, chair, count, location_id=shelf.id, on_order=True,
                             expected_at=dt.date.today() + dt.timedelta(days=days))
        _orders_and_kanban(session)
    engine.dispose()


def _orders_and_kanban(session: Session) -> None:
    """An order for one dining set with only the table picked (the chairs' pick is missing, so
    the event waits unprocessed), and a kanban kit of gloves filled twice and delivered once."""
    from kitwright.services import kanban, orders
    from kitwright.services.orders import NewEvent, NewLine

    def one(model: type[Part], **where: str) -> Part:
        return session.query(model).filter_by(**where).one()

    # Kit 4: a draft the import test adds items to (the flow tests use kits 1 and 2).
    draft = factories.kit(session, delivery_location_id=6, status="DRAFT")
    factories.kit_item(session, draft, one(Part, part_number="CABLE-24"), 5)
    assert draft.id == 4
    dining, table = one(Part, part_number="DINING-SET"), one(Part, part_number="TABLE-OAK")
    with UnitOfWork(session) as uow:
        orders.update_order_settings(uow, {"partial_kit_supported": True})
    with UnitOfWork(session) as uow:
        order_id = orders.create_order(uow, "SO-1001", [NewLine("1", dining.id, 1)]).id
    with UnitOfWork(session) as uow:
        orders.allocate_order(uow, order_id)
    with UnitOfWork(session) as uow:
        orders.release_order(uow, order_id)
    line = session.query(OrderReleaseLine).filter_by(part_id=table.id).one()
    with UnitOfWork(session) as uow:
        orders.process_order_events(uow, "MSG-1", [NewEvent("PICK", table.id, 1, release_line_id=line.id)])
    gloves = factories.part(session, "GLOVE-L", description="Nitrile gloves, large")
    factories.record(session, gloves, 100, location_id=2)
    with UnitOfWork(session) as uow:
        bin_id = kanban.create_kanban_kit(uow, home_location_id=2, line_location_id=6, name="Glove bin",
                                          pattern=[kanban.PatternEntry(gloves.id, 10)]).id
    with UnitOfWork(session) as uow:
        kanban.fill_kanban_kit(uow, id=bin_id)
    with UnitOfWork(session) as uow:
        kanban.deliver_kanban_kit(uow, id=bin_id)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'kitwright.db'}"
    _prepare(database_url)
    port = _free_port()
    env = {**os.environ, "KITWRIGHT_DATABASE_URL": database_url, "KITWRIGHT_SECRET_KEY": "browser-tests",
           "KITWRIGHT_RATE_LIMIT": "100000", "KITWRIGHT_RATE_BURST": "100000",
           "KITWRIGHT_AUTH_RATE_LIMIT": "100000", "KITWRIGHT_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "kitwright.app:app_from_env", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start on {url}", pytrace=False)
                time.sleep(0.2)
        yield Server(url, database_url)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)", pytrace=False)
    launched = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
    yield launched
    launched.close()


def sign_in(browser: Browser, server: Server, role: str, width: int = 1280, *, bypass_csp: bool = False) -> Page:
    # Pages run under their real CSP (axe-core is evaluated through Playwright, not injected).
    context = browser.new_context(
        viewport={"width": width, "height": 900}, base_url=server.url, bypass_csp=bypass_csp
    )
    page = context.new_page()
    page.goto("/signin")
    page.get_by_label("Name").fill(role)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/")
    return page


@pytest.fixture
def as_role(browser: Browser, server: Server) -> Iterator[object]:
    pages: list[Page] = []

    def make(role: str, width: int = 1280) -> Page:
        page = sign_in(browser, server, role, width)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def axe_violations(page: Page) -> list[dict[str, object]]:
    """Serious and critical axe-core violations of the page as it is now."""
    # Evaluated through the debugging protocol, which the page's CSP (script-src 'self', no
    # inline scripts) does not govern; a <script> tag would be refused.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result if v["impact"] in ("serious", "critical")
    ]
