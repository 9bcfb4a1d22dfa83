"""Availability arithmetic for parts and retail kit items (docs/retail.md).

Only components hold inventory. Per site, a kit's figure comes from ONE cumulative curve

    kits(t) = min over components c of floor(cumulative included supply of c up to t / r_c)

On hand = kits(asOf) from on-hand supply alone; each future bucket is the increase of kits(t)
at an ETA (a past-due ETA counts at asOf); total = on hand + all buckets. Leftover on-hand
units thus combine with future units, and future kits are never a separate min over future
supply. The network figure is the sum of the site figures: components at different sites
never combine into a kit.

Inputs are `SupplyLine`s, which may be pre-aggregated: the store sums committed-free supply in
SQL per site x part x supply type x ETA (x segment x attributes when the view filters on
them) and hands over the sums; nothing here needs individual inventory records. Committed
inventory (kitted, allocated, installed, scrapped) must not be in the lines at all.

Everything is exact: quantities are Decimals, kit counts whole Decimals; no float anywhere.
"""

from __future__ import annotations

import datetime as dt
import enum
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from functools import partial
from itertools import compress, repeat
from operator import itemgetter, ne
from typing import NamedTuple

from kitwright.domain.quantities import SCALE, ZERO, normalize, to_units

# Wide enough that sums and divisions of stored quantities never round.
_PRECISION = 1000


class SupplyType(enum.StrEnum):
    ON_HAND_AVAILABLE = "ON_HAND_AVAILABLE"
    ON_HAND_AVAILABLE_SOON = "ON_HAND_AVAILABLE_SOON"
    ON_HAND_UNAVAILABLE = "ON_HAND_UNAVAILABLE"
    FUTURE = "FUTURE"


# The default view is what a Manhattan "Ship-to-Home" view or an ION user asking "what can I
# have" expects: sellable stock now plus what is on order. Stock on a receiving dock (soon) or
# in an unavailable location is opt-in, as in the page's "available only" examples.
DEFAULT_SUPPLY_TYPES: frozenset[SupplyType] = frozenset(
    {SupplyType.ON_HAND_AVAILABLE, SupplyType.FUTURE}
)


def classify_supply(
    *, on_order: bool, inventory_available: bool, available_soon: bool
) -> SupplyType:
    """Supply type of one inventory record (docs/retail.md, "Supply types"); first match wins.

    FUTURE if the record is on order; otherwise by its location: `inventoryAvailable: false`
    → ON_HAND_UNAVAILABLE, `availableSoon: true` → ON_HAND_AVAILABLE_SOON, else
    ON_HAND_AVAILABLE. The ETA (`expectedAt`) does not decide the type: a received PO is
    on-hand supply even though it keeps its ETA, and an on-order record without an ETA is
    still FUTURE (it only has no date yet, see `SupplyLine`). A record without a location
    should be passed as `inventory_available=False`.
    """
    if on_order:
        return SupplyType.FUTURE
    if not inventory_available:
        return SupplyType.ON_HAND_UNAVAILABLE
    if available_soon:
        return SupplyType.ON_HAND_AVAILABLE_SOON
    return SupplyType.ON_HAND_AVAILABLE


@dataclass(frozen=True)
class SupplyLine:
    """Supply of one part at one site: one record, or a sum of records sharing these keys.

    `expected_at` is the ETA of FUTURE supply and ignored for on-hand supply. FUTURE supply
    without an ETA counts in no figure (we cannot say when it arrives). `segment` None means
    "no segment"; `attributes` are the record's custom attributes, JSON scalars as text.
    """

    site_id: int
    part_id: int
    supply_type: SupplyType
    quantity: Decimal
    expected_at: dt.date | None = None
    segment: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        quantity: object = self.quantity
        if isinstance(quantity, int) and not isinstance(quantity, bool):
            object.__setattr__(self, "quantity", Decimal(quantity))
        elif not isinstance(quantity, Decimal):
            raise TypeError(f"supply quantity must be a Decimal, got {type(quantity).__name__}")
        if not self.quantity.is_finite() or self.quantity < 0:
            raise ValueError(f"supply quantity must be finite and >= 0, got {self.quantity}")
        with localcontext(prec=_PRECISION):
            if normalize(self.quantity) != self.quantity:
                # Stored quantities are millionths; anything finer would be rounded below.
                raise ValueError(f"supply quantity has more than {SCALE} decimal places")


