"""Kit definitions are normalised on save: flat, summed, acyclic, not mixing digital."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain.errors import BadInput
from kitwright.domain.kit_definitions import normalize_kit_definition, ratios_from_composition

D = Decimal
DINING_SET, TABLE, CHAIR = 100, 101, 102
NO_DEFINITIONS: dict[int, list[tuple[int, Decimal]]] = {}
PHYSICAL: dict[int, bool] = {}


def fields_of(error: BadInput) -> list[str | None]:
    return [p.field for p in error.details]


# --- normalize_kit_definition: the happy paths -------------------------------------------


def test_dining_set_is_kept_as_given() -> None:
    result = normalize_kit_definition(
        DINING_SET, [(TABLE, D(1)), (CHAIR, D(4))], NO_DEFINITIONS, PHYSICAL
    )
    assert result == [(TABLE, D(1)), (CHAIR, D(4))]


def test_empty_definition_makes_a_regular_part() -> None:
    assert normalize_kit_definition(DINING_SET, [], NO_DEFINITIONS, PHYSICAL) == []


def test_repeated_components_are_summed_in_first_seen_order() -> None:
    result = normalize_kit_definition(
        DINING_SET,
        [(CHAIR, D(2)), (TABLE, D(1)), (CHAIR, D("1.5")), (CHAIR, D("0.5"))],
        NO_DEFINITIONS,
        PHYSICAL,
    )
    assert result == [(CHAIR, D(4)), (TABLE, D(1))]


def test_whole_int_ratios_are_accepted_as_decimals() -> None:
    result = normalize_kit_definition(
        DINING_SET,
        [(TABLE, 1), (CHAIR, 4)],  # type: ignore[list-item]
        NO_DEFINITIONS,
        PHYSICAL,
    )
    assert result == [(TABLE, D(1)), (CHAIR, D(4))]
    assert all(type(ratio) is Decimal for _, ratio in result)


def test_nested_kit_is_flattened_with_ratios_multiplied() -> None:
    chair_pair = 200
    definitions = {chair_pair: [(CHAIR, D(2))]}
    result = normalize_kit_definition(
        DINING_SET, [(TABLE, D(1)), (chair_pair, D(2))], definitions, PHYSICAL
    )
    assert result == [(TABLE, D(1)), (CHAIR, D(4))]


def test_nesting_is_flattened_recursively_and_summed() -> None:
    # ItemA = 2xB + 1xC + 1xD, as on the Manhattan page; a bundle holds 3 ItemA, 1 extra B
    # and half a "pack" (itself a kit of 2 D + 1 E).
    item_a, b, c, d, e, pack, bundle = 1, 2, 3, 4, 5, 6, 7
    definitions = {item_a: [(b, D(2)), (c, D(1)), (d, D(1))], pack: [(d, D(2)), (e, D(1))]}
    result = normalize_kit_definition(
        bundle, [(item_a, D(3)), (b, D(1)), (pack, D("0.5"))], definitions, PHYSICAL
    )
    assert result == [(b, D(7)), (c, D(3)), (d, D(4)), (e, D("0.5"))]


def test_component_with_an_empty_definition_is_a_regular_part() -> None:
    result = normalize_kit_definition(DINING_SET, [(TABLE, D(1))], {TABLE: []}, PHYSICAL)
    assert result == [(TABLE, D(1))]


def test_all_digital_components_are_fine() -> None:
    result = normalize_kit_definition(
        DINING_SET, [(TABLE, D(1)), (CHAIR, D(1))], NO_DEFINITIONS, {TABLE: True, CHAIR: True}
    )
    assert result == [(TABLE, D(1)), (CHAIR, D(1))]


def test_results_are_in_canonical_form() -> None:
    result = normalize_kit_definition(
        DINING_SET, [(TABLE, D("1.000")), (CHAIR, D("4.0"))], NO_DEFINITIONS, PHYSICAL
    )
    assert [str(ratio) for _, ratio in result] == ["1", "4"]


# --- normalize_kit_definition: refusals -------------------------------------------------


@pytest.mark.parametrize(
    "ratio",
    [D(0), D(-1), D("-0.5"), D("NaN"), D("Infinity"), D("0.0000001"), D(10**13)],
)
def test_bad_ratio_names_the_row(ratio: Decimal) -> None:
    with pytest.raises(BadInput) as raised:
        normalize_kit_definition(
            DINING_SET, [(TABLE, D(1)), (CHAIR, ratio)], NO_DEFINITIONS, PHYSICAL
        )
    assert raised.value.field == "components[1].quantity"
    assert fields_of(raised.value) == ["components[1].quantity"]


def test_float_ratio_is_refused() -> None:
    with pytest.raises(BadInput) as raised:
        normalize_kit_definition(
            DINING_SET, [(TABLE, 0.5)], NO_DEFINITIONS, PHYSICAL  # type: ignore[list-item]
        )
    assert raised.value.field == "components[0].quantity"


def test_kit_cannot_contain_itself_directly() -> None:
    with pytest.raises(BadInput) as raised:
        normalize_kit_definition(
            DINING_SET, [(TABLE, D(1)), (DINING_SET, D(1))], NO_DEFINITIONS, PHYSICAL
        )
    assert raised.value.field == "components[1].partId"
    assert "cannot contain itself" in raised.value.message


def test_kit_cannot_contain_itself_through_nesting() -> None:
    # The table is (wrongly) being made a kit of the dining set, which holds a table.
    definitions = {DINING_SET: [(TABLE, D(1)), (CHAIR, D(4))]}
    with pytest.raises(BadInput) as raised:
        normalize_kit_definition(TABLE, [(DINING_SET, D(1))], definitions, PHYSICAL)
    assert raised.value.field == "components[0].partId"
    assert f"{TABLE} → {DINING_SET} → {TABLE}" in raised.value.message


def test_deep_cycle_is_reported_with_its_path() -> None:
    a, b, c, d = 1, 2, 3, 4
    definitions = {b: [(c, D(1))], c: [(d, D(2))], d: [(a, D(1))]}
    with pytest.raises(BadInput) as raised:
        normalize_kit_definition(a, [(b, D(1))], definitions, PHYSICAL)
    assert "1 → 2 → 3 → 4 → 1" in raised.value.message


def test_cycle_already_in_saved_definitions_is_reported_not_looped() -> None:
    a, b, c = 1, 2, 3
    definitions = {b: [(c, D(1))], c: [(b, D(1))]}
    with pytest.raises(BadInput) as raised:
        normalize_kit_definition(a, [(b, D(1))], definitions, PHYSICAL)
    assert "2 → 3 → 2" in raised.value.message


def test_mixing_digital_and_physical_is_refused() -> None:
    with pytest.raises(BadInput) as raised:
        normalize_kit_definition(
            DINING_SET, [(TABLE, D(1)), (CHAIR, D(4))], NO_DEFINITIONS, {CHAIR: True}
        )
    assert raised.value.field == "components"
    assert "digital" in raised.value.message and "physical" in raised.value.message


def test_mixing_is_checked_on_the_flattened_leaves() -> None:
    e_book, manual_kit = 300, 301
    definitions = {manual_kit: [(e_book, D(1))]}
    with pytest.raises(BadInput) as raised:
        normalize_kit_definition(
            DINING_SET,
            [(TABLE, D(1)), (manual_kit, D(1))],
            definitions,
            {e_book: True, manual_kit: False},
        )
    assert f"digital {e_book}" in raised.value.message


def test_flattened_ratio_finer_than_a_stored_quantity_is_refused() -> None:
    sample = 200
    definitions = {sample: [(CHAIR, D("0.0001"))]}
    with pytest.raises(BadInput) as raised:
        normalize_kit_definition(DINING_SET, [(sample, D("0.001"))], definitions, PHYSICAL)
    assert "decimal places" in raised.value.message


def test_every_problem_is_reported_at_once() -> None:
    e_book, lamp = 300, 301
    with pytest.raises(BadInput) as raised:
        normalize_kit_definition(
            DINING_SET,
            [(TABLE, D(0)), (DINING_SET, D(1)), (e_book, D(1)), (lamp, D(-2)), (CHAIR, D(4))],
            NO_DEFINITIONS,
            {e_book: True},
        )
    assert fields_of(raised.value) == [
        "components[0].quantity",
        "components[1].partId",
        "components[3].quantity",
        "components",
    ]
    assert raised.value.message.startswith("4 problems")


# --- ratios_from_composition -------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantities", "kits", "ratios"),
    [
        ([D(4), D(2), D(2)], 2, [D(2), D(1), D(1)]),  # the Manhattan sample item document
        ([D("4.0"), D("2.0"), D("2.0")], 2, [D(2), D(1), D(1)]),  # as JSON 4.0 arrives
        ([D(1), D(4)], 1, [D(1), D(4)]),
        ([D(3), D(12)], 3, [D(1), D(4)]),
        ([D(6), D(9), D(12)], 3, [D(2), D(3), D(4)]),
        ([D(5)], 5, [D(1)]),
        ([D(2), D(1), D("0.5")], 1, [D(2), D(1), D("0.5")]),  # fractional: one kit
        ([D("0.5"), D("0.5")], 1, [D("0.5"), D("0.5")]),
    ],
)
def test_ratios_from_composition(
    quantities: list[Decimal], kits: int, ratios: list[Decimal]
) -> None:
    assert ratios_from_composition(quantities) == (kits, ratios)


def test_composition_with_bad_quantities_names_each_one() -> None:
    with pytest.raises(BadInput) as raised:
        ratios_from_composition([D(4), D(0), D(-1)])
    assert fields_of(raised.value) == [
        "ItemComponent[1].ComponentQty",
        "ItemComponent[2].ComponentQty",
    ]


def test_empty_composition_is_refused() -> None:
    with pytest.raises(BadInput) as raised:
        ratios_from_composition([])
    assert raised.value.field == "ItemComponent"


# --- properties --------------------------------------------------------------------------

RATIOS = st.sampled_from([D(1), D(2), D(3), D(4), D("0.5"), D("1.5"), D("0.25")])


@st.composite
def acyclic_definitions(
    draw: st.DrawFn,
) -> tuple[dict[int, list[tuple[int, Decimal]]], list[tuple[int, Decimal]]]:
    """Saved definitions over parts 1..8 (children always have higher ids: no cycle) and a
    proposed definition for part 0 over any of them, with repeats."""
    definitions: dict[int, list[tuple[int, Decimal]]] = {}
    for part in range(1, 9):
        children = draw(
            st.lists(st.tuples(st.integers(part + 1, 10), RATIOS), max_size=3)
        )
        if children:
            definitions[part] = children
    proposed = draw(st.lists(st.tuples(st.integers(1, 10), RATIOS), min_size=1, max_size=5))
    return definitions, proposed


def expand(
    part: int, factor: Decimal, definitions: Mapping[int, Sequence[tuple[int, Decimal]]]
) -> dict[int, Decimal]:
    """Brute-force leaf content of `factor` units of `part`."""
    children = definitions.get(part)
    if not children:
        return {part: factor}
    out: dict[int, Decimal] = {}
    for child, ratio in children:
        for leaf, quantity in expand(child, factor * ratio, definitions).items():
            out[leaf] = out.get(leaf, D(0)) + quantity
    return out


@given(acyclic_definitions())
def test_flattening_keeps_the_leaf_content(
    case: tuple[dict[int, list[tuple[int, Decimal]]], list[tuple[int, Decimal]]],
) -> None:
    definitions, proposed = case
    expected = expand(0, D(1), {**definitions, 0: proposed})
    if any(ratio != ratio.quantize(D("0.000001")) for ratio in expected.values()):
        # Deep nesting of 0.5 / 0.25 ratios can need more than 6 decimal places: refused.
        with pytest.raises(BadInput, match="more than 6 decimal places"):
            normalize_kit_definition(0, proposed, definitions, PHYSICAL)
        return
    result = normalize_kit_definition(0, proposed, definitions, PHYSICAL)
    assert dict(result) == expected
    assert len({part for part, _ in result}) == len(result)  # summed: each leaf once
    assert not any(definitions.get(part) for part, _ in result)  # only leaves remain
    assert all(type(ratio) is Decimal and ratio > 0 for _, ratio in result)
    # Saving the saved definition again changes nothing.
    assert normalize_kit_definition(0, result, definitions, PHYSICAL) == result


@given(
    st.lists(st.integers(1, 50), min_size=1, max_size=5).filter(
        lambda xs: math.gcd(*xs) == 1
    ),
    st.integers(1, 20),
)
def test_composition_of_k_kits_gives_k_and_the_ratios_back(ratios: list[int], k: int) -> None:
    kits, found = ratios_from_composition([D(r * k) for r in ratios])
    assert (kits, found) == (k, [D(r) for r in ratios])


@given(st.lists(st.decimals(min_value=D("0.001"), max_value=D(1000), places=3), min_size=1))
def test_composition_always_multiplies_back_exactly(quantities: list[Decimal]) -> None:
    kits, ratios = ratios_from_composition(quantities)
    assert isinstance(kits, int) and kits >= 1
    assert [kits * r for r in ratios] == quantities
