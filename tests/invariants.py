"""The rules that must hold after every test (design.md rules 1, 2, 3 and 4)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kitwright.domain.ledger import KIT_OPERATIONS, LedgerOperation
from kitwright.domain.quantities import ONE, ZERO
from kitwright.domain.status import PartInventoryStatus
from kitwright.services import ledger
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import (
    LedgerEntry,
    PartComponent,
    PartInventory,
    PartKit,
    PartKitInventory,
    PartKitItem,
    status_expression,
    status_is,
    status_is_joined,
    with_status_joins,
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
        # ... and so does the joined form list filters use, one row per record.
        joined = session.execute(with_status_joins(
            select(PartInventory.id, status_expression(), *[status_is_joined(name) for name in names])
        )).all()
        assert len(joined) == len(rows), f"the status joins gave {len(joined)} rows for {len(rows)} records"
        for record_id, status, *flags in joined:
            matching = [name for name, flag in zip(names, flags, strict=True) if flag]
            assert matching == [status], f"record {record_id}: CASE says {status}, joined predicates say {matching}"
        # Rule 4: replaying the ledger from empty reproduces every record.
        problems = ledger.verify(session)
        assert not problems, "ledger and records disagree:\n" + "\n".join(problems[:20])
        # Rule 2: tracking.
        for record in session.scalars(select(PartInventory)):
            assert record.quantity >= ZERO, f"record {record.id} is negative"
            if record.serial_number is not None:
                assert record.quantity <= ONE, f"serial record {record.id} holds {record.quantity}"

        assert_kit_invariants(session)
        assert_run_invariants(session)
        assert_kit_parts_hold_no_stock(session)
        assert_held_records_frozen(session)
        assert_audit_keeps_old_and_new(session)
        assert_kanban_invariants(session)
        assert_order_invariants(session)
        assert_returns_received_once(session)
        assert_installed_follows_root_unit(session)


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
        if entry.operation in (LedgerOperation.KIT_DELIVER, LedgerOperation.KIT_STAGE, LedgerOperation.KIT_RELEASE, LedgerOperation.KIT_ISSUE):
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
        # Installed records stay linked to their run's kit until it closes (docs/runs.md).
        assert record.status in ("KITTED", "INSTALLED"), f"held record {record.id} is {record.status}"
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


INSTALL_OPERATIONS = (LedgerOperation.INSTALL, LedgerOperation.INSTALL_SPLIT, LedgerOperation.UNINSTALL)


def assert_run_invariants(session: object) -> None:
    """Installs only move quantity (rule 1); an installed record holds exactly its installed
    quantity; a requirement never has more installed than it requires; WIP is the unit of an
    open run (docs/runs.md)."""
    from sqlalchemy.orm import Session

    from kitwright.store.models import AbomItem, BuildRequirement, Run

    assert isinstance(session, Session)
    delta: dict[int, Decimal] = {}
    for entry in session.scalars(select(LedgerEntry).where(LedgerEntry.operation.in_(INSTALL_OPERATIONS))):
        delta[entry.part_id] = delta.get(entry.part_id, ZERO) + _q(entry.after) - _q(entry.before)
    unbalanced = {part: d for part, d in delta.items() if d != ZERO}
    assert not unbalanced, f"installs created or consumed quantity: {unbalanced}"
    records = {r.id: r for r in session.scalars(select(PartInventory))}
    requirements = {r.id: r for r in session.scalars(select(BuildRequirement))}
    installed: dict[int, Decimal] = {}
    for item in session.scalars(select(AbomItem).where(AbomItem.parent_part_inventory_id.is_not(None))):
        record = records[item.part_inventory_id]
        assert record.quantity == item.quantity, (
            f"installed record {record.id} holds {record.quantity}, aBOM item {item.id} says {item.quantity}"
        )
        assert record.status == "INSTALLED", f"installed record {record.id} is {record.status}"
        if item.build_requirement_id is not None:
            req = requirements[item.build_requirement_id]
            assert record.part_id == req.part_id, f"record {record.id} is not the part requirement {req.id} names"
            installed[req.id] = installed.get(req.id, ZERO) + item.quantity
    for req_id, quantity in installed.items():
        assert quantity <= requirements[req_id].quantity, f"requirement {req_id} over-installed: {quantity}"
    open_units = {
        run.part_inventory_id for run in session.scalars(select(Run))
        if run.status not in ("COMPLETED", "CANCELED")
    }
    for record in records.values():
        if record.status == "WIP":
            assert record.id in open_units, f"record {record.id} is WIP without an open run"


def assert_kit_parts_hold_no_stock(session: Session) -> None:
    """A part with components (a kit item) is logical: no inventory record names it."""
    stocked_kits = session.scalars(
        select(PartComponent.part_id).where(PartComponent.part_id.in_(select(PartInventory.part_id))).distinct()
    ).all()
    assert not stocked_kits, f"kit parts holding inventory records: {stocked_kits}"


def assert_held_records_frozen(session: object) -> None:
    """A record held by an open kit is exactly what its kit says (docs/kit-rules.md): per
    record, the unreleased issued quantity equals the record's quantity, and the record is
    neither on order nor scrapped. Set-based, so it also catches a record linked twice."""
    from sqlalchemy import BigInteger, func, type_coerce
    from sqlalchemy.orm import Session

    from kitwright.domain.quantities import from_units

    assert isinstance(session, Session)
    issued = type_coerce(func.sum(type_coerce(PartKitInventory.issued_quantity, BigInteger)), BigInteger)
    held = (
        select(PartKitInventory.part_inventory_id.label("record_id"), issued.label("units"))
        .join(PartKit, PartKit.id == PartKitInventory.part_kit_id)
        .where(PartKitInventory.released == False, PartKit.status.in_(OPEN_KIT_STATUSES))  # noqa: E712
        .group_by(PartKitInventory.part_inventory_id)
        .subquery()
    )
    rows = session.execute(
        select(PartInventory.id, PartInventory.quantity, held.c.units, PartInventory.on_order,
               PartInventory.scrapped)
        .join(held, held.c.record_id == PartInventory.id)
    ).all()
    for record_id, quantity, units, on_order, scrapped in rows:
        assert from_units(int(units)) == quantity, (
            f"record {record_id} holds {quantity} but its open kit holds {from_units(int(units))}"
        )
        assert not on_order, f"held record {record_id} is on order"
        assert not scrapped, f"held record {record_id} is scrapped"


def assert_audit_keeps_old_and_new(session: object) -> None:
    """Every UPDATE entry of the audit trail holds [old, new] per changed field, never a
    field that did not change (docs/kit-rules.md, "Audit")."""
    from sqlalchemy.orm import Session

    from kitwright.store.models import AuditEntry

    assert isinstance(session, Session)
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.action == "UPDATE")):
        assert entry.changes, f"audit entry {entry.id} records an update of nothing"
        for name, change in entry.changes.items():
            if change == "(changed)":  # secrets: never copied
                continue
            assert isinstance(change, list) and len(change) == 2, f"audit entry {entry.id}: {name} {change}"
            assert change[0] != change[1], f"audit entry {entry.id}: {name} did not change ({change})"
def assert_kanban_invariants(session: object) -> None:
    """Kanban kits (docs/kanban.md): consumption is the only thing that removes parts, returns
    only move them; a kit holding stock has exactly one open cycle, whose kit is open; a cycle
    never holds more than its pattern; a closed cycle's lines add up."""
    from sqlalchemy.orm import Session

    from kitwright.store.models import KanbanCycle, KanbanCycleLine, KanbanKit, KanbanPatternLine

    assert isinstance(session, Session)
    consumed: dict[int, Decimal] = {}
    for entry in session.scalars(select(LedgerEntry).where(
            LedgerEntry.operation.in_((LedgerOperation.KANBAN_CONSUME, LedgerOperation.KANBAN_RETURN)))):
        change = _q(entry.after) - _q(entry.before)
        if entry.operation == LedgerOperation.KANBAN_RETURN:
            assert change == ZERO, f"KANBAN_RETURN {entry.id} changed a quantity"
        else:
            assert change < ZERO, f"KANBAN_CONSUME {entry.id} did not remove quantity"
            consumed[entry.part_id] = consumed.get(entry.part_id, ZERO) - change
    recorded: dict[int, Decimal] = {}
    cycles = {c.id: c for c in session.scalars(select(KanbanCycle))}
    for line in session.scalars(select(KanbanCycleLine)):
        recorded[line.part_id] = recorded.get(line.part_id, ZERO) + line.consumed_quantity
        if cycles[line.kanban_cycle_id].emptied_at is not None:
            assert line.consumed_quantity + line.returned_quantity == line.filled_quantity, (
                f"cycle line {line.id}: consumed + returned != filled"
            )
    assert {p: q for p, q in consumed.items() if q} == {p: q for p, q in recorded.items() if q}, (
        "the ledger's consumption and the cycles' consumption disagree"
    )
    kits = {k.id: k for k in session.scalars(select(KanbanKit))}
    part_kits = {k.id: k for k in session.scalars(select(PartKit))}
    open_cycles: dict[int, KanbanCycle] = {}
    for cycle in cycles.values():
        if cycle.emptied_at is None:
            assert cycle.kanban_kit_id not in open_cycles, f"kanban kit {cycle.kanban_kit_id}: two open cycles"
            open_cycles[cycle.kanban_kit_id] = cycle
        else:
            assert part_kits[cycle.part_kit_id].status not in OPEN_KIT_STATUSES, (
                f"emptied cycle {cycle.id} still has an open kit"
            )
    pattern: dict[tuple[int, int], Decimal] = {
        (row.kanban_kit_id, row.part_id): row.quantity for row in session.scalars(select(KanbanPatternLine))
    }
    items = {i.id: i for i in session.scalars(select(PartKitItem))}
    for kit in kits.values():
        assert kit.cycle_count == sum(
            1 for c in cycles.values() if c.kanban_kit_id == kit.id and c.emptied_at is not None
        ), f"kanban kit {kit.id}: cycle count disagrees with its history"
        if kit.status in ("FILLED", "AT_LINE"):
            assert kit.id in open_cycles, f"kanban kit {kit.id} is {kit.status} without an open cycle"
    for kit_id, cycle in open_cycles.items():
        for item in items.values():
            if item.part_kit_id == cycle.part_kit_id:
                assert item.quantity <= pattern.get((kit_id, item.part_id), ZERO), (
                    f"kanban kit {kit_id}: cycle requests {item.quantity} of part {item.part_id}, "
                    "more than its pattern"
                )
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
        select(LedgerEntry).where(LedgerEntry.operation.in_((LedgerOperation.ORDER_ALLOCATE, LedgerOperation.ORDER_UNALLOCATE)))
    ):
        delta[entry.part_id] = delta.get(entry.part_id, ZERO) + _q(entry.after) - _q(entry.before)
    unbalanced = {part: d for part, d in delta.items() if d != ZERO}
    assert not unbalanced, f"allocation moves created or consumed quantity: {unbalanced}"
    for line in session.scalars(select(OrderLine)):
        assert 0 <= line.shipped_quantity + line.canceled_quantity <= line.quantity, f"order line {line.id}"


