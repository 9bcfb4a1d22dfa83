"""Kit definitions: what one kit of a part is made of, normalised when it is saved.

A kit definition lists components with a quantity **per one kit** (the ratio). We store it
flat: a component that is itself a kit is replaced by its own components (ratios multiplied),
and a component named twice is one line with the ratios summed. Availability, allocation and
order-event checks then only ever see leaf parts, the ones that hold inventory.

Pure: the caller loads the other parts' definitions and digital flags and hands them in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, localcontext

from kitwright.domain.errors import BadInput, Problems
from kitwright.domain.quantities import MAX_QUANTITY, SCALE, normalize

# (component part id, ratio per one kit)
Component = tuple[int, Decimal]

_PRECISION = 1000


def normalize_kit_definition(
    part_id: int,
    components: Sequence[tuple[int, Decimal]],
    definitions: Mapping[int, Sequence[tuple[int, Decimal]]],
    digital: Mapping[int, bool],
    *,
    field: str = "components",
) -> list[Component]:
    """Return the flat, summed definition of `part_id`, or raise BadInput listing every problem.

    `components` is the proposed definition, `definitions` the saved definitions of other
    parts (a part absent from it, or with no components, is a regular part) and `digital`
    says which parts are digital (a part absent from it is physical). An empty `components`
    is allowed: the part becomes a regular part.

    The result keeps the order in which leaf components first appear, so a re-save of an
    unchanged definition is a no-op. Problems are named `components[i].partId` /
    `components[i].quantity` after the API's `Part.components { part quantity }`.
    """
    # Products of nested ratios must be exact; a wide context keeps them so, and the scale
    # check below refuses any result that does not fit a stored quantity.
    with localcontext(prec=_PRECISION):
        return _normalize(part_id, components, definitions, digital, field)


def _normalize(
    part_id: int,
    components: Sequence[tuple[int, Decimal]],
    definitions: Mapping[int, Sequence[tuple[int, Decimal]]],
    digital: Mapping[int, bool],
    field: str,
) -> list[Component]:
    problems = Problems()
    totals: dict[int, Decimal] = {}
    # Which input rows contributed to each leaf, to name them in the digital/physical error.
    rows_of: dict[int, list[int]] = {}

    for index, (component_id, ratio) in enumerate(components):
        row_field = f"{field}[{index}]"
        checked = _check_ratio(ratio, f"{row_field}.quantity", problems)
        if component_id == part_id:
            problems.add("a kit cannot contain itself", field=f"{row_field}.partId")
            continue
        # Expand even when the ratio is bad, so a cycle in this row is reported too.
        leaves = _flatten(component_id, Decimal(1), [part_id], definitions)
        if isinstance(leaves, _Cycle):
            path = " → ".join(str(p) for p in leaves.path)
            problems.add(
                f"part {component_id} contains part {leaves.path[-1]} through nesting "
                f"({path}): a kit cannot contain itself",
                field=f"{row_field}.partId",
            )
            continue
        if checked is None:
            continue
        for leaf_id, leaf_ratio in leaves:
            totals[leaf_id] = totals.get(leaf_id, Decimal(0)) + leaf_ratio * checked
            rows_of.setdefault(leaf_id, []).append(index)

    digital_leaves = sorted(p for p in totals if digital.get(p, False))
    physical_leaves = sorted(p for p in totals if not digital.get(p, False))
    if digital_leaves and physical_leaves:
        problems.add(
            "components may not mix digital and physical parts: digital "
            + ", ".join(map(str, digital_leaves))
            + "; physical "
            + ", ".join(map(str, physical_leaves)),
            field=field,
        )

    result: list[Component] = []
    for leaf_id, total in totals.items():
        rows = ", ".join(str(r) for r in sorted(set(rows_of[leaf_id])))
        if not _fits_scale(total):
            problems.add(
                f"the flattened ratio of part {leaf_id} ({total}) has more than {SCALE} "
                f"decimal places (from rows {rows})",
                field=field,
            )
        elif total > MAX_QUANTITY:
            problems.add(
                f"the flattened ratio of part {leaf_id} ({total}) exceeds {MAX_QUANTITY} "
                f"(from rows {rows})",
                field=field,
            )
        else:
            result.append((leaf_id, normalize(total)))

    problems.raise_if_any()
    return result


def ratios_from_composition(
    quantities: Sequence[Decimal], *, field: str = "ItemComponent"
) -> tuple[int, list[Decimal]]:
    """Split a composition of several kits into (kits, ratios per one kit).

    Manhattan's sample item document gives ComponentQty 4/2/2 for ItemA = 2xB + 1xC + 1xD:
    the composition of 2 kits. We divide by the largest whole n that leaves every ratio a
    whole number, i.e. the greatest common divisor of the quantities (4/2/2 → 2 kits of
    2/1/1).

    Choice for fractional quantities: if any quantity is not whole, the composition is taken
    as ONE kit and the quantities are the ratios. Any other whole n would have to invent a
    split (0.5/0.5 is "exactly" 5 kits of 0.1/0.1 too) and a fractional ComponentQty is how
    ratio-style documents (the page's ItemD 0.5) express a single kit. Either way
    `kits x ratio == quantity` exactly for every component.
    """
    problems = Problems()
    if not quantities:
        problems.add("a kit needs at least one component", field=field)
    checked = [
        _check_ratio(quantity, f"{field}[{index}].ComponentQty", problems)
        for index, quantity in enumerate(quantities)
    ]
    problems.raise_if_any()
    exact = [q for q in checked if q is not None]

    if any(q != q.to_integral_value() for q in exact):
        return 1, [normalize(q) for q in exact]
    kits = math.gcd(*(int(q) for q in exact))
    return kits, [normalize(q / kits) for q in exact]


# --- internals ---------------------------------------------------------------------------


class _Cycle:
    """The chain of part ids that leads back to a part already being expanded."""

    def __init__(self, path: list[int]) -> None:
        self.path = path


def _flatten(
    part_id: int,
    factor: Decimal,
    stack: list[int],
    definitions: Mapping[int, Sequence[tuple[int, Decimal]]],
) -> list[Component] | _Cycle:
    """Leaves of `part_id` x factor; `stack` holds the kits being expanded (for cycles)."""
    if part_id in stack:
        return _Cycle([*stack[stack.index(part_id):], part_id])
    children = definitions.get(part_id) or ()
    if not children:
        return [(part_id, factor)]
    leaves: list[Component] = []
    stack.append(part_id)
    try:
        for child_id, child_ratio in children:
            nested = _flatten(child_id, factor * child_ratio, stack, definitions)
            if isinstance(nested, _Cycle):
                return nested
            leaves.extend(nested)
    finally:
        stack.pop()
    return leaves


def _check_ratio(value: object, field: str, problems: Problems) -> Decimal | None:
    """A ratio is an exact, finite number > 0 with at most SCALE decimal places.

    Whole ints are accepted and become Decimals; floats (and bools) are refused, since a
    float ratio is already inexact.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, Decimal):
        problems.add("must be an exact decimal number", field=field)
        return None
    if not value.is_finite():
        problems.add("must be a finite number", field=field)
        return None
    if value <= 0:
        problems.add("must be greater than 0", field=field)
        return None
    if not _fits_scale(value):
        problems.add(f"has more than {SCALE} decimal places", field=field)
        return None
    if value > MAX_QUANTITY:
        problems.add(f"must be at most {MAX_QUANTITY}", field=field)
        return None
    return value


def _fits_scale(value: Decimal) -> bool:
    """At most SCALE decimal places, read off the digits so no context rounding applies."""
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite values only
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return exponent + trailing_zeros >= -SCALE or not any(digits)


def check_holds_stock(part_label: str, is_kit: bool, *, field: str = "partId") -> None:
    """A kit part (one with components, e.g. a retail kit item) is logical: only its components
    hold inventory, so no inventory record may be created for it (docs/ion-compatibility.md)."""
    if is_kit:
        raise BadInput(
            f"part {part_label} is a kit (it has components) and holds no stock; "
            "create inventory for its components instead",
            field=field,
        )


def check_may_become_kit(part_label: str, has_inventory: bool, *, field: str = "components") -> None:
    """The same rule seen from the other side: a part that holds inventory records cannot be
    given components until its records are gone."""
    if has_inventory:
        raise BadInput(
            f"part {part_label} has inventory records, and a kit holds no stock; "
            "it can become a kit once they are deleted",
            field=field,
        )
