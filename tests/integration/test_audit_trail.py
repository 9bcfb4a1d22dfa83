"""The audit trail keeps the old and the new value of every changed field, and deleting a kit
records each of its items' deletion (docs/kit-rules.md, "Audit"). Both engines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kitwright.services import audit, kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import AuditEntry, Base, Location, PartKit, PartKitItem
from tests import factories


def entries(session: Session, target_type: str, target_id: int | None = None) -> list[AuditEntry]:
    session.rollback()
    stmt = select(AuditEntry).where(AuditEntry.target_type == target_type).order_by(AuditEntry.id)
    if target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    return list(session.scalars(stmt))


def update_kit(session: Session, kit_id: int, **changes: Any) -> PartKit:
    session.rollback()
    kit = session.get(PartKit, kit_id, populate_existing=True)
    assert kit is not None
    with UnitOfWork(session) as uow:
        return kits.update_part_kit(uow, kit_id, kit.etag, changes)


def test_a_status_change_keeps_the_old_status(session: Session) -> None:
    with UnitOfWork(session) as uow:
        kit = kits.create_part_kit(uow)
    update_kit(session, kit.id, status="REQUESTED")
    update_kit(session, kit.id, status="CANCELED")
    updates = [e.changes for e in entries(session, "PartKit", kit.id) if e.action == "UPDATE"]
    assert updates == [{"status": ["DRAFT", "REQUESTED"]}, {"status": ["REQUESTED", "CANCELED"]}]


def test_an_update_records_only_what_changed_with_both_values(session: Session) -> None:
    staging = factories.location(session, "Staging")
    with UnitOfWork(session) as uow:
        kit = kits.create_part_kit(uow, priority=5)
    update_kit(session, kit.id, priority=3)
    update_kit(session, kit.id, staging_location_id=staging.id)
    update_kit(session, kit.id, priority=3)  # changes nothing: no entry claims it did
    updates = [e.changes for e in entries(session, "PartKit", kit.id) if e.action == "UPDATE"]
    assert updates == [
        {"priority": [5, 3]},
        {"staging_location_id": [None, staging.id], "current_location_id": [None, staging.id]},
    ]


def test_an_item_quantity_change_keeps_both_quantities(session: Session) -> None:
    bolt = factories.part(session, "BOLT", "LOT")
    with UnitOfWork(session) as uow:
        kit = kits.create_part_kit(uow)
    with UnitOfWork(session) as uow:
        item = kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=bolt.id, quantity="2.5")
    session.rollback()
    fresh = session.get(PartKitItem, item.id, populate_existing=True)
    assert fresh is not None
    with UnitOfWork(session) as uow:
        kits.update_part_kit_item(uow, item.id, fresh.etag, {"quantity": Decimal(4)})
    [update] = [e for e in entries(session, "PartKitItem", item.id) if e.action == "UPDATE"]
    assert update.changes == {"quantity": ["2.5", "4"]}


def test_deleting_a_kit_records_each_item(session: Session) -> None:
    bolt = factories.part(session, "BOLT", "LOT")
    glue = factories.part(session, "GLUE", "UNTRACKED")
    with UnitOfWork(session) as uow:
        kit = kits.create_part_kit(uow)
    item_ids = []
    for part, quantity in ((bolt, "3"), (glue, "0.5")):
        with UnitOfWork(session) as uow:
            item_ids.append(kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=part.id,
                                                      quantity=quantity).id)
    session.rollback()
    etag = session.get(PartKit, kit.id, populate_existing=True).etag  # type: ignore[union-attr]
    with UnitOfWork(session) as uow:
        kits.delete_part_kit(uow, kit.id, etag)
    deleted = [e for e in entries(session, "PartKitItem") if e.action == "DELETE"]
    assert [e.target_id for e in deleted] == item_ids
    assert [(e.changes["part_id"], e.changes["quantity"]) for e in deleted] == [
        (bolt.id, "3"), (glue.id, "0.5"),
    ]
    assert all(e.changes["part_kit_id"] == kit.id for e in deleted)
    [kit_deleted] = [e for e in entries(session, "PartKit", kit.id) if e.action == "DELETE"]
    assert kit_deleted.changes["status"] == "DRAFT"
    assert session.scalars(select(PartKitItem)).all() == []


def test_every_table_is_audited_or_excluded_with_a_reason() -> None:
    tables = set(Base.metadata.tables)
    audited, excluded = set(audit.AUDITED_TABLES), set(audit.UNAUDITED_TABLES)
    assert audited <= tables, f"audited names that are not tables: {sorted(audited - tables)}"
    assert excluded <= tables, f"excluded names that are not tables: {sorted(excluded - tables)}"
    assert not audited & excluded
    assert tables - audited - excluded == set(), "audit these tables or say in UNAUDITED_TABLES why not"
    assert all(reason.strip() for reason in audit.UNAUDITED_TABLES.values())
    models = {mapper.class_.__tablename__: mapper.class_.__name__ for mapper in Base.registry.mappers}
    assert {table: models[table] for table in audited} == dict(audit.AUDITED_TABLES)


def test_the_unit_of_work_audits_its_own_session_and_nothing_else(session: Session) -> None:
    """The flush listeners are registered once, but act only for sessions a unit of work has
    used: a flush outside a unit of work writes no audit entry, and the same session is audited
    once inside one."""
    plain = Session(bind=session.get_bind())
    try:
        plain.add(Location(name="outside a unit of work"))
        plain.commit()
        assert plain.scalars(select(AuditEntry).where(AuditEntry.target_type == "Location")).all() == []
    finally:
        plain.close()
    with UnitOfWork(session) as uow:
        uow.session.add(Location(name="inside one"))
        uow.commit()
    with UnitOfWork(session) as uow:  # a second unit of work on the session: still one entry
        uow.session.add(Location(name="and again"))
        uow.commit()
    assert [e.action for e in entries(session, "Location")] == ["CREATE", "CREATE"]
