"""Property tests of the kit services on both engines: random sequences of issue, unissue,
fulfil, stage and status changes keep rules 1-4 after every step, and a refused step
changes nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import KitwrightError
from kitwright.services import kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import LedgerEntry, PartInventory, PartKit, PartKitInventory
from tests import factories
from tests.invariants import assert_invariants

STATUSES = ["DRAFT", "REQUESTED", "IN_PROGRESS", "DELIVERED", "COMPLETED", "CANCELED"]

steps = st.lists(
    st.tuples(
        st.sampled_from(["issue", "issue", "unissue", "status", "fulfil", "stage"]),
        st.integers(min_value=0, max_value=7),  # which record / kit item / kit
        st.integers(min_value=0, max_value=5),  # which status / location
        st.one_of(st.none(), st.decimals(min_value=Decimal("0.1"), max_value=6, places=1)),
    ),
    min_size=1,
    max_size=14,
)


def _total(session: Session, part_ids: list[int]) -> Decimal:
    session.rollback()
    return sum(
        session.scalars(select(PartInventory.quantity).where(PartInventory.part_id.in_(part_ids))),
        Decimal(0),
    )


def _fingerprint(session: Session) -> tuple[object, ...]:
    session.rollback()
    return (
        tuple(session.execute(select(PartInventory.id, PartInventory.quantity, PartInventory.location_id)
                              .order_by(PartInventory.id))),
        tuple(session.execute(select(PartKitInventory.id, PartKitInventory.issued_quantity,
                                     PartKitInventory.released).order_by(PartKitInventory.id))),
        session.scalar(select(func.count()).select_from(LedgerEntry)),
    )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
def test_random_kit_operations_keep_the_rules(session: Session, engine: Engine, plan: list[tuple[str, int, int, Decimal | None]]) -> None:
    session.rollback()
    tag = uuid.uuid4().hex[:8]
    bolt = factories.part(session, f"BOLT-{tag}", "LOT")
    motor = factories.part(session, f"MOTOR-{tag}", "SERIAL")
    locations = [factories.location(session, f"L{i}-{tag}", inventory_available=i != 2) for i in range(3)]
    records = [factories.record(session, bolt, q, lot_number=f"{tag}-{i}", location_id=locations[i % 3].id).id
               for i, q in enumerate(["5", "2.5", "7"])]
    records += [factories.record(session, motor, 1, serial_number=f"{tag}-S{i}", location_id=locations[i % 2].id).id
                for i in range(3)]
    kit_ids: list[int] = []
    items: list[int] = []
    for k in range(2):
        with UnitOfWork(session) as uow:
            kit = kits.create_part_kit(uow, delivery_location_id=locations[1].id,
                                       staging_location_id=locations[0].id if k else None)
            kit_ids.append(kit.id)
        for part, quantity in ((bolt, "6"), (motor, "2")):
            with UnitOfWork(session) as uow:
                items.append(kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=part.id, quantity=quantity).id)
    parts = [bolt.id, motor.id]
    total = _total(session, parts)

    for action, which, pick, quantity in plan:
        before = _fingerprint(session)
        try:
            with UnitOfWork(session) as uow:
                if action == "issue":
                    kits.issue_item_to_kit(uow, part_inventory_id=records[which % len(records)],
                                           part_kit_item_id=items[pick % len(items)], quantity=quantity)
                elif action == "unissue":
                    held = session.scalars(select(PartKitInventory).where(
                        PartKitInventory.released == False).order_by(PartKitInventory.id)).all()  # noqa: E712
                    if not held:
                        continue
                    link = held[which % len(held)]
                    kits.move_item_to_inventory(uow, part_inventory_id=link.part_inventory_id,
                                                part_kit_item_id=link.part_kit_item_id, quantity=quantity,
                                                location_id=locations[pick % 2].id if pick % 3 == 0 else None)
                elif action == "status":
                    kit = session.get(PartKit, kit_ids[which % 2], populate_existing=True)
                    assert kit is not None
                    kits.update_part_kit(uow, kit.id, kit.etag, {"status": STATUSES[pick % len(STATUSES)]})
                elif action == "fulfil":
                    kits.fulfill_part_kit(uow, id=kit_ids[which % 2])
                else:
                    kits.stage_part_kit_inventory(uow, id=kit_ids[which % 2], location_id=locations[pick % 3].id)
            event(f"{action} applied")
        except KitwrightError:
            event(f"{action} refused")
            assert _fingerprint(session) == before, f"refused {action} changed something"
        # Rule 1: kits never create or consume quantity.
        assert _total(session, parts) == total
        # Records the kits hold are never at a negative quantity; every rule of the invariants.
        assert_invariants(engine)
        session.rollback()
