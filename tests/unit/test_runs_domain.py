"""Run and mBOM rules (domain.runs, domain.bom), without a database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain.bom import BomRow, Notation, find_cycle, plan_bom_rows
from kitwright.domain.errors import BadInput
from kitwright.domain.kits import PlanKind
from kitwright.domain.runs import (
    InstallRecord,
    InstallTarget,
    MbomLine,
    RequirementFacts,
    RunStatus,
    check_run_quantity,
    check_transition,
    check_waive,
    plan_install,
    requirements_from_mbom,
    run_needs,
)
from kitwright.domain.status import PartInventoryStatus as S
from kitwright.domain.tracking import TrackingType as T

D = Decimal


# --------------------------------------------------------------------------- mBOM


def test_find_cycle() -> None:
    edges = [(1, 2), (2, 3), (3, 4)]
    assert find_cycle(edges, [(4, 1)]) == [4, 1, 2, 3, 4]
    assert find_cycle(edges, [(1, 4)]) is None  # a diamond is not a cycle
    assert find_cycle([], [(5, 5)]) == [5, 5]
    assert find_cycle(edges, [(9, 1), (4, 9)]) is not None  # closed by two new edges together


def row(n: int, position: str, number: str, quantity: str = "1") -> BomRow:
    return BomRow(n, position, (number, ""), D(quantity))


@pytest.mark.parametrize("top", [0, 1])  # Kitwright's first form, ION's sheets
def test_depth_rows(top: int) -> None:
    rows = [row(n, str(depth + top), number, quantity) for n, depth, number, quantity in (
        (1, 0, "TOP", "1"), (2, 1, "A", "2"), (3, 2, "A1", "1"), (4, 1, "B", "1"), (5, 0, "TOP2", "1"),
        (6, 1, "A", "1"))]
    edges, problems = plan_bom_rows(Notation.DEPTH, rows)
    assert not problems
    assert [(e.parent[0], e.part[0], e.quantity) for e in edges] == [
        ("TOP", "A", 2), ("A", "A1", 1), ("TOP", "B", 1), ("TOP2", "A", 1)]


def test_level_rows_and_every_problem_at_once() -> None:
    rows = [row(1, "1", "TOP"), row(2, "1.1", "A"), row(3, "1.1.1", "A1"), row(4, "1.2", "B", "0"),
            row(5, "2.1", "C"), row(6, "1.x", "D"), row(7, "1.1", "E"), row(8, "1.3", "A1"), row(9, "1.4", "A1")]
    edges, problems = plan_bom_rows(Notation.LEVEL, rows)
    assert [(e.parent[0], e.part[0]) for e in edges] == [("TOP", "A"), ("A", "A1"), ("TOP", "A1")]
    assert [(p.row, p.column) for p in problems.items] == [
        (4, "quantity"), (5, "level"), (6, "level"), (7, "level"), (9, "partNumber")]


def test_a_sheet_from_depth_one_names_its_own_depths_in_errors() -> None:
    _, problems = plan_bom_rows(Notation.DEPTH, [row(1, "1", "TOP"), row(2, "0", "X"), row(3, "3", "Y")])
    assert [(p.row, p.column) for p in problems.items] == [(2, "depth"), (3, "depth")]
    assert "above the top assembly's depth 1" in problems.items[0].message
    assert "follows depth 1" in problems.items[1].message


@given(st.lists(st.integers(0, 3), min_size=1, max_size=12))
def test_a_sheet_counted_from_one_means_what_it_means_counted_from_zero(steps: list[int]) -> None:
    # Any tree written from depth 0, and the same rows each one deeper, give the same edges.
    depths = [0]
    for step in steps:
        depths.append(min(depths[-1] + 1, step))
    zero = [row(i + 1, str(d), f"P{i}") for i, d in enumerate(depths)]
    one = [row(i + 1, str(d + 1), f"P{i}") for i, d in enumerate(depths)]
    assert plan_bom_rows(Notation.DEPTH, zero) == plan_bom_rows(Notation.DEPTH, one)


def test_depth_may_not_skip_a_level() -> None:
    _, problems = plan_bom_rows(Notation.DEPTH, [row(1, "0", "TOP"), row(2, "2", "A"), row(3, "x", "B")])
    assert [(p.row, p.column) for p in problems.items] == [(2, "depth"), (3, "depth")]


# --------------------------------------------------------------------------- runs


def test_requirements_are_the_mbom_times_the_run_quantity() -> None:
    plans = requirements_from_mbom("ASSY", [MbomLine(1, 10, D("0.5")), MbomLine(2, 11, D(8))], D(3))
    assert [(p.part_id, p.quantity) for p in plans] == [(10, D("1.5")), (11, D(24))]
    with pytest.raises(BadInput) as caught:
        requirements_from_mbom("ASSY", [], D(1))
    assert caught.value.field == "partId"


def test_run_quantity() -> None:
    assert check_run_quantity(D(1), T.SERIAL) == 1
    for bad, tracking in ((D(2), T.SERIAL), (D(0), T.LOT), (D("-1"), T.UNTRACKED)):
        with pytest.raises(BadInput):
            check_run_quantity(bad, tracking)


@given(
    required=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 20), st.integers(0, 20), st.booleans()),
                      min_size=1, max_size=6, unique_by=lambda t: t[0]),
    demand=st.dictionaries(st.integers(1, 4), st.integers(-5, 30)),
)
def test_run_needs_never_negative_and_never_counts_demand_twice(
    required: list[tuple[int, int, int, bool]], demand: dict[int, int]
) -> None:
    facts = [RequirementFacts(i, part, D(q), D(min(inst, q)), waived)
             for i, (part, q, inst, waived) in enumerate(required, start=1)]
    needs = run_needs(facts, {p: D(q) for p, q in demand.items()})
    for f in facts:
        assert D(0) <= needs[f.id] <= f.uninstalled
        if f.waived:
            assert needs[f.id] == 0
        elif demand.get(f.part_id, 0) <= 0:
            assert needs[f.id] == f.uninstalled
    for part, q in demand.items():
        covered = sum((f.uninstalled - needs[f.id] for f in facts if f.part_id == part and not f.waived), D(0))
        assert covered <= max(D(q), D(0))


def test_transitions() -> None:
    open_req = [RequirementFacts(1, 10, D(2), D(1)), RequirementFacts(2, 11, D(1), D(0), waived=True)]
    with pytest.raises(BadInput) as caught:
        check_transition(RunStatus.IN_PROGRESS, RunStatus.COMPLETED, open_req, unit_has_location=False)
    assert {p.field for p in caught.value.details} == {"status", "locationId"}
    done = [RequirementFacts(1, 10, D(2), D(2)), RequirementFacts(2, 11, D(1), D(0), waived=True)]
    check_transition(RunStatus.IN_PROGRESS, RunStatus.COMPLETED, done, unit_has_location=True)
    check_transition(RunStatus.TODO, RunStatus.CANCELED, open_req, unit_has_location=False)
    with pytest.raises(BadInput):
        check_transition(RunStatus.COMPLETED, RunStatus.IN_PROGRESS, done, unit_has_location=True)
    assert check_waive(True, " scrap ") == "scrap" and check_waive(False, "x") is None
    with pytest.raises(BadInput):
        check_waive(True, None)


# --------------------------------------------------------------------------- install


def target(run_status: RunStatus = RunStatus.IN_PROGRESS, required: str = "10", installed: str = "0") -> InstallTarget:
    return InstallTarget(RequirementFacts(7, 10, D(required), D(installed)), 1, run_status, 99, 5, "BOLT")


def record(status: S = S.KITTED, quantity: str = "4", part: int = 10, run: int | None = 1,
           tracking: T = T.LOT) -> InstallRecord:
    return InstallRecord(3, part, "BOLT" if part == 10 else "MOTOR", tracking, D(quantity), status, 2,
                         held_by_run_id=run if status is S.KITTED else None, held_by_kit_id=8)


def test_install_whole_and_partial() -> None:
    whole = plan_install(record(), target(), None, allow_stock=False)
    assert (whole.kind, whole.quantity, whole.location_id, whole.keeps_kit_link) == (PlanKind.MOVE_WHOLE, 4, 5, True)
    part = plan_install(record(), target(), D("1.5"), allow_stock=False)
    assert (part.kind, part.quantity, part.origin_keeps) == (PlanKind.SPLIT, D("1.5"), D("2.5"))
    capped = plan_install(record(quantity="30"), target(installed="7"), None, allow_stock=False)
    assert capped.quantity == 3  # what the requirement still needs


@pytest.mark.parametrize(("rec", "tgt", "quantity", "allow", "fields"), [
    (record(status=S.INSTALLED), target(), None, False, {"partInventoryId"}),
    (record(), target(installed="9"), D(2), False, {"quantity"}),
    (record(part=11), target(), None, False, {"partInventoryId"}),
    (record(), target(RunStatus.COMPLETED), None, False, {"buildRequirementId"}),
    (record(run=2), target(), None, False, {"partInventoryId"}),
    (record(run=None), target(), None, False, {"partInventoryId"}),
    (record(status=S.AVAILABLE), target(), None, False, {"partInventoryId"}),
    (record(tracking=T.SERIAL, quantity="1"), target(), D("0.5"), False, {"quantity"}),
    (record(), target(), D(5), False, {"quantity"}),
    (record(status=S.WIP), target(), None, True, {"partInventoryId"}),
])
def test_install_refusals_name_the_field(
    rec: InstallRecord, tgt: InstallTarget, quantity: Decimal | None, allow: bool, fields: set[str]
) -> None:
    with pytest.raises(BadInput) as caught:
        plan_install(rec, tgt, quantity, allow_stock=allow)
    named = {p.field for p in caught.value.details} | {caught.value.field}
    assert fields <= named


def test_install_from_stock_with_the_setting() -> None:
    plan = plan_install(record(status=S.AVAILABLE), target(), D(2), allow_stock=True)
    assert plan.keeps_kit_link is False and plan.kind is PlanKind.SPLIT
