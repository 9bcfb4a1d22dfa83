"""Retail kit availability from the database (docs/retail.md).

The arithmetic lives in `domain.availability`; this module only feeds it. Supply is summed in
SQL, grouped by site x part x supply type x ETA (x segment x the attribute values a view
filters on), so Python never sees an inventory record, only aggregated rows:

* one query for the kit definitions asked about, one aggregate for their supply: never a
  query per site or per component;
* the feed (every kit) is the same two queries over every kit at once, then the domain per kit
  on the aggregated rows.

Supply types come from ONE place: `supply_type_expression` builds its SQL CASE by asking
`domain.availability.classify_supply` about every combination of its three inputs, so SQL
and Python cannot drift (a test also runs both over every combination).

Committed inventory never counts: records whose derived status (`models.status_not_in`,
the same expression the API shows) is KITTED, ALLOCATED (held by a retail order line), INSTALLED or SCRAPPED are excluded in SQL, so
kits, builds and later allocations are excluded as soon as that expression knows them.
Records without a location have no site and are not supply of any site.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import Session, aliased

from kitwright.domain.availability import (
    DEFAULT_SUPPLY_TYPES,
    DEFAULT_VIEW,
    Figure,
    KitAvailability,
    PartSites,
    SiteCurve,
    SiteFigure,
    SupplyLine,
    SupplyType,
    View,
    classify_supply,
    kit_availability,
    kit_site_curves,
    part_sites_from_lines,
    whole_figure,
    whole_network,
)
from kitwright.domain.errors import BadInput, Problems
from kitwright.domain.quantities import FACTOR, to_units
from kitwright.domain.text import csv_cell
from kitwright.services.listing import offset_page
from kitwright.services.uow import get
from kitwright.store.models import Location, Part, PartComponent, PartInventory, status_not_in
from kitwright.store.queries import Page, PageRequest, combine_sum, exact_sum

# Derived statuses that are committed to demand and never count as supply.
COMMITTED_STATUSES = ("KITTED", "ALLOCATED", "INSTALLED", "SCRAPPED")

MAX_SITES = 10_000
MAX_ATTRIBUTE_VALUES = 1_000


def _flag(column: ColumnElement[bool], value: bool) -> ColumnElement[bool]:
    return column == (true() if value else false())


def supply_type_expression(
    on_order: ColumnElement[bool],
    inventory_available: ColumnElement[bool],
    available_soon: ColumnElement[bool],
) -> ColumnElement[str]:
    """`classify_supply` as a SQL CASE, generated from the Python function itself.

    Pass non-null boolean expressions (coalesce nullable columns first).
    """
    whens = []
    for flags in itertools.product((True, False), repeat=3):
        kind = classify_supply(
            on_order=flags[0], inventory_available=flags[1], available_soon=flags[2]
        )
        condition = and_(
            _flag(on_order, flags[0]),
            _flag(inventory_available, flags[1]),
            _flag(available_soon, flags[2]),
        )
        whens.append((condition, kind.value))
    return case(*whens, else_=None)


def supply_type_in(
    types: AbstractSet[SupplyType],
    on_order: ColumnElement[bool],
    inventory_available: ColumnElement[bool],
    available_soon: ColumnElement[bool],
) -> ColumnElement[bool]:
    """`supply type IN types` as a short boolean over the three flags, also generated from
    `classify_supply`: the CASE above, compared to constants, costs the aggregate a string
    CASE per record and per use. Pass non-null boolean expressions."""
    flags = (on_order, inventory_available, available_soon)

    def decide(known: tuple[bool, ...]) -> ColumnElement[bool] | bool:
        if len(known) == len(flags):
            return classify_supply(
                on_order=known[0], inventory_available=known[1], available_soon=known[2]
            ) in types
        flag = flags[len(known)]
        return _branch(flag, decide((*known, True)), decide((*known, False)))

    decided = decide(())
    if isinstance(decided, bool):
        return true() if decided else false()
    return decided


def _branch(
    flag: ColumnElement[bool], when_true: ColumnElement[bool] | bool, when_false: ColumnElement[bool] | bool
) -> ColumnElement[bool] | bool:
    """`flag ? when_true : when_false`, folded where a side is a constant."""
    if isinstance(when_true, bool) and isinstance(when_false, bool):
        if when_true == when_false:
            return when_true
        return flag if when_true else ~flag
    if isinstance(when_true, bool):
        assert not isinstance(when_false, bool)
        return or_(flag, when_false) if when_true else and_(~flag, when_false)
    if isinstance(when_false, bool):
        return or_(~flag, when_true) if when_false else and_(flag, when_true)
    return or_(and_(flag, when_true), and_(~flag, when_false))


def record_supply_type(location: Any = Location) -> ColumnElement[str]:
    """Supply type of a PartInventory row joined (outer) to its location (`location`)."""
    return supply_type_expression(
        func.coalesce(PartInventory.on_order, false()),
        # A record without a location is not available (domain.classify_supply).
        func.coalesce(location.inventory_available, false()),
        func.coalesce(location.available_soon, false()),
    )


# -- views -------------------------------------------------------------------------------


def parse_supply_types(values: Iterable[object], *, field: str = "view.supplyTypes") -> frozenset[SupplyType]:
    """Supply type names (from the CLI, REST, or GraphQL enum values) -> SupplyType."""
    problems = Problems()
    found: set[SupplyType] = set()
    for index, value in enumerate(values):
        text = getattr(value, "value", value)
        try:
            found.add(SupplyType(str(text).strip().upper()))
        except ValueError:
            problems.add(
                f"unknown supply type {str(text)[:40]!r}; expected one of "
                + ", ".join(t.value for t in SupplyType),
                field=f"{field}[{index}]",
            )
    if not found and not problems:
        problems.add("name at least one supply type (or leave the list out)", field=field)
    problems.raise_if_any()
    return frozenset(found)


@dataclass(frozen=True)
class AttributeFilter:
    part_id: int
    attribute: str
    values: Sequence[str]


def build_view(
    supply_types: Iterable[object] | None = None,
    segments: Iterable[str] | None = None,
    attribute_filters: Sequence[AttributeFilter] = (),
    *,
    field: str = "view",
) -> View:
    """A domain View from API input, refusing what cannot be meant (naming the field)."""
    problems = Problems()
    types: frozenset[SupplyType] = DEFAULT_SUPPLY_TYPES
    if supply_types is not None:
        types = parse_supply_types(supply_types, field=f"{field}.supplyTypes")
    chosen_segments: frozenset[str] | None = None
    if segments is not None:
        chosen_segments = frozenset(segments)
        if not chosen_segments:
            problems.add("name at least one segment (or leave the list out)", field=f"{field}.segments")
    filters: dict[int, dict[str, set[str]]] = {}
    for index, item in enumerate(attribute_filters):
        where = f"{field}.attributeFilters[{index}]"
        if not item.attribute or not item.attribute.strip():
            problems.add("attribute must not be empty", field=f"{where}.attribute")
            continue
        if not item.values:
            problems.add("values must name at least one accepted value", field=f"{where}.values")
            continue
        if len(item.values) > MAX_ATTRIBUTE_VALUES:
            problems.add(f"at most {MAX_ATTRIBUTE_VALUES} values", field=f"{where}.values")
            continue
        by_attribute = filters.setdefault(item.part_id, {})
        if item.attribute in by_attribute:
            # Two filters on the same attribute both hold: only common values pass.
            by_attribute[item.attribute].intersection_update(item.values)
        else:
            by_attribute[item.attribute] = set(item.values)
    problems.raise_if_any()
    return View(
        supply_types=types,
        segments=chosen_segments,
        attribute_filters={p: {a: frozenset(v) for a, v in attrs.items()} for p, attrs in filters.items()},
    )


# -- loading -----------------------------------------------------------------------------


def definitions(session: Session, part_ids: Iterable[int] | None = None) -> dict[int, list[tuple[int, Decimal]]]:
    """Kit definitions (flat, as saved) of the given parts, or of every kit: one query."""
    stmt = select(PartComponent.part_id, PartComponent.component_part_id, PartComponent.quantity)
    if part_ids is not None:
        stmt = stmt.where(PartComponent.part_id.in_(sorted(set(part_ids))))
    stmt = stmt.order_by(PartComponent.part_id, PartComponent.id)
    found: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for kit_id, component_id, ratio in session.execute(stmt):
        found[kit_id].append((component_id, ratio))
    return dict(found)


def supply_lines(
    session: Session,
    part_ids: Iterable[int] | None,
    *,
    view: View = DEFAULT_VIEW,
    site_ids: Iterable[int] | None = None,
    components_of_kits: bool = False,
) -> list[SupplyLine]:
    """Committed-free supply summed per site x part x supply type x ETA: ONE query.

    Segment and attribute values are grouped on only when the view filters on them, so the
    domain can apply the view to aggregated rows. `part_ids` None with `components_of_kits`
    means every part that is a component of some kit (the feed).
    """
    # An alias, so the status expression's own correlated subquery on Location stays correlated
    # to the record alone.
    place = aliased(Location, name="place")
    supply_type = record_supply_type(place).label("supply_type")
    eta = case((PartInventory.on_order == true(), PartInventory.expected_at), else_=None).label("eta")
    columns: list[Any] = [
        place.site_id.label("site_id"),
        PartInventory.part_id.label("part_id"),
        supply_type,
        eta,
    ]
    group: list[Any] = [place.site_id, PartInventory.part_id, supply_type, eta]
    if view.segments is not None:
        columns.append(PartInventory.segment.label("segment"))
        group.append(PartInventory.segment)
    keys = sorted({key for attrs in view.attribute_filters.values() for key in attrs})
    for index, key in enumerate(keys):
        value = PartInventory.attributes[key].as_string()
        columns.append(value.label(f"attr_{index}"))
        group.append(value)
    high, low = exact_sum(PartInventory.quantity)
    columns.extend([high.label("quantity_high"), low.label("quantity_low")])

    stmt = (
        select(*columns)
        .select_from(PartInventory)
        .join(place, place.id == PartInventory.location_id)
        .where(status_not_in(*COMMITTED_STATUSES))
        .group_by(*group)
    )
    if part_ids is not None:
        stmt = stmt.where(PartInventory.part_id.in_(sorted(set(part_ids))))
    elif components_of_kits:
        stmt = stmt.where(PartInventory.part_id.in_(select(PartComponent.component_part_id).distinct()))
    if site_ids is not None:
        stmt = stmt.where(place.site_id.in_(sorted(set(site_ids))))

    lines = []
    for row in session.execute(stmt):
        attributes = {}
        for index, key in enumerate(keys):
            value = getattr(row, f"attr_{index}")
            if value is not None:
                attributes[key] = _attribute_text(value)
        lines.append(
            SupplyLine(
                site_id=row.site_id,
                part_id=row.part_id,
                supply_type=SupplyType(row.supply_type),
                quantity=combine_sum(row.quantity_high, row.quantity_low),
                expected_at=row.eta,
                segment=row.segment if view.segments is not None else None,
                attributes=attributes,
            )
        )
    return lines


def _attribute_text(value: object) -> str:
    """JSON scalars as text: PostgreSQL's ->> gives text, SQLite's json_extract typed values.

    Strings and numbers read the same on both engines; a JSON boolean reads "true" on
    PostgreSQL but 1 on SQLite, so filter on string attributes (as the examples do).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- use cases ---------------------------------------------------------------------------


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def check_sites(session: Session, site_ids: Sequence[int], *, field: str = "siteIds") -> list[int]:
    """Each id must be a site (a root location): one query for all of them."""
    if len(site_ids) > MAX_SITES:
        raise BadInput(f"at most {MAX_SITES} sites", field=field)
    wanted = sorted(set(site_ids))
    found = {
        row[0]: row[1]
        for row in session.execute(select(Location.id, Location.parent_id).where(Location.id.in_(wanted)))
    }
    problems = Problems()
    for index, site_id in enumerate(site_ids):
        if site_id not in found:
            problems.add(f"location {site_id} does not exist", field=f"{field}[{index}]")
        elif found[site_id] is not None:
            problems.add(f"location {site_id} is not a site (a root location)", field=f"{field}[{index}]")
    problems.raise_if_any()
    return wanted


