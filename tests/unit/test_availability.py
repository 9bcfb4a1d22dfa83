"""Kit availability: every repaired example of retail-kits.md, then properties."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitwright.domain.availability import (
    DEFAULT_VIEW,
    Bucket,
    Figure,
    KitAvailability,
    PartSites,
    SiteFigure,
    SupplyLine,
    SupplyType,
    View,
    classify_supply,
    kit_availability,
    kit_site_curves,
    network_figure,
    part_sites_from_lines,
    site_kit_figure,
    site_supply_figure,
    whole_figure,
    whole_network,
)
from kitwright.domain.quantities import to_units

D = Decimal
AVAIL = SupplyType.ON_HAND_AVAILABLE
SOON = SupplyType.ON_HAND_AVAILABLE_SOON
UNAVAIL = SupplyType.ON_HAND_UNAVAILABLE
FUTURE = SupplyType.FUTURE

DINING_SET, TABLE, CHAIR = 100, 101, 102
DINING = [(TABLE, D(1)), (CHAIR, D(4))]
DC1, DC2 = 1, 2
APR_10 = dt.date(2025, 4, 10)


def day(month: int, d: int) -> dt.date:
    return dt.date(2025, month, d)


def line(
    site: int,
    part: int,
    quantity: int | str,
    supply_type: SupplyType = AVAIL,
    *,
    eta: dt.date | None = None,
    segment: str | None = None,
    **attributes: str,
) -> SupplyLine:
    return SupplyLine(site, part, supply_type, D(quantity), eta, segment, attributes)


def po(site: int, part: int, quantity: int, eta: dt.date) -> SupplyLine:
    return line(site, part, quantity, FUTURE, eta=eta)


def on_hand_at(sites: Sequence[SiteFigure], network: Figure, site: int | None) -> int:
    figure = network if site is None else next(s.figure for s in sites if s.site_id == site)
    return int(figure.on_hand)


def kits_tables_chairs(result: KitAvailability, site: int | None) -> tuple[int, int, int]:
    """(kits, tables, chairs) on hand at a site, or the network when site is None."""
    table, chair = result.components
    assert (table.part_id, chair.part_id) == (TABLE, CHAIR)
    return (
        on_hand_at(result.sites, result.network, site),
        on_hand_at(table.sites, table.network, site),
        on_hand_at(chair.sites, chair.network, site),
    )


def summary(figure: Figure) -> tuple[int, int, int, int | None, dt.date | None]:
    """total / on hand / future / first qty @ date, as the page writes them."""
    first = None if figure.first_future_quantity is None else int(figure.first_future_quantity)
    return (
        int(figure.total),
        int(figure.on_hand),
        int(figure.future),
        first,
        figure.first_future_date,
    )


# --- supply classification ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("on_order", "inventory_available", "available_soon", "expected"),
    [
        (True, True, False, FUTURE),
        (True, False, True, FUTURE),  # on order wins over the location
        (False, False, False, UNAVAIL),
        (False, False, True, UNAVAIL),  # an unavailable location is never "soon"
        (False, True, True, SOON),
        (False, True, False, AVAIL),
    ],
)
def test_classify_supply(
    on_order: bool, inventory_available: bool, available_soon: bool, expected: SupplyType
) -> None:
    assert (
        classify_supply(
            on_order=on_order,
            inventory_available=inventory_available,
            available_soon=available_soon,
        )
        is expected
    )


# --- the four repaired on-hand examples (kits / tables / chairs) -------------------------

AVAILABLE_ONLY = View(supply_types={AVAIL})

ON_HAND_EXAMPLES = {
    "two DCs": (
        [
            line(DC1, TABLE, 10), line(DC1, CHAIR, 16),
            line(DC2, TABLE, 1), line(DC2, CHAIR, 100),
        ],
        AVAILABLE_ONLY,
        (4, 10, 16), (1, 1, 100), (5, 11, 116),
    ),
    "supply types": (
        [
            line(DC1, TABLE, 10, AVAIL), line(DC1, TABLE, 10, SOON),
            line(DC1, TABLE, 10, UNAVAIL),
            line(DC1, CHAIR, 18, AVAIL), line(DC1, CHAIR, 10, SOON),
            line(DC1, CHAIR, 100, UNAVAIL),
            line(DC2, TABLE, 1, AVAIL), line(DC2, TABLE, 1, SOON), line(DC2, TABLE, 1, UNAVAIL),
            line(DC2, CHAIR, 100, AVAIL), line(DC2, CHAIR, 100, SOON),
            line(DC2, CHAIR, 100, UNAVAIL),
        ],
        View(supply_types={AVAIL, SOON}),
        (7, 20, 28), (2, 2, 200), (9, 22, 228),
    ),
    "segments": (
        [
            line(DC1, TABLE, 10, segment="ecom"), line(DC1, CHAIR, 16, segment="retail"),
            line(DC2, TABLE, 1, segment="ecom"), line(DC2, TABLE, 1, segment="retail"),
            line(DC2, CHAIR, 100, segment="ecom"),
        ],
        View(supply_types={AVAIL}, segments={"ecom", "retail"}),
        (4, 10, 16), (2, 2, 100), (6, 12, 116),
    ),
    "attributes": (
        [
            line(DC1, TABLE, 10, attr1="A"), line(DC1, TABLE, 10, attr1="D"),
            line(DC1, CHAIR, 16, attr1="B"), line(DC1, CHAIR, 8, attr1="C"),
            line(DC2, TABLE, 1, attr1="A"), line(DC2, TABLE, 1, attr1="B"),
            line(DC2, CHAIR, 100, attr1="D"),
        ],
        View(
            supply_types={AVAIL},
            attribute_filters={TABLE: {"attr1": {"A", "B"}}, CHAIR: {"attr1": {"C"}}},
        ),
        (2, 10, 8), (0, 2, 0), (2, 12, 8),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(ON_HAND_EXAMPLES))
def test_repaired_on_hand_example(name: str) -> None:
    lines, view, dc1, dc2, network = ON_HAND_EXAMPLES[name]
    result = kit_availability(DINING_SET, DINING, lines, as_of=APR_10, view=view)
    assert result.is_kit
    assert [s.site_id for s in result.sites] == [DC1, DC2]
    assert kits_tables_chairs(result, DC1) == dc1
    assert kits_tables_chairs(result, DC2) == dc2
    assert kits_tables_chairs(result, None) == network
    # No future supply in these examples: total is on hand, and nothing is in the future.
    assert result.network.total == result.network.on_hand
    assert result.network.future == 0
    assert result.network.first_future_date is None


def test_only_ecom_segment_leaves_dc1_without_chairs() -> None:
    lines, _, _, _, _ = ON_HAND_EXAMPLES["segments"]
    result = kit_availability(
        DINING_SET, DINING, lines, as_of=APR_10, view=View(segments={"ecom"})
    )
    assert kits_tables_chairs(result, DC1) == (0, 10, 0)
    assert kits_tables_chairs(result, DC2) == (1, 1, 100)


def test_components_at_different_sites_never_combine() -> None:
    lines = [line(DC1, TABLE, 10), line(DC2, CHAIR, 40)]
    result = kit_availability(DINING_SET, DINING, lines, as_of=APR_10)
    assert kits_tables_chairs(result, None) == (0, 10, 40)


def test_missing_component_gives_zero_kits() -> None:
    result = kit_availability(DINING_SET, DINING, [line(DC1, TABLE, 10)], as_of=APR_10)
    assert kits_tables_chairs(result, DC1) == (0, 10, 0)


# --- the repaired future examples at DC1 (total / on hand / future / first qty @ date) ---

FUTURE_EXAMPLES = {
    # T: PO 6 @25 Apr, C: PO 20 @1 May.
    "POs only, 10 Apr": (
        APR_10, [po(DC1, TABLE, 6, day(4, 25)), po(DC1, CHAIR, 20, day(5, 1))],
        (5, 0, 5, 5, day(5, 1)),
    ),
    "POs only, table PO received 25 Apr": (
        day(4, 26), [line(DC1, TABLE, 6), po(DC1, CHAIR, 20, day(5, 1))],
        (5, 0, 5, 5, day(5, 1)),
    ),
    "POs only, both received 1 May": (
        day(5, 2), [line(DC1, TABLE, 6), line(DC1, CHAIR, 20)],
        (5, 5, 0, None, None),
    ),
    # T: 5 on hand + PO 6 @25 Apr, C: 11 on hand + PO 22 @1 May.
    "on hand + POs, 10 Apr": (
        APR_10,
        [
            line(DC1, TABLE, 5), po(DC1, TABLE, 6, day(4, 25)),
            line(DC1, CHAIR, 11), po(DC1, CHAIR, 22, day(5, 1)),
        ],
        (8, 2, 6, 6, day(5, 1)),
    ),
    "on hand + POs, table PO received 25 Apr": (
        day(4, 26),
        [line(DC1, TABLE, 11), line(DC1, CHAIR, 11), po(DC1, CHAIR, 22, day(5, 1))],
        (8, 2, 6, 6, day(5, 1)),
    ),
    "on hand + POs, both received 1 May": (
        day(5, 2), [line(DC1, TABLE, 11), line(DC1, CHAIR, 33)],
        (8, 8, 0, None, None),
    ),
    # Add T PO 3 @27 Apr and C PO 10 @10 May.
    "multiple POs, 10 Apr": (
        APR_10,
        [
            line(DC1, TABLE, 5), po(DC1, TABLE, 6, day(4, 25)), po(DC1, TABLE, 3, day(4, 27)),
            line(DC1, CHAIR, 11), po(DC1, CHAIR, 22, day(5, 1)), po(DC1, CHAIR, 10, day(5, 10)),
        ],
        (10, 2, 8, 6, day(5, 1)),
    ),
    "multiple POs, received up to 1 May": (
        day(5, 2),
        [line(DC1, TABLE, 14), line(DC1, CHAIR, 33), po(DC1, CHAIR, 10, day(5, 10))],
        (10, 8, 2, 2, day(5, 10)),
    ),
    "multiple POs, all received 10 May": (
        day(5, 11), [line(DC1, TABLE, 14), line(DC1, CHAIR, 43)],
        (10, 10, 0, None, None),
    ),
    # A past-due ETA, not yet received, counts as asOf.
    "POs only, past due on 3 May": (
        day(5, 3), [po(DC1, TABLE, 6, day(4, 25)), po(DC1, CHAIR, 20, day(5, 1))],
        (5, 0, 5, 5, day(5, 3)),
    ),
    "on hand + POs, past due on 3 May": (
        day(5, 3),
        [
            line(DC1, TABLE, 5), po(DC1, TABLE, 6, day(4, 25)),
            line(DC1, CHAIR, 11), po(DC1, CHAIR, 22, day(5, 1)),
        ],
        (8, 2, 6, 6, day(5, 3)),
    ),
    "multiple POs, all but the last past due on 5 May": (
        day(5, 5),
        [
            line(DC1, TABLE, 5), po(DC1, TABLE, 6, day(4, 25)), po(DC1, TABLE, 3, day(4, 27)),
            line(DC1, CHAIR, 11), po(DC1, CHAIR, 22, day(5, 1)), po(DC1, CHAIR, 10, day(5, 10)),
        ],
        (10, 2, 8, 6, day(5, 5)),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(FUTURE_EXAMPLES))
def test_repaired_future_example(name: str) -> None:
    as_of, lines, expected = FUTURE_EXAMPLES[name]
    result = kit_availability(DINING_SET, DINING, lines, as_of=as_of)
    (dc1,) = result.sites
    assert dc1.site_id == DC1
    assert summary(dc1.figure) == expected
    assert result.network == dc1.figure


def test_multiple_pos_buckets_are_the_steps_of_one_curve() -> None:
    _, lines, _ = FUTURE_EXAMPLES["multiple POs, 10 Apr"]
    figure = kit_availability(DINING_SET, DINING, lines, as_of=APR_10).network
    # The table POs of 25/27 Apr raise no kits alone: chairs arrive 1 May and 10 May.
    assert figure.buckets == (Bucket(day(5, 1), D(6)), Bucket(day(5, 10), D(2)))
    assert [int(figure.quantity_at(d)) for d in (APR_10, day(4, 27), day(5, 1), day(5, 10))] \
        == [2, 2, 8, 10]


def test_leftover_on_hand_combines_with_future_supply() -> None:
    # A separate min over future supply alone would give min(6/1, 22/4) = 5, not 6.
    _, lines, _ = FUTURE_EXAMPLES["on hand + POs, 10 Apr"]
    figure = kit_availability(DINING_SET, DINING, lines, as_of=APR_10).network
    assert figure.future == 6


def test_view_without_future_ignores_pos() -> None:
    _, lines, _ = FUTURE_EXAMPLES["multiple POs, 10 Apr"]
    result = kit_availability(DINING_SET, DINING, lines, as_of=APR_10, view=AVAILABLE_ONLY)
    assert summary(result.network) == (2, 2, 0, None, None)
    assert result.network.buckets == ()


def test_default_view_is_available_and_future() -> None:
    assert set(DEFAULT_VIEW.supply_types) == {AVAIL, FUTURE}
    lines = [line(DC1, TABLE, 5, SOON), line(DC1, CHAIR, 4, UNAVAIL)]
    assert kit_availability(DINING_SET, DINING, lines, as_of=APR_10).network.total == 0


def test_future_supply_without_eta_counts_nowhere() -> None:
    lines = [line(DC1, TABLE, 1), line(DC1, CHAIR, 4, FUTURE)]
    result = kit_availability(DINING_SET, DINING, lines, as_of=APR_10)
    assert summary(result.network) == (0, 0, 0, None, None)


def test_on_hand_supply_ignores_an_eta() -> None:
    lines = [line(DC1, TABLE, 1, eta=day(6, 1)), line(DC1, CHAIR, 4)]
    assert kit_availability(DINING_SET, DINING, lines, as_of=APR_10).network.on_hand == 1


# --- publish, network, sites ---------------------------------------------------------------


def test_publish_figures_are_not_reduced_by_kits() -> None:
    _, lines, _ = FUTURE_EXAMPLES["multiple POs, 10 Apr"]
    result = kit_availability(DINING_SET, DINING, lines, as_of=APR_10)
    table, chair = result.components
    assert (table.ratio, chair.ratio) == (D(1), D(4))
    assert summary(table.network) == (14, 5, 9, 6, day(4, 25))
    assert table.network.buckets == (Bucket(day(4, 25), D(6)), Bucket(day(4, 27), D(3)))
    assert summary(chair.network) == (43, 11, 32, 22, day(5, 1))


def test_network_sums_sites_and_merges_buckets_by_date() -> None:
    lines = [
        line(DC1, TABLE, 1), line(DC1, CHAIR, 4),
        po(DC1, TABLE, 2, day(5, 1)), po(DC1, CHAIR, 8, day(5, 1)),
        po(DC2, TABLE, 1, day(4, 20)), po(DC2, CHAIR, 4, day(4, 20)),
        po(DC2, TABLE, 1, day(5, 1)), po(DC2, CHAIR, 4, day(5, 1)),
    ]  # fmt: skip
    result = kit_availability(DINING_SET, DINING, lines, as_of=APR_10)
    assert [summary(s.figure) for s in result.sites] == [
        (3, 1, 2, 2, day(5, 1)),
        (2, 0, 2, 1, day(4, 20)),
    ]
    assert result.network.buckets == (Bucket(day(4, 20), D(1)), Bucket(day(5, 1), D(3)))
    assert summary(result.network) == (5, 1, 4, 1, day(4, 20))


def test_site_ids_restrict_the_sites_and_the_network() -> None:
    lines, _, _, _, _ = ON_HAND_EXAMPLES["two DCs"]
    dc3 = 3
    result = kit_availability(
        DINING_SET, DINING, lines, as_of=APR_10, site_ids=[dc3, DC2]
    )
    assert [s.site_id for s in result.sites] == [DC2, dc3]
    assert [s.figure.total for s in result.sites] == [1, 0]
    assert result.network.total == 1
    assert [s.site_id for s in result.components[0].sites] == [DC2, dc3]


def test_sites_excluded_by_the_view_still_show_zero() -> None:
    result = kit_availability(
        DINING_SET, DINING, [line(DC1, TABLE, 3, UNAVAIL), line(9, 555, 4)], as_of=APR_10
    )
    assert [(s.site_id, s.figure.total) for s in result.sites] == [(DC1, D(0))]


def test_regular_part_gets_its_own_exact_figures() -> None:
    fabric = 7
    lines = [
        line(DC1, fabric, "2.5"), line(DC1, fabric, "0.25"),
        line(DC1, fabric, "1.5", FUTURE, eta=day(5, 1)),
        line(DC2, fabric, 3),
        line(DC1, TABLE, 99),  # another part: ignored
    ]  # fmt: skip
    result = kit_availability(fabric, [], lines, as_of=APR_10)
    assert not result.is_kit and result.components == ()
    assert [s.figure.on_hand for s in result.sites] == [D("2.75"), D(3)]
    assert summary(result.network) == (7, 5, 1, 1, day(5, 1))
    assert result.network.total == D("7.25")


def test_fractional_ratio_kits_are_floored() -> None:
    figure = site_kit_figure(
        {TABLE: D("0.5"), CHAIR: D("1.5")},
        [line(DC1, TABLE, "2.4"), line(DC1, CHAIR, 7)],
        as_of=APR_10,
    )
    assert figure.on_hand == 4  # min(floor(4.8), floor(4.66…))


def test_repeated_components_in_the_definition_add_up() -> None:
    result = kit_availability(
        DINING_SET,
        [(TABLE, D(1)), (CHAIR, D(2)), (CHAIR, D(2))],
        [line(DC1, TABLE, 10), line(DC1, CHAIR, 16)],
        as_of=APR_10,
    )
    assert result.network.total == 4
    assert [c.ratio for c in result.components] == [D(1), D(4)]


def test_segment_filter_excludes_lines_without_segment() -> None:
    view = View(segments={"ecom"})
    assert not view.includes(line(DC1, TABLE, 1))
    assert view.includes(line(DC1, TABLE, 1, segment="ecom"))


def test_attribute_filter_needs_every_attribute() -> None:
    view = View(attribute_filters={TABLE: {"color": {"oak"}, "size": {"L", "XL"}}})
    assert view.includes(line(DC1, TABLE, 1, color="oak", size="XL"))
    assert not view.includes(line(DC1, TABLE, 1, color="oak"))
    assert not view.includes(line(DC1, TABLE, 1, color="pine", size="L"))
    assert view.includes(line(DC1, CHAIR, 1))  # the filter is for tables only


def test_supply_line_refuses_float_and_negative_quantities() -> None:
    with pytest.raises(TypeError):
        SupplyLine(DC1, TABLE, AVAIL, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        SupplyLine(DC1, TABLE, AVAIL, D(-1))
    with pytest.raises(ValueError, match="decimal places"):
        SupplyLine(DC1, TABLE, AVAIL, D("0.0000001"))
    assert SupplyLine(DC1, TABLE, AVAIL, 2).quantity == D(2)  # type: ignore[arg-type]


def test_kit_availability_refuses_a_zero_ratio() -> None:
    with pytest.raises(ValueError, match="> 0"):
        kit_availability(DINING_SET, [(TABLE, D(0))], [], as_of=APR_10)


def test_no_supply_at_all() -> None:
    result = kit_availability(DINING_SET, DINING, [], as_of=APR_10)
    assert result.sites == ()
    assert summary(result.network) == (0, 0, 0, None, None)


# --- properties --------------------------------------------------------------------------

AS_OF = day(5, 1)
PARTS = (1, 2, 3)
SITES = (1, 2, 3)
ATTRIBUTE_VALUES = ("A", "B", "C")


@st.composite
def supply_lines(draw: st.DrawFn) -> SupplyLine:
    supply_type = draw(st.sampled_from(list(SupplyType)))
    # Mostly future ETAs, some past due, a few without ETA; on-hand supply draws one too, which
    # every figure must ignore.
    eta = draw(
        st.one_of(
            st.integers(-5, 30).map(lambda n: AS_OF + dt.timedelta(days=n)),
            st.none(),
        )
    )
    attributes = draw(st.dictionaries(st.just("attr1"), st.sampled_from(ATTRIBUTE_VALUES)))
    return SupplyLine(
        site_id=draw(st.sampled_from(SITES)),
        part_id=draw(st.sampled_from(PARTS)),
        supply_type=supply_type,
        # Quarters keep the arithmetic exact yet fractional.
        quantity=D(draw(st.integers(0, 80))) / 4,
        expected_at=eta,
        segment=draw(st.sampled_from([None, "ecom", "retail"])),
        attributes=attributes,
    )


views = st.builds(
    View,
    supply_types=st.frozensets(st.sampled_from(list(SupplyType))),
    segments=st.one_of(st.none(), st.frozensets(st.sampled_from(["ecom", "retail"]))),
    attribute_filters=st.dictionaries(
        st.sampled_from(PARTS),
        st.fixed_dictionaries({"attr1": st.frozensets(st.sampled_from(ATTRIBUTE_VALUES))}),
        max_size=2,
    ),
)
definitions = st.dictionaries(
    st.sampled_from(PARTS),
    st.sampled_from([D(1), D(2), D(4), D("0.5"), D("1.5")]),
    min_size=1,
).map(lambda ratios: sorted(ratios.items()))
cases = st.tuples(definitions, st.lists(supply_lines(), max_size=25), views)
Case = tuple[list[tuple[int, Decimal]], list[SupplyLine], View]
DAYS = [AS_OF + dt.timedelta(days=n) for n in range(-1, 32)]


def included(
    lines: Sequence[SupplyLine], view: View, site: int, part: int, up_to: dt.date | None
) -> Decimal:
    """Brute force: included supply of `part` at `site` arrived by `up_to` (None: on hand)."""
    total = D(0)
    for s in lines:
        if s.site_id != site or s.part_id != part or not view.includes(s):
            continue
        on_hand = s.supply_type is not FUTURE
        arrived = up_to is not None and s.expected_at is not None and (
            max(s.expected_at, AS_OF) <= up_to
        )
        if on_hand or arrived:
            total += s.quantity
    return total


def brute_kits(
    ratios: Mapping[int, Decimal], lines: Sequence[SupplyLine], view: View, site: int,
    up_to: dt.date | None,
) -> Decimal:
    return min(included(lines, view, site, p, up_to) // r for p, r in ratios.items())


def all_figures(result: KitAvailability) -> list[Figure]:
    figures = [result.network, *(s.figure for s in result.sites)]
    for component in result.components:
        figures += [component.network, *(s.figure for s in component.sites)]
    return figures


@settings(max_examples=300, deadline=None)
@given(cases)
def test_kits_follow_one_cumulative_curve_per_site(case: Case) -> None:
    components, lines, view = case
    ratios = dict(components)
    result = kit_availability(0, components, lines, as_of=AS_OF, view=view)
    for site in result.sites:
        figure = site.figure
        assert figure.on_hand == brute_kits(ratios, lines, view, site.site_id, None)
        for d in DAYS:
            assert figure.quantity_at(d) == brute_kits(ratios, lines, view, site.site_id, d)
        # Never more kits than any single component allows.
        for part, ratio in ratios.items():
            everything = included(lines, view, site.site_id, part, dt.date.max)
            assert figure.total <= everything // ratio


@settings(max_examples=300, deadline=None)
@given(cases)
def test_figures_are_consistent(case: Case) -> None:
    components, lines, view = case
    result = kit_availability(0, components, lines, as_of=AS_OF, view=view)
    for figure in all_figures(result):
        quantities = [b.quantity for b in figure.buckets]
        assert figure.total == figure.on_hand + sum(quantities, D(0))
        assert figure.future == figure.total - figure.on_hand
        if figure.buckets:
            first = figure.buckets[0]
            assert (figure.first_future_date, figure.first_future_quantity) == first
        else:
            assert (figure.first_future_quantity, figure.first_future_date) == (None, None)
            assert figure.future == 0
        # kits(t) is non-decreasing: positive steps at strictly later dates, none before asOf.
        assert all(q > 0 for q in quantities)
        dates = [b.date for b in figure.buckets]
        assert dates == sorted(set(dates))
        assert all(d >= AS_OF for d in dates)
        curve = [figure.quantity_at(d) for d in DAYS]
        assert curve == sorted(curve)


@settings(max_examples=300, deadline=None)
@given(cases)
def test_network_is_the_sum_of_sites(case: Case) -> None:
    components, lines, view = case
    result = kit_availability(0, components, lines, as_of=AS_OF, view=view)
    for network, sites in [
        (result.network, result.sites),
        *((c.network, c.sites) for c in result.components),
    ]:
        assert network == network_figure(s.figure for s in sites)
        assert network.total == sum((s.figure.total for s in sites), D(0))
        assert network.on_hand == sum((s.figure.on_hand for s in sites), D(0))
        for d in DAYS:
            assert network.quantity_at(d) == sum((s.figure.quantity_at(d) for s in sites), D(0))


@settings(max_examples=300, deadline=None)
@given(cases)
def test_results_are_exact(case: Case) -> None:
    components, lines, view = case
    result = kit_availability(0, components, lines, as_of=AS_OF, view=view)
    for figure in all_figures(result):
        numbers = [figure.total, figure.on_hand, figure.future,
                   *(b.quantity for b in figure.buckets)]
        if figure.first_future_quantity is not None:
            numbers.append(figure.first_future_quantity)
        assert all(type(n) is Decimal for n in numbers)
    kit_figures = [result.network, *(s.figure for s in result.sites)]
    for figure in kit_figures:
        for n in (figure.total, figure.on_hand, *(b.quantity for b in figure.buckets)):
            assert n == n.to_integral_value()  # whole kits


@settings(max_examples=300, deadline=None)
@given(cases, supply_lines())
def test_adding_supply_never_lowers_availability(case: Case, extra: SupplyLine) -> None:
    components, lines, view = case
    before = kit_availability(0, components, lines, as_of=AS_OF, view=view, site_ids=SITES)
    after = kit_availability(
        0, components, [*lines, extra], as_of=AS_OF, view=view, site_ids=SITES
    )
    for old, new in zip(all_figures(before), all_figures(after), strict=True):
        assert new.on_hand >= old.on_hand
        assert new.total >= old.total
        assert all(new.quantity_at(d) >= old.quantity_at(d) for d in DAYS)


@given(st.lists(supply_lines(), max_size=20), views)
def test_regular_part_is_its_own_supply(lines: list[SupplyLine], view: View) -> None:
    part = PARTS[0]
    result = kit_availability(part, [], lines, as_of=AS_OF, view=view)
    for site in result.sites:
        assert site.figure == site_supply_figure(
            part, [s for s in lines if s.site_id == site.site_id], as_of=AS_OF, view=view
        )
        for d in DAYS:
            assert site.figure.quantity_at(d) == included(lines, view, site.site_id, part, d)


# --- the feed's integer curves against the definition --------------------------------------


def _unit_supply(case: Case) -> dict[int, PartSites]:
    _components, lines, view = case
    return part_sites_from_lines(lines, as_of=AS_OF, view=view)


@settings(max_examples=300, deadline=None)
@given(cases)
def test_integer_curves_equal_the_definition(case: Case) -> None:
    components, lines, view = case
    curves = kit_site_curves([(p, to_units(r)) for p, r in components], _unit_supply(case))
    expected = kit_availability(0, components, lines, as_of=AS_OF, view=view)
    assert [SiteFigure(site, whole_figure(on_hand, buckets)) for site, on_hand, buckets in curves] == list(
        expected.sites
    )
    assert whole_figure(*whole_network(curves)) == expected.network


@settings(max_examples=100, deadline=None)
@given(cases, st.lists(st.sampled_from(SITES), unique=True))
def test_integer_curves_for_chosen_sites(case: Case, sites: list[int]) -> None:
    """Asked for given sites (a delta), a site without supply gets a zero curve."""
    components, lines, view = case
    ratios = [(p, to_units(r)) for p, r in components]
    chosen = kit_site_curves(ratios, _unit_supply(case), sites)
    expected = kit_availability(0, components, lines, as_of=AS_OF, view=view, site_ids=sites)
    by_site = {s.site_id: s.figure for s in expected.sites}
    assert [(site, whole_figure(on_hand, buckets)) for site, on_hand, buckets in chosen] == [
        (site, by_site[site]) for site in sites
    ]
