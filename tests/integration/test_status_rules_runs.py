"""The SQL status rule (CASE, the status_is predicates, their joined form for list filters and
the mapped `status` column) equals domain.status.derive_status for any combination of every fact of StatusFacts, on both engines.

Each example writes its facts as raw rows inside one transaction and rolls it back: the
property is about the rule itself, for states the services may never produce together.
"""

from __future__ import annotations

import uuid
from dataclasses import fields
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from kitwright.domain.status import PartInventoryStatus, StatusFacts, derive_status
from kitwright.store.models import (
    AbomItem,
    Location,
    OrderAllocation,
    OrderAllocationInventory,
    OrderLine,
    Part,
    PartInventory,
    PartKit,
    PartKitInventory,
    PartKitItem,
    RetailOrder,
    Run,
    status_expression,
    status_is,
    status_is_joined,
    status_not_in,
    with_status_joins,
)

# Every fact of StatusFacts, drawn independently; a fact added to the dataclass and not drawn
# here fails test_every_fact_is_drawn.
FACTS: dict[str, st.SearchStrategy[Any]] = {
    "quantity": st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(1)]),
    "location_available": st.booleans(),
    "on_order": st.booleans(),
    "scrapped": st.booleans(),
    "kitted": st.booleans(),
    "allocated": st.booleans(),
    "installed": st.booleans(),
    "wip": st.booleans(),
}


def test_every_fact_is_drawn() -> None:
    assert set(FACTS) == {f.name for f in fields(StatusFacts)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=st.builds(StatusFacts, **FACTS),
       no_location=st.booleans(), inert=st.booleans())
def test_sql_status_equals_the_domain_rule_with_runs(
    session: Session, facts: StatusFacts, no_location: bool, inert: bool,
) -> None:
    """`no_location`: an unavailable location is none at all rather than a location whose stock
    does not count. `inert`: a fact that is false is still written as a row that must not count
    (a released kit link, a released allocation, an aBOM line with no parent, a closed run)."""
    session.rollback()
    try:
        part = Part(part_number=f"P-{uuid.uuid4().hex[:10]}", tracking_type="UNTRACKED")
        location = (None if not facts.location_available and no_location
                    else Location(name="L", inventory_available=facts.location_available))
        session.add_all([part, *([location] if location else [])])
        session.flush()
        record = PartInventory(part_id=part.id, part_number=part.part_number, quantity=facts.quantity,
                               location_id=location.id if location else None, on_order=facts.on_order,
                               scrapped=facts.scrapped, attributes={})
        unit = PartInventory(part_id=part.id, part_number=part.part_number, quantity=Decimal(1), attributes={})
        session.add_all([record, unit])
        session.flush()
        if facts.kitted or inert:
            kit = PartKit(status="IN_PROGRESS")
            session.add(kit)
            session.flush()
            item = PartKitItem(part_kit_id=kit.id, part_id=part.id, quantity=Decimal(5))
            session.add(item)
            session.flush()
            session.add(PartKitInventory(part_kit_id=kit.id, part_kit_item_id=item.id, part_inventory_id=record.id,
                                         issued_quantity=Decimal(1), released=not facts.kitted))
        if facts.allocated or inert:
            order = RetailOrder(order_number=f"SO-{uuid.uuid4().hex[:10]}")
            session.add(order)
            session.flush()
            line = OrderLine(order_id=order.id, line_number="1", part_id=part.id, quantity=1)
            session.add(line)
            session.flush()
            allocation = OrderAllocation(order_id=order.id, order_line_id=line.id, site_id=1, kits=1)
            session.add(allocation)
            session.flush()
            session.add(OrderAllocationInventory(allocation_id=allocation.id, order_line_id=line.id,
                                                 part_id=part.id, part_inventory_id=record.id,
                                                 quantity=Decimal(1), released=not facts.allocated))
        if facts.installed or inert:
            session.add(AbomItem(part_inventory_id=record.id, quantity=Decimal(1),
                                 parent_part_inventory_id=unit.id if facts.installed else None))
        if facts.wip or inert:
            session.add(Run(title="r", part_id=part.id, quantity=Decimal(1), part_inventory_id=record.id,
                            status="IN_PROGRESS" if facts.wip else "COMPLETED", attributes={}))
        session.flush()
        names = [s.value for s in PartInventoryStatus]
        row = session.execute(
            select(status_expression(), *[status_is(n) for n in names]).where(PartInventory.id == record.id)
        ).one()
        expected = derive_status(facts)
        assert row[0] == expected.value
        assert [n for n, flag in zip(names, row[1:], strict=True) if flag] == [expected.value]
        # The joined form (lists filtered by status): one row per record, whatever rows the inert
        # facts wrote, and the same answer for each status and for pairs of them.
        pairs = [[a, b] for a in names for b in names if a < b]
        joined = session.execute(
            with_status_joins(select(*[status_is_joined(n) for n in names],
                                     *[status_is_joined(*pair) for pair in pairs]))
            .select_from(PartInventory).where(PartInventory.id == record.id)
        ).all()
        assert len(joined) == 1, joined
        flags = [bool(flag) for flag in joined[0]]
        assert [n for n, flag in zip(names, flags, strict=False) if flag] == [expected.value]
        assert flags[len(names):] == [expected.value in pair for pair in pairs]
        # NOT IN, for every run of consecutive statuses (prefixes: what supply excludes) and each
        # status with one other, wherever they are in the rule order.
        groups = [names[i:j] for i in range(len(names)) for j in range(i + 1, len(names) + 1)]
        groups += [[a, b] for a in names for b in names if a < b]
        excluded = session.execute(
            select(*[status_not_in(*group) for group in groups]).where(PartInventory.id == record.id)
        ).one()
        assert [bool(flag) for flag in excluded] == [expected.value not in group for group in groups]
        session.refresh(record)
        assert record.status == expected.value
    finally:
        session.rollback()