def get_kit_availability(
    session: Session,
    part_id: int,
    *,
    view: View = DEFAULT_VIEW,
    as_of: dt.date | None = None,
    site_ids: Sequence[int] | None = None,
) -> KitAvailability:
    """kitAvailability: three queries whatever the number of sites or components."""
    part = get(session, Part, part_id, field="partId")
    components = definitions(session, [part.id]).get(part.id, [])
    relevant = {c for c, _ in components} or {part.id}
    problems = Problems()
    for index, (filtered_part, _attrs) in enumerate(view.attribute_filters.items()):
        if filtered_part not in relevant:
            problems.add(
                f"part {filtered_part} is not a component of part {part.id}",
                field=f"view.attributeFilters[{index}].partId",
            )
    problems.raise_if_any()
    sites = check_sites(session, site_ids) if site_ids is not None else None
    lines = supply_lines(session, relevant, view=view, site_ids=sites)
    return kit_availability(
        part.id, components, lines, as_of=as_of or today(), view=view, site_ids=sites
    )


@dataclass(frozen=True)
class FeedRow:
    """One kit of the publish feed: its network figure and its per-site curves (whole kits as
    ints, see `domain.kit_site_curves`); `sites` builds the Figures when asked."""

    part_id: int
    part_number: str
    revision: str
    network: Figure
    curves: Sequence[SiteCurve]

    @property
    def sites(self) -> tuple[SiteFigure, ...]:
        return tuple(SiteFigure(site, whole_figure(on_hand, buckets)) for site, on_hand, buckets in self.curves)