@dataclass(frozen=True)
class View:
    """Which supply counts, decided per component before any division.

    `segments` None counts every segment; otherwise only lines whose segment is listed (a
    line with no segment is then excluded). `attribute_filters[part_id][attribute]` is the set
    of accepted values: a line of that part counts only if, for every filtered attribute, its
    value is in the set (attributes AND, values OR; a missing attribute does not match).
    """

    supply_types: AbstractSet[SupplyType] = DEFAULT_SUPPLY_TYPES
    segments: AbstractSet[str] | None = None
    attribute_filters: Mapping[int, Mapping[str, AbstractSet[str]]] = field(
        default_factory=dict
    )

    def includes(self, line: SupplyLine) -> bool:
        if line.supply_type not in self.supply_types:
            return False
        if self.segments is not None and line.segment not in self.segments:
            return False
        for attribute, values in self.attribute_filters.get(line.part_id, {}).items():
            value = line.attributes.get(attribute)
            if value is None or value not in values:
                return False
        return True


DEFAULT_VIEW = View()


class Bucket(NamedTuple):
    """Quantity that becomes available on `date` (an increase of the curve)."""

    date: dt.date
    quantity: Decimal


@dataclass(frozen=True)
class Figure:
    """AvailabilityFigure. For kits every quantity is a whole number of kits."""

    total: Decimal
    on_hand: Decimal
    future: Decimal
    first_future_quantity: Decimal | None
    first_future_date: dt.date | None
    buckets: tuple[Bucket, ...]

    @classmethod
    def from_curve(cls, on_hand: Decimal, buckets: Sequence[Bucket]) -> Figure:
        """Build the figure from kits(asOf) and the increases after it (dates ascending)."""
        with localcontext(prec=_PRECISION):
            future = sum((b.quantity for b in buckets), ZERO)
            first = buckets[0] if buckets else None
            return cls(
                total=normalize(on_hand + future),
                on_hand=normalize(on_hand),
                future=normalize(future),
                first_future_quantity=normalize(first.quantity) if first else None,
                first_future_date=first.date if first else None,
                buckets=tuple(Bucket(b.date, normalize(b.quantity)) for b in buckets),
            )

    def quantity_at(self, day: dt.date) -> Decimal:
        """kits(day): on hand plus every bucket up to and including `day`."""
        with localcontext(prec=_PRECISION):
            return normalize(
                self.on_hand + sum((b.quantity for b in self.buckets if b.date <= day), ZERO)
            )


ZERO_FIGURE = Figure.from_curve(ZERO, ())


@dataclass(frozen=True)
class SiteFigure:
    site_id: int
    figure: Figure


@dataclass(frozen=True)
class ComponentFigures:
    """The "publish" figures of one component: its own supply, not reduced by the kits."""

    part_id: int
    ratio: Decimal
    network: Figure
    sites: tuple[SiteFigure, ...]


@dataclass(frozen=True)
class KitAvailability:
    """KitAvailability: the kit (or regular part) figures, and per component."""

    part_id: int
    is_kit: bool
    network: Figure
    sites: tuple[SiteFigure, ...]
    components: tuple[ComponentFigures, ...]


def site_kit_figure(
    ratios: Mapping[int, Decimal],
    lines: Iterable[SupplyLine],
    *,
    as_of: dt.date,
    view: View = DEFAULT_VIEW,
) -> Figure:
    """Whole-kit figure of ONE site from its component supply (lines of other parts ignored).

    The caller passes only that site's lines: this function does not look at `site_id`.
    """
    return _curve(ratios, lines, as_of=as_of, view=view, whole=True)


def site_supply_figure(
    part_id: int,
    lines: Iterable[SupplyLine],
    *,
    as_of: dt.date,
    view: View = DEFAULT_VIEW,
) -> Figure:
    """A part's own figure at ONE site: its included supply, exact and not floored.

    Used for a regular (non-kit) part and for each component's "publish" figure. It is the
    kit curve with ratio 1, without the floor, so 2.5 kg of an untracked part stays 2.5.
    """
    return _curve({part_id: Decimal(1)}, lines, as_of=as_of, view=view, whole=False)


