"""A hypothesis state machine through the services, on both engines: inventory updates,
receives, issues, returns and kit status changes in any order never let a held record drift
from its kit (docs/kit-rules.md): for every record an open kit holds, the unreleased issued
quantity equals the record's quantity. A refused step changes nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import KitwrightError
from kitwright.services import inventory, kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import LedgerEntry, PartInventory, PartKit, PartKitInventory
from tests import factories
from tests.invariants import assert_held_records_frozen, assert_invariants, assert_kit_invariants

STATUSES = ["DRAFT", "REQUESTED", "IN_PROGRESS", "DELIVERED", "COMPLETED", "CANCELED"]
quantities = st.one_of(st.none(), st.sampled_from(["0", "0.5", "1", "2.5", "12.5", "1000"]))


def build_machine(session: Session) -> type[RuleBasedStateMachine]:
    class HeldRecords(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            session.rollback()
            tag = uuid.uuid4().hex[:8]
            self.lot_part = factories.part(session, f"BOLT-{tag}", "LOT")
            self.serial_part = factories.part(session, f"MOTOR-{tag}", "SERIAL")
            self.locations = [
                factories.location(session, f"L{i}-{tag}", inventory_available=i != 2).id for i in range(3)
            ]
            for i, q in enumerate(["20", "3", "7.5"]):
                factories.record(session, self.lot_part, q, lot_number=f"{tag}-{i}",
                                 location_id=self.locations[i % 2])
            for i in range(2):
                factories.record(session, self.serial_part, 1, serial_number=f"{tag}-S{i}",
                                 location_id=self.locations[0])
            factories.record(session, self.lot_part, "4", lot_number=f"{tag}-PO",  # on order, to receive
                             location_id=self.locations[0], on_order=True)
            self.kits: list[int] = []
            self.items: list[int] = []
            for _ in range(2):
                kit = factories.kit(session, delivery_location_id=self.locations[1])
                self.kits.append(kit.id)
                for part, quantity in ((self.lot_part, "12.5"), (self.serial_part, "2")):
                    self.items.append(factories.kit_item(session, kit, part, quantity).id)

        # -- facts ------------------------------------------------------------------------
        def records(self) -> list[int]:
            session.rollback()
            return list(session.scalars(
                select(PartInventory.id)
                .where(PartInventory.part_id.in_([self.lot_part.id, self.serial_part.id]))
                .order_by(PartInventory.id)
            ))

        def pick(self, which: int, held: bool) -> int:
            """A record: one an open kit holds (the records the rule protects), or any."""
            ids = self.records()
            if held:
                holding = list(session.scalars(
                    select(PartKitInventory.part_inventory_id)
                    .where(PartKitInventory.part_kit_item_id.in_(self.items),
                           PartKitInventory.released == False)  # noqa: E712
                    .order_by(PartKitInventory.part_inventory_id)
                ))
                ids = holding or ids
            return ids[which % len(ids)]

        def fingerprint(self) -> tuple[Any, ...]:
            session.rollback()
            return (
                tuple(session.execute(select(PartInventory.id, PartInventory.quantity, PartInventory.location_id,
                                             PartInventory.on_order, PartInventory.etag)
                                      .order_by(PartInventory.id))),
                tuple(session.execute(select(PartKitInventory.id, PartKitInventory.issued_quantity,
                                             PartKitInventory.released).order_by(PartKitInventory.id))),
                tuple(session.execute(select(PartKit.id, PartKit.status).order_by(PartKit.id))),
                session.scalar(select(func.count()).select_from(LedgerEntry)),
            )

        def attempt(self, name: str, action: Any) -> None:
            before = self.fingerprint()
            try:
                with UnitOfWork(session) as uow:
                    action(uow)
                event(f"{name} applied")
            except KitwrightError as error:
                event(f"{name} refused ({error.code})")
                assert self.fingerprint() == before, f"a refused {name} changed something"

        # -- steps ------------------------------------------------------------------------
        @rule(which=st.integers(0, 20), field=st.sampled_from(["quantity", "on_order", "location_id", "cost"]),
              value=st.integers(0, 5), quantity=quantities, held=st.booleans())
        def update_inventory(self, which: int, field: str, value: int, quantity: str | None, held: bool) -> None:
            record = session.get(PartInventory, self.pick(which, held), populate_existing=True)
            assert record is not None
            changes: dict[str, Any] = {
                "quantity": {"quantity": Decimal(quantity or "1")},
                "on_order": {"on_order": value % 2 == 0},
                "location_id": {"location_id": self.locations[value % 3]},
                "cost": {"cost": Decimal(value)},
            }[field]
            self.attempt(f"update {field}",
                         lambda uow: inventory.update_part_inventory(uow, record.id, record.etag, changes))

        @rule(which=st.integers(0, 20), quantity=quantities, move=st.booleans(), held=st.booleans())
        def receive(self, which: int, quantity: str | None, move: bool, held: bool) -> None:
            rid = self.pick(which, held)
            self.attempt("receive", lambda uow: inventory.receive_part_inventory(
                uow, rid, None, quantity=quantity, location_id=self.locations[1] if move else None))

        @rule(which=st.integers(0, 20), item=st.integers(0, 3), quantity=quantities)
        def issue(self, which: int, item: int, quantity: str | None) -> None:
            ids = self.records()
            rid = ids[which % len(ids)]
            self.attempt("issue", lambda uow: kits.issue_item_to_kit(
                uow, part_inventory_id=rid, part_kit_item_id=self.items[item], quantity=quantity))

        @rule(which=st.integers(0, 20), quantity=quantities)
        def unissue(self, which: int, quantity: str | None) -> None:
            session.rollback()
            links = session.scalars(select(PartKitInventory).where(
                PartKitInventory.part_kit_item_id.in_(self.items),
                PartKitInventory.released == False,  # noqa: E712
            ).order_by(PartKitInventory.id)).all()
            if not links:
                return
            link = links[which % len(links)]
            rid, item = link.part_inventory_id, link.part_kit_item_id
            self.attempt("unissue", lambda uow: kits.move_item_to_inventory(
                uow, part_inventory_id=rid, part_kit_item_id=item, quantity=quantity))

        @rule(kit=st.integers(0, 1), status=st.sampled_from(STATUSES))
        def change_status(self, kit: int, status: str) -> None:
            session.rollback()
            current = session.get(PartKit, self.kits[kit], populate_existing=True)
            assert current is not None
            self.attempt(f"status {status}", lambda uow: kits.update_part_kit(
                uow, current.id, current.etag, {"status": status}))

        @invariant()
        def held_records_match_their_kits(self) -> None:
            session.rollback()
            assert_held_records_frozen(session)
            assert_kit_invariants(session)

    return HeldRecords


def test_held_records_never_drift(session: Session, engine: Engine) -> None:
    run_state_machine_as_test(
        build_machine(session),
        settings=settings(max_examples=10, stateful_step_count=12, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow]),
    )
    assert_invariants(engine)