def kit_ids_page(session: Session, page: PageRequest) -> Page[int]:
    """Ids of kits (parts with components) in ascending order, one page. The feed is ordered
    by part id over kit items only, so its cursors are offsets."""
    stmt = select(PartComponent.part_id).group_by(PartComponent.part_id).order_by(PartComponent.part_id)
    return offset_page(session, stmt, page)


def count_kits(session: Session) -> int:
    return int(session.scalar(select(func.count(func.distinct(PartComponent.part_id)))) or 0)


def supply_units(
    session: Session,
    part_ids: Iterable[int] | None,
    *,
    view: View = DEFAULT_VIEW,
    as_of: dt.date,
    site_ids: Iterable[int] | None = None,
) -> dict[int, PartSites]:
    """Included supply per part x site in millionths, ONE aggregate: part -> its sites.

    `part_ids` None means every part that is a component of some kit. A part is present at a
    site when it has committed-free records there, even if the view excludes all of them (as
    `domain.kit_availability` reports sites). The view is applied in SQL (supply types,
    segments); a view with attribute filters goes through `supply_lines` and the domain's
    `View.includes` instead, since the engines read JSON scalars differently.
    """
    if view.attribute_filters:
        return _supply_units_from_lines(session, part_ids, view=view, as_of=as_of, site_ids=site_ids)
    place = aliased(Location, name="place")
    # The joined location and the flag are never null here: booleans, not the CASE.
    flags = (PartInventory.on_order.expression, place.inventory_available.expression, place.available_soon.expression)
    included = supply_type_in(view.supply_types, *flags)
    if view.segments is not None:
        included = and_(included, PartInventory.segment.in_(sorted(view.segments)))
    future = supply_type_in({SupplyType.FUTURE}, *flags)
    # FUTURE supply without an ETA counts in no figure (domain.SupplyLine).
    counted = and_(included, or_(~future, PartInventory.expected_at.is_not(None)))
    arrival = case((and_(counted, future), PartInventory.expected_at), else_=None).label("arrival")
    units = case((counted, type_coerce(PartInventory.quantity, BigInteger)), else_=literal_column("0", BigInteger))
    high, low = exact_sum(units)
    stmt = (
        select(place.site_id, PartInventory.part_id, arrival, high, low)
        .select_from(PartInventory)
        .join(place, place.id == PartInventory.location_id)
        .where(status_not_in(*COMMITTED_STATUSES))
        .group_by(place.site_id, PartInventory.part_id, arrival)
    )
    if part_ids is not None:
        stmt = stmt.where(PartInventory.part_id.in_(sorted(set(part_ids))))
    else:
        stmt = stmt.where(PartInventory.part_id.in_(select(PartComponent.component_part_id).distinct()))
    if site_ids is not None:
        stmt = stmt.where(place.site_id.in_(sorted(set(site_ids))))
    found: dict[int, PartSites] = {}
    # Core rows (the session's connection, its transaction): a quarter of a million of them
    # for a full feed, with nothing for the ORM to build.
    for site, part, day, high_sum, low_sum in session.connection().execute(stmt):
        entry = found.get(part)
        if entry is None:
            entry = found[part] = PartSites()
        # A past-due ETA, not yet received, counts as arriving on asOf.
        entry.add(site, int(high_sum or 0) * FACTOR + int(low_sum or 0), None if day is None else max(day, as_of))
    return found


