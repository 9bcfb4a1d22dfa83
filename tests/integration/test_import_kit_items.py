"""The Kit Items importer on SQLite and PostgreSQL (docs/importers.md): every behaviour of the
importer and every refusal of its bad-input list, each asserting that nothing changed."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput, Forbidden
from kitwright.services import import_kit_items as importer
from kitwright.services import kits
from kitwright.services.actor import Actor
from kitwright.services.import_kit_items import KitItemImport
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import AuditEntry, PartKitItem
from tests import factories
from tests.factories import kit
from tests.factories import kit_item as item


def csv_file(*lines: str) -> io.BytesIO:
    return io.BytesIO(("\r\n".join(lines) + "\r\n").encode())


def xlsx_file(rows: list[list[Any]], *, sheets: int = 1, merge: str | None = None) -> io.BytesIO:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    for n in range(1, sheets):
        book.create_sheet(f"Other {n}")
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


def run(session: Session, source: io.BytesIO, filename: str = "items.csv", **kw: Any) -> KitItemImport:
    with UnitOfWork(session) as uow:
        return importer.import_kit_items(uow, source, filename=filename, **kw)


def refused(session: Session, source: io.BytesIO, filename: str = "items.csv") -> list[dict[str, Any]]:
    before = items_state(session)
    with pytest.raises(BadInput) as caught:
        run(session, source, filename)
    assert items_state(session) == before, "a refused import changed something"
    assert caught.value.details, "every refusal names its rows"
    return [p.as_dict() for p in caught.value.details]


def items_state(session: Session) -> list[tuple[int, int, int, Decimal]]:
    session.rollback()
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(PartKitItem.id, PartKitItem.part_kit_id, PartKitItem.part_id, PartKitItem.quantity)
        .order_by(PartKitItem.id))]


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    bolt_a = factories.part(session, "BOLT", revision="A")
    bolt_b = factories.part(session, "BOLT", revision="B")  # latest
    motor = factories.part(session, "MOTOR", "SERIAL")
    glue = factories.part(session, "GLUE", "LOT")
    k1, k2 = kit(session), kit(session)
    return {"bolt_a": bolt_a, "bolt_b": bolt_b, "motor": motor, "glue": glue, "k1": k1, "k2": k2}


def test_creates_and_updates_keeping_kitted_inventory(session: Session, world: dict[str, Any]) -> None:
    k1, k2, motor, glue = world["k1"], world["k2"], world["motor"], world["glue"]
    shelf = factories.location(session, "Shelf")
    existing = item(session, k1, glue, 5)
    lot = factories.record(session, glue, 5, lot_number="L1", location_id=shelf.id)
    with UnitOfWork(session) as uow:
        kits.issue_item_to_kit(uow, part_inventory_id=lot.id, part_kit_item_id=existing.id, quantity=2)
    result = run(session, csv_file(
        "Kit_ID, Part_Number ,REVISION,Quantity",
        f"{k1.id},GLUE,,7",
        f"{k1.id},MOTOR,,2",
        f"{k2.id},BOLT,A,1.5",
        f"{k2.id},BOLT,,3",
    ))
    assert (result.count, result.created_count, result.updated_count) == (4, 3, 1)
    assert result.part_kit_ids == [k1.id, k2.id]
    session.rollback()
    updated = session.get(PartKitItem, existing.id)
    assert updated is not None and updated.quantity == Decimal(7)
    assert kits.kitted_by_item(session, [existing.id])[existing.id] == Decimal(2)
    rows = session.execute(
        select(PartKitItem.part_kit_id, PartKitItem.part_id, PartKitItem.quantity).order_by(PartKitItem.id)
    ).all()
    assert (k1.id, motor.id, Decimal(2)) in rows
    assert (k2.id, world["bolt_a"].id, Decimal("1.5")) in rows
    assert (k2.id, world["bolt_b"].id, Decimal(3)) in rows  # blank revision: the latest
    audited = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.target_type == "PartKitItem"))
    assert audited == 1 + 4  # the item made by hand, then 3 creates and 1 update


def test_dry_run_checks_and_writes_nothing(session: Session, world: dict[str, Any]) -> None:
    before = items_state(session)
    result = run(session, csv_file("kit_id,part_number,revision,quantity",
                                   f"{world['k1'].id},BOLT,A,4"), dry_run=True)
    assert (result.count, result.created_count, result.dry_run) == (1, 1, True)
    assert items_state(session) == before


def test_every_error_comes_back_together_with_row_and_column(session: Session, world: dict[str, Any]) -> None:
    k1 = world["k1"]
    problems = refused(session, csv_file(
        "kit_id,part_number,revision,quantity",
        f"{k1.id},BOLT,A,1",        # row 2: fine
        ",BOLT,A,1",               # row 3: blank kit_id
        "999999,BOLT,A,1",          # row 4: no such kit
        f"{k1.id},NOPE,,1",         # row 5: unknown part
        f"{k1.id},BOLT,Z,1",        # row 6: unknown revision
        f"{k1.id},BOLT,A,2",        # row 7: duplicate of row 2
        f"{k1.id},MOTOR,,1.5",      # row 8: fractional serial quantity
        f"{k1.id},GLUE,,0",         # row 9: zero
        f"{k1.id},GLUE,,-1",        # row 10: negative (and a second GLUE row)
        f"{k1.id},GLUE,,abc",       # row 11: not a number
        "",                         # row 12: blank rows are skipped but counted
        f"x{k1.id},GLUE,,1",        # row 13: kit_id not a number
    ))
    where = {(p["row"], p["column"]) for p in problems}
    assert where == {
        (3, "kit_id"), (4, "kit_id"), (5, "part_number"), (6, "revision"), (7, "part_number"),
        (8, "quantity"), (9, "quantity"), (10, "part_number"), (10, "quantity"), (11, "quantity"),
        (13, "kit_id"),
    }
    assert any("whole" in p["message"] for p in problems if p["row"] == 8)
    assert any("row 2" in p["message"] for p in problems if p["row"] == 7)


def test_quantity_below_kitted_is_refused(session: Session, world: dict[str, Any]) -> None:
    k1, glue = world["k1"], world["glue"]
    shelf = factories.location(session, "Shelf")
    existing = item(session, k1, glue, 5)
    lot = factories.record(session, glue, 5, lot_number="L1", location_id=shelf.id)
    with UnitOfWork(session) as uow:
        kits.issue_item_to_kit(uow, part_inventory_id=lot.id, part_kit_item_id=existing.id, quantity=3)
    problems = refused(session, csv_file("kit_id,part_number,quantity", f"{k1.id},GLUE,2"))
    assert problems[0]["row"] == 2 and problems[0]["column"] == "quantity"
    assert "already kitted" in problems[0]["message"]


def test_serial_rule_is_the_same_one_by_one(session: Session, world: dict[str, Any]) -> None:
    with UnitOfWork(session) as uow, pytest.raises(BadInput, match="whole"):
        kits.create_part_kit_item(uow, part_kit_id=world["k1"].id, part_id=world["motor"].id, quantity="1.5")


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "empty"),
    (b"kit_id,part_number,revision,quantity\r\n", "no data rows"),
    (b"kit,part\r\n1,BOLT\r\n", "missing column quantity"),
    (b"kit_id,part_number,quantity,colour\r\n1,BOLT,1,red\r\n", "unknown column"),
    (b"kit_id,kit_id,part_number,quantity\r\n1,1,BOLT,1\r\n", "appears twice"),
    (b"\x00\x01\x02PNG\x00binary", "binary"),
    ("kit_id,part_number,quantity\r\n1,BOLTé,1\r\n".encode("latin-1"), "UTF-8"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", ".xls"),
    (b"PK\x03\x04not really a zip", "XLSX"),
])
def test_bad_files_are_refused(session: Session, world: dict[str, Any], content: bytes, needle: str) -> None:
    problems = refused(session, io.BytesIO(content))
    assert any(needle in p["message"] for p in problems), problems
    assert all("row" in p for p in problems)


def test_utf16_and_semicolons_and_bom_are_read(session: Session, world: dict[str, Any]) -> None:
    text = f"\ufeffkit_id;part_number;quantity\r\n{world['k1'].id};BOLT;2\r\n"
    assert run(session, io.BytesIO(text.encode("utf-8")), dry_run=True).count == 1
    assert run(session, io.BytesIO(text.encode("utf-16")), dry_run=True).count == 1


def test_xlsx_imports_and_refuses_formulas_merges_and_sheets(session: Session, world: dict[str, Any]) -> None:
    k1 = world["k1"]
    good = xlsx_file([["Kit ID", "Part Number", "Revision", "Quantity"], [k1.id, "BOLT", "A", 2],
                      [], [k1.id, "MOTOR", None, 1]])
    assert run(session, good, "items.xlsx").created_count == 2
    formula = xlsx_file([["kit_id", "part_number", "quantity"], [k1.id, "GLUE", "=1+1"]])
    assert [(p["row"], p["column"]) for p in refused(session, formula, "f.xlsx")] == [(2, "C")]
    merged = xlsx_file([["kit_id", "part_number", "quantity"], [k1.id, "GLUE", 1], [k1.id, None, 2]],
                       merge="B2:B3")
    assert any("merged" in p["message"] for p in refused(session, merged, "m.xlsx"))
    several = xlsx_file([["kit_id", "part_number", "quantity"], [k1.id, "GLUE", 1]], sheets=2)
    assert any("2 sheets" in p["message"] for p in refused(session, several, "s.xlsx"))


def test_more_rows_than_the_maximum(session: Session, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "MAX_ROWS", 3)
    lines = ["kit_id,part_number,quantity"] + [f"{world['k1'].id},BOLT,{n}" for n in range(1, 6)]
    problems = refused(session, csv_file(*lines))
    assert any("more than 3" in p["message"] and p["row"] == 5 for p in problems)


def test_many_rows_use_few_queries(session: Session, world: dict[str, Any]) -> None:
    """Set-based: the number of statements does not grow with the rows."""
    from sqlalchemy import event

    numbers = [f"N-{n}" for n in range(300)]
    for number in numbers:
        factories.part(session, number)
    lines = ["kit_id,part_number,quantity"] + [f"{world['k1'].id},{n},1" for n in numbers]
    statements: list[str] = []
    engine = session.get_bind()

    def count(*args: Any) -> None:
        statements.append(str(args[2])[:40])

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = run(session, csv_file(*lines))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result.created_count == 300
    assert len(statements) < 20, statements


# --------------------------------------------------------------------------- who may import


def test_the_importer_applies_the_kit_access_rules_per_row(session: Session, world: dict[str, Any]) -> None:
    """Editing a kit's items through the import is the same action as createPartKitItem /
    updatePartKitItem (domain.kit_access): a requester edits only their own kit while it is
    DRAFT or REQUESTED. A row on any other kit is refused FORBIDDEN, naming the row; the whole
    file then writes nothing, the allowed rows included."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    alice = Actor(id=factories.user(engine, role="requester"), name="alice", role="requester")
    bob = Actor(id=factories.user(engine, role="requester"), name="bob", role="requester")
    glue, motor = world["glue"], world["motor"]
    with UnitOfWork(session, alice) as uow:
        delivered = kits.create_part_kit(uow, status="REQUESTED", items=[(glue.id, 5)]).id
    with UnitOfWork(session, alice) as uow:
        draft = kits.create_part_kit(uow, status="DRAFT").id
    shelf, line = factories.location(session, "Shelf"), factories.location(session, "Line")
    factories.record(session, glue, 5, lot_number="L1", location_id=shelf.id)
    with UnitOfWork(session) as uow:
        kits.fulfill_part_kit(uow, id=delivered)
    with UnitOfWork(session) as uow:
        kit_row = kits.get_part_kit(uow.session, delivered)
        kits.update_part_kit(uow, delivered, kit_row.etag, {"delivery_location_id": line.id, "status": "DELIVERED"})

    def attempt(actor: Actor, *lines: str) -> Forbidden:
        before = items_state(session)
        with pytest.raises(Forbidden) as caught, UnitOfWork(session, actor) as uow:
            importer.import_kit_items(uow, csv_file("kit_id,part_number,revision,quantity", *lines),
                                      filename="items.csv")
        assert items_state(session) == before, "a refused import changed something"
        return caught.value

    # Bob, on Alice's delivered kit: the reported case (a quantity changed, an item added).
    refusal = attempt(bob, f"{delivered},GLUE,,8", f"{delivered},MOTOR,,3", f"{draft},MOTOR,,1")
    assert [(p.row, p.column) for p in refusal.details] == [(2, "kit_id"), (3, "kit_id"), (4, "kit_id")]
    assert all("only its requester or the inventory team may" in p.message for p in refusal.details)
    assert f"role requester may not edit kit {delivered}" in refusal.details[0].message
    # Alice, on her own kit once it is delivered: a requester edits only while DRAFT or REQUESTED.
    # Her allowed row (her draft) is not written either.
    refusal = attempt(alice, f"{draft},MOTOR,,1", f"{delivered},GLUE,,8")
    assert [(p.row, p.column) for p in refusal.details] == [(3, "kit_id")]
    assert "it is DELIVERED" in refusal.details[0].message
    # Bad rows and refused rows are reported together.
    refusal = attempt(bob, f"{delivered},GLUE,,-1", f"{draft},NOPE,,1")
    assert {(p.row, p.column) for p in refusal.details} >= {(2, "kit_id"), (3, "kit_id"), (3, "part_number")}
    # What the rule allows goes through: Alice's own draft, and the inventory team on any kit.
    with UnitOfWork(session, alice) as uow:
        done = importer.import_kit_items(uow, csv_file("kit_id,part_number,revision,quantity", f"{draft},MOTOR,,1"),
                                         filename="items.csv")
    assert done.created_count == 1
    inventory = Actor(id=factories.user(engine, role="inventory"), name="ivy", role="inventory")
    with UnitOfWork(session, inventory) as uow:
        done = importer.import_kit_items(uow, csv_file("kit_id,part_number,revision,quantity",
                                                       f"{delivered},GLUE,,8", f"{draft},MOTOR,,2"),
                                         filename="items.csv")
    assert (done.created_count, done.updated_count) == (0, 2)
    assert motor.id in {r[2] for r in items_state(session) if r[1] == draft}
