"""The rules that must hold after every test (design.md rules 1, 2, 3 and 4)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, select

from kitwright.domain.quantities import ONE, ZERO
from kitwright.domain.status import PartInventoryStatus
from kitwright.services import ledger
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import (
    LedgerEntry,
    PartInventory,
    PartKit,
    PartKitInventory,
    PartKitItem,
    status_expression,
    status_is,
)


def assert_invariants(engine: Engine) -> None:
    with make_sessionmaker(engine)() as session:
        # Derived status: the CASE (output) and the status_is predicates (filters) agree.
        names = [status.value for status in PartInventoryStatus]
        rows = session.execute(
            select(PartInventory.id, status_expression(), *[status_is(name).label(f"is_{name}") for name in names])
        ).all()
        for record_id, status, *flags in rows:
            matching = [name for name, flag in zip(names, flags, strict=True) if flag]
            assert matching == [status], f"record {record_id}: CASE says {status}, predicates say {matching}"
        # Rule 4: replaying the ledger from empty reproduces every record.
        problems = ledger.verify(session)
        assert not problems, "ledger and records disagree:\n" + "\n".join(problems[:20])
        # Rule 2: tracking.
        for record in session.scalars(select(PartInventory)):
            assert record.quantity >= ZERO, f"record {record.id} is negative"
            if record.serial_number is not None:
                assert record.quantity <= ONE, f"serial record {record.id} holds {record.quantity}"

        assert_kit_invariants(session)
        assert_order_invariants(session)


KIT_OPERATIONS = ("KIT_ISSUE", "KIT_SPLIT", "KIT_UNISSUE", "KIT_DELIVER", "KIT_STAGE", "KIT_RELEASE")
OPEN_KIT_STATUSES = {"DRAFT", "REQUESTED", "IN_PROGRESS", "DELIVERED"}


def _q(snap: dict[str, object] | None) -> Decimal:
    return Decimal(str(snap["quantity"])) if snap else ZERO


def assert_kit_invariants(session: object) -> None:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    # Rule 1: kit operations only move quantity. Per part, and per record-creating split, the
    # quantity deltas of every kit ledger entry sum to zero.
    delta: dict[int, Decimal] = {}
    for entry in session.scalars(select(LedgerEntry).where(LedgerEntry.operation.in_(KIT_OPERATIONS))):
        delta[entry.part_id] = delta.get(entry.part_id, ZERO) + _q(entry.after) - _q(entry.before)
        if entry.operation in ("KIT_DELIVER", "KIT_STAGE", "KIT_RELEASE", "KIT_ISSUE"):
            assert _q(entry.after) == _q(entry.before), f"{entry.operation} {entry.id} changed a quantity"
    unbalanced = {part: d for part, d in delta.items() if d != ZERO}
    assert not unbalanced, f"kit operations created or consumed quantity: {unbalanced}"
    # Rule 3: an item never holds more than it requested; a held record holds exactly what was
    # issued; only open kits hold; a record is held by one kit at most.
    kits = {k.id: k for k in session.scalars(select(PartKit))}
    items = {i.id: i for i in session.scalars(select(PartKitItem))}
    records = {r.id: r for r in session.scalars(select(PartInventory))}
    held: dict[int, Decimal] = {}
    holders: dict[int, int] = {}
    for link in session.scalars(select(PartKitInventory)):
        item = items[link.part_kit_item_id]
        assert item.part_kit_id == link.part_kit_id, f"link {link.id}: item and kit disagree"
        assert link.issued_quantity > ZERO, f"link {link.id} holds {link.issued_quantity}"
        if link.released:
            continue
        kit = kits[link.part_kit_id]
        assert kit.status in OPEN_KIT_STATUSES, f"closed kit {kit.id} still holds link {link.id}"
        record = records[link.part_inventory_id]
        assert record.quantity == link.issued_quantity, (
            f"record {record.id} holds {record.quantity}, issued {link.issued_quantity}"
        )
        assert record.status == "KITTED", f"held record {record.id} is {record.status}"
        assert link.part_inventory_id not in holders, f"record {record.id} held twice"
        holders[link.part_inventory_id] = link.id
        held[item.id] = held.get(item.id, ZERO) + link.issued_quantity
    for item_id, quantity in held.items():
        assert quantity <= items[item_id].quantity, (
            f"item {item_id} holds {quantity} > requested {items[item_id].quantity}"
        )
    for record in records.values():
        if record.status == "KITTED":
            assert record.id in holders, f"record {record.id} is KITTED without a holding kit"


def assert_order_invariants(session: object) -> None:
    """Retail orders (docs/retail-orders.md): an allocation link holds exactly its record;
    a held record is ALLOCATED and held once; allocation moves never create or consume
    quantity; a line never ships or cancels more than it ordered."""
    from sqlalchemy.orm import Session

    from kitwright.store.models import OrderAllocationInventory, OrderLine

    assert isinstance(session, Session)
    records = {r.id: r for r in session.scalars(select(PartInventory))}
    holders: set[int] = set()
    for link in session.scalars(select(OrderAllocationInventory)):
        if link.released:
            continue
        record = records[link.part_inventory_id]
        assert record.quantity == link.quantity, f"allocated record {record.id} holds {record.quantity}, link {link.quantity}"
        assert record.status == "ALLOCATED", f"allocated record {record.id} is {record.status}"
        assert record.id not in holders, f"record {record.id} allocated twice"
        holders.add(record.id)
    for record in records.values():
        if record.status == "ALLOCATED":
            assert record.id in holders, f"record {record.id} is ALLOCATED without a holding line"
    delta: dict[int, Decimal] = {}
    for entry in session.scalars(
        select(LedgerEntry).where(LedgerEntry.operation.in_(("ORDER_ALLOCATE", "ORDER_UNALLOCATE")))
    ):
        delta[entry.part_id] = delta.get(entry.part_id, ZERO) + _q(entry.after) - _q(entry.before)
    unbalanced = {part: d for part, d in delta.items() if d != ZERO}
    assert not unbalanced, f"allocation moves created or consumed quantity: {unbalanced}"
    for line in session.scalars(select(OrderLine)):
        assert 0 <= line.shipped_quantity + line.canceled_quantity <= line.quantity, f"order line {line.id}"
