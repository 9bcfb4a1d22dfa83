"""Runs, kitting to a run, install / uninstall and the aBOM through the services, on SQLite and
PostgreSQL (each test ends with the invariant check, run rules included)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from kitwright.config import settings, use_settings
from kitwright.domain.errors import BadInput, KitwrightError
from kitwright.domain.ledger import LedgerOperation
from kitwright.services import bom, kits, runs
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import (
    AbomItem,
    BuildRequirement,
    LedgerEntry,
    MbomItem,
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
    return tuple(
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Run, BuildRequirement, AbomItem, PartKit, PartKitItem, PartInventory, LedgerEntry, MbomItem)
    )


@pytest.fixture
def shop(session: Session) -> dict[str, Any]:
    """An assembly (lot-tracked, built 2 at a time) of 1 motor, 8 bolts and 0.5 glue each."""
    shelf = factories.location(session, "A-1")
    cell = factories.location(session, "Cell 1")
    line = factories.location(session, "Line 1")
    motor = factories.part(session, "MOTOR", "SERIAL")
    bolt = factories.part(session, "BOLT", "LOT")
    glue = factories.part(session, "GLUE", "UNTRACKED")
    assy = factories.part(session, "ASSY", "LOT")
    factories.mbom(session, assy, (motor, 1), (bolt, 8), (glue, "0.5"))
    motors = [factories.record(session, motor, 1, serial_number=f"M{n}", location_id=shelf.id) for n in range(3)]
    lot1 = factories.record(session, bolt, 10, lot_number="B1", location_id=shelf.id)
    lot2 = factories.record(session, bolt, 20, lot_number="B2", location_id=shelf.id)
    glue_stock = factories.record(session, glue, 5, location_id=shelf.id)
    return {"shelf": shelf, "cell": cell, "line": line, "motor": motor, "bolt": bolt, "glue": glue,
            "assy": assy, "motors": motors, "lot1": lot1, "lot2": lot2, "glue_stock": glue_stock}


def started(session: Session, shop: dict[str, Any], **kw: Any) -> Run:
    return factories.run(session, shop["assy"], 2, status="IN_PROGRESS", location_id=shop["cell"].id, **kw)  # type: ignore[no-any-return]


def requirement(session: Session, run: Run, part: Part) -> BuildRequirement:
    session.rollback()
    return session.scalars(
        select(BuildRequirement).where(BuildRequirement.run_id == run.id, BuildRequirement.part_id == part.id)
    ).one()


def kit_for(session: Session, run: Run, **kw: Any) -> PartKit:
    with UnitOfWork(session) as uow:
        return runs.create_kit_for_run(uow, run_id=run.id, **kw).kit


def install(session: Session, req: BuildRequirement, record_id: int, quantity: Any = None) -> runs.Installed:
    with UnitOfWork(session) as uow:
        return runs.install_part_inventory(uow, build_requirement_id=req.id, part_inventory_id=record_id,
                                           quantity=quantity)


def held_records(session: Session, kit: PartKit, part: Part) -> list[PartInventory]:
    session.rollback()
    return [
        session.get(PartInventory, line.record_id, populate_existing=True)  # type: ignore[misc]
        for line in kits.pick_list(session, kit.id) if line.part_number == part.part_number
    ]


# --------------------------------------------------------------------------- runs


def test_run_snapshots_requirements_and_later_mbom_edits_leave_it(session: Session, shop: dict[str, Any]) -> None:
    run = factories.run(session, shop["assy"], 2)
    reqs = {r.part_id: r.quantity for r in session.scalars(select(BuildRequirement).where(BuildRequirement.run_id == run.id))}
    assert reqs == {shop["motor"].id: 2, shop["bolt"].id: 16, shop["glue"].id: 1}
    assert run.part_inventory_id is None  # TODO: nothing built yet
    line = session.scalars(select(MbomItem).where(MbomItem.part_id == shop["bolt"].id)).one()
    with UnitOfWork(session) as uow:
        bom.update_mbom_item(uow, line.id, line.etag, {"quantity": 9})
    again = {r.part_id: r.quantity for r in session.scalars(select(BuildRequirement).where(BuildRequirement.run_id == run.id))}
    assert again == reqs


def test_run_for_a_part_with_no_mbom_is_refused(session: Session, shop: dict[str, Any]) -> None:
    before = counts(session)
    with pytest.raises(BadInput) as caught, UnitOfWork(session) as uow:
        runs.create_run(uow, title="x", part_id=shop["motor"].id, status="IN_PROGRESS")
    assert caught.value.field == "partId" and "no mBOM" in caught.value.message
    assert counts(session) == before


def test_serial_part_runs_build_one_unit(session: Session, shop: dict[str, Any]) -> None:
    factories.mbom(session, shop["motor"], (shop["glue"], 1))
    with pytest.raises(BadInput) as caught, UnitOfWork(session) as uow:
        runs.create_run(uow, title="x", part_id=shop["motor"].id, quantity=2)
    assert caught.value.field == "quantity"


def test_unit_is_wip_while_open_and_available_when_completed(session: Session, shop: dict[str, Any]) -> None:
    run = factories.run(session, shop["assy"], 2, location_id=shop["cell"].id)
    with UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, run.etag, {"status": "IN_PROGRESS"})
    run = fresh(session, Run, run.id)
    unit = fresh(session, PartInventory, run.part_inventory_id)
    assert unit.status == "WIP" and unit.quantity == 2 and unit.lot_number and unit.how_created == "RUN"
    kit = kit_for(session, run)
    for part in (shop["motor"], shop["bolt"], shop["glue"]):
        req = requirement(session, run, part)
        for record in held_records(session, kit, part):
            install(session, req, record.id)
    with UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, fresh(session, Run, run.id).etag, {"status": "COMPLETED"})
    unit = fresh(session, PartInventory, unit.id)
    assert unit.status == "AVAILABLE" and unit.location_id == shop["cell"].id
    inside = runs.installed_in(session, unit.id)
    assert sum((n.quantity for n in inside if n.part_inventory_id in {m.id for m in shop["motors"]}), Decimal(0)) == 2
    # A closed run stays closed, and takes no more installs.
    with pytest.raises(BadInput) as caught, UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, fresh(session, Run, run.id).etag, {"status": "IN_PROGRESS"})
    assert caught.value.field == "status"


def test_completing_needs_every_requirement_installed_or_waived(session: Session, shop: dict[str, Any]) -> None:
    run = started(session, shop)
    before = counts(session)
    with pytest.raises(BadInput) as caught, UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, run.etag, {"status": "COMPLETED"})
    assert len(caught.value.details) == 3 and all(p.field == "status" for p in caught.value.details)
    assert counts(session) == before and fresh(session, Run, run.id).status == "IN_PROGRESS"
    for part in (shop["motor"], shop["bolt"], shop["glue"]):
        req = requirement(session, run, part)
        with pytest.raises(BadInput) as no_reason, UnitOfWork(session) as uow:
            runs.update_build_requirement(uow, req.id, req.etag, {"waived": True, "waive_reason": "  "})
        assert no_reason.value.field == "waiveReason"
        with UnitOfWork(session) as uow:
            runs.update_build_requirement(uow, req.id, req.etag, {"waived": True, "waive_reason": "customer supplied"})
    with UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, fresh(session, Run, run.id).etag, {"status": "COMPLETED"})
    assert fresh(session, PartInventory, run.part_inventory_id).status == "AVAILABLE"


# --------------------------------------------------------------------------- kitting to a run


def test_kit_for_run_fills_what_the_run_still_needs_and_never_counts_twice(
    session: Session, shop: dict[str, Any]
) -> None:
    run = started(session, shop)
    kit = kit_for(session, run)
    items = {i.part_id: i.quantity for i in session.scalars(select(PartKitItem).where(PartKitItem.part_kit_id == kit.id))}
    assert items == {shop["motor"].id: 2, shop["bolt"].id: 16, shop["glue"].id: 1}
    kitted = kits.kitted_by_item(session, [i.id for i in session.scalars(select(PartKitItem))])
    assert sorted(kitted.values()) == [1, 2, 16]
    # oldest first: the whole of lot B1 and 6 of B2 (split)
    bolts = held_records(session, kit, shop["bolt"])
    assert sorted(r.quantity for r in bolts) == [6, 10]
    # Everything is requested by an open kit: a second kit finds nothing to ask for.
    before = counts(session)
    with pytest.raises(BadInput) as caught, UnitOfWork(session) as uow:
        runs.create_kit_for_run(uow, run_id=run.id)
    assert caught.value.field == "runId" and counts(session) == before
    # Installing does not make the run need more either (installed counts once).
    install(session, requirement(session, run, shop["bolt"]), bolts[0].id)
    with pytest.raises(BadInput), UnitOfWork(session) as uow:
        runs.add_run_needs_to_kit(uow, id=kit.id)
    # Cancelling the kit releases what was not installed: the run needs it again.
    with UnitOfWork(session) as uow:
        kits.update_part_kit(uow, kit.id, fresh(session, PartKit, kit.id).etag, {"status": "CANCELED"})
    again = kit_for(session, run, fulfill=False)
    items = {i.part_id: i.quantity for i in session.scalars(select(PartKitItem).where(PartKitItem.part_kit_id == again.id))}
    assert items == {shop["motor"].id: 2, shop["bolt"].id: 16 - bolts[0].quantity, shop["glue"].id: 1}


def test_add_run_needs_to_an_existing_kit(session: Session, shop: dict[str, Any]) -> None:
    run = started(session, shop)
    with UnitOfWork(session) as uow:
        kit = kits.create_part_kit(uow, run_id=run.id, status="REQUESTED")
    with UnitOfWork(session) as uow:
        kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=shop["bolt"].id, quantity=4)
    with UnitOfWork(session) as uow:
        runs.add_run_needs_to_kit(uow, id=kit.id, fulfill=False)
    items = {i.part_id: i.quantity for i in session.scalars(select(PartKitItem).where(PartKitItem.part_kit_id == kit.id))}
    assert items == {shop["motor"].id: 2, shop["bolt"].id: 16, shop["glue"].id: 1}


def test_create_part_kit_refuses_an_unknown_or_closed_run(session: Session, shop: dict[str, Any]) -> None:
    for bad in (999, -1):
        with pytest.raises(KitwrightError) as caught, UnitOfWork(session) as uow:
            kits.create_part_kit(uow, run_id=bad)
        assert caught.value.field == "runId"
    run = started(session, shop)
    for part in (shop["motor"], shop["bolt"], shop["glue"]):
        req = requirement(session, run, part)
        with UnitOfWork(session) as uow:
            runs.update_build_requirement(uow, req.id, req.etag, {"waived": True, "waive_reason": "n/a"})
    with UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, fresh(session, Run, run.id).etag, {"status": "COMPLETED"})
    with pytest.raises(BadInput) as closed, UnitOfWork(session) as uow:
        kits.create_part_kit(uow, run_id=run.id)
    assert closed.value.field == "runId"
    assert session.scalar(select(func.count()).select_from(PartKit)) == 0


# --------------------------------------------------------------------------- install


def test_install_whole_partial_and_uninstall(session: Session, shop: dict[str, Any]) -> None:
    run = started(session, shop)
    kit = kit_for(session, run)
    unit_id = fresh(session, Run, run.id).part_inventory_id
    bolt_req = requirement(session, run, shop["bolt"])
    small = min(held_records(session, kit, shop["bolt"]), key=lambda r: r.quantity)  # 6 of B2
    item_id = session.scalars(select(PartKitItem.id).where(PartKitItem.part_kit_id == kit.id,
                                                           PartKitItem.part_id == shop["bolt"].id)).one()
    done = install(session, bolt_req, small.id, "2.5")
    new = fresh(session, PartInventory, done.record.id)
    origin = fresh(session, PartInventory, small.id)
    assert new.how_created == "PARTIAL_INSTALL" and new.origin_part_inventory_id == small.id
    assert (new.quantity, new.status, new.location_id) == (Decimal("2.5"), "INSTALLED", shop["cell"].id)
    assert (origin.quantity, origin.status) == (Decimal("3.5"), "KITTED")
    assert kits.kitted_by_item(session, [item_id])[item_id] == 16  # the item still holds both parts
    assert runs.installed_by_requirement(session, [bolt_req.id])[bolt_req.id] == Decimal("2.5")
    assert [n.part_inventory_id for n in runs.installed_where(session, new.id)] == [new.id]
    assert runs.installed_where(session, new.id)[0].parent_part_inventory_id == unit_id
    ops = session.scalars(select(LedgerEntry.operation).where(LedgerEntry.part_inventory_id == new.id)).all()
    assert ops == [LedgerOperation.INSTALL]
    with UnitOfWork(session) as uow:
        back = runs.uninstall_part_inventory(uow, part_inventory_id=new.id, location_id=shop["shelf"].id)
    back = fresh(session, PartInventory, back.id)
    assert (back.status, back.location_id) == ("KITTED", shop["shelf"].id)
    assert runs.installed_by_requirement(session, [bolt_req.id])[bolt_req.id] == 0


def test_delivered_never_moves_installed_and_completed_releases_the_rest(
    session: Session, shop: dict[str, Any]
) -> None:
    run = started(session, shop)
    kit = kit_for(session, run, delivery_location_id=shop["line"].id)
    motor = held_records(session, kit, shop["motor"])[0]
    install(session, requirement(session, run, shop["motor"]), motor.id)
    with UnitOfWork(session) as uow:
        kits.update_part_kit(uow, kit.id, fresh(session, PartKit, kit.id).etag, {"status": "DELIVERED"})
    assert fresh(session, PartInventory, motor.id).location_id == shop["cell"].id
    others = [r for r in kits.pick_list(session, kit.id) if r.record_id != motor.id]
    assert others and all(fresh(session, PartInventory, r.record_id).location_id == shop["line"].id for r in others)
    with UnitOfWork(session) as uow:
        kits.update_part_kit(uow, kit.id, fresh(session, PartKit, kit.id).etag, {"status": "COMPLETED"})
    assert fresh(session, PartInventory, motor.id).status == "INSTALLED"
    assert {fresh(session, PartInventory, r.record_id).status for r in others} == {"AVAILABLE"}


def test_an_installed_record_cannot_be_moved_back_to_inventory(session: Session, shop: dict[str, Any]) -> None:
    """moveItemToInventory of an installed record (whole or part of it) is refused: it is built
    into its unit and stays linked to its kit item, so the kit cannot kit a second one for the
    same requirement. Uninstalling it first is the way back."""
    run = started(session, shop)
    kit = kit_for(session, run)
    unit_id = fresh(session, Run, run.id).part_inventory_id
    motor = held_records(session, kit, shop["motor"])[0]
    install(session, requirement(session, run, shop["motor"]), motor.id)
    bolt = min(held_records(session, kit, shop["bolt"]), key=lambda r: r.quantity)
    bolt_installed = install(session, requirement(session, run, shop["bolt"]), bolt.id, 2).record.id
    items: dict[int, int] = dict(session.execute(select(PartKitItem.part_id, PartKitItem.id)
                                 .where(PartKitItem.part_kit_id == kit.id)).all())
    held_before = kits.kitted_by_item(session, items.values())
    before = counts(session)
    for record_id, part, quantity in ((motor.id, shop["motor"], None), (bolt_installed, shop["bolt"], None),
                                      (bolt_installed, shop["bolt"], 1)):
        with pytest.raises(BadInput) as caught, UnitOfWork(session) as uow:
            kits.move_item_to_inventory(uow, part_inventory_id=record_id, part_kit_item_id=items[part.id],
                                        quantity=quantity, location_id=shop["shelf"].id)
        assert caught.value.field == "partInventoryId"
        assert f"inventory {record_id} is installed; uninstall it first" in caught.value.message
        assert counts(session) == before
        after = fresh(session, PartInventory, record_id)
        assert (after.status, after.location_id) == ("INSTALLED", fresh(session, PartInventory, unit_id).location_id)
    assert kits.kitted_by_item(session, items.values()) == held_before
    with UnitOfWork(session) as uow:  # the requirement is covered: no second motor is kitted
        result = kits.fulfill_part_kit(uow, id=kit.id)
    assert [record.part_id for _item, record in result.issued if record.part_id == shop["motor"].id] == []
    with UnitOfWork(session) as uow:
        runs.uninstall_part_inventory(uow, part_inventory_id=motor.id)
    with UnitOfWork(session) as uow:
        back = kits.move_item_to_inventory(uow, part_inventory_id=motor.id, part_kit_item_id=items[shop["motor"].id],
                                           location_id=shop["shelf"].id)
    back = fresh(session, PartInventory, back.id)
    assert (back.status, back.location_id) == ("AVAILABLE", shop["shelf"].id)


def test_install_from_stock_only_with_the_setting(session: Session, shop: dict[str, Any]) -> None:
    run = started(session, shop)
    req = requirement(session, run, shop["glue"])
    with pytest.raises(BadInput) as caught:
        install(session, req, shop["glue_stock"].id, 1)
    assert caught.value.field == "partInventoryId" and "not kitted" in caught.value.message
    old = settings()
    use_settings(replace(old, allow_install_from_stock=True))
    try:
        install(session, req, shop["glue_stock"].id, 1)
    finally:
        use_settings(old)
    assert fresh(session, PartInventory, shop["glue_stock"].id).quantity == 4


@pytest.fixture
def two_runs(session: Session, shop: dict[str, Any]) -> Iterator[dict[str, Any]]:
    first = started(session, shop)
    kit = kit_for(session, first)
    second = started(session, shop)
    yield {"first": first, "second": second, "kit": kit}


@pytest.mark.parametrize("case", [
    "one unit into two requirements", "more than required", "a part the requirement does not name",
    "into a completed run", "from another run's kit",
])
def test_bad_installs_name_the_field_and_change_nothing(
    session: Session, shop: dict[str, Any], two_runs: dict[str, Any], case: str
) -> None:
    first, second, kit = two_runs["first"], two_runs["second"], two_runs["kit"]
    motor = held_records(session, kit, shop["motor"])[0]
    bolt = max(held_records(session, kit, shop["bolt"]), key=lambda r: r.quantity)
    if case == "one unit into two requirements":
        install(session, requirement(session, first, shop["motor"]), motor.id)
        args, field = (requirement(session, second, shop["motor"]), motor.id, None), "partInventoryId"
    elif case == "more than required":
        install(session, requirement(session, first, shop["bolt"]), bolt.id)  # 10 of 16
        other = min(held_records(session, kit, shop["bolt"]), key=lambda r: r.quantity)  # 6
        args, field = (requirement(session, first, shop["bolt"]), other.id, 7), "quantity"
    elif case == "a part the requirement does not name":
        args, field = (requirement(session, first, shop["glue"]), motor.id, None), "partInventoryId"
    elif case == "into a completed run":
        for part in (shop["motor"], shop["bolt"], shop["glue"]):
            req = requirement(session, second, part)
            with UnitOfWork(session) as uow:
                runs.update_build_requirement(uow, req.id, req.etag, {"waived": True, "waive_reason": "x"})
        with UnitOfWork(session) as uow:
            runs.update_run(uow, second.id, fresh(session, Run, second.id).etag, {"status": "COMPLETED"})
        args, field = (requirement(session, second, shop["motor"]), motor.id, None), "buildRequirementId"
    else:
        args, field = (requirement(session, second, shop["motor"]), motor.id, None), "partInventoryId"
    before = counts(session)
    with pytest.raises(BadInput) as caught:
        install(session, *args)
    assert field in {p.field for p in caught.value.details} or caught.value.field == field, caught.value.message
    assert counts(session) == before


# --------------------------------------------------------------------------- trees


def _chain(session: Session, depth: int) -> list[int]:
    """A unit nested `depth` levels deep: part L0 holds L1 holds … L<depth>; built bottom-up
    with runs installing from stock. Returns the record ids from the top unit down."""
    shelf = factories.location(session, "Bench")
    chain = [factories.part(session, f"L{n}", "SERIAL") for n in range(depth + 1)]
    for upper, lower in itertools.pairwise(chain):
        factories.mbom(session, upper, (lower, 1))
    below = factories.record(session, chain[-1], 1, serial_number="leaf", location_id=shelf.id).id
    ids = [below]
    old = settings()
    use_settings(replace(old, allow_install_from_stock=True))
    try:
        for part in reversed(chain[:-1]):
            run = factories.run(session, part, status="IN_PROGRESS", location_id=shelf.id)
            req = session.scalars(select(BuildRequirement).where(BuildRequirement.run_id == run.id)).one()
            install(session, req, below)
            with UnitOfWork(session) as uow:
                runs.update_run(uow, run.id, fresh(session, Run, run.id).etag, {"status": "COMPLETED"})
            below = fresh(session, Run, run.id).part_inventory_id
            ids.append(below)
    finally:
        use_settings(old)
    return list(reversed(ids))


def _statements(session: Session, action: Any) -> tuple[Any, int]:
    engine = session.get_bind()
    seen: list[str] = []

    def listen(*args: Any) -> None:
        if not str(args[2]).lstrip().upper().startswith(("PRAGMA", "BEGIN", "SET")):
            seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        result = action()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return result, len(seen)


def test_what_is_in_a_unit_and_where_it_is_installed_are_one_query_each(session: Session) -> None:
    ids = _chain(session, 6)
    session.rollback()
    down, n_down = _statements(session, lambda: runs.installed_in(session, ids[0]))
    up, n_up = _statements(session, lambda: runs.installed_where(session, ids[-1]))
    assert [n.part_inventory_id for n in down] == ids[1:] and [n.depth for n in down] == list(range(1, 7))
    assert [n.parent_part_inventory_id for n in up] == list(reversed(ids[:-1]))
    assert n_down == 1 and n_up == 1
    statuses = {fresh(session, PartInventory, i).status for i in ids[1:]}
    assert statuses == {"INSTALLED"} and fresh(session, PartInventory, ids[0]).status == "AVAILABLE"


def test_mbom_tree_to_any_depth_in_one_query_and_cycles_refused(session: Session) -> None:
    parts = [factories.part(session, f"T{n}") for n in range(5)]
    for upper, lower in itertools.pairwise(parts):
        factories.mbom(session, upper, (lower, 2))
    factories.mbom(session, parts[0], (parts[3], 1))  # T3 also directly in T0
    top = parts[0].id
    session.rollback()
    lines, n = _statements(session, lambda: bom.mbom_tree(session, top))
    assert n == 1
    t4 = sorted(line.total_quantity for line in lines if line.part_id == parts[4].id)
    assert t4 == [2, 16]  # via T3 directly (1 x 2), and via T1-T2-T3 (2 x 2 x 2 x 2)
    before = counts(session)
    for parent, child in ((parts[4], parts[0]), (parts[3], parts[1]), (parts[2], parts[2])):
        with pytest.raises(BadInput) as caught, UnitOfWork(session) as uow:
            bom.create_mbom_item(uow, parent_id=parent.id, part_id=child.id, quantity=1)
        assert caught.value.field == "partId" and ("cycle" in caught.value.message or "itself" in caught.value.message)
    assert counts(session) == before


def test_update_abom_item_lowers_an_install_and_returns_the_rest(session: Session, shop: dict[str, Any]) -> None:
    run = started(session, shop)
    kit = kit_for(session, run)
    small = min(held_records(session, kit, shop["bolt"]), key=lambda r: r.quantity)  # 6
    done = install(session, requirement(session, run, shop["bolt"]), small.id)
    item = fresh(session, AbomItem, done.abom_item.id)
    before = counts(session)
    with pytest.raises(BadInput) as caught, UnitOfWork(session) as uow:
        runs.update_abom_item(uow, item.id, item.etag, {"quantity": 7})
    assert caught.value.field == "quantity" and counts(session) == before
    with UnitOfWork(session) as uow:
        runs.update_abom_item(uow, item.id, item.etag, {"quantity": 4})
    assert fresh(session, PartInventory, small.id).quantity == 4
    back = session.scalars(select(PartInventory).where(PartInventory.how_created == "PARTIAL_UNINSTALL")).one()
    assert (back.quantity, back.status, back.origin_part_inventory_id) == (2, "AVAILABLE", small.id)
    assert runs.installed_by_requirement(session, [item.build_requirement_id])[item.build_requirement_id] == 4


def test_starting_a_run_takes_the_mbom_as_it_is_then_keeps_it(session: Session, shop: dict[str, Any]) -> None:
    run = factories.run(session, shop["assy"], 2, location_id=shop["cell"].id)  # TODO
    line = session.scalars(select(MbomItem).where(MbomItem.part_id == shop["bolt"].id)).one()
    with UnitOfWork(session) as uow:
        bom.update_mbom_item(uow, line.id, line.etag, {"quantity": 5})
    extra = factories.part(session, "SHIM", "UNTRACKED")
    factories.mbom(session, shop["assy"], (extra, 3))
    with UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, fresh(session, Run, run.id).etag, {"status": "IN_PROGRESS"})
    def requirements() -> dict[int, Decimal]:
        session.rollback()
        return {r.part_id: r.quantity for r in session.scalars(
            select(BuildRequirement).where(BuildRequirement.run_id == run.id))}
    started_with = requirements()
    assert started_with == {shop["motor"].id: 2, shop["bolt"].id: 10, shop["glue"].id: 1, extra.id: 6}
    line = session.scalars(select(MbomItem).where(MbomItem.part_id == shop["bolt"].id)).one()
    with UnitOfWork(session) as uow:
        bom.update_mbom_item(uow, line.id, line.etag, {"quantity": 1})
    with UnitOfWork(session) as uow:
        runs.update_run(uow, run.id, fresh(session, Run, run.id).etag, {"status": "HOLD"})
    assert requirements() == started_with