def assert_returns_received_once(session: Session) -> None:
    """A return line receives back at most what came back, per component: the verified units
    (and the ORDER_RETURN stock the ledger says they became) never exceed ratio x returned
    kits; invoiced and canceled kits never exceed the returned ones (docs/retail-orders.md)."""
    from kitwright.store.models import OrderLine, OrderLineComponent, ReturnLine, ReturnVerification

    kit_lines = {line.id for line in session.scalars(select(OrderLine).where(OrderLine.is_kit == True))}  # noqa: E712
    components: dict[int, dict[int, Decimal]] = {}
    for row in session.scalars(select(OrderLineComponent)):
        components.setdefault(row.order_line_id, {})[row.part_id] = row.quantity
    verified: dict[tuple[int, int], Decimal] = {}
    for row in session.scalars(select(ReturnVerification)):
        key = (row.return_line_id, row.part_id)
        verified[key] = verified.get(key, ZERO) + row.quantity
    received: dict[tuple[int, int], Decimal] = {}
    for entry in session.scalars(select(LedgerEntry).where(LedgerEntry.operation == LedgerOperation.ORDER_RETURN)):
        key = (int((entry.references or {})["returnLineId"]), entry.part_id)
        received[key] = received.get(key, ZERO) + _q(entry.after) - _q(entry.before)
    assert received == verified, f"returned stock {received} disagrees with the verifications {verified}"
    lines = {line.id: line for line in session.scalars(select(ReturnLine))}
    for (line_id, part_id), units in verified.items():
        line = lines[line_id]
        if line.order_line_id in kit_lines:
            ratio = components[line.order_line_id].get(part_id)
        else:  # a regular or an unexpected line is its own single component
            ratio = Decimal(1) if part_id == line.part_id else None
        assert ratio is not None, f"return line {line_id} received part {part_id}, not one of its components"
        assert units <= ratio * line.quantity, (
            f"return line {line_id} received {units} of part {part_id}, but {ratio * line.quantity} came back"
        )
    for line in lines.values():
        assert 0 <= line.invoiced_quantity + line.canceled_quantity <= line.quantity, f"return line {line.id}"


def assert_installed_follows_root_unit(session: Session) -> None:
    """An installed record stands where its root unit stands (the top of its install chain,
    to any depth): installed stock follows its unit (docs/runs.md)."""
    from kitwright.store.models import AbomItem

    parent_of: dict[int, int | None] = dict(session.execute(
        select(AbomItem.part_inventory_id, AbomItem.parent_part_inventory_id)
        .where(AbomItem.parent_part_inventory_id.is_not(None))
    ).all())
    location: dict[int, int | None] = dict(session.execute(select(PartInventory.id, PartInventory.location_id)).all())
    for record_id in parent_of:
        root, seen = record_id, {record_id}
        while root in parent_of:
            root = parent_of[root]
            assert root not in seen, f"install cycle through record {root}"
            seen.add(root)
        assert location[record_id] == location[root], (
            f"installed record {record_id} is at location {location[record_id]}, its root unit {root} "
            f"at {location[root]}"
        )
