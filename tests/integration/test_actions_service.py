"""Actions on SQLite and PostgreSQL: rules run inside the same transaction on every write
path (services called one by one, the importer), block with their message and change nothing,
warn into the audit trail, and are refused when saved with code that does not compile."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput, Conflict
from kitwright.services import actions, kits
from kitwright.services import import_kit_items as importer
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import AuditEntry, PartInventory, PartKitItem, Rule
from tests import factories
from tests.factories import kit


def new_rule(session: Session, code: str, **kw: Any) -> Rule:
    values: dict[str, Any] = {"title": "no CAPA parts", "target": "PARTKITITEM", "event_type": "CREATE"}
    values.update(kw)
    with UnitOfWork(session) as uow:
        return actions.create_rule(uow, code=code, **values)


def count(session: Session, model: type[Any]) -> int:
    session.rollback()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_blocking_rule_refuses_the_change_and_writes_nothing(session: Session) -> None:
    capa = factories.part(session, "CAPA-7")
    bolt = factories.part(session, "BOLT")
    k = kit(session)
    rule = new_rule(session, 'new.part.partNumber.startsWith("CAPA") && new.partKit.status == "DRAFT"',
                    message="a CAPA part may not be added to a kit")
    with UnitOfWork(session) as uow, pytest.raises(BadInput, match="CAPA part may not") as caught:
        kits.create_part_kit_item(uow, part_kit_id=k.id, part_id=capa.id, quantity=1)
    assert caught.value.field == f"rule:{rule.id}"
    assert count(session, PartKitItem) == 0
    with UnitOfWork(session) as uow:
        kits.create_part_kit_item(uow, part_kit_id=k.id, part_id=bolt.id, quantity=1)
    assert count(session, PartKitItem) == 1


def test_update_and_delete_events_see_old_and_new(session: Session) -> None:
    bolt = factories.part(session, "BOLT")
    k = kit(session)
    with UnitOfWork(session) as uow:
        item = kits.create_part_kit_item(uow, part_kit_id=k.id, part_id=bolt.id, quantity=5)
    new_rule(session, "new.quantity > old.quantity * 2.0", event_type="UPDATE", title="at most double")
    new_rule(session, 'user.name != "system"', event_type="DELETE", title="only system deletes")
    with UnitOfWork(session) as uow, pytest.raises(BadInput, match="at most double"):
        kits.update_part_kit_item(uow, item.id, item.etag, {"quantity": 11})
    session.rollback()
    fresh = session.get(PartKitItem, item.id)
    assert fresh is not None and fresh.quantity == 5
    with UnitOfWork(session) as uow:
        kits.update_part_kit_item(uow, item.id, fresh.etag, {"quantity": 10})
        etag = item.etag
    with UnitOfWork(session) as uow:
        kits.delete_part_kit_item(uow, item.id, etag)  # the CLI's actor is "system": allowed
    assert count(session, PartKitItem) == 0


def test_rules_on_inventory_and_disabled_rules(session: Session) -> None:
    glue = factories.part(session, "GLUE", "LOT")
    shelf = factories.location(session, "Shelf")
    rule = new_rule(session, "new.quantity > 100.0", target="PARTINVENTORY", title="at most 100 per lot")
    with pytest.raises(BadInput, match="at most 100 per lot"):
        factories.record(session, glue, 101, lot_number="L1", location_id=shelf.id)
    assert count(session, PartInventory) == 0
    with UnitOfWork(session) as uow:
        actions.update_rule(uow, rule.id, rule.etag, {"enabled": False})
    factories.record(session, glue, 101, lot_number="L1", location_id=shelf.id)
    assert count(session, PartInventory) == 1


def test_warn_rules_let_the_change_through_and_are_recorded(session: Session) -> None:
    bolt = factories.part(session, "BOLT")
    k = kit(session)
    rule = new_rule(session, "new.quantity >= 10.0", severity="WARN", title="large request")
    with UnitOfWork(session) as uow:
        kits.create_part_kit_item(uow, part_kit_id=k.id, part_id=bolt.id, quantity=12)
    session.rollback()
    warned = session.scalars(select(AuditEntry).where(AuditEntry.action == "WARN")).all()
    assert [(w.target_id, w.changes["message"]) for w in warned] == [(rule.id, "large request")]


def test_a_rule_that_fails_at_run_time_blocks(session: Session) -> None:
    bolt = factories.part(session, "BOLT")
    k = kit(session)
    new_rule(session, "new.noSuchField == 1", title="typo")
    with UnitOfWork(session) as uow, pytest.raises(BadInput, match="failed to run"):
        kits.create_part_kit_item(uow, part_kit_id=k.id, part_id=bolt.id, quantity=1)
    assert count(session, PartKitItem) == 0


def test_saving_checks_the_rule(session: Session) -> None:
    with UnitOfWork(session) as uow, pytest.raises(BadInput) as caught:
        actions.create_rule(uow, title="", target="NOPE", event_type="CREATE", code="1 +")
    assert {p.field for p in caught.value.details} == {"title", "target", "code"}
    rule = new_rule(session, "false")
    with UnitOfWork(session) as uow, pytest.raises(BadInput, match="does not compile"):
        actions.update_rule(uow, rule.id, rule.etag, {"code": "new.quantity >"})
    with UnitOfWork(session) as uow, pytest.raises(Conflict):
        actions.update_rule(uow, rule.id, "stale", {"title": "x"})
    with UnitOfWork(session) as uow:
        actions.delete_rule(uow, rule.id, rule.etag)
    assert count(session, Rule) == 0


def test_an_import_tripping_a_rule_imports_nothing_and_names_each_row(session: Session) -> None:
    factories.part(session, "CAPA-1")
    factories.part(session, "BOLT")
    k = kit(session)
    new_rule(session, 'new.part.partNumber.startsWith("CAPA")', message="no CAPA parts")
    new_rule(session, "new.quantity > old.quantity", event_type="UPDATE", title="no increase by import")
    source = io.BytesIO(
        f"kit_id,part_number,quantity\n{k.id},BOLT,1\n{k.id},CAPA-1,2\n".encode())
    with UnitOfWork(session) as uow, pytest.raises(BadInput) as caught:
        importer.import_kit_items(uow, source)
    assert [(p.row, p.message) for p in caught.value.details] == [(3, "no CAPA parts")]
    assert count(session, PartKitItem) == 0
    with UnitOfWork(session) as uow:
        importer.import_kit_items(uow, io.BytesIO(f"kit_id,part_number,quantity\n{k.id},BOLT,1\n".encode()))
    with UnitOfWork(session) as uow, pytest.raises(BadInput, match="no increase"):
        importer.import_kit_items(uow, io.BytesIO(f"kit_id,part_number,quantity\n{k.id},BOLT,3\n".encode()))
    with UnitOfWork(session) as uow:
        result = importer.import_kit_items(
            uow, io.BytesIO(f"kit_id,part_number,quantity\n{k.id},BOLT,1\n".encode()), dry_run=True)
    assert result.updated_count == 1
