"""Plant loading that updates, on SQLite and PostgreSQL: suppliers renamed by id, parts
updated by part number and revision, locations updated by id or by name under their parent,
and parts files carrying mBOM lines (parent part number + revision, quantity, reference
designators) with the mBOM's rules: cycles refused, every bad row named by row and column,
nothing written."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput
from kitwright.services import actions
from kitwright.services.plant_import import PlantImport, import_locations, import_parts, import_suppliers
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import Location, MbomItem, MbomItemReferenceDesignator, Part, Supplier
from tests import factories


def load(session: Session, loader: Any, *lines: str, **kw: Any) -> PlantImport:
    with UnitOfWork(session) as uow:
        result: PlantImport = loader(uow, io.BytesIO(("\n".join(lines) + "\n").encode()), filename="f.csv", **kw)
    session.rollback()
    return result


def refused(session: Session, loader: Any, *lines: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(BadInput) as caught:
        load(session, loader, *lines)
    session.rollback()
    return [(p.row, p.column, p.message) for p in caught.value.details]


def count(session: Session, model: type[Any]) -> int:
    session.rollback()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def lines(session: Session) -> dict[tuple[str, str], tuple[float, list[str]]]:
    session.rollback()
    numbers: dict[int, str] = dict(session.execute(select(Part.id, Part.part_number)).all())  # type: ignore[arg-type]
    found: dict[tuple[str, str], tuple[float, list[str]]] = {}
    for item in session.scalars(select(MbomItem)):
        designators = sorted(session.scalars(select(MbomItemReferenceDesignator.value)
                                             .where(MbomItemReferenceDesignator.mbom_item_id == item.id)))
        found[(numbers[item.parent_id], numbers[item.part_id])] = (float(item.quantity), designators)
    return found


def test_suppliers_are_renamed_by_id_and_existing_names_are_kept(session: Session) -> None:
    acme = factories.supplier(session, "Acme")
    factories.supplier(session, "Globex")
    result = load(session, import_suppliers, "id,name", f"{acme.id},Acme Corp", ",Globex", ",Initech")
    assert (result.count, result.created_count, result.updated_count) == (3, 1, 2)
    assert sorted(session.scalars(select(Supplier.name))) == ["Acme Corp", "Globex", "Initech"]
    problems = refused(session, import_suppliers, "id,name", f"{acme.id},Globex", "999999,X", "abc,Y",
                       f"{acme.id},Z")
    assert [(r, c) for r, c, _ in problems] == [(2, "name"), (3, "id"), (4, "id"), (5, "id")]
    assert sorted(session.scalars(select(Supplier.name))) == ["Acme Corp", "Globex", "Initech"]


def test_parts_are_updated_by_part_number_and_revision(session: Session) -> None:
    bolt = factories.part(session, "BOLT", revision="A", description="old")
    motor = factories.part(session, "MOTOR", "SERIAL")
    factories.record(session, motor, 1, serial_number="S1")
    result = load(session, import_parts, "part_number,revision,description,cost", "BOLT,A,a bolt,0.5", "NUT,,,")
    assert (result.count, result.created_count, result.updated_count) == (2, 1, 1)
    session.rollback()
    fresh = session.get(Part, bolt.id)
    assert fresh is not None and fresh.description == "a bolt" and fresh.cost == 0.5
    assert count(session, Part) == 3
    # A blank cell leaves the field; tracking cannot change under inventory; nothing written.
    problems = refused(session, import_parts, "part_number,revision,description,tracking_type",
                       "BOLT,A,,LOT", "MOTOR,,changed,LOT")
    assert [(r, c) for r, c, _ in problems] == [(3, "tracking_type")]
    session.rollback()
    assert session.get(Part, bolt.id).tracking_type == "UNTRACKED"  # type: ignore[union-attr]
    assert session.get(Part, motor.id).description is None  # type: ignore[union-attr]


def test_part_update_rules_run_per_row(session: Session) -> None:
    factories.part(session, "BOLT")
    with UnitOfWork(session) as uow:
        actions.create_rule(uow, title="cost only rises", target="PART", event_type="UPDATE",
                            code="has(old.cost) && old.cost != null && new.cost < old.cost")
    load(session, import_parts, "part_number,cost", "BOLT,2")
    problems = refused(session, import_parts, "part_number,cost", "NEW,1", "BOLT,1")
    assert [(r, m) for r, _, m in problems] == [(3, "cost only rises")]
    assert count(session, Part) == 1


def test_locations_are_updated_by_id_or_by_name_under_their_parent(session: Session) -> None:
    load(session, import_locations, "name,parent,type", "Plant,,site", "Shelf,Plant,shelf", "Bin,Plant/Shelf,")
    session.rollback()
    by_name = {loc.name: loc for loc in session.scalars(select(Location))}
    result = load(session, import_locations, "id,name,parent,type,inventory_available",
                  ",Shelf,Plant,rack,no", f"{by_name['Bin'].id},Bin 1,,bin,", ",Cage,Plant,,")
    assert (result.count, result.created_count, result.updated_count) == (3, 1, 2)
    after = {loc.name: loc for loc in session.scalars(select(Location))}
    assert after["Shelf"].type == "rack" and after["Shelf"].inventory_available is False
    assert after["Bin 1"].type == "bin" and after["Bin 1"].parent_id == by_name["Shelf"].id
    assert after["Cage"].parent_id == by_name["Plant"].id
    problems = refused(session, import_locations, "id,name,parent",
                       f"{by_name['Bin'].id},Bin 1,Plant", "424242,X,", ",Shelf,Plant", ",Shelf,Plant/")
    assert [(r, c) for r, c, _ in problems] == [(2, "parent"), (3, "id"), (5, "name")]
    assert count(session, Location) == 4


def test_parts_files_carry_mbom_lines(session: Session) -> None:
    factories.part(session, "FRAME", revision="B")
    result = load(session, import_parts,
                  "Part Number,Revision,Parent Part Number,Parent Revision,Quantity,Reference Designators",
                  "DRONE,A,,,,",
                  "AVIONICS,A,DRONE,A,1,",
                  "RES-10K,,AVIONICS,A,4,\"R1, R2 R3;R4\"",
                  "RES-10K,,DRONE,,2,R9",
                  "FRAME,B,DRONE,A,1,")
    assert (result.created_count, result.updated_count) == (3, 1)
    assert (result.mbom_line_count, result.mbom_created_count) == (4, 4)
    assert lines(session) == {
        ("DRONE", "AVIONICS"): (1.0, []), ("AVIONICS", "RES-10K"): (4.0, ["R1", "R2", "R3", "R4"]),
        ("DRONE", "RES-10K"): (2.0, ["R9"]), ("DRONE", "FRAME"): (1.0, [])}
    # Loading again updates the lines: new quantity, designators replaced when given.
    again = load(session, import_parts, "part_number,parent_part_number,parent_revision,quantity,refdes",
                 "RES-10K,AVIONICS,A,5,R7")
    assert (again.mbom_line_count, again.mbom_created_count, again.updated_count) == (1, 0, 1)
    assert lines(session)[("AVIONICS", "RES-10K")] == (5.0, ["R7"])


def test_bad_mbom_lines_are_named_by_row_and_column_and_nothing_is_written(session: Session) -> None:
    load(session, import_parts, "part_number,parent_part_number,quantity", "TOP,,", "MID,TOP,1", "LOW,MID,2")
    before = lines(session)
    parts_before = count(session, Part)
    problems = refused(session, import_parts,
                       "part_number,parent_part_number,parent_revision,quantity,reference_designators",
                       "NEW,TOP,,0,",            # quantity must be > 0
                       "NEW2,NOPE,,1,",          # unknown parent
                       "NEW3,TOP,Z,1,",          # unknown revision of the parent
                       "SELF,SELF,,1,",          # a part in itself
                       "NEW4,TOP,,1,R1 R1",      # a designator twice
                       "NEW5,,,2,",              # quantity without a parent
                       "NEW6,TOP,,x,",           # not a number
                       "NEW7,TOP,,1,",
                       "NEW7,TOP,,2,")           # the same line twice
    assert [(r, c) for r, c, _ in problems] == [
        (2, "quantity"), (3, "parent_part_number"), (4, "parent_revision"), (5, "parent_part_number"),
        (6, "reference_designators"), (7, "quantity"), (8, "quantity"), (10, "parent_part_number")]
    assert lines(session) == before and count(session, Part) == parts_before


def test_cycles_are_refused_on_the_rows_that_close_them(session: Session) -> None:
    load(session, import_parts, "part_number,parent_part_number", "TOP,", "MID,TOP", "LOW,MID")
    before = lines(session)
    # LOW -> NEW -> TOP closes TOP -> MID -> LOW -> NEW -> TOP, through a part the file creates.
    problems = refused(session, import_parts, "part_number,parent_part_number", "NEW,LOW", "TOP,NEW",
                       "OK,TOP")
    assert [(r, c) for r, c, _ in problems] == [(2, "parent_part_number"), (3, "parent_part_number")]
    assert "cycle" in problems[0][2] and "TOP" in problems[0][2]
    assert lines(session) == before and count(session, Part) == 3
    direct = refused(session, import_parts, "part_number,parent_part_number", "TOP,LOW")
    assert [(r, c) for r, c, _ in direct] == [(2, "parent_part_number")]


def test_mbom_rules_run_on_imported_lines(session: Session) -> None:
    load(session, import_parts, "part_number", "TOP")
    with UnitOfWork(session) as uow:
        actions.create_rule(uow, title="at most 10 per assembly", target="MBOMITEM", event_type="CREATE",
                            code="new.quantity > 10.0 && new.parent.partNumber == \"TOP\"")
    problems = refused(session, import_parts, "part_number,parent_part_number,quantity", "A,TOP,5", "B,TOP,11")
    assert [(r, m) for r, _, m in problems] == [(3, "at most 10 per assembly")]
    assert count(session, MbomItem) == 0 and count(session, Part) == 1
    dry = load(session, import_parts, "part_number,parent_part_number,quantity", "A,TOP,5", dry_run=True)
    assert dry.dry_run and dry.mbom_line_count == 1
    assert count(session, MbomItem) == 0
