"""Retail order rules (docs/retail-orders.md): allocation in whole kits per site, event checks
in whole-kit ratios, return resolution. Examples from the retail rules plus properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitwright.domain.errors import BadInput, Conflict, KitwrightError
from kitwright.domain.orders import (
    Candidate,
    EventFact,
    GroupState,
    LineDemand,
    OrderEventType,
    ReturnVerificationPolicy,
    check_group,
    complete_kits,
    draw,
    fifo_key,
    kits_at,
    plan_allocation,
    plan_return_receipt,
    release_number,
    resolve_return,
    returned_units,
    whole_kits,
)

D = Decimal
T, C = 1, 2  # table, chair
DINING = ((T, D(1)), (C, D(4)))
RATIOS = {T: D(1), C: D(4)}


def dining(line_id: int, kits: int) -> LineDemand:
    return LineDemand(line_id, kits, DINING)


# -- allocation --------------------------------------------------------------------------


def test_default_allocates_the_whole_line_from_one_site_or_nothing() -> None:
    pool = {(10, T): D(2), (10, C): D(8), (20, T): D(2), (20, C): D(8)}
    assert plan_allocation([dining(1, 3)], pool, enable_kits=False) == []
    plan = plan_allocation([dining(1, 2)], pool, enable_kits=False)
    assert [(a.site_id, a.kits) for a in plan] == [(10, 2)]


def test_enable_kits_splits_whole_kits_across_sites_and_backorders_the_rest() -> None:
    pool = {(10, T): D(2), (10, C): D(9), (20, T): D(5), (20, C): D(4)}
    plan = plan_allocation([dining(1, 5)], pool, enable_kits=True)
    # site 10 makes 2 kits, site 20 makes 1: 3 kits, each from one site; 2 stay backordered.
    assert sorted((a.site_id, a.kits) for a in plan) == [(10, 2), (20, 1)]


def test_components_at_different_sites_never_make_a_kit() -> None:
    pool = {(10, T): D(5), (20, C): D(20)}
    assert plan_allocation([dining(1, 1)], pool, enable_kits=True) == []


def test_lines_sharing_a_component_are_served_in_line_order_from_one_pool() -> None:
    chair_line = LineDemand(2, 3, ((C, D(1)),))
    pool = {(10, T): D(1), (10, C): D(6)}
    plan = plan_allocation([dining(1, 1), chair_line], pool, enable_kits=False)
    # the kit takes 4 chairs first; 2 are left, so the 3-chair line is backordered whole
    assert [(a.line_id, a.kits) for a in plan] == [(1, 1)]
    plan = plan_allocation([chair_line, dining(1, 1)], pool, enable_kits=False)
    assert [(a.line_id, a.kits) for a in plan] == [(2, 3)]


def test_draw_takes_oldest_first_and_serials_whole() -> None:
    candidates = [Candidate(1, D(3)), Candidate(2, D(1), serial=True), Candidate(3, D(10))]
    assert draw(D(5), candidates, {}) == [(1, D(3)), (2, D(1)), (3, D(1))]
    assert draw(D(5), candidates, {1: D(3)}) == [(2, D(1)), (3, D(4))]
    assert draw(D(50), candidates, {}) == []


def test_fifo_key_orders_candidates_oldest_first_then_by_id() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    candidates = [Candidate(5, D(1), created_at=t0 + timedelta(days=2)),
                  Candidate(9, D(1), created_at=t0), Candidate(3, D(1), created_at=t0)]
    assert [c.record_id for c in sorted(candidates, key=fifo_key)] == [3, 9, 5]
    assert draw(D(2), sorted(candidates, key=fifo_key), {}) == [(3, D(1)), (9, D(1))]


pools = st.dictionaries(
    st.tuples(st.integers(1, 4), st.integers(1, 4)), st.integers(0, 30).map(Decimal), max_size=16
)
lines = st.lists(
    st.tuples(
        st.integers(1, 6),
        st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4).map(Decimal)), min_size=1, max_size=3,
                 unique_by=lambda c: c[0]),
    ),
    min_size=1, max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(pools, lines, st.booleans())
def test_allocation_never_oversells_and_keeps_each_kit_at_one_site(
    pool: dict[tuple[int, int], Decimal], raw: list[tuple[int, list[tuple[int, Decimal]]]], enable_kits: bool
) -> None:
    demands = [LineDemand(i, kits, tuple(comps)) for i, (kits, comps) in enumerate(raw)]
    plan = plan_allocation(demands, pool, enable_kits=enable_kits)
    used: dict[tuple[int, int], Decimal] = {}
    per_line: dict[int, int] = {}
    for allocation in plan:
        demand = demands[allocation.line_id]
        assert allocation.kits >= 1
        for part, ratio in demand.components:
            key = (allocation.site_id, part)
            used[key] = used.get(key, D(0)) + ratio * allocation.kits
        per_line[allocation.line_id] = per_line.get(allocation.line_id, 0) + allocation.kits
    for key, quantity in used.items():
        assert quantity <= pool.get(key, D(0)), f"oversold {key}"
    for line_id, kits in per_line.items():
        assert kits <= demands[line_id].kits
        if not enable_kits:
            assert kits == demands[line_id].kits
            assert len([a for a in plan if a.line_id == line_id]) == 1


@settings(max_examples=200, deadline=None)
@given(pools, st.integers(1, 4))
def test_kits_at_is_the_floor_of_the_scarcest_component(pool: dict[tuple[int, int], Decimal], site: int) -> None:
    kits = kits_at(pool, site, DINING)
    assert pool.get((site, T), D(0)) >= kits and pool.get((site, C), D(0)) >= 4 * kits
    assert pool.get((site, T), D(0)) < kits + 1 or pool.get((site, C), D(0)) < 4 * (kits + 1)


# -- events ------------------------------------------------------------------------------


def ev(kind: OrderEventType, part: int, quantity: int | str, package: str | None = None,
       reason: str | None = None, cancel: bool = False) -> EventFact:
    return EventFact(0, kind, part, D(quantity), package, reason, cancel)


def three_released() -> GroupState:
    return GroupState(released=3)


def test_short_one_kit_is_processed_with_partial_support() -> None:
    result, reason = check_group(OrderEventType.SHORT, [ev(OrderEventType.SHORT, T, 1, reason="R"),
                                                        ev(OrderEventType.SHORT, C, 4, reason="R")],
                                 RATIOS, three_released(), partial_supported=True)
    assert reason is None and result is not None and result.kits == 1


def test_short_one_table_eight_chairs_is_refused() -> None:
    result, reason = check_group(OrderEventType.SHORT, [ev(OrderEventType.SHORT, T, 1, reason="R"),
                                                        ev(OrderEventType.SHORT, C, 8, reason="R")],
                                 RATIOS, three_released(), partial_supported=True)
    assert result is None and reason and "ratio" in reason


def test_short_needs_one_reason() -> None:
    result, reason = check_group(OrderEventType.SHORT, [ev(OrderEventType.SHORT, T, 1, reason="A"),
                                                        ev(OrderEventType.SHORT, C, 4, reason="B")],
                                 RATIOS, three_released(), partial_supported=True)
    assert result is None and reason and "short reason" in reason


def test_ship_two_packages_of_one_kit_each_is_two_kits_two_invoices() -> None:
    S = OrderEventType.SHIP
    result, _ = check_group(S, [ev(S, T, 1, "P1"), ev(S, T, 1, "P2"), ev(S, C, 4, "P1"), ev(S, C, 4, "P2")],
                            RATIOS, three_released(), partial_supported=True)
    assert result is not None and result.kits == 2 and result.packages == {"P1": 1, "P2": 1}


def test_ship_tables_and_chairs_in_different_packages_is_refused() -> None:
    S = OrderEventType.SHIP
    result, reason = check_group(S, [ev(S, T, 2, "P1"), ev(S, C, 8, "P2")], RATIOS, three_released(),
                                 partial_supported=True)
    assert result is None and reason and "package" in reason


def test_without_partial_support_the_whole_open_quantity_or_cancel_unfulfilled() -> None:
    S = OrderEventType.SHIP
    events = [ev(S, T, 1, "P1"), ev(S, C, 4, "P1")]
    result, reason = check_group(S, events, RATIOS, three_released(), partial_supported=False)
    assert result is None and reason and "partial" in reason
    events = [ev(S, T, 1, "P1", cancel=True), ev(S, C, 4, "P1", cancel=True)]
    result, _ = check_group(S, events, RATIOS, three_released(), partial_supported=False)
    assert result is not None and result.kits == 1 and result.cancel == 2


def test_more_kits_than_open_is_refused_and_pick_ignores_packages() -> None:
    P = OrderEventType.PICK
    result, reason = check_group(P, [ev(P, T, 4), ev(P, C, 16)], RATIOS, three_released(), partial_supported=True)
    assert result is None and reason and "exceed" in reason
    result, _ = check_group(P, [ev(P, T, 1, "X"), ev(P, C, 4, "Y")], RATIOS, three_released(),
                            partial_supported=True)
    assert result is not None and result.packages == {}


def test_half_units_are_never_whole_kits() -> None:
    ratios = {1: D(2), 2: D(1), 3: D(1)}
    assert whole_kits({1: D(2), 2: D(1), 3: D("0.5")}, ratios)[0] is None
    assert whole_kits({1: D(2), 2: D(1), 3: D(1)}, ratios)[0] == 1


def test_stages_move_most_advanced_first() -> None:
    state = GroupState(released=3)
    state.take(OrderEventType.PICK, 2)
    assert (state.released, state.picked) == (1, 2)
    assert state.open_for(OrderEventType.PICK) == 1
    assert state.open_for(OrderEventType.PACK) == 3
    state.take(OrderEventType.SHIP, 2)
    assert (state.released, state.picked) == (1, 0)


# Every stage of GroupState, every event type and the cancel flag vary.
states = st.builds(GroupState, released=st.integers(0, 3), in_progress=st.integers(0, 3), picked=st.integers(0, 3),
                   packed=st.integers(0, 3))


@settings(max_examples=300, deadline=None)
@given(states, st.sampled_from(list(OrderEventType)), st.integers(0, 30), st.integers(0, 30), st.booleans(),
       st.booleans())
def test_a_passing_check_always_means_whole_kits(state: GroupState, kind: OrderEventType, tables: int, chairs: int,
                                                 partial: bool, cancel: bool) -> None:
    events = [ev(kind, part, quantity, "P", "R1", cancel) for part, quantity in ((T, tables), (C, chairs)) if quantity]
    result, _ = check_group(kind, events, RATIOS, state, partial_supported=partial)
    if result is not None:
        open_kits = state.open_for(kind)
        assert tables == result.kits and chairs == 4 * result.kits and 1 <= result.kits <= open_kits
        assert result.event_type is kind
        packed = kind in (OrderEventType.PACK, OrderEventType.SHIP)
        assert result.packages == ({"P": result.kits} if packed else {})
        assert result.short_reason_id == ("R1" if kind is OrderEventType.SHORT else None)
        if partial or result.kits == open_kits:
            assert result.cancel == 0
        else:  # only a SHIP may cancel what it leaves, and only when asked
            assert kind is OrderEventType.SHIP and cancel and result.cancel == state.open - result.kits


# -- returns -----------------------------------------------------------------------------


def test_three_tables_eight_chairs_resolve_to_two_kits_one_canceled() -> None:
    verified = {T: D(3), C: D(8)}
    assert complete_kits(verified, RATIOS, 3) == 2
    resolution = resolve_return(3, 0, verified, RATIOS, ReturnVerificationPolicy.RETURN_ORDER)
    assert (resolution.invoiced, resolution.canceled, resolution.stays_open) == (2, 1, False)


def test_return_line_policy_keeps_the_rest_open() -> None:
    resolution = resolve_return(3, 0, {T: D(3), C: D(8)}, RATIOS, ReturnVerificationPolicy.RETURN_LINE)
    assert (resolution.invoiced, resolution.canceled, resolution.stays_open) == (2, 0, True)
    resolution = resolve_return(3, 2, {T: D(3), C: D(12)}, RATIOS, ReturnVerificationPolicy.RETURN_LINE)
    assert (resolution.invoiced, resolution.canceled, resolution.stays_open) == (1, 0, False)


def test_no_complete_kit_cancels_the_line_under_return_order() -> None:
    resolution = resolve_return(1, 0, {T: D(1), C: D(3)}, RATIOS, ReturnVerificationPolicy.RETURN_ORDER)
    assert (resolution.invoiced, resolution.canceled) == (0, 1)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6), st.integers(0, 10), st.integers(0, 40))
def test_resolution_invoices_plus_cancels_the_line(quantity: int, tables: int, chairs: int) -> None:
    resolution = resolve_return(quantity, 0, {T: D(tables), C: D(chairs)}, RATIOS,
                                ReturnVerificationPolicy.RETURN_ORDER)
    assert resolution.invoiced + resolution.canceled == quantity
    assert resolution.invoiced == min(quantity, tables, chairs // 4)


# -- receiving returns back: never more than came back ----------------------------------

KIT = 9  # the dining set's own part


def test_kit_level_receives_every_component_of_the_returned_kits_once() -> None:
    assert plan_return_receipt(2, RATIOS, {}, KIT, D(2), kit_part_id=KIT) == {T: D(2), C: D(8)}
    with pytest.raises(Conflict) as again:
        plan_return_receipt(2, RATIOS, {T: D(2), C: D(8)}, KIT, D(2), kit_part_id=KIT)
    assert again.value.field == "returnLineId"


def test_a_good_kit_level_verification_after_a_damaged_one_is_refused() -> None:
    # The condition is not part of the rule: what came back was received, whatever its state.
    with pytest.raises(Conflict):
        plan_return_receipt(2, RATIOS, {T: D(2), C: D(8)}, KIT, D(2), kit_part_id=KIT)


def test_kit_level_after_components_were_received_is_refused() -> None:
    # Settings changed between two verifications: a component already came back.
    with pytest.raises(Conflict) as refused:
        plan_return_receipt(2, RATIOS, {T: D(1)}, KIT, D(2), kit_part_id=KIT)
    assert refused.value.field == "returnLineId"


def test_kit_level_names_the_part_and_the_quantity() -> None:
    with pytest.raises(BadInput) as wrong_part:
        plan_return_receipt(2, RATIOS, {}, T, D(2), kit_part_id=KIT)
    assert wrong_part.value.field == "partId"
    with pytest.raises(BadInput) as wrong_quantity:
        plan_return_receipt(2, RATIOS, {}, KIT, D(1), kit_part_id=KIT)
    assert wrong_quantity.value.field == "quantity"


def test_components_are_received_up_to_what_came_back() -> None:
    assert plan_return_receipt(3, RATIOS, {C: D(8)}, C, D(4)) == {C: D(4)}
    with pytest.raises(Conflict) as over:
        plan_return_receipt(3, RATIOS, {C: D(8)}, C, D(5))
    assert over.value.field == "quantity" and "only 4" in over.value.message
    with pytest.raises(BadInput) as never:
        plan_return_receipt(3, RATIOS, {}, T, D(4))
    assert never.value.field == "quantity" and not isinstance(never.value, Conflict)
    with pytest.raises(Conflict):
        plan_return_receipt(3, RATIOS, {T: D(3)}, T, D("0.5"))


def test_an_unexpected_line_is_received_once() -> None:
    lamp = 7
    assert returned_units(1, {lamp: D(1)}) == {lamp: D(1)}
    with pytest.raises(Conflict):
        plan_return_receipt(1, {lamp: D(1)}, {lamp: D(1)}, lamp, D(1))


verification = st.tuples(
    st.booleans(),  # kit level?
    st.sampled_from([T, C, KIT]),
    st.decimals(min_value=D("0.5"), max_value=D(20), places=1),
)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 5), st.lists(verification, max_size=12))
def test_received_back_never_exceeds_returned(returned: int, attempts: list[tuple[bool, int, Decimal]]) -> None:
    """Any sequence of verifications, kit or component level, right or wrong: what the line
    receives never exceeds ratio x returned kits per component, a refused one receives
    nothing, and a kit-level receipt happens at most once."""
    came_back = returned_units(returned, RATIOS)
    verified: dict[int, Decimal] = {}
    kit_receipts = 0
    for kit_level, part, quantity in attempts:
        before = dict(verified)
        try:
            receipt = plan_return_receipt(returned, RATIOS, verified, part, quantity,
                                          kit_part_id=KIT if kit_level else None)
        except KitwrightError as error:
            assert error.field in ("returnLineId", "partId", "quantity")
            assert verified == before
            continue
        assert all(units > 0 for units in receipt.values())
        for component, units in receipt.items():
            verified[component] = verified.get(component, D(0)) + units
        if kit_level:
            kit_receipts += 1
            assert before == {} and verified == came_back
        for component, units in verified.items():
            assert units <= came_back[component], (component, units, came_back)
    assert kit_receipts <= 1


# -- release numbers ---------------------------------------------------------------------


def test_a_release_number_is_the_order_number_a_hyphen_and_the_sequence() -> None:
    assert release_number("08May_ORD04", 1) == "08May_ORD04-1"
    assert release_number("Q", 11) != release_number("Q1", 1)
    with pytest.raises(ValueError):
        release_number("Q", 0)


order_numbers = st.text(alphabet="Q1-_x09", min_size=1, max_size=8)


@settings(max_examples=500, deadline=None)
@given(order_numbers, st.integers(1, 200), order_numbers, st.integers(1, 200))
def test_two_releases_share_a_number_only_if_they_are_the_same(a: str, n: int, b: str, m: int) -> None:
    assert (release_number(a, n) == release_number(b, m)) == ((a, n) == (b, m))
    order, _, sequence = release_number(a, n).rpartition("-")
    assert (order, int(sequence)) == (a, n)