def _supply_units_from_lines(
    session: Session,
    part_ids: Iterable[int] | None,
    *,
    view: View,
    as_of: dt.date,
    site_ids: Iterable[int] | None,
) -> dict[int, PartSites]:
    lines = supply_lines(session, part_ids, view=view, site_ids=site_ids, components_of_kits=part_ids is None)
    return part_sites_from_lines(lines, as_of=as_of, view=view)


def unit_ratios(components: Iterable[tuple[int, Decimal]]) -> list[tuple[int, int]]:
    """A kit definition as (component, ratio in millionths), repeated components summed."""
    ratios: dict[int, int] = {}
    for component_id, ratio in components:
        ratios[component_id] = ratios.get(component_id, 0) + to_units(ratio)
    return list(ratios.items())


def feed(
    session: Session,
    *,
    view: View = DEFAULT_VIEW,
    as_of: dt.date | None = None,
    kit_ids: Sequence[int] | None = None,
) -> Iterator[FeedRow]:
    """Every kit's (or the listed kits') figures with set-based SQL: three queries in all.

    One query for the definitions, one aggregate for all their components' supply per part x
    site (the view applied in SQL), one for part numbers; then `domain.kit_site_curves` per
    kit on integer millionths, streamed one kit at a time.
    """
    day = as_of or today()
    defs = definitions(session, kit_ids)
    ids = sorted(defs) if kit_ids is None else [k for k in kit_ids if k in defs]
    if kit_ids is None:
        supply = supply_units(session, None, view=view, as_of=day)
    else:
        supply = supply_units(session, {c for k in ids for c, _ in defs[k]}, view=view, as_of=day)
    names = {
        row.id: (row.part_number, row.revision)
        for row in session.execute(
            select(Part.id, Part.part_number, Part.revision).where(
                Part.id.in_(select(PartComponent.part_id)) if kit_ids is None else Part.id.in_(ids)
            )
        )
    }
    for kit_id in ids:
        curves = kit_site_curves(unit_ratios(defs[kit_id]), supply)
        number, revision = names[kit_id]
        yield FeedRow(kit_id, number, revision, whole_figure(*whole_network(curves)), curves)


