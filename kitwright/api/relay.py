"""Relay connections, operator filters and sort enums shared by every list (docs/api.md, "Lists")."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.scalars import DecimalScalar, parse_id
from kitwright.domain.errors import BadInput
from kitwright.domain.text import camel
from kitwright.domain.tracking import clean_number
from kitwright.store.queries import Page

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None
    count: int = strawberry.field(description="Number of edges on this page.")
    _total: strawberry.Private[Callable[[], int]]

    @strawberry.field(description="Number of objects matching the filters, on all pages.")
    def total_count(self) -> int:
        return self._total()


def _edge_cursor(self: Edge[Any]) -> str:
    # Encoded when asked for: most pages ask only for pageInfo's end cursor.
    return self._page.cursor(self._index)


@strawberry.type
class Edge(Generic[T]):
    cursor: str = strawberry.field(resolver=_edge_cursor)
    node: T
    _page: strawberry.Private[Page[Any]]
    _index: strawberry.Private[int]


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _total: strawberry.Private[Callable[[], int]]

    @strawberry.field(description="Number of objects matching the filters, on all pages.")
    def total_count(self) -> int:
        return self._total()


def connection(page: Page[Any]) -> Connection[Any]:
    edges = [Edge(node=row, _page=page, _index=i) for i, row in enumerate(page.rows)]
    info = PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=page.cursor(0) if edges else None,
        end_cursor=page.cursor(len(edges) - 1) if edges else None,
        count=len(edges),
        _total=page.count_total,
    )
    return Connection(edges=edges, page_info=info, _total=page.count_total)


def _fields(data: object) -> tuple[dataclasses.Field[Any], ...]:
    """The fields of a Strawberry input (a dataclass, which mypy does not know it is)."""
    return dataclasses.fields(cast(Any, data))


# -- operator filters --------------------------------------------------------------------


class _Filter:
    """Converts an operator object to `{op: value}` with values of the column's type."""

    def to_ops(self, field: str) -> dict[str, Any]:
        ops: dict[str, Any] = {}
        for f in _fields(self):
            value = getattr(self, f.name)
            if value is UNSET:
                continue
            op = {"in_": "in", "not_in": "notIn", "starts_with": "startsWith", "is_null": "isNull"}.get(
                f.name, f.name
            )
            if value is None and op != "isNull":
                continue
            if op == "isNull":
                ops[op] = bool(value)
            elif op in ("in", "notIn"):
                if len(value) > 10_000:
                    raise BadInput(f"{field}.{op} holds more than 10000 values", field=field)
                ops[op] = [self.convert(v, field) for v in value]
            else:
                ops[op] = self.convert(value, field)
        return ops

    def convert(self, value: Any, field: str) -> Any:
        return value


@strawberry.input(description="Compare an id: eq, neq, in, notIn, lt, lte, gt, gte, isNull.")
class IDFilter(_Filter):
    eq: strawberry.ID | None = UNSET
    neq: strawberry.ID | None = UNSET
    in_: list[strawberry.ID] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[strawberry.ID] | None = UNSET
    lt: strawberry.ID | None = UNSET
    lte: strawberry.ID | None = UNSET
    gt: strawberry.ID | None = UNSET
    gte: strawberry.ID | None = UNSET
    is_null: bool | None = UNSET

    def convert(self, value: Any, field: str) -> Any:
        return parse_id(value, field=field)


@strawberry.input(description="Compare text: eq, neq, in, notIn, contains, startsWith, isNull.")
class StringFilter(_Filter):
    eq: str | None = UNSET
    neq: str | None = UNSET
    in_: list[str] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[str] | None = UNSET
    contains: str | None = UNSET
    starts_with: str | None = UNSET
    is_null: bool | None = UNSET

    def convert(self, value: Any, field: str) -> Any:
        if len(value) > 1000 or "\x00" in value:
            raise BadInput(f"{field} filter text is too long or holds NUL", field=field)
        if field in NORMALISED_NUMBERS:
            # Stored serial and lot numbers are in one normal form: compare in it too.
            return clean_number(value, field=field) or value
        return value


@strawberry.input(description="Compare a number: eq, neq, in, notIn, lt, lte, gt, gte, isNull.")
class DecimalFilter(_Filter):
    eq: DecimalScalar | None = UNSET
    neq: DecimalScalar | None = UNSET
    in_: list[DecimalScalar] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[DecimalScalar] | None = UNSET
    lt: DecimalScalar | None = UNSET
    lte: DecimalScalar | None = UNSET
    gt: DecimalScalar | None = UNSET
    gte: DecimalScalar | None = UNSET
    is_null: bool | None = UNSET

    def convert(self, value: Any, field: str) -> Any:
        return Decimal(value)


