"""Multi-level builds through the services, on SQLite and PostgreSQL: a built unit goes back to
stock (moveItemToInventory without a kit item), is kitted and installed into a higher-level
run, and the aBOM answers "what is in it / where is it installed" across the levels; what is
installed in a unit moves with it, whatever moves the unit (docs/runs.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput
from kitwright.domain.ledger import LedgerOperation
from kitwright.services import inventory, kits, runs
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import (
    AbomItem,
    BuildRequirement,
    LedgerEntry,
    Part,
    PartInventory,
    PartKit,
    PartKitItem,
    Run,
)
from tests import factories


def fresh(session: Session, model: type[Any], id: int) -> Any:
    session.rollback()
    return session.get(model, id, populate_existing=True)


def counts(session: Session) -> tuple[int, ...]:
    session.rollback()
    return tuple(session.scalar(select(func.count()).select_from(m)) or 0
                 for m in (PartInventory, LedgerEntry, AbomItem, PartKit))


@pytest.fixture
def plant(session: Session) -> dict[str, Any]:
    """TOP holds 1 SUB + 1 SCREW; SUB holds 1 CORE + 1 SCREW; CORE holds 2 SCREW."""
    shelf = factories.location(session, "Stock")
    cell = factories.location(session, "Cell")
    line = factories.location(session, "Line")
    screw = factories.part(session, "SCREW", "UNTRACKED")
    core = factories.part(session, "CORE", "SERIAL")
    sub = factories.part(session, "SUB", "SERIAL")
    top = factories.part(session, "TOP", "SERIAL")
    factories.mbom(session, core, (screw, 2))
    factories.mbom(session, sub, (core, 1), (screw, 1))
    factories.mbom(session, top, (sub, 1), (screw, 1))
    stock = factories.record(session, screw, 20, location_id=shelf.id)
    return {"shelf": shelf, "cell": cell, "line": line, "screw": screw, "core": core, "sub": sub, "top": top,
            "stock": stock}


def build(session: Session, part: Part, cell_id: int) -> tuple[Run, PartKit]:
    """A started run of `part`, kitted from stock, everything it needs installed, completed."""
    run = factories.run(session, part, status="IN_PROGRESS", location_id=cell_id)
    with UnitOfWork(session) as uow:
        kit = runs.create_kit_for_run(uow, run_id=run.id).kit
    session.rollback()
    reqs = session.scalars(select(BuildRequirement).where(BuildRequirement.run_id == run.id)).all()
    for req in reqs:
        for line in kits.pick_list(session, kit.id):
            record = fresh(session, PartInventory, line.record_id)
            if record.part_id == req.part_id and record.status == "KITTED":
                with UnitOfWork(session) as uow:
                    runs.install_part_inventory(uow, build_requirement_id=req.id, part_inventory_id=record.id)
    with UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, fresh(session, Run, run.id).etag, {"status": "COMPLETED"})
    return fresh(session, Run, run.id), kit


def to_stock(session: Session, record_id: int, location_id: int) -> PartInventory:
    with UnitOfWork(session) as uow:
        runs.move_unit_to_inventory(uow, part_inventory_id=record_id, location_id=location_id)
    return fresh(session, PartInventory, record_id)  # type: ignore[no-any-return]


def operations(session: Session, record_id: int) -> list[str]:
    session.rollback()
    return list(session.scalars(select(LedgerEntry.operation).where(LedgerEntry.part_inventory_id == record_id)
                                .order_by(LedgerEntry.id)))


def test_a_built_unit_goes_to_stock_and_into_a_higher_level_assembly(session: Session, plant: dict[str, Any]) -> None:
    cell, shelf = plant["cell"].id, plant["shelf"].id
    core_run, _ = build(session, plant["core"], cell)
    core = fresh(session, PartInventory, core_run.part_inventory_id)
    assert (core.status, core.location_id) == ("AVAILABLE", cell)
    core_screws = [n.part_inventory_id for n in runs.installed_in(session, core.id)]
    assert len(core_screws) == 1 and fresh(session, PartInventory, core_screws[0]).quantity == 2

    core = to_stock(session, core.id, shelf)
    assert (core.status, core.location_id) == ("AVAILABLE", shelf)
    assert operations(session, core.id)[-1] == LedgerOperation.UNIT_TO_STOCK
    # The screws installed in the core went with it, each with a ledger entry.
    screw = fresh(session, PartInventory, core_screws[0])
    assert (screw.status, screw.location_id) == ("INSTALLED", shelf)
    assert operations(session, screw.id)[-1] == LedgerOperation.FOLLOW_UNIT

    sub_run, sub_kit = build(session, plant["sub"], cell)  # kits the core from stock
    assert sub_kit.run_id == sub_run.id
    sub = to_stock(session, sub_run.part_inventory_id, shelf)
    top_run, _ = build(session, plant["top"], cell)
    top = fresh(session, PartInventory, top_run.part_inventory_id)
    assert top.status == "AVAILABLE" and fresh(session, PartInventory, sub.id).status == "INSTALLED"

    # What is in TOP, to depth 3 (TOP > SUB > CORE > screws), in one query.
    session.rollback()
    down = runs.installed_in(session, top.id)
    by_part = {(fresh(session, PartInventory, n.part_inventory_id).part_id, n.depth) for n in down}
    assert by_part == {(plant["sub"].id, 1), (plant["screw"].id, 1), (plant["core"].id, 2),
                       (plant["screw"].id, 2), (plant["screw"].id, 3)}
    # Where the core's screws are installed: CORE, then SUB, then TOP.
    up = runs.installed_where(session, screw.id)
    assert [n.parent_part_inventory_id for n in up] == [core.id, sub.id, top.id]
    assert [n.depth for n in up] == [1, 2, 3]
    # Everything in TOP stands where TOP stands.
    session.rollback()
    assert {fresh(session, PartInventory, n.part_inventory_id).location_id for n in down} == {cell}
    # The whole tree moves with TOP.
    top = to_stock(session, top.id, plant["line"].id)
    session.rollback()
    assert {fresh(session, PartInventory, n.part_inventory_id).location_id for n in down} == {plant["line"].id}


def test_moving_a_unit_by_hand_moves_what_is_installed_in_it(session: Session, plant: dict[str, Any]) -> None:
    core_run, _ = build(session, plant["core"], plant["cell"].id)
    core = fresh(session, PartInventory, core_run.part_inventory_id)
    [screw_id] = [n.part_inventory_id for n in runs.installed_in(session, core.id)]
    before = len(operations(session, screw_id))
    with UnitOfWork(session) as uow:
        inventory.update_part_inventory(uow, core.id, core.etag, {"location_id": plant["line"].id})
    screw = fresh(session, PartInventory, screw_id)
    assert screw.location_id == plant["line"].id
    assert operations(session, screw_id)[before:] == [LedgerOperation.FOLLOW_UNIT]
    # An installed record does not move on its own.
    with pytest.raises(BadInput) as caught, UnitOfWork(session) as uow:
        inventory.update_part_inventory(uow, screw.id, screw.etag, {"location_id": plant["shelf"].id})
    assert caught.value.field == "locationId"


def test_kit_delivery_and_staging_carry_a_sub_assembly_with_its_contents(
    session: Session, plant: dict[str, Any]
) -> None:
    cell, shelf, line = plant["cell"].id, plant["shelf"].id, plant["line"].id
    core_run, _ = build(session, plant["core"], cell)
    core = to_stock(session, core_run.part_inventory_id, shelf)
    [screw_id] = [n.part_inventory_id for n in runs.installed_in(session, core.id)]
    sub_run = factories.run(session, plant["sub"], status="IN_PROGRESS", location_id=cell)
    with UnitOfWork(session) as uow:
        kit = runs.create_kit_for_run(uow, run_id=sub_run.id, delivery_location_id=line).kit
    with UnitOfWork(session) as uow:
        kits.stage_part_kit_inventory(uow, id=kit.id, location_id=cell)
    assert fresh(session, PartInventory, core.id).location_id == cell
    assert fresh(session, PartInventory, screw_id).location_id == cell
    with UnitOfWork(session) as uow:
        kits.update_part_kit(uow, kit.id, fresh(session, PartKit, kit.id).etag, {"status": "DELIVERED"})
    assert fresh(session, PartInventory, core.id).location_id == line
    assert fresh(session, PartInventory, screw_id).location_id == line
    assert operations(session, screw_id)[-2:] == [LedgerOperation.FOLLOW_UNIT, LedgerOperation.FOLLOW_UNIT]


def test_unit_to_stock_refusals_name_the_field_and_change_nothing(session: Session, plant: dict[str, Any]) -> None:
    shelf = plant["shelf"].id
    open_run = factories.run(session, plant["core"], status="IN_PROGRESS", location_id=plant["cell"].id)
    wip = fresh(session, Run, open_run.id).part_inventory_id
    cases = [
        ({"part_inventory_id": plant["stock"].id, "location_id": shelf}, "partKitItemId"),
        ({"part_inventory_id": wip, "location_id": shelf}, "partInventoryId"),
        ({"part_inventory_id": 999_999, "location_id": shelf}, "partInventoryId"),
    ]
    with UnitOfWork(session) as uow:
        runs.update_run(uow, open_run.id, fresh(session, Run, open_run.id).etag, {"status": "CANCELED"})
    done, _ = build(session, plant["core"], plant["cell"].id)
    cases += [
        ({"part_inventory_id": done.part_inventory_id, "location_id": None}, "locationId"),
        ({"part_inventory_id": done.part_inventory_id, "location_id": shelf, "quantity": "0"}, "quantity"),
        ({"part_inventory_id": wip, "location_id": shelf}, "partInventoryId"),  # its run was canceled
    ]
    before = counts(session)
    for kwargs, field in cases:
        with pytest.raises(Exception) as caught, UnitOfWork(session) as uow:
            runs.move_unit_to_inventory(uow, **kwargs)
        assert getattr(caught.value, "field", None) == field, (kwargs, caught.value)
        assert counts(session) == before
    assert fresh(session, PartInventory, done.part_inventory_id).location_id == plant["cell"].id
    assert Decimal(fresh(session, PartInventory, done.part_inventory_id).quantity) == 1


def kitted_run(session: Session, plant: dict[str, Any]) -> tuple[Run, BuildRequirement, PartKit]:
    """A started CORE run with its 2 screws kitted and installed (one record of 2)."""
    run = factories.run(session, plant["core"], status="IN_PROGRESS", location_id=plant["cell"].id)
    with UnitOfWork(session) as uow:
        kit = runs.create_kit_for_run(uow, run_id=run.id).kit
    session.rollback()
    req = session.scalars(select(BuildRequirement).where(BuildRequirement.run_id == run.id)).one()
    [line] = kits.pick_list(session, kit.id)
    with UnitOfWork(session) as uow:
        runs.install_part_inventory(uow, build_requirement_id=req.id, part_inventory_id=line.record_id)
    return run, req, kit


def test_partial_uninstall_splits_the_installed_record(session: Session, plant: dict[str, Any]) -> None:
    run, req, kit = kitted_run(session, plant)
    [node] = runs.installed_in(session, fresh(session, Run, run.id).part_inventory_id)
    item_id = session.scalars(select(AbomItem.id).where(AbomItem.part_inventory_id == node.part_inventory_id)).one()
    with UnitOfWork(session) as uow:
        out = runs.uninstall_part_inventory(uow, abom_item_id=item_id, quantity="0.5",
                                            location_id=plant["shelf"].id)
    out = fresh(session, PartInventory, out.id)
    installed = fresh(session, PartInventory, node.part_inventory_id)
    assert (out.how_created, out.origin_part_inventory_id) == ("PARTIAL_UNINSTALL", installed.id)
    assert (out.quantity, out.status, out.location_id) == (Decimal("0.5"), "KITTED", plant["shelf"].id)
    assert (installed.quantity, installed.status) == (Decimal("1.5"), "INSTALLED")
    assert fresh(session, AbomItem, item_id).quantity == Decimal("1.5")
    assert runs.installed_by_requirement(session, [req.id])[req.id] == Decimal("1.5")
    [item] = session.scalars(select(PartKitItem).where(PartKitItem.part_kit_id == kit.id)).all()
    assert kits.kitted_by_item(session, [item.id])[item.id] == 2  # the kit item still holds both parts
    assert operations(session, out.id) == [LedgerOperation.UNINSTALL] and operations(session, installed.id)[-1] == LedgerOperation.INSTALL_SPLIT
    # The rest, by record id, whole: the install is gone.
    with UnitOfWork(session) as uow:
        runs.uninstall_part_inventory(uow, part_inventory_id=installed.id, quantity="1.5")
    assert fresh(session, PartInventory, installed.id).status == "KITTED"
    assert runs.installed_by_requirement(session, [req.id])[req.id] == 0


def test_bad_partial_uninstalls_name_the_field_and_change_nothing(session: Session, plant: dict[str, Any]) -> None:
    run, _req, _kit = kitted_run(session, plant)
    [node] = runs.installed_in(session, fresh(session, Run, run.id).part_inventory_id)
    item_id = session.scalars(select(AbomItem.id).where(AbomItem.part_inventory_id == node.part_inventory_id)).one()
    root = fresh(session, Run, run.id).part_inventory_id
    with UnitOfWork(session) as uow:
        root_item = runs.create_abom_for_part_inventory(uow, id=root, etag=fresh(session, PartInventory, root).etag)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"abom_item_id": item_id, "quantity": "3"}, "quantity"),
        ({"abom_item_id": item_id, "quantity": "0"}, "quantity"),
        ({"abom_item_id": item_id, "quantity": "-1"}, "quantity"),
        ({"abom_item_id": item_id, "part_inventory_id": node.part_inventory_id}, "partInventoryId"),
        ({}, "partInventoryId"),
        ({"abom_item_id": 999_999}, "abomItemId"),
        ({"abom_item_id": root_item.id}, "abomItemId"),
        ({"part_inventory_id": plant["stock"].id, "quantity": "1"}, "partInventoryId"),
    ]
    before = counts(session)
    for kwargs, field in cases:
        with pytest.raises(Exception) as caught, UnitOfWork(session) as uow:
            runs.uninstall_part_inventory(uow, **kwargs)
        assert getattr(caught.value, "field", None) == field, (kwargs, caught.value)
        assert counts(session) == before
    assert fresh(session, AbomItem, item_id).quantity == 2


def test_a_serial_uninstalls_whole(session: Session, plant: dict[str, Any]) -> None:
    core_run, _ = build(session, plant["core"], plant["cell"].id)
    to_stock(session, core_run.part_inventory_id, plant["shelf"].id)
    sub_run = factories.run(session, plant["sub"], status="IN_PROGRESS", location_id=plant["cell"].id)
    with UnitOfWork(session) as uow:
        runs.create_kit_for_run(uow, run_id=sub_run.id)
    session.rollback()
    req = session.scalars(select(BuildRequirement).where(BuildRequirement.run_id == sub_run.id,
                                                         BuildRequirement.part_id == plant["core"].id)).one()
    with UnitOfWork(session) as uow:
        runs.install_part_inventory(uow, build_requirement_id=req.id, part_inventory_id=core_run.part_inventory_id)
    with pytest.raises(BadInput) as caught, UnitOfWork(session) as uow:
        runs.uninstall_part_inventory(uow, part_inventory_id=core_run.part_inventory_id, quantity="0.5")
    assert caught.value.field == "quantity"
    with UnitOfWork(session) as uow:
        runs.uninstall_part_inventory(uow, part_inventory_id=core_run.part_inventory_id, quantity="1",
                                      location_id=plant["shelf"].id)
    core = fresh(session, PartInventory, core_run.part_inventory_id)
    assert (core.status, core.location_id) == ("KITTED", plant["shelf"].id)
    # Its own screws came along to the shelf.
    assert {fresh(session, PartInventory, n.part_inventory_id).location_id
            for n in runs.installed_in(session, core.id)} == {plant["shelf"].id}


def test_completing_a_run_closes_its_open_kits_and_releases_what_was_not_installed(
    session: Session, plant: dict[str, Any]
) -> None:
    run, req, kit = kitted_run(session, plant)
    # A second kit of the same run with an extra screw (more than the run needs), never installed.
    with UnitOfWork(session) as uow:
        extra = kits.create_part_kit(uow, run_id=run.id, status="REQUESTED", items=[(plant["screw"].id, 3)])
    with UnitOfWork(session) as uow:
        kits.fulfill_part_kit(uow, id=extra.id)
    [spare] = kits.pick_list(session, extra.id)
    assert fresh(session, PartInventory, spare.record_id).status == "KITTED"
    with UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, fresh(session, Run, run.id).etag, {"status": "COMPLETED"})
    assert {fresh(session, PartKit, k.id).status for k in (kit, extra)} == {"COMPLETED"}
    assert fresh(session, PartInventory, spare.record_id).status == "AVAILABLE"
    assert operations(session, spare.record_id)[-1] == LedgerOperation.KIT_RELEASE
    [node] = runs.installed_in(session, fresh(session, Run, run.id).part_inventory_id)
    assert fresh(session, PartInventory, node.part_inventory_id).status == "INSTALLED"
    assert runs.installed_by_requirement(session, [req.id])[req.id] == 2


def test_canceling_a_run_cancels_its_open_kits(session: Session, plant: dict[str, Any]) -> None:
    run = factories.run(session, plant["core"], status="IN_PROGRESS", location_id=plant["cell"].id)
    with UnitOfWork(session) as uow:
        kit = runs.create_kit_for_run(uow, run_id=run.id).kit
    with UnitOfWork(session) as uow:
        done = kits.create_part_kit(uow, run_id=run.id, status="REQUESTED", items=[(plant["screw"].id, 1)])
    with UnitOfWork(session) as uow:
        kits.update_part_kit(uow, done.id, fresh(session, PartKit, done.id).etag, {"status": "COMPLETED"})
    completed_etag = fresh(session, PartKit, done.id).etag
    [line] = kits.pick_list(session, kit.id)
    with UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, fresh(session, Run, run.id).etag, {"status": "CANCELED"})
    assert fresh(session, PartKit, kit.id).status == "CANCELED"
    assert fresh(session, PartInventory, line.record_id).status == "AVAILABLE"
    assert fresh(session, PartKit, done.id).etag == completed_etag  # a closed kit is left alone
    # A refused completion closes nothing.
    other = factories.run(session, plant["core"], status="IN_PROGRESS", location_id=plant["cell"].id)
    with UnitOfWork(session) as uow:
        open_kit = runs.create_kit_for_run(uow, run_id=other.id).kit
    with pytest.raises(BadInput), UnitOfWork(session) as uow:
        runs.update_run(uow, other.id, fresh(session, Run, other.id).etag, {"status": "COMPLETED"})
    assert fresh(session, PartKit, open_kit.id).status == "IN_PROGRESS"