def kit_site_figures(
    session: Session,
    pairs: Mapping[int, Iterable[int]],
    *,
    view: View = DEFAULT_VIEW,
    as_of: dt.date,
) -> list[tuple[int, SiteCurve]]:
    """The curves of the given kit -> sites (kit, then site ascending), zero where a kit has
    no supply: two queries, the same arithmetic as the feed. A part that is no longer a kit
    gets zero figures."""
    wanted = {kit: sorted(set(sites)) for kit, sites in pairs.items() if sites}
    if not wanted:
        return []
    defs = definitions(session, wanted)
    components = {c for kit in wanted for c, _ in defs.get(kit, ())}
    every_site = {site for sites in wanted.values() for site in sites}
    supply = supply_units(session, components, view=view, as_of=as_of, site_ids=every_site) if components else {}
    return [
        (kit, curve)
        for kit in sorted(wanted)
        for curve in kit_site_curves(unit_ratios(defs.get(kit, ())), supply, wanted[kit])
    ]


def kit_availabilities(
    session: Session,
    kit_ids: Sequence[int],
    *,
    view: View = DEFAULT_VIEW,
    as_of: dt.date | None = None,
) -> list[KitAvailability]:
    """Get and publish figures of many kits (a feed page): two queries for all of them."""
    day = as_of or today()
    defs = definitions(session, kit_ids)
    components = {c for k in kit_ids for c, _ in defs.get(k, ())}
    lines = supply_lines(session, components, view=view) if components else []
    by_part: dict[int, list[SupplyLine]] = defaultdict(list)
    for line in lines:
        by_part[line.part_id].append(line)
    result = []
    for kit_id in kit_ids:
        kit_components = defs.get(kit_id, [])
        kit_lines = [line for c in {c for c, _ in kit_components} for line in by_part.get(c, ())]
        result.append(kit_availability(kit_id, kit_components, kit_lines, as_of=day, view=view))
    return result


