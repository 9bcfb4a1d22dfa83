"""kitAvailabilityChanges over GraphQL: a token, then the figures a receipt moved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from kitwright.services import inventory, locations, parts
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import Location, Part
from tests import factories
from tests.api.gql import data, error

CHANGES = """query($since: String, $asOf: Date) {
  kitAvailabilityChanges(since: $since, asOf: $asOf) {
    token asOf
    changes { kit { partNumber } site { name } totalQuantity onHandQuantity futureQuantity
              firstAvailableFutureQuantity firstAvailableFutureDate buckets { date quantity } }
  }
}"""


def test_a_receipt_moves_its_kit_at_its_site(session: Session, client: TestClient) -> None:
    table, chair = factories.part(session, "Table"), factories.part(session, "Chair")
    with UnitOfWork(session) as uow:
        parts.create_part(uow, part_number="Set", tracking_type="UNTRACKED",
                          components=[(table.id, Decimal(1)), (chair.id, Decimal(4))])
    dc1, dc2 = factories.location(session, "DC1"), factories.location(session, "DC2")
    factories.record(session, table, 2, location_id=dc1.id)
    factories.record(session, table, 2, location_id=dc2.id)
    factories.record(session, chair, 4, location_id=dc2.id)
    po = factories.record(session, chair, 8, location_id=dc1.id, on_order=True, expected_at=dt.date(2026, 5, 1))
    start = data(client, CHANGES, {"asOf": "2026-04-10"})["kitAvailabilityChanges"]
    assert start["changes"] == [] and start["token"]
    with UnitOfWork(session) as uow:
        inventory.receive_part_inventory(uow, po.id, po.etag)
    answer = data(client, CHANGES, {"since": start["token"], "asOf": "2026-04-10"})["kitAvailabilityChanges"]
    assert answer["asOf"] == "2026-04-10"
    assert answer["changes"] == [{
        "kit": {"partNumber": "Set"}, "site": {"name": "DC1"}, "totalQuantity": 2, "onHandQuantity": 2,
        "futureQuantity": 0, "firstAvailableFutureQuantity": None, "firstAvailableFutureDate": None, "buckets": [],
    }]
    again = data(client, CHANGES, {"since": answer["token"], "asOf": "2026-04-10"})["kitAvailabilityChanges"]
    assert again["changes"] == []


def test_a_bad_token_names_since(client: TestClient) -> None:
    assert error(client, CHANGES, {"since": "not-a-token"})["extensions"]["field"] == "since"


PAGE = """query($since: String, $first: Int) {
  kitAvailabilityChanges(since: $since, first: $first, asOf: "2026-04-10") {
    token hasNextPage changes { kit { partNumber } site { name } totalQuantity }
  }
}"""


def test_changes_come_in_pages_of_first(session: Session, client: TestClient) -> None:
    start = data(client, PAGE)["kitAvailabilityChanges"]
    assert start["changes"] == [] and start["hasNextPage"] is False
    table = factories.part(session, "Table")
    with UnitOfWork(session) as uow:
        parts.create_part(uow, part_number="Set", tracking_type="UNTRACKED", components=[(table.id, Decimal(1))])
    for name in ("DC1", "DC2", "DC3"):
        factories.record(session, table, 2, location_id=factories.location(session, name).id)
    seen, token, answers = [], start["token"], 0
    while True:
        answer = data(client, PAGE, {"since": token, "first": 2})["kitAvailabilityChanges"]
        answers += 1
        seen += [(c["site"]["name"], c["totalQuantity"]) for c in answer["changes"]]
        token = answer["token"]
        if not answer["hasNextPage"]:
            break
    assert answers == 2 and seen == [("DC1", 2), ("DC2", 2), ("DC3", 2)]
    assert data(client, PAGE, {"since": token})["kitAvailabilityChanges"]["changes"] == []


def test_first_is_bounded(client: TestClient) -> None:
    token = data(client, PAGE)["kitAvailabilityChanges"]["token"]
    for first in (-1, 501):
        refused = error(client, PAGE, {"since": token, "first": first})
        assert refused["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    assert data(client, PAGE, {"since": token, "first": 500})["kitAvailabilityChanges"]["hasNextPage"] is False


def test_a_token_older_than_the_retention_answers_gone(client: TestClient) -> None:
    import base64

    token = data(client, PAGE)["kitAvailabilityChanges"]["token"]
    kind = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(";")[1]
    position = "1:1:" if kind == "postgresql" else "0"
    old = base64.urlsafe_b64encode(f"v2;{kind};1000000;{position}".encode()).decode().rstrip("=")
    refused = error(client, PAGE, {"since": old})
    assert refused["extensions"] == {"code": "GONE", "field": "since"}
    assert "read the whole feed again" in refused["message"].lower()


def test_a_deleted_site_or_kit_never_stops_the_changes(session: Session, client: TestClient) -> None:
    """An empty site can be deleted (its location was noted); a kit part deleted takes its
    definition with it: the answer goes on, a deleted kit with zero figures and no part."""
    table = factories.part(session, "Table")
    with UnitOfWork(session) as uow:
        kit = parts.create_part(uow, part_number="Set", tracking_type="UNTRACKED", components=[(table.id, Decimal(1))])
    gone, kept = factories.location(session, "Closed DC"), factories.location(session, "DC1")
    factories.record(session, table, 2, location_id=kept.id)
    start = data(client, PAGE)["kitAvailabilityChanges"]["token"]
    with UnitOfWork(session) as uow:
        locations.delete_location(uow, gone.id, uow.get(Location, gone.id).etag)
    answer = data(client, PAGE, {"since": start})["kitAvailabilityChanges"]
    assert answer["changes"] == []
    with UnitOfWork(session) as uow:
        uow.session.delete(uow.get(Part, kit.id))
        uow.commit()
    query = """query($since: String) { kitAvailabilityChanges(since: $since) {
        changes { kitId kit { partNumber } site { name } totalQuantity } } }"""
    changes = data(client, query, {"since": answer["token"]})["kitAvailabilityChanges"]["changes"]
    assert changes == [{"kitId": str(kit.id), "kit": None, "site": {"name": "DC1"}, "totalQuantity": 0}]