def network_figure(figures: Iterable[Figure]) -> Figure:
    """Network = the sum of the site figures; buckets of the same date add up."""
    with localcontext(prec=_PRECISION):
        on_hand = ZERO
        by_date: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
        for figure in figures:
            on_hand += figure.on_hand
            for bucket in figure.buckets:
                by_date[bucket.date] += bucket.quantity
        buckets = [Bucket(day, by_date[day]) for day in sorted(by_date)]
        return Figure.from_curve(on_hand, buckets)


def kit_availability(
    part_id: int,
    components: Sequence[tuple[int, Decimal]],
    lines: Iterable[SupplyLine],
    *,
    as_of: dt.date,
    view: View = DEFAULT_VIEW,
    site_ids: Iterable[int] | None = None,
) -> KitAvailability:
    """Get and publish availability of a part: per site, network, and per component.

    `components` is the part's normalised kit definition (empty for a regular part, which
    gets its own figures). Sites reported: `site_ids` when given (a site with no supply gets a
    zero figure, lines of other sites are ignored, and the network is the sum over those
    sites only), else every site with a supply line of a relevant part, before the view's
    filters (so a site whose supply the view excludes shows 0). Sites are in ascending id.
    """
    ratios: dict[int, Decimal] = {}
    for component_id, ratio in components:
        if not ratio > 0:
            raise ValueError(f"ratio of component {component_id} must be > 0, got {ratio}")
        ratios[component_id] = ratios.get(component_id, ZERO) + ratio
    is_kit = bool(ratios)
    relevant = set(ratios) if is_kit else {part_id}

    wanted = None if site_ids is None else set(site_ids)
    by_site: dict[int, list[SupplyLine]] = {site: [] for site in wanted or ()}
    for line in lines:
        if line.part_id in relevant and (wanted is None or line.site_id in wanted):
            by_site.setdefault(line.site_id, []).append(line)
    sites = sorted(by_site)

    def figures_of(
        compute: Callable[[list[SupplyLine]], Figure],
    ) -> tuple[Figure, tuple[SiteFigure, ...]]:
        per_site = tuple(SiteFigure(site, compute(by_site[site])) for site in sites)
        return network_figure(s.figure for s in per_site), per_site

    if not is_kit:
        network, site_figures = figures_of(
            lambda site_lines: site_supply_figure(part_id, site_lines, as_of=as_of, view=view)
        )
        return KitAvailability(part_id, False, network, site_figures, ())

    network, site_figures = figures_of(
        lambda site_lines: site_kit_figure(ratios, site_lines, as_of=as_of, view=view)
    )
    published = []
    for component_id, ratio in ratios.items():
        c_network, c_sites = figures_of(
            partial(site_supply_figure, component_id, as_of=as_of, view=view)
        )
        published.append(ComponentFigures(component_id, normalize(ratio), c_network, c_sites))
    return KitAvailability(part_id, True, network, site_figures, tuple(published))


# --- internals ---------------------------------------------------------------------------


@dataclass
class PartSupply:
    """One part's included supply at one site: on hand, and arrivals by (effective) date."""

    on_hand: Decimal = ZERO
    arriving: dict[dt.date, Decimal] = field(default_factory=dict)


def summarise_supply(
    lines: Iterable[SupplyLine],
    *,
    as_of: dt.date,
    view: View = DEFAULT_VIEW,
    parts: AbstractSet[int] | None = None,
) -> dict[int, PartSupply]:
    """Apply the view to ONE site's lines and sum them per part (of `parts`, if given).

    FUTURE supply without an ETA is dropped; a past-due ETA counts as arriving at `as_of`.
    The result feeds `site_kit_figure_from_supply`, so a caller computing many kits over the
    same site (the publish feed) summarises each part once.
    """
    supply: dict[int, PartSupply] = {}
    with localcontext(prec=_PRECISION):
        for line in lines:
            if (parts is not None and line.part_id not in parts) or not view.includes(line):
                continue
            entry = supply.setdefault(line.part_id, PartSupply())
            if line.supply_type is SupplyType.FUTURE:
                if line.expected_at is None:
                    continue
                # A past-due ETA, not yet received, counts as arriving today.
                day = max(line.expected_at, as_of)
                entry.arriving[day] = entry.arriving.get(day, ZERO) + line.quantity
            else:
                entry.on_hand += line.quantity
    return supply


