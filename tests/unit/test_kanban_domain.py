"""The kanban cycle's rules, pure (kitwright.domain.kanban; docs/kanban.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain.errors import BadInput
from kitwright.domain.kanban import (
    Consumption,
    HeldRecord,
    KanbanStatus,
    LineLevel,
    PatternInput,
    PatternLine,
    RefillCandidate,
    check_deliver,
    check_fill,
    check_level,
    check_pattern,
    fill_targets,
    plan_empty,
    plan_replenishment,
    status_after_fill,
)
from kitwright.domain.tracking import TrackingType

D = Decimal
LOT, SERIAL = TrackingType.LOT, TrackingType.SERIAL
T0 = datetime(2026, 1, 1, tzinfo=UTC)
EMPTY, FILLED, AT_LINE, EMPTIED = (KanbanStatus.EMPTY, KanbanStatus.FILLED, KanbanStatus.AT_LINE,
                                   KanbanStatus.EMPTIED)


# --------------------------------------------------------------------------- pattern


def test_a_pattern_with_no_parts_is_refused_naming_the_field() -> None:
    with pytest.raises(BadInput) as refused:
        check_pattern([])
    assert refused.value.field == "pattern"


def test_every_bad_pattern_line_is_reported_at_once() -> None:
    with pytest.raises(BadInput) as refused:
        check_pattern([
            PatternInput(1, D(0), LOT), PatternInput(2, D(1), None), PatternInput(1, D(2), LOT),
            PatternInput(3, D("1.5"), SERIAL),
        ])
    assert {p.field for p in refused.value.details} == {
        "pattern[0].quantity", "pattern[1].partId", "pattern[2].partId", "pattern[3].quantity",
    }


def test_a_good_pattern_is_normalised() -> None:
    assert check_pattern([PatternInput(1, D("2.500"), LOT), PatternInput(2, D(3), SERIAL)]) == (
        PatternLine(1, D("2.5")), PatternLine(2, D(3)),
    )


# --------------------------------------------------------------------------- cycle


@pytest.mark.parametrize("status", [EMPTY, EMPTIED, FILLED])
def test_fill_is_allowed_from_empty_emptied_and_filled(status: KanbanStatus) -> None:
    check_fill(status)
    assert status_after_fill(status, D(1)) is FILLED
    assert status_after_fill(status, D(0)) is status  # nothing found: unchanged


def test_a_kit_at_the_line_cannot_be_refilled() -> None:
    with pytest.raises(BadInput) as refused:
        check_fill(AT_LINE)
    assert refused.value.field == "id"


def test_only_a_filled_kit_holding_something_is_delivered() -> None:
    assert check_deliver(FILLED, D(1)) is AT_LINE
    for status in (EMPTY, AT_LINE, EMPTIED):
        with pytest.raises(BadInput):
            check_deliver(status, D(1))
    with pytest.raises(BadInput, match="holds nothing"):
        check_deliver(FILLED, D(0))


def test_fill_targets_follow_the_pattern_capped_by_wanted_never_below_held() -> None:
    pattern = [PatternLine(1, D(10)), PatternLine(2, D(4))]
    assert fill_targets(pattern, {}) == {1: D(10), 2: D(4)}
    assert fill_targets(pattern, {1: D(3)}, {1: D(6)}) == {1: D(6), 2: D(0)}
    assert fill_targets(pattern, {1: D(8)}, {1: D(6), 2: D(20)}) == {1: D(8), 2: D(4)}


def held(*records: tuple[int, int, TrackingType, str, int]) -> list[HeldRecord]:
    return [HeldRecord(rid, part, tracking, D(q), T0 + timedelta(days=age))
            for rid, part, tracking, q, age in records]


def test_empty_consumes_oldest_first_and_returns_the_rest() -> None:
    plan = plan_empty(AT_LINE, held((10, 1, LOT, "3", 2), (11, 1, LOT, "4", 1), (20, 2, SERIAL, "1", 5),
                                    (21, 2, SERIAL, "1", 3)),
                      [Consumption(1, D(5)), Consumption(2, D(1))])
    outcomes = {o.record_id: (o.consumed, o.returned) for o in plan.records}
    assert outcomes == {11: (D(4), D(0)), 10: (D(1), D(2)), 21: (D(1), D(0)), 20: (D(0), D(1))}
    assert plan.consumed_by_part == {1: D(5), 2: D(1)}
    assert plan.returned_by_part == {1: D(2), 2: D(1)}


def test_parts_not_listed_consumed_nothing() -> None:
    plan = plan_empty(AT_LINE, held((1, 1, LOT, "2", 0)), [])
    assert plan.consumed_by_part == {1: D(0)} and plan.returned_by_part == {1: D(2)}


@pytest.mark.parametrize(("consumption", "field"), [
    ([Consumption(1, D(3))], "consumption[0].quantity"),  # more than held
    ([Consumption(9, D(1))], "consumption[0].partId"),  # not held
    ([Consumption(1, D(-1))], "consumption[0].quantity"),
    ([Consumption(1, D(1)), Consumption(1, D(1))], "consumption[1].partId"),
    ([Consumption(2, D("0.5"))], "consumption[0].quantity"),  # half a serial
])
def test_bad_consumption_is_refused_naming_the_row(consumption: list[Consumption], field: str) -> None:
    with pytest.raises(BadInput) as refused:
        plan_empty(AT_LINE, held((1, 1, LOT, "2", 0), (2, 2, SERIAL, "1", 0)), consumption)
    assert refused.value.field == field


def test_a_kit_that_never_reached_the_line_consumes_nothing() -> None:
    plan = plan_empty(FILLED, held((1, 1, LOT, "2", 0)), [Consumption(1, D(0))])
    assert plan.returned_by_part == {1: D(2)}
    with pytest.raises(BadInput) as refused:
        plan_empty(FILLED, held((1, 1, LOT, "2", 0)), [Consumption(1, D(1))])
    assert refused.value.field == "consumption[0].quantity"
    for status in (EMPTY, EMPTIED):
        with pytest.raises(BadInput) as refused:
            plan_empty(status, [], [])
        assert refused.value.field == "id"


@st.composite
def held_records(draw: st.DrawFn) -> list[HeldRecord]:
    """Every field of HeldRecord varies: two parts, each of any tracking type (serials hold one
    unit), quantities and ages in any order."""
    tracking = {part: draw(st.sampled_from(list(TrackingType))) for part in (1, 2)}
    records = []
    for i in range(draw(st.integers(1, 6))):
        part = draw(st.sampled_from([1, 2]))
        quantity = D(1) if tracking[part] is SERIAL else draw(st.decimals(min_value=0, max_value=50, places=2))
        records.append(HeldRecord(i, part, tracking[part], quantity, T0 + timedelta(hours=draw(st.integers(0, 4)))))
    return records


@given(records=held_records(), fractions=st.tuples(st.decimals(min_value=0, max_value=1, places=2),
                                                   st.decimals(min_value=0, max_value=1, places=2)),
       at_line=st.booleans())
def test_emptying_conserves_every_record(records: list[HeldRecord], fractions: tuple[Decimal, Decimal],
                                         at_line: bool) -> None:
    consume: dict[int, Decimal] = {}
    for part, fraction in zip((1, 2), fractions, strict=True):
        mine = [r for r in records if r.part_id == part]
        if mine and at_line:  # a FILLED kit never reached the line: it consumes nothing
            whole = mine[0].tracking is SERIAL
            total = sum((r.quantity for r in mine), D(0))
            consume[part] = (total * fraction).quantize(D(1) if whole else D("0.01"), rounding="ROUND_DOWN")
    plan = plan_empty(AT_LINE if at_line else FILLED, records, [Consumption(p, q) for p, q in consume.items()])
    by_id = {o.record_id: o for o in plan.records}
    assert sorted(by_id) == [r.record_id for r in records]
    for record in records:
        outcome = by_id[record.record_id]
        assert outcome.part_id == record.part_id
        assert outcome.consumed + outcome.returned == record.quantity
        assert outcome.consumed >= 0 and outcome.returned >= 0
        if record.tracking is SERIAL:
            assert outcome.consumed in (0, 1)
    for part in (1, 2):
        consumed = [by_id[r.record_id].consumed for r in records if r.part_id == part]
        assert sum(consumed, D(0)) == consume.get(part, D(0))
    # oldest first: nothing consumed from a record while an older one of its part returns stock
    for record in records:
        if by_id[record.record_id].consumed > 0:
            for older in records:
                if older.part_id == record.part_id and (older.created_at, older.record_id) < (
                        record.created_at, record.record_id):
                    assert by_id[older.record_id].returned == 0


# --------------------------------------------------------------------------- replenishment


def test_level_checks() -> None:
    check_level(D(0), D(1), "levels[0]")
    for low, high, field in ((D(-1), D(1), "levels[0].minQuantity"), (D(2), D(1), "levels[0].minQuantity"),
                             (D(0), D(0), "levels[0].maxQuantity")):
        with pytest.raises(BadInput) as refused:
            check_level(low, high, "levels[0]")
        assert refused.value.field == field
    check_level(D("0.5"), D("2.5"), "levels[0]", tracking=LOT)
    with pytest.raises(BadInput) as refused:
        check_level(D(1), D("2.5"), "levels[0]", tracking=SERIAL)
    assert refused.value.field == "levels[0].maxQuantity"


def test_replenishment_creates_one_kit_per_home_for_low_parts_only() -> None:
    levels = [LineLevel(1, D(2), D(10), 100), LineLevel(2, D(2), D(5), 100), LineLevel(3, D(1), D(3), 200)]
    plan = plan_replenishment(levels, {1: D(1), 2: D(3), 3: D(0)}, [])
    assert plan.refills == ()
    assert plan.new_kits == ((100, {1: D(9)}), (200, {3: D(3)}))
    assert plan.position_after == {1: D(10), 2: D(3), 3: D(3)}


def test_replenishment_refills_existing_kits_first_capped_at_the_maximum() -> None:
    levels = [LineLevel(1, D(4), D(10), 100)]
    candidates = [RefillCandidate(7, {1: D(6)}), RefillCandidate(8, {1: D(6)}), RefillCandidate(9, {1: D(6)})]
    plan = plan_replenishment(levels, {1: D(0)}, candidates)
    assert plan.refills == ((7, {1: D(6)}), (8, {1: D(4)}))
    assert plan.new_kits == ()


def test_a_kit_that_adds_nothing_to_a_low_part_is_left_alone() -> None:
    levels = [LineLevel(1, D(4), D(10), 100), LineLevel(2, D(1), D(3), 100)]
    plan = plan_replenishment(levels, {1: D(2), 2: D(3)}, [RefillCandidate(5, {2: D(2)})])
    assert plan.refills == ()
    assert plan.new_kits == ((100, {1: D(8)}),)


def test_nothing_is_done_when_every_part_is_at_or_above_its_minimum() -> None:
    plan = plan_replenishment([LineLevel(1, D(4), D(10), 100)], {1: D(4)}, [RefillCandidate(5, {1: D(6)})])
    assert plan.refills == () and plan.new_kits == ()


amounts = st.decimals(min_value=0, max_value=20, places=1)


@given(
    levels=st.lists(st.tuples(amounts, amounts), min_size=1, max_size=4),
    position=st.lists(amounts, min_size=4, max_size=4),
    rooms=st.lists(st.dictionaries(st.integers(0, 5), amounts, max_size=4), max_size=5),
)
def test_replenishment_never_exceeds_a_maximum_and_lifts_every_low_part(
    levels: list[tuple[Decimal, Decimal]], position: list[Decimal], rooms: list[dict[int, Decimal]],
) -> None:
    line = [LineLevel(part, min(a, b), max(a, b, D(1)), 100) for part, (a, b) in enumerate(levels)]
    now = {level.part_id: min(position[level.part_id], level.maximum) for level in line}
    plan = plan_replenishment(line, now, [RefillCandidate(i, room) for i, room in enumerate(rooms)])
    after = dict(now)
    for _kit, adds in plan.refills:
        assert adds and all(q > 0 for q in adds.values())
        for part, q in adds.items():
            after[part] = after.get(part, D(0)) + q
    for _home, pattern in plan.new_kits:
        for part, q in pattern.items():
            after[part] = after.get(part, D(0)) + q
    for level in line:
        assert after[level.part_id] <= level.maximum, (level, after)
        if now[level.part_id] < level.minimum:
            assert after[level.part_id] >= level.minimum
    assert {part: after[part] for part in plan.position_after} == plan.position_after
    # A refill is only made for a part that was low.
    low = {level.part_id for level in line if now[level.part_id] < level.minimum}
    assert all(low & adds.keys() for _kit, adds in plan.refills)
