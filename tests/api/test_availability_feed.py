"""The publish feed: `kitAvailabilityFeed` (paginated) and `kitwright availability export` (CSV)."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from typer.testing import CliRunner

from kitwright.cli.main import app
from kitwright.services import parts
from kitwright.services.uow import UnitOfWork
from tests import factories
from tests.api.gql import data, error

FEED = """query($first: Int, $after: String, $asOf: Date) {
  kitAvailabilityFeed(first: $first, after: $after, asOf: $asOf) {
    edges { cursor node { part { partNumber } network { totalQuantity onHandQuantity futureQuantity }
                          sites { site { name } totalQuantity } } }
    pageInfo { hasNextPage endCursor totalCount count }
  }
}"""


def build(session: Session) -> list[int]:
    """Three kits of a table and chairs at two DCs, a regular part that is no kit."""
    table = factories.part(session, "Table")
    chair = factories.part(session, "Chair")
    factories.part(session, "Lamp")
    kits = []
    for chairs in (2, 4, 6):
        with UnitOfWork(session) as uow:
            kit = parts.create_part(uow, part_number=f"Set-{chairs}", tracking_type="UNTRACKED",
                                    components=[(table.id, Decimal(1)), (chair.id, Decimal(chairs))])
        kits.append(kit.id)
    dc1 = factories.location(session, "DC1")
    dc2 = factories.location(session, "DC2")
    shelf = factories.location(session, "Shelf", dc1)
    factories.record(session, table, 10, location_id=shelf.id)
    factories.record(session, chair, 12, location_id=shelf.id)
    factories.record(session, table, 1, location_id=dc2.id)
    factories.record(session, chair, 12, location_id=dc2.id, on_order=True, expected_at=dt.date(2026, 5, 1))
    return kits


def test_feed_pages_through_every_kit(session: Session, client: TestClient) -> None:
    build(session)
    first = data(client, FEED, {"first": 2, "asOf": "2026-04-10"})["kitAvailabilityFeed"]
    assert first["pageInfo"]["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    names = [e["node"]["part"]["partNumber"] for e in first["edges"]]
    rest = data(client, FEED, {"first": 2, "after": first["pageInfo"]["endCursor"], "asOf": "2026-04-10"})
    rest = rest["kitAvailabilityFeed"]
    assert rest["pageInfo"]["hasNextPage"] is False
    names += [e["node"]["part"]["partNumber"] for e in rest["edges"]]
    assert names == ["Set-2", "Set-4", "Set-6"]
    set2 = first["edges"][0]["node"]
    # DC1: min(10/1, 12/2) = 6; DC2: on hand 0, 1 kit on 1 May.
    assert set2["network"] == {"totalQuantity": 7, "onHandQuantity": 6, "futureQuantity": 1}
    assert [(s["site"]["name"], s["totalQuantity"]) for s in set2["sites"]] == [("DC1", 6), ("DC2", 1)]


def test_feed_bad_page_arguments(session: Session, client: TestClient) -> None:
    assert error(client, FEED, {"first": 501})["extensions"]["field"] == "first"
    assert error(client, FEED, {"after": "nonsense"})["extensions"]["field"] == "after"


def test_export_writes_network_and_site_rows(engine: Engine, session: Session, tmp_path: Path) -> None:
    kits = build(session)
    out = tmp_path / "feed.csv"
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["availability", "export", "--database-url", url,
                                      "--output", str(out), "--as-of", "2026-04-10"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert {int(r["kit_id"]) for r in rows} == set(kits)
    set4 = [r for r in rows if r["part_number"] == "Set-4"]
    assert [(r["scope"], r["site_name"], r["total_quantity"], r["on_hand_quantity"], r["buckets"])
            for r in set4] == [
        ("NETWORK", "", "4", "3", "2026-05-01:1"),
        ("SITE", "DC1", "3", "3", ""),
        ("SITE", "DC2", "1", "0", "2026-05-01:1"),
    ]


def test_export_refuses_bad_dates_and_supply_types(engine: Engine, tmp_path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    result = runner.invoke(app, ["availability", "export", "--database-url", url, "--as-of", "10/04/2026"])
    assert result.exit_code == 2
    assert "--as-of" in result.output
    result = runner.invoke(app, ["availability", "export", "--database-url", url, "--supply-types", "FUTURE,SOMEDAY"])
    assert result.exit_code == 2
    assert "SOMEDAY" in result.output