_NO_SUPPLY = PartSupply()


def site_kit_figure_from_supply(
    ratios: Mapping[int, Decimal], supply: Mapping[int, PartSupply], *, whole: bool = True
) -> Figure:
    """The kit curve of ONE site from summarised supply (see `summarise_supply`).

    kits(t) = min over components of floor(cumulative supply up to t / ratio); on hand is
    kits(asOf), each bucket an increase at an arrival date. `whole` False gives the exact
    (unfloored) quotient, used for a part's own figures.
    """
    if not ratios:
        return ZERO_FIGURE
    with localcontext(prec=_PRECISION):
        components = [(part, ratio, supply.get(part, _NO_SUPPLY)) for part, ratio in ratios.items()]

        def kits(amounts: Sequence[Decimal]) -> Decimal:
            return min(
                amount // ratio if whole else amount / ratio
                for amount, (_part, ratio, _s) in zip(amounts, components, strict=True)
            )

        cumulative = [entry.on_hand for _part, _ratio, entry in components]
        now = kits(cumulative)
        days = sorted({day for _p, _r, entry in components for day in entry.arriving})
        buckets: list[Bucket] = []
        previous = now
        for day in days:
            cumulative = [
                amount + entry.arriving.get(day, ZERO)
                for amount, (_p, _r, entry) in zip(cumulative, components, strict=True)
            ]
            current = kits(cumulative)
            if current > previous:
                buckets.append(Bucket(day, current - previous))
                previous = current
        return Figure.from_curve(now, buckets)


def _curve(
    ratios: Mapping[int, Decimal],
    lines: Iterable[SupplyLine],
    *,
    as_of: dt.date,
    view: View,
    whole: bool,
) -> Figure:
    """kits(t) over one site's lines; `whole` floors each component's quotient."""
    if not ratios:
        return ZERO_FIGURE
    supply = summarise_supply(lines, as_of=as_of, view=view, parts=set(ratios))
    return site_kit_figure_from_supply(ratios, supply, whole=whole)


# --- whole kits over many sites at once, in integer units (the publish feed) --------------
#
# The same curve as `site_kit_figure_from_supply` with whole=True, on integer millionths
# (store units) instead of Decimals: floor((S / 10^6) / (R / 10^6)) = S // R exactly, so the
# feed can compute a million kit x site curves without a Decimal context. Property tests hold
# it equal to `kit_availability`.