FEED_COLUMNS = (
    "kit_id", "part_number", "revision", "scope", "site_id", "site_name",
    "total_quantity", "on_hand_quantity", "future_quantity",
    "first_available_future_quantity", "first_available_future_date", "buckets",
)


def feed_csv_rows(session: Session, rows: Iterable[FeedRow]) -> Iterator[list[str]]:
    """The feed as CSV rows: per kit one NETWORK row, then one SITE row per site."""
    names = {row[0]: row[1] for row in session.execute(select(Location.id, Location.name).where(
        Location.parent_id.is_(None)))}

    def cells(figure: Figure) -> list[str]:
        return [
            str(figure.total), str(figure.on_hand), str(figure.future),
            "" if figure.first_future_quantity is None else str(figure.first_future_quantity),
            "" if figure.first_future_date is None else figure.first_future_date.isoformat(),
            ";".join(f"{b.date.isoformat()}:{b.quantity}" for b in figure.buckets),
        ]

    def curve_cells(on_hand: int, buckets: Sequence[tuple[dt.date, int]]) -> list[str]:
        # The same text as `cells(whole_figure(...))`: whole numbers print alike as int or Decimal.
        future = sum(quantity for _day, quantity in buckets)
        return [
            str(on_hand + future), str(on_hand), str(future),
            str(buckets[0][1]) if buckets else "", buckets[0][0].isoformat() if buckets else "",
            ";".join(f"{day.isoformat()}:{quantity}" for day, quantity in buckets),
        ]

    for row in rows:
        head = [str(row.part_id), row.part_number, row.revision]
        yield [csv_cell(cell) for cell in [*head, "NETWORK", "", "", *cells(row.network)]]
        for site, on_hand, buckets in row.curves:
            yield [csv_cell(cell) for cell in
                   [*head, "SITE", str(site), names.get(site, ""), *curve_cells(on_hand, buckets)]]


def parse_date(value: str | None, *, field: str = "asOf") -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"{field} must be a date (YYYY-MM-DD), got {value[:40]!r}", field=field) from None
