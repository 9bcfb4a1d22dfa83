"""Property tests through the real services and database (both engines). The status rule, SQL
against Python with every fact varied, is tests/integration/test_status_rules_runs.py."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import KitwrightError
from kitwright.services import inventory
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import PartInventory
from tests import factories
from tests.invariants import assert_invariants

FIXTURE_OK = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


operations = st.lists(
    st.tuples(
        st.sampled_from(["create", "adjust", "move", "delete", "bad"]),
        st.integers(min_value=0, max_value=5),
        st.decimals(min_value=-1, max_value=20, places=3),
    ),
    min_size=1,
    max_size=12,
)


@FIXTURE_OK
@given(steps=operations)
def test_any_sequence_of_writes_keeps_the_invariants(session: Session, steps: list[tuple[str, int, Decimal]]) -> None:
    """Quantity changes only by create/adjust/delete; refusals change nothing; ledger replays."""
    session.rollback()
    lot = factories.part(session, f"LOT-{uuid.uuid4().hex[:12]}", "LOT")
    shelves = [factories.location(session, f"S{n}") for n in range(2)]
    expected_total = Decimal(0)
    made: list[int] = []
    for action, pick, amount in steps:
        session.rollback()
        try:
            with UnitOfWork(session) as uow:
                if action == "create":
                    record = inventory.create_part_inventory(
                        uow, inventory.NewPartInventory(part_id=lot.id, lot_number=f"L{pick}", quantity=amount,
                                                        location_id=shelves[pick % 2].id)
                    )
                    made.append(record.id)
                    expected_total += amount
                elif made and action in ("adjust", "move", "delete"):
                    target = uow.get(PartInventory, made[pick % len(made)])
                    if action == "adjust":
                        old = target.quantity
                        inventory.update_part_inventory(uow, target.id, target.etag, {"quantity": amount})
                        expected_total += amount - old
                    elif action == "move":
                        inventory.update_part_inventory(
                            uow, target.id, target.etag, {"location_id": shelves[pick % 2].id}
                        )
                    else:
                        old = target.quantity
                        inventory.delete_part_inventory(uow, target.id, target.etag)
                        made.remove(target.id)
                        expected_total -= old
                elif action == "bad":
                    inventory.create_part_inventory(uow, inventory.NewPartInventory(part_id=lot.id, quantity=amount))
        except KitwrightError:
            pass
        session.rollback()
        total = session.scalar(
            select(func.coalesce(func.sum(PartInventory.quantity), 0)).where(PartInventory.part_id == lot.id)
        )
        assert Decimal(total or 0) == expected_total
    assert_invariants(session.get_bind())  # type: ignore[arg-type]
