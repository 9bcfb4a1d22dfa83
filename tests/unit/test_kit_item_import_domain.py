"""The Kit Items importer's rules (domain.kit_item_import) on generated files: every row is
either one change or named in a problem, never both; at most one change per kit and part; the
latest revision fills a blank; quantities follow createPartKitItem's rule."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain.errors import Problems
from kitwright.domain.kit_item_import import (
    ExistingItem,
    KitItemRow,
    PartFacts,
    parse_row,
    plan_kit_item_import,
)
from kitwright.domain.tracking import TrackingType

PARTS = {
    "BOLT": [PartFacts(1, "BOLT", "A", TrackingType.UNTRACKED), PartFacts(2, "BOLT", "B", TrackingType.UNTRACKED)],
    "MOTOR": [PartFacts(3, "MOTOR", "", TrackingType.SERIAL)],
}
KITS = {10, 11}
EXISTING = {(10, 2): [ExistingItem(100, 10, 2, Decimal(5), Decimal(3))]}

rows = st.lists(st.builds(
    KitItemRow,
    row=st.integers(min_value=2, max_value=10**6),
    kit_id=st.sampled_from([10, 11, 12]),
    part_number=st.sampled_from(["BOLT", "MOTOR", "NOPE"]),
    revision=st.sampled_from([None, "A", "B", "Z", ""]),
    quantity=st.decimals(min_value=-3, max_value=9, places=1, allow_nan=False),
), max_size=30, unique_by=lambda r: r.row)


@given(rows)
def test_every_row_is_a_change_or_a_problem(generated: list[KitItemRow]) -> None:
    problems = Problems()
    changes = plan_kit_item_import(generated, PARTS, KITS, EXISTING, problems)
    changed_rows = {c.row for c in changes}
    problem_rows = {p.row for p in problems.items}
    assert changed_rows | problem_rows == {r.row for r in generated}
    assert not changed_rows & problem_rows
    keys = [(c.kit_id, c.part_id) for c in changes]
    assert len(keys) == len(set(keys))
    for change in changes:
        assert change.quantity > 0 and change.quantity >= change.kitted
        assert change.created == ((change.kit_id, change.part_id) not in EXISTING)
        if change.part_id == 3:
            assert change.quantity == change.quantity.to_integral_value()
    by_row = {r.row: r for r in generated}
    for change in changes:
        if by_row[change.row].part_number == "BOLT" and not by_row[change.row].revision:
            assert change.part_id == 2  # the latest revision


def test_parse_row_names_each_bad_cell() -> None:
    problems = Problems()
    assert parse_row(7, {"kit_id": "1.5", "part_number": None, "quantity": "x", "revision": "r" * 51}, problems) is None
    assert sorted(p.column or "" for p in problems.items) == ["kit_id", "part_number", "quantity", "revision"]
    assert all(p.row == 7 for p in problems.items)
    ok = parse_row(2, {"kit_id": 3.0, "part_number": 12.0, "quantity": 2, "revision": None}, Problems())
    assert ok == KitItemRow(2, 3, "12", None, Decimal(2))