@dataclass(slots=True)
class PartSites:
    """One part's included supply at every site where it is present, in millionths.

    `on_hand` has every present site (0 when the view excludes all of its supply there),
    `arriving` holds only sites with arrivals, by (effective) date. (No running total: the
    feed adds a quarter of a million rows, most of them on hand; `columns` sums arrivals.)
    """

    on_hand: dict[int, int] = field(default_factory=dict)
    arriving: dict[int, dict[dt.date, int]] = field(default_factory=dict)
    # Derived once and shared by every kit using the part (cleared by `add`): the present
    # sites ascending, and per ratio the whole kits the part alone allows at each of them.
    _order: tuple[int, ...] | None = field(default=None, repr=False, compare=False)
    _columns: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict, repr=False, compare=False)
    _quotients: dict[int, tuple[dict[int, int], dict[int, int]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def add(self, site: int, amount: int, day: dt.date | None = None) -> None:
        """Count `amount` at `site`: on hand, or arriving on `day`."""
        if self._order is not None:
            self._order = None
            self._columns.clear()
            self._quotients.clear()
        if day is None:
            self.on_hand[site] = self.on_hand.get(site, 0) + amount
            return
        self.on_hand.setdefault(site, 0)
        arrivals = self.arriving.setdefault(site, {})
        arrivals[day] = arrivals.get(day, 0) + amount

    def order(self) -> tuple[int, ...]:
        """The sites where the part is present, ascending."""
        if self._order is None:
            self._order = tuple(sorted(self.on_hand))
        return self._order

    def columns(self, ratio: int) -> tuple[list[int], list[int]]:
        """Whole kits the part alone allows at `ratio` at each site of `order()`: on hand,
        and with every arrival."""
        found = self._columns.get(ratio)
        if found is None:
            order = self.order()
            on_hand = self.on_hand
            now = [on_hand[site] // ratio for site in order]
            ever = now
            if self.arriving:
                # Only sites with arrivals differ from on hand.
                ever = now.copy()
                for site in self.arriving:
                    ever[bisect_left(order, site)] = (on_hand[site] + sum(self.arriving[site].values())) // ratio
            found = self._columns[ratio] = (now, ever)
        return found

    def quotients(self, ratio: int) -> tuple[dict[int, int], dict[int, int]]:
        """`columns(ratio)` by site."""
        found = self._quotients.get(ratio)
        if found is None:
            order = self.order()
            now, ever = self.columns(ratio)
            by_site = dict(zip(order, now, strict=True))
            found = self._quotients[ratio] = (
                by_site, dict(zip(order, ever, strict=True)) if ever is not now else by_site
            )
        return found


# (site, on-hand kits, buckets as (date, kits) ascending): one site of a kit's figures.
SiteCurve = tuple[int, int, tuple[tuple[dt.date, int], ...]]


def add_part_supply(sites: PartSites, site: int, summary: PartSupply) -> None:
    """Count a Decimal `PartSupply` (see `summarise_supply`) at `site`, in millionths."""
    sites.add(site, to_units(summary.on_hand))
    for day, quantity in summary.arriving.items():
        sites.add(site, to_units(quantity), day)


_NO_PART = PartSites()


def part_sites_from_lines(lines: Iterable[SupplyLine], *, as_of: dt.date, view: View) -> dict[int, PartSites]:
    """Each part's supply per site, from supply lines: a part present at a site (in any
    supply type) gets an entry there, holding what `view` counts of it (zero if nothing)."""
    by_site: dict[int, list[SupplyLine]] = {}
    for line in lines:
        by_site.setdefault(line.site_id, []).append(line)
    everything = View(supply_types=frozenset(SupplyType))
    found: dict[int, PartSites] = {}
    for site, site_lines in by_site.items():
        present = summarise_supply(site_lines, as_of=as_of, view=everything)
        included = summarise_supply(site_lines, as_of=as_of, view=view)
        for part in present:
            add_part_supply(found.setdefault(part, PartSites()), site, included.get(part, PartSupply()))
    return found


def kit_site_curves(
    ratios: Sequence[tuple[int, int]],
    supply: Mapping[int, PartSites],
    sites: Iterable[int] | None = None,
) -> list[SiteCurve]:
    """A kit's whole-kit curve at each site: `ratios` are (component, ratio in millionths,
    > 0, each component once), `supply[part]` the part's summarised supply.

    Sites: `sites` when given (in that order), else every site where a component is present
    (ascending), as `kit_availability` reports them. A component without supply at a site
    gives 0 there, now and later.

    Set-wise for speed (a feed computes a million of these): on hand and "ever" (every
    arrival counted) for all sites at once, from each component's quotients per site
    (`PartSites.quotients`, shared by every kit using it at that ratio); only a site where
    the two differ walks its arrival dates.
    """
    components = [(supply.get(part, _NO_PART), ratio) for part, ratio in ratios]
    if not components:
        return [(site, 0, ()) for site in ([] if sites is None else sites)]
    first = components[0][0].order()
    order: Sequence[int]
    full: Sequence[int]
    if sites is None and all(part_sites.order() == first for part_sites, _ratio in components):
        # Every component present at the same sites (the usual case): aligned columns.
        order = full = first
        columns = [part_sites.columns(ratio) for part_sites, ratio in components]
        now = _least([on_hand for on_hand, _ever in columns])
        ever = _least([every for _now, every in columns])
    else:
        if sites is None:
            order = sorted(set().union(*(part_sites.on_hand.keys() for part_sites, _ratio in components)))
        else:
            order = list(sites)
        common = set(order).intersection(*(part_sites.on_hand.keys() for part_sites, _ratio in components))
        full = order if len(common) == len(order) else [site for site in order if site in common]
        quotients = [part_sites.quotients(ratio) for part_sites, ratio in components]
        now = _min_over([on_hand for on_hand, _ever in quotients], full)
        ever = _min_over([every for _now, every in quotients], full)
    curves: list[SiteCurve] = list(zip(full, now, repeat(())))
    differing = list(compress(range(len(full)), map(ne, now, ever)))
    if differing:
        arrivals = list(enumerate(part_sites.arriving for part_sites, _ratio in components))
        ratio_of = [ratio for _part_sites, ratio in components]
        for index in differing:
            site = full[index]
            events = [
                (day, component, amount)
                for component, by_site in arrivals if site in by_site
                for day, amount in by_site[site].items()
            ]
            events.sort()
            if events[0][0] == events[-1][0]:
                # One arrival date: the whole difference arrives then.
                curves[index] = (site, now[index], ((events[0][0], ever[index] - now[index]),))
            else:
                cumulative = [part_sites.on_hand[site] for part_sites, _ratio in components]
                curves[index] = (site, now[index], _steps(cumulative, ratio_of, events, now[index]))
    if full is order:
        return curves
    computed = dict(zip(full, curves, strict=True))
    return [computed.get(site) or (site, 0, ()) for site in order]


def _least(columns: Sequence[list[int]]) -> list[int]:
    """Per position, the least of the columns' values (equal lengths); the column itself if
    there is one. Pairwise comprehensions: faster than min() per position."""
    least = columns[0]
    for column in columns[1:]:
        least = [a if a <= b else b for a, b in zip(least, column, strict=True)]
    return least


def _min_over(columns: Sequence[Mapping[int, int]], sites: Sequence[int]) -> list[int]:
    """Per site (in order), the least of the columns' values there."""
    if len(columns) == 1:
        return list(map(columns[0].__getitem__, sites))
    return list(map(min, *(map(column.__getitem__, sites) for column in columns)))


def _steps(
    cumulative: list[int], ratios: Sequence[int], events: Sequence[tuple[dt.date, int, int]], kits_now: int
) -> tuple[tuple[dt.date, int], ...]:
    """The increases of kits(t) at one site: `cumulative` is each component's on-hand supply
    (updated in place), `events` its arrivals as (date, component index, amount), by date."""
    levels = [amount // ratio for amount, ratio in zip(cumulative, ratios, strict=True)]
    buckets: list[tuple[dt.date, int]] = []
    previous = kits_now
    last = len(events) - 1
    for position, (day, component, amount) in enumerate(events):
        cumulative[component] += amount
        levels[component] = cumulative[component] // ratios[component]
        if position < last and events[position + 1][0] == day:
            continue  # kits(t) is read once a date's arrivals are all in
        current = min(levels)
        if current > previous:
            buckets.append((day, current - previous))
            previous = current
    return tuple(buckets)


def whole_figure(on_hand: int, buckets: Sequence[tuple[dt.date, int]]) -> Figure:
    """`Figure.from_curve` for whole numbers (kits): the same values, built from ints."""
    future = sum(quantity for _day, quantity in buckets)
    first = buckets[0] if buckets else None
    return Figure(
        total=Decimal(on_hand + future),
        on_hand=Decimal(on_hand),
        future=Decimal(future),
        first_future_quantity=Decimal(first[1]) if first else None,
        first_future_date=first[0] if first else None,
        buckets=tuple(Bucket(day, Decimal(quantity)) for day, quantity in buckets),
    )


def whole_network(curves: Sequence[SiteCurve]) -> tuple[int, tuple[tuple[dt.date, int], ...]]:
    """Network = the sum of the site curves (buckets of the same date add up)."""
    by_date: dict[dt.date, int] = {}
    for buckets in filter(None, map(itemgetter(2), curves)):
        for day, quantity in buckets:
            by_date[day] = by_date.get(day, 0) + quantity
    return sum(map(itemgetter(1), curves)), tuple(sorted(by_date.items()))