@strawberry.input(description="Compare a time: eq, neq, in, notIn, lt, lte, gt, gte, isNull.")
class DateTimeFilter(_Filter):
    eq: datetime | None = UNSET
    neq: datetime | None = UNSET
    in_: list[datetime] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[datetime] | None = UNSET
    lt: datetime | None = UNSET
    lte: datetime | None = UNSET
    gt: datetime | None = UNSET
    gte: datetime | None = UNSET
    is_null: bool | None = UNSET


@strawberry.input(description="Compare a date: eq, neq, in, notIn, lt, lte, gt, gte, isNull.")
class DateFilter(_Filter):
    eq: date | None = UNSET
    neq: date | None = UNSET
    in_: list[date] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[date] | None = UNSET
    lt: date | None = UNSET
    lte: date | None = UNSET
    gt: date | None = UNSET
    gte: date | None = UNSET
    is_null: bool | None = UNSET


@strawberry.input(description="Compare a flag: eq, neq, isNull.")
class BooleanFilter(_Filter):
    eq: bool | None = UNSET
    neq: bool | None = UNSET
    is_null: bool | None = UNSET


E = TypeVar("E", bound=enum.Enum)


class EnumFilter(_Filter, Generic[E]):
    """Compare an enum: eq, neq, in, notIn, isNull.

    `EnumFilter[PartKitStatus]` is the GraphQL input `PartKitStatusFilter`, made on first use
    (one per enum): Strawberry sees that input, mypy sees this generic class."""

    eq: E | None
    neq: E | None
    in_: list[E] | None
    not_in: list[E] | None
    is_null: bool | None

    def convert(self, value: Any, field: str) -> Any:
        return value.value

    def __class_getitem__(cls, enum_type: Any) -> Any:
        return _enum_filter(enum_type)


_ENUM_FILTERS: dict[Any, type[_Filter]] = {}


def _enum_filter(enum_type: Any) -> type[_Filter]:
    if enum_type in _ENUM_FILTERS:
        return _ENUM_FILTERS[enum_type]
    name = f"{enum_type.__strawberry_definition__.name}Filter"

    def convert(self: _Filter, value: Any, field: str) -> Any:
        return value.value

    namespace: dict[str, Any] = {
        "__annotations__": {
            "eq": enum_type | None,
            "neq": enum_type | None,
            "in_": list[enum_type] | None,
            "not_in": list[enum_type] | None,
            "is_null": bool | None,
        },
        "eq": UNSET,
        "neq": UNSET,
        "in_": strawberry.field(name="in", default=UNSET),
        "not_in": UNSET,
        "is_null": UNSET,
        "convert": convert,
    }
    cls = type(name, (_Filter,), namespace)
    description = f"Compare a {name.removesuffix('Filter')}: eq, neq, in, notIn, isNull."
    made: type[_Filter] = strawberry.input(name=name, description=description)(cls)
    _ENUM_FILTERS[enum_type] = made
    return made


NORMALISED_NUMBERS = frozenset({"serialNumber", "lotNumber"})


def filters_dict(filters: object | None) -> dict[str, dict[str, Any]]:
    """A `ThingsInputFilters` object -> `{camelField: {op: value}}` for the services."""
    if filters is None or filters is UNSET:
        return {}
    result: dict[str, dict[str, Any]] = {}
    for f in _fields(filters):
        value = getattr(filters, f.name)
        if value is None or value is UNSET:
            continue
        name = camel(f.name)
        ops = value.to_ops(name)
        if ops:
            result[name] = ops
    return result


def sort_enum(name: str, keys: Iterable[str]) -> type[enum.Enum]:
    members = {f"{key}_{direction}": f"{key}_{direction}" for key in keys for direction in ("ASC", "DESC")}
    # The functional Enum API with computed members: mypy only types it for literal members.
    make_enum: Any = enum.Enum
    made: type[enum.Enum] = make_enum(name, members)
    return strawberry.enum(made)


def sort_values(sort: Sequence[enum.Enum | None] | None) -> list[str]:
    # The seed declares `$sort: [PartInventorySortEnum]`: items may be null; skip them.
    return [item.value for item in sort or [] if item is not None]


def input_changes(data: object, *, skip: Iterable[str] = ("id", "etag"), ids: Iterable[str] = ()) -> dict[str, Any]:
    """The fields a client actually sent in an update input, with ids parsed."""
    id_fields = set(ids)
    changes: dict[str, Any] = {}
    for f in _fields(data):
        if f.name in skip:
            continue
        value = getattr(data, f.name)
        if value is UNSET:
            continue
        if f.name in id_fields and value is not None:
            value = parse_id(value, field=camel(f.name))
        elif isinstance(value, enum.Enum):
            value = value.value
        changes[f.name] = value
    return changes


def optional_id(value: object, field: str) -> int | None:
    if value is None or value is UNSET:
        return None
    return parse_id(value, field=field)
