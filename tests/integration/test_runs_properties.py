"""Any sequence of run operations (kit for the run, install, uninstall, kit status changes,
complete) keeps every rule: refusals change nothing, installs never exceed a requirement, a
record is installed once, and the ledger replays (both engines)."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import KitwrightError
from kitwright.services import kits, runs
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import AbomItem, BuildRequirement, PartInventory, PartKit, PartKitInventory, Run
from tests import factories
from tests.invariants import assert_invariants

steps = st.lists(
    st.tuples(
        st.sampled_from(["kit", "install", "install_part", "uninstall", "deliver", "complete_kit", "cancel_kit",
                         "complete_run"]),
        st.integers(min_value=0, max_value=7),
    ),
    min_size=1, max_size=10,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=steps)
def test_any_sequence_of_run_operations_keeps_the_rules(session: Session, script: list[tuple[str, int]]) -> None:
    session.rollback()
    tag = uuid.uuid4().hex[:8]
    cell = factories.location(session, f"Cell-{tag}")
    line = factories.location(session, f"Line-{tag}")
    motor = factories.part(session, f"M-{tag}", "SERIAL")
    bolt = factories.part(session, f"B-{tag}", "LOT")
    assy = factories.part(session, f"A-{tag}", "UNTRACKED")
    factories.mbom(session, assy, (motor, 1), (bolt, 3))
    for n in range(3):
        factories.record(session, motor, 1, serial_number=f"{tag}-{n}", location_id=cell.id)
    factories.record(session, bolt, 5, lot_number=f"L-{tag}", location_id=cell.id)
    run_ids = [factories.run(session, assy, 2, status="IN_PROGRESS", location_id=cell.id).id for _ in range(2)]

    def total(part_id: int) -> Any:
        session.rollback()
        return session.scalar(select(func.sum(PartInventory.quantity)).where(
            PartInventory.part_id == part_id, PartInventory.how_created != "RUN"))

    totals = (total(motor.id), total(bolt.id))
    for action, pick in script:
        session.rollback()
        run_id = run_ids[pick % 2]
        kit_ids = sorted(session.scalars(select(PartKit.id).where(PartKit.run_id.in_(run_ids))))
        held = sorted(session.scalars(select(PartKitInventory.part_inventory_id).join(
            PartKit, PartKit.id == PartKitInventory.part_kit_id).where(
            PartKit.run_id.in_(run_ids), PartKitInventory.released == False)))  # noqa: E712
        installed = sorted(session.scalars(select(AbomItem.part_inventory_id).where(
            AbomItem.parent_part_inventory_id.is_not(None), AbomItem.part_inventory_id.in_(
                select(PartInventory.id).where(PartInventory.part_id.in_([motor.id, bolt.id]))))))
        reqs = sorted(session.scalars(select(BuildRequirement.id).where(BuildRequirement.run_id == run_id)))
        try:
            with UnitOfWork(session) as uow:
                if action == "kit":
                    runs.create_kit_for_run(uow, run_id=run_id, delivery_location_id=line.id)
                elif action in ("install", "install_part") and held:
                    runs.install_part_inventory(
                        uow, build_requirement_id=reqs[pick % len(reqs)], part_inventory_id=held[pick % len(held)],
                        quantity=1 if action == "install_part" else None)
                elif action == "uninstall" and installed:
                    runs.uninstall_part_inventory(uow, part_inventory_id=installed[pick % len(installed)])
                elif action in ("deliver", "complete_kit", "cancel_kit") and kit_ids:
                    kit = uow.get(PartKit, kit_ids[pick % len(kit_ids)])
                    status = {"deliver": "DELIVERED", "complete_kit": "COMPLETED", "cancel_kit": "CANCELED"}[action]
                    kits.update_part_kit(uow, kit.id, kit.etag, {"status": status})
                elif action == "complete_run":
                    run = uow.get(Run, run_id)
                    runs.update_run(uow, run.id, run.etag, {"status": "COMPLETED"})
        except KitwrightError:
            pass
        # Installed stock never moves on delivery: it stays with the unit (at the cell).
        session.rollback()
        mine = select(PartInventory.id).where(PartInventory.part_id.in_([motor.id, bolt.id]))
        for record_id in session.scalars(select(AbomItem.part_inventory_id).where(
                AbomItem.parent_part_inventory_id.is_not(None), AbomItem.part_inventory_id.in_(mine))):
            record = session.get(PartInventory, record_id, populate_existing=True)
            assert record is not None and record.location_id == cell.id
        assert (total(motor.id), total(bolt.id)) == totals
    assert_invariants(session.get_bind())  # type: ignore[arg-type]
