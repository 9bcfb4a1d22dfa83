"""The request-wide checks act once per root field and once per batch of loaded rows, never at
every field (docs/security.md, "Limits"): a page's plain fields take the executor's fast path."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kitwright.api.context import Context
from kitwright.api.limits import TooSlow
from kitwright.api.schema import schema
from kitwright.app import GraphQLEndpoint
from kitwright.services.actor import Actor
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import Part
from tests import factories

ADMIN = Actor(id=1, name="admin", role="admin")
PAGE = "{ partInventories(first: 10) { edges { node { id quantity status part { partNumber } } } } }"


def test_no_schema_extension_wraps_every_field() -> None:
    assert [type(e).__name__ for e in schema.get_extensions(sync=True) if e._implements_resolve()] == []


def test_each_root_field_is_checked_once(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with make_sessionmaker(engine)() as session:
        part = factories.part(session, "P-1", "LOT")
        shelf = factories.location(session, "Shelf")
        for i in range(5):
            factories.record(session, part, 2, location_id=shelf.id, lot_number=f"L{i}")
    from kitwright.api import authorization

    seen: list[str] = []
    real = authorization.authorize_root_field

    def counting(actor: Actor, field_name: str, *args: Any, **kwargs: Any) -> None:
        seen.append(field_name)
        real(actor, field_name, *args, **kwargs)

    monkeypatch.setattr(authorization, "authorize_root_field", counting)
    endpoint = GraphQLEndpoint(make_sessionmaker(engine))
    result = endpoint.execute(PAGE + " ", None, None, ADMIN, time.monotonic() + 30)
    assert "errors" not in result and len(result["data"]["partInventories"]["edges"]) == 5
    assert seen == ["partInventories"]  # one root field, five rows of four fields: one check


def test_a_query_stops_before_it_loads_more_rows_past_its_deadline(session: Session) -> None:
    part = factories.part(session, "P-2", "LOT")
    late = Context(session=session, actor=ADMIN, deadline=time.monotonic() - 1)
    with pytest.raises(TooSlow):
        late.loader(Part).get(part.id)
    with pytest.raises(TooSlow):
        late.group(Part.unit_of_measure_id).get(1)
    on_time = Context(session=session, actor=ADMIN, deadline=time.monotonic() + 30)
    found = on_time.loader(Part).get(part.id)
    assert found is not None and found.part_number == "P-2"


def test_a_started_mutation_answers_past_its_deadline(session: Session) -> None:
    """Once a mutation's root field has started it may have committed: its reply's rows load."""
    part = factories.part(session, "P-3", "LOT")
    started = Context(session=session, actor=ADMIN, deadline=time.monotonic() - 1, stoppable=False)
    found = started.loader(Part).get(part.id)
    assert found is not None and found.part_number == "P-3"


def test_a_mutation_past_its_deadline_still_answers_its_fields(
    engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deadline passes while the mutation runs: its committed record is answered whole,
    the part and location its reply loads included."""
    with make_sessionmaker(engine)() as session:
        part_id = factories.part(session, "P-4", "LOT").id
        shelf_id = factories.location(session, "Shelf").id
    from kitwright.services import inventory

    real = inventory.create_part_inventory
    seconds = 0.3

    def slow(*args: Any, **kwargs: Any) -> Any:
        created = real(*args, **kwargs)
        time.sleep(seconds)  # the deadline passes after the commit
        return created

    monkeypatch.setattr(inventory, "create_part_inventory", slow)
    endpoint = GraphQLEndpoint(make_sessionmaker(engine))
    mutation = (f'mutation {{ createPartInventory(input: {{partId: "{part_id}", locationId: "{shelf_id}", '
                'quantity: "3", lotNumber: "LATE"}) { partInventory { lotNumber part { partNumber } '
                "location { name } } } }")
    result = endpoint.execute(mutation, None, None, ADMIN, time.monotonic() + seconds / 3)
    assert "errors" not in result, result
    assert result["data"]["createPartInventory"]["partInventory"] == {
        "lotNumber": "LATE", "part": {"partNumber": "P-4"}, "location": {"name": "Shelf"}}
