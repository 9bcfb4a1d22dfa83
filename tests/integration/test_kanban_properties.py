"""Property test of the kanban services on both engines: any sequence of fill, deliver,
empty (with any consumption) and replenishment conserves quantity — per part, what is in
inventory is what was there minus what the cycles recorded as consumed, and consumption is the
only thing that removes parts. A refused step changes nothing; the invariants hold after every
step (docs/kanban.md)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import KitwrightError
from kitwright.services import kanban
from kitwright.services.kanban import ConsumptionEntry, LevelEntry, PatternEntry
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import KanbanCycle, KanbanCycleLine, KanbanKit, LedgerEntry, PartInventory
from tests import factories
from tests.invariants import assert_invariants

steps = st.lists(
    st.tuples(
        st.sampled_from(["fill", "fill", "deliver", "deliver", "empty", "empty", "replenish"]),
        st.integers(min_value=0, max_value=3),  # which kanban kit
        st.tuples(  # consumption: bolts, motors (mostly whole; too much or half a motor is refused)
            st.sampled_from(["0", "0.5", "1", "2.5", "4", "9"]).map(Decimal),
            st.sampled_from(["0", "1", "1", "2", "0.5"]).map(Decimal),
        ),
    ),
    min_size=1,
    max_size=14,
)


def _totals(session: Session, parts: list[int]) -> dict[int, Decimal]:
    session.rollback()
    rows = session.execute(select(PartInventory.part_id, PartInventory.quantity).where(PartInventory.part_id.in_(parts)))
    totals = dict.fromkeys(parts, Decimal(0))
    for part, quantity in rows:
        totals[part] += quantity
    return totals


def _consumed(session: Session, parts: list[int]) -> dict[int, Decimal]:
    session.rollback()
    consumed = dict.fromkeys(parts, Decimal(0))
    for part, quantity in session.execute(select(KanbanCycleLine.part_id, KanbanCycleLine.consumed_quantity)
                                          .where(KanbanCycleLine.part_id.in_(parts))):
        consumed[part] += quantity
    return consumed


def _fingerprint(session: Session) -> tuple[object, ...]:
    session.rollback()
    return (
        tuple(session.execute(select(PartInventory.id, PartInventory.quantity, PartInventory.location_id)
                              .order_by(PartInventory.id))),
        tuple(session.execute(select(KanbanKit.id, KanbanKit.status, KanbanKit.cycle_count).order_by(KanbanKit.id))),
        session.scalar(select(func.count()).select_from(KanbanCycle)),
        session.scalar(select(func.count()).select_from(LedgerEntry)),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
@given(plan=steps)
@example(plan=[  # a whole cycle, a refill by replenishment, a second cycle
    ("fill", 0, (Decimal(0), Decimal(0))), ("deliver", 0, (Decimal(0), Decimal(0))),
    ("empty", 0, (Decimal("2.5"), Decimal(1))), ("replenish", 0, (Decimal(0), Decimal(0))),
    ("deliver", 0, (Decimal(0), Decimal(0))), ("empty", 0, (Decimal(4), Decimal(0))),
    ("fill", 1, (Decimal(0), Decimal(0))),
])
def test_any_sequence_of_cycle_operations_conserves_quantity(
    session: Session, engine: Engine, plan: list[tuple[str, int, tuple[Decimal, Decimal]]],
) -> None:
    session.rollback()
    tag = uuid.uuid4().hex[:8]
    bolt = factories.part(session, f"BOLT-{tag}", "LOT")
    motor = factories.part(session, f"MOTOR-{tag}", "SERIAL")
    stock = factories.location(session, f"Stock-{tag}")
    home = factories.location(session, f"Home-{tag}")
    line = factories.location(session, f"Line-{tag}")
    for i, q in enumerate(["6", "2.5", "9"]):
        factories.record(session, bolt, q, lot_number=f"{tag}-{i}", location_id=stock.id)
    for i in range(4):
        factories.record(session, motor, 1, serial_number=f"{tag}-S{i}", location_id=stock.id)
    kit_ids = []
    for bolts, motors in (("4", 1), ("7.5", 2)):
        with UnitOfWork(session) as uow:
            kit_ids.append(kanban.create_kanban_kit(
                uow, home_location_id=home.id, line_location_id=line.id,
                pattern=[PatternEntry(bolt.id, bolts), PatternEntry(motor.id, motors)]).id)
    with UnitOfWork(session) as uow:
        kanban.set_line_stock_levels(uow, location_id=line.id, home_location_id=home.id,
                                     levels=[LevelEntry(bolt.id, 3, 8), LevelEntry(motor.id, 1, 2)])
    parts = [bolt.id, motor.id]
    start = _totals(session, parts)

    for action, which, amounts in plan:
        session.rollback()
        kits = list(session.scalars(select(KanbanKit.id).where(KanbanKit.line_location_id == line.id)
                                    .order_by(KanbanKit.id)))
        kit_id = kits[which % len(kits)]
        before = _fingerprint(session)
        try:
            with UnitOfWork(session) as uow:
                if action == "fill":
                    kanban.fill_kanban_kit(uow, id=kit_id)
                elif action == "deliver":
                    kanban.deliver_kanban_kit(uow, id=kit_id)
                elif action == "empty":
                    # Whole motors only half the time: fractions must be refused, changing nothing.
                    kanban.empty_kanban_kit(uow, id=kit_id, consumption=[
                        ConsumptionEntry(bolt.id, amounts[0]), ConsumptionEntry(motor.id, amounts[1]),
                    ])
                else:
                    kanban.replenish_line_location(uow, location_id=line.id)
            event(f"{action} applied")
        except KitwrightError:
            event(f"{action} refused")
            assert _fingerprint(session) == before, f"refused {action} changed something"
        totals, consumed = _totals(session, parts), _consumed(session, parts)
        for part in parts:
            assert totals[part] == start[part] - consumed[part], (action, part, totals, consumed)
        assert_invariants(engine)
        session.rollback()
