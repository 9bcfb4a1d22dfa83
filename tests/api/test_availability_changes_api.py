"""kitAvailabilityChanges over GraphQL: a token, then the figures a receipt moved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from kitwright.services import inventory, parts
from kitwright.services.uow import UnitOfWork
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
