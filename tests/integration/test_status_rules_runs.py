"""The SQL status rule (CASE and the status_is predicates) equals domain.status.derive_status for
any combination of facts, WIP and INSTALLED included, on both engines.

Each example writes its facts as raw rows inside one transaction and rolls it back: the
property is about the rule itself, for states the services may never produce together.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from kitwright.domain.status import PartInventoryStatus, StatusFacts, derive_status
from kitwright.store.models import (
    AbomItem,
    Location,
    Part,
    PartInventory,
    PartKit,
    PartKitInventory,
    PartKitItem,
    Run,
    status_expression,
    status_is,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    quantity=st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(1)]),
    where=st.sampled_from(["available", "unavailable", "none"]),
    on_order=st.booleans(), scrapped=st.booleans(), kitted=st.booleans(),
    installed=st.booleans(), wip=st.sampled_from(["no", "open", "closed"]),
)
def test_sql_status_equals_the_domain_rule_with_runs(
    session: Session, quantity: Decimal, where: str, on_order: bool, scrapped: bool, kitted: bool,
    installed: bool, wip: str,
) -> None:
    session.rollback()
    try:
        part = Part(part_number=f"P-{uuid.uuid4().hex[:10]}", tracking_type="UNTRACKED")
        location = Location(name="L", inventory_available=where == "available") if where != "none" else None
        session.add_all([part, *([location] if location else [])])
        session.flush()
        record = PartInventory(part_id=part.id, part_number=part.part_number, quantity=quantity,
                               location_id=location.id if location else None, on_order=on_order,
                               scrapped=scrapped, attributes={})
        unit = PartInventory(part_id=part.id, part_number=part.part_number, quantity=Decimal(1), attributes={})
        session.add_all([record, unit])
        session.flush()
        if kitted:
            kit = PartKit(status="IN_PROGRESS")
            session.add(kit)
            session.flush()
            item = PartKitItem(part_kit_id=kit.id, part_id=part.id, quantity=Decimal(5))
            session.add(item)
            session.flush()
            session.add(PartKitInventory(part_kit_id=kit.id, part_kit_item_id=item.id, part_inventory_id=record.id,
                                         issued_quantity=Decimal(1), released=False))
        if installed:
            session.add(AbomItem(part_inventory_id=record.id, parent_part_inventory_id=unit.id, quantity=Decimal(1)))
        if wip != "no":
            session.add(Run(title="r", part_id=part.id, quantity=Decimal(1), part_inventory_id=record.id,
                            status="IN_PROGRESS" if wip == "open" else "COMPLETED", attributes={}))
        session.flush()
        names = [s.value for s in PartInventoryStatus]
        row = session.execute(
            select(status_expression(), *[status_is(n) for n in names]).where(PartInventory.id == record.id)
        ).one()
        expected = derive_status(StatusFacts(
            quantity=quantity, location_available=where == "available", on_order=on_order, scrapped=scrapped,
            kitted=kitted, installed=installed, wip=wip == "open",
        ))
        assert row[0] == expected.value
        assert [n for n, flag in zip(names, row[1:], strict=True) if flag] == [expected.value]
    finally:
        session.rollback()
