"""Actions on the paths that change many rows at once, on SQLite and PostgreSQL: renaming a part
relabels its inventory records with one statement (PARTINVENTORY UPDATE rules run on each of
them), deleting a kit removes its items (PARTKITITEM DELETE rules run on each). A blocking
rule refuses the whole change and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput
from kitwright.services import actions, kits, parts
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import AuditEntry, Part, PartInventory, PartKit, PartKitItem, Rule
from tests import factories


def new_rule(session: Session, code: str, **kw: Any) -> Rule:
    values: dict[str, Any] = {"title": "rule", "target": "PARTINVENTORY", "event_type": "UPDATE"}
    values.update(kw)
    with UnitOfWork(session) as uow:
        return actions.create_rule(uow, code=code, **values)


def rename(session: Session, part: Part, number: str) -> Part:
    session.refresh(part)
    with UnitOfWork(session) as uow:
        return parts.update_part(uow, part.id, part.etag, {"part_number": number})


def test_renaming_a_part_runs_inventory_update_rules_on_every_record(session: Session) -> None:
    bolt = factories.part(session, "BOLT", "SERIAL")
    glue = factories.part(session, "GLUE", "LOT")
    shelf = factories.location(session, "Shelf")
    for n in range(3):
        factories.record(session, bolt, 1, serial_number=f"S{n}", location_id=shelf.id)
    factories.record(session, glue, 5, lot_number="L1", location_id=shelf.id)
    rule = new_rule(session, 'old.partNumber != new.partNumber && new.serialNumber == "S2"'
                             ' && new.part.partNumber.startsWith("OLD-")',
                    message="serial S2 may not move to an OLD- part number")
    with pytest.raises(BadInput, match="S2 may not move") as caught:
        rename(session, bolt, "OLD-BOLT")
    assert caught.value.field == f"rule:{rule.id}"
    session.rollback()
    assert session.get(Part, bolt.id).part_number == "BOLT"  # type: ignore[union-attr]
    labels = set(session.scalars(select(PartInventory.part_number).where(PartInventory.part_id == bolt.id)))
    assert labels == {"BOLT"}
    # A rename the rule allows relabels every record; the other part's records are not checked.
    rename(session, bolt, "BOLT-2")
    rename(session, glue, "OLD-GLUE")
    session.rollback()
    assert set(session.scalars(select(PartInventory.part_number).where(PartInventory.part_id == bolt.id))) == {
        "BOLT-2"}


def test_a_warning_on_a_rename_is_recorded_per_record(session: Session) -> None:
    bolt = factories.part(session, "BOLT", "SERIAL")
    shelf = factories.location(session, "Shelf")
    for n in range(2):
        factories.record(session, bolt, 1, serial_number=f"S{n}", location_id=shelf.id)
    rule = new_rule(session, "old.partNumber != new.partNumber", severity="WARN", title="relabelled")
    rename(session, bolt, "BOLT-2")
    session.rollback()
    warned = session.scalars(select(AuditEntry).where(AuditEntry.action == "WARN")).all()
    assert sorted(w.changes["objectId"] for w in warned) == sorted(
        session.scalars(select(PartInventory.id)))
    assert {w.target_id for w in warned} == {rule.id}


def test_deleting_a_kit_runs_item_delete_rules_on_every_item(session: Session) -> None:
    bolt = factories.part(session, "BOLT")
    capa = factories.part(session, "CAPA-1")
    with UnitOfWork(session) as uow:
        kit = kits.create_part_kit(uow)
    for part, quantity in ((bolt, 2), (capa, 3)):
        with UnitOfWork(session) as uow:
            kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=part.id, quantity=quantity)
    rule = new_rule(session, 'old.part.partNumber.startsWith("CAPA") && user.role != "planner"',
                    target="PARTKITITEM", event_type="DELETE", message="only planners remove CAPA items")
    session.refresh(kit)
    etag = kit.etag
    with UnitOfWork(session) as uow, pytest.raises(BadInput, match="only planners") as caught:
        kits.delete_part_kit(uow, kit.id, etag)
    assert caught.value.field == f"rule:{rule.id}"
    session.rollback()
    assert session.scalars(select(PartKit.etag).where(PartKit.id == kit.id)).all() == [etag]
    assert len(session.scalars(select(PartKitItem).where(PartKitItem.part_kit_id == kit.id)).all()) == 2
    with UnitOfWork(session) as uow:
        actions.update_rule(uow, rule.id, session.get(Rule, rule.id).etag,  # type: ignore[union-attr]
                            {"enabled": False})
    session.refresh(kit)
    with UnitOfWork(session) as uow:
        kits.delete_part_kit(uow, kit.id, kit.etag)
    session.rollback()
    assert session.scalars(select(PartKitItem)).all() == []
