"""A kanban cycle's kit changes only through the kanban use cases (docs/kanban.md): every
partKits service refuses it with CONFLICT naming the kanban kit, and nothing changes; the
kanban cycle itself still runs. On SQLite and PostgreSQL, ending in the invariant check."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import Conflict
from kitwright.services import import_kit_items, kanban, kits, runs
from kitwright.services.kanban import ConsumptionEntry, PatternEntry
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import (
    AuditEntry,
    KanbanCycle,
    LedgerEntry,
    PartInventory,
    PartKit,
    PartKitInventory,
    PartKitItem,
)
from tests import factories


def counts(session: Session) -> tuple[int, ...]:
    session.rollback()
    return tuple(session.scalar(select(func.count()).select_from(m)) or 0
                 for m in (LedgerEntry, AuditEntry, PartKitItem, PartKitInventory, PartInventory))


@pytest.fixture
def cycle(session: Session) -> dict[str, Any]:
    bolt = factories.part(session, "BOLT", "LOT")
    stock = factories.location(session, "Stock")
    home = factories.location(session, "Rack")
    line = factories.location(session, "Line")
    factories.record(session, bolt, 10, lot_number="L1", location_id=stock.id)
    spare = factories.record(session, bolt, 5, lot_number="L2", location_id=stock.id)
    with UnitOfWork(session) as uow:
        kk = kanban.create_kanban_kit(uow, name="Bin", home_location_id=home.id, line_location_id=line.id,
                                      pattern=[PatternEntry(bolt.id, 4)])
    with UnitOfWork(session) as uow:
        kanban.fill_kanban_kit(uow, id=kk.id)
    session.rollback()
    part_kit = session.scalars(select(PartKit).join(KanbanCycle, KanbanCycle.part_kit_id == PartKit.id)
                               .where(KanbanCycle.kanban_kit_id == kk.id)).one()
    item = session.scalars(select(PartKitItem).where(PartKitItem.part_kit_id == part_kit.id)).one()
    [held] = kits.pick_list(session, part_kit.id)
    return {"kanban": kk, "kit": part_kit, "item": item, "held": held.record_id, "bolt": bolt, "line": line,
            "spare": spare}


def _attempts(c: dict[str, Any]) -> list[tuple[str, Callable[[UnitOfWork], object], str]]:
    kit, item = c["kit"], c["item"]
    return [
        ("updatePartKit", lambda uow: kits.update_part_kit(uow, kit.id, kit.etag, {"status": "COMPLETED"}), "id"),
        ("deletePartKit", lambda uow: kits.delete_part_kit(uow, kit.id, kit.etag), "id"),
        ("createPartKitItem", lambda uow: kits.create_part_kit_item(
            uow, part_kit_id=kit.id, part_id=c["bolt"].id, quantity=1), "partKitId"),
        ("updatePartKitItem", lambda uow: kits.update_part_kit_item(uow, item.id, item.etag, {"quantity": 9}), "id"),
        ("deletePartKitItem", lambda uow: kits.delete_part_kit_item(uow, item.id, item.etag), "id"),
        ("issueItemToKit", lambda uow: kits.issue_item_to_kit(
            uow, part_inventory_id=c["spare"].id, part_kit_item_id=item.id), "partKitItemId"),
        ("moveItemToInventory", lambda uow: kits.move_item_to_inventory(
            uow, part_inventory_id=c["held"], part_kit_item_id=item.id), "partKitItemId"),
        ("fulfillPartKit", lambda uow: kits.fulfill_part_kit(uow, id=kit.id), "id"),
        ("stagePartKitInventory", lambda uow: kits.stage_part_kit_inventory(
            uow, id=kit.id, location_id=c["line"].id), "id"),
        ("addRunNeedsToPartKit", lambda uow: runs.add_run_needs_to_kit(uow, id=kit.id), "id"),
    ]


@pytest.mark.parametrize("index", range(10))
def test_partkits_mutations_refuse_a_kanban_cycle_kit(session: Session, cycle: dict[str, Any], index: int) -> None:
    name, attempt, field = _attempts(cycle)[index]
    before = counts(session)
    with pytest.raises(Exception) as caught, UnitOfWork(session) as uow:
        attempt(uow)
    if name == "addRunNeedsToPartKit":  # a kanban kit serves no run: refused before the guard
        assert getattr(caught.value, "field", None) == "id"
    else:
        assert isinstance(caught.value, Conflict), (name, caught.value)
        assert caught.value.field == field
        assert f"kanban kit {cycle['kanban'].id}" in caught.value.message
    assert counts(session) == before
    session.rollback()
    assert session.get(PartKit, cycle["kit"].id, populate_existing=True).status == cycle["kit"].status  # type: ignore[union-attr]


def test_the_kit_importer_refuses_a_kanban_cycle_kit(session: Session, cycle: dict[str, Any]) -> None:
    before = counts(session)
    text = f"kit_id,part_number,revision,quantity\n{cycle['kit'].id},BOLT,,7\n"
    with pytest.raises(Conflict) as caught, UnitOfWork(session) as uow:
        import_kit_items.import_kit_items(uow, io.BytesIO(text.encode()), filename="items.csv")
    assert caught.value.field == "kitId" and "kanban kit" in caught.value.message
    assert counts(session) == before


def test_the_kanban_cycle_itself_still_runs(session: Session, cycle: dict[str, Any]) -> None:
    kk = cycle["kanban"]
    with UnitOfWork(session) as uow:
        kanban.deliver_kanban_kit(uow, id=kk.id)
    with UnitOfWork(session) as uow:
        done, _ = kanban.empty_kanban_kit(uow, id=kk.id, consumption=[ConsumptionEntry(cycle["bolt"].id, 1)])
    assert done.status == "EMPTIED" and done.cycle_count == 1
    with UnitOfWork(session) as uow:
        kanban.fill_kanban_kit(uow, id=kk.id)
    # A closed cycle's kit stays the kanban kit's history: still refused.
    session.rollback()
    old = session.get(PartKit, cycle["kit"].id, populate_existing=True)
    assert old is not None and old.status == "COMPLETED"
    with pytest.raises(Conflict), UnitOfWork(session) as uow:
        kits.update_part_kit(uow, old.id, old.etag, {"status": "IN_PROGRESS"})


def test_over_the_api_the_refusal_is_a_conflict_naming_the_kanban_kit(
    session: Session, cycle: dict[str, Any], client: Any
) -> None:
    from tests.api.gql import error

    kit, item = cycle["kit"], cycle["item"]
    err = error(client, """mutation($input: UpdatePartKitInput!) { updatePartKit(input: $input) { partKit { id } } }""",
                {"input": {"id": kit.id, "etag": kit.etag, "status": "CANCELED"}})
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("CONFLICT", "id")
    assert f"kanban kit {cycle['kanban'].id}" in err["message"]
    err = error(client, """mutation($input: InventoryToKitInput!) { moveItemToInventory(input: $input) {
        partInventory { id } } }""", {"input": {"partInventoryId": cycle["held"], "partKitItemId": item.id}})
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("CONFLICT", "partKitItemId")
