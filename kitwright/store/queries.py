"""Set-based list queries: operator filters, sorts and offset pagination.

Filters arrive as `{field: {operator: value}}` with values already of the column's Python
type (the API converts and names bad values). Everything is pushed into one SELECT; nothing
is filtered in Python.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, func, select, true
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput
from kitwright.domain.quantities import FACTOR, from_units

T = TypeVar("T")

# A mapped attribute (Part.id) or any SQL expression usable in WHERE / ORDER BY.
ColumnLike = Any

DEFAULT_PAGE = 50
MAX_PAGE = 500

OPERATORS = {"eq", "neq", "in", "notIn", "lt", "lte", "gt", "gte", "contains", "startsWith", "isNull"}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def condition(column: ColumnLike, op: str, value: Any, *, field: str) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = _condition(column, op, value, field=field)
    return clause


def _condition(column: Any, op: str, value: Any, *, field: str) -> Any:
    if op == "isNull":
        return column.is_(None) if value else column.is_not(None)
    if value is None:
        raise BadInput(f"{field}.{op} must not be null", field=field)
    if op == "eq":
        return column == value
    if op == "neq":
        # ION users expect neq to keep rows where the field is empty.
        return (column != value) | column.is_(None)
    if op == "in":
        return column.in_(list(value)) if value else false()
    if op == "notIn":
        return ~column.in_(list(value)) | column.is_(None) if value else column.is_not(None) | column.is_(None)
    if op == "lt":
        return column < value
    if op == "lte":
        return column <= value
    if op == "gt":
        return column > value
    if op == "gte":
        return column >= value
    if op == "contains":
        return column.ilike(f"%{_like_escape(value)}%", escape="\\")
    if op == "startsWith":
        return column.ilike(f"{_like_escape(value)}%", escape="\\")
    raise BadInput(f"unknown filter operator {op!r}", field=field)


@dataclass(frozen=True)
class MembershipFilter:
    """A derived value filtered through `is_in(*values)` conditions instead of comparing a
    computed expression (which no index can serve): eq, neq, in, notIn, isNull."""

    is_in: Callable[..., ColumnElement[bool]]

    def condition(self, op: str, value: Any, *, field: str) -> ColumnElement[bool]:
        if op == "isNull":
            return false() if value else true()
        if value is None:
            raise BadInput(f"{field}.{op} must not be null", field=field)
        if op == "eq":
            return self.is_in(value)
        if op == "neq":
            return ~self.is_in(value)
        if op == "in":
            return self.is_in(*value)
        if op == "notIn":
            return ~self.is_in(*value)
        raise BadInput(f"{field} takes eq, neq, in, notIn or isNull, not {op}", field=field)


def apply_filters(
    stmt: Select[Any],
    filters: Mapping[str, Mapping[str, Any]] | None,
    columns: Mapping[str, ColumnLike],
) -> Select[Any]:
    if not filters:
        return stmt
    clauses: list[ColumnElement[bool]] = []
    for name, ops in filters.items():
        column = columns.get(name)
        if column is None:
            raise BadInput(f"cannot filter by {name}", field=name)
        for op, value in ops.items():
            if isinstance(column, MembershipFilter):
                clauses.append(column.condition(op, value, field=name))
            else:
                clauses.append(condition(column, op, value, field=name))
    return stmt.where(and_(*clauses)) if clauses else stmt


def apply_sort(
    stmt: Select[Any],
    sort: Sequence[str] | None,
    columns: Mapping[str, ColumnLike],
    id_column: ColumnLike,
) -> Select[Any]:
    """`sort` holds values like "CREATED_AT_DESC"; the id breaks ties so pages are stable."""
    order: list[Any] = []
    used_id = False
    first_direction = "ASC"
    for index, value in enumerate(sort or []):
        name, _, direction = value.rpartition("_")
        column = columns.get(name)
        if column is None or direction not in ("ASC", "DESC"):
            raise BadInput(f"cannot sort by {value}", field="sort")
        order.append(column.asc() if direction == "ASC" else column.desc())
        used_id = used_id or column is id_column
        if index == 0:
            first_direction = direction
    if not used_id:
        # The tie-breaker follows the first sort's direction so an index on (column, id)
        # can be read backwards and stop after one page.
        order.append(id_column.asc() if first_direction == "ASC" else id_column.desc())
    return stmt.order_by(*order)


def encode_cursor(offset: int) -> str:
    # The same opaque form graphene (and so ION) uses.
    return base64.b64encode(f"arrayconnection:{offset}".encode()).decode()


def decode_cursor(cursor: str, *, field: str) -> int:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
        prefix, _, number = text.partition(":")
        # ASCII digits, at most 2^31-1: an offset any engine takes (int() would accept "٣").
        if prefix != "arrayconnection" or not (number.isascii() and number.isdigit() and len(number) <= 10):
            raise ValueError(prefix)
        offset = int(number)
    except (ValueError, UnicodeError):
        raise BadInput(f"{field} is not a cursor from this API", field=field) from None
    if offset > MAX_OFFSET:
        raise BadInput(f"{field} is not a cursor from this API", field=field)
    return offset


# Ids are 32-bit integer columns on PostgreSQL: anything larger cannot name a row, and
# offsets beyond it cannot name a page.
MAX_ID = 2**31 - 1
MAX_OFFSET = MAX_ID


@dataclass(frozen=True)
class PageRequest:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


@dataclass
class Page(Generic[T]):
    rows: list[T]
    offset: int
    has_next_page: bool
    has_previous_page: bool
    count_total: Callable[[], int] = field(repr=False)

    def cursor(self, index: int) -> str:
        return encode_cursor(self.offset + index)


def paginate(session: Session, stmt: Select[Any], page: PageRequest) -> Page[Any]:
    for name in ("first", "last"):
        value = getattr(page, name)
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise BadInput(f"{name} must be between 0 and {MAX_PAGE}", field=name)
    start = decode_cursor(page.after, field="after") + 1 if page.after else 0
    end = decode_cursor(page.before, field="before") if page.before else None

    total_cache: list[int] = []

    def count_total() -> int:
        if not total_cache:
            count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
            total_cache.append(int(session.scalar(count_stmt) or 0))
        return total_cache[0]

    if page.last is not None and page.first is None:
        stop = end if end is not None else count_total()
        offset = max(start, stop - page.last)
        limit = max(0, stop - offset)
        rows = list(session.scalars(stmt.offset(offset).limit(limit))) if limit else []
        return Page(rows, offset, end is not None and end < count_total(), offset > 0, count_total)

    size = page.first if page.first is not None else DEFAULT_PAGE
    if end is not None:
        size = min(size, max(0, end - start))
    rows = list(session.scalars(stmt.offset(start).limit(size + 1))) if size else []
    has_next = len(rows) > size
    rows = rows[:size]
    if page.last is not None and len(rows) > page.last:
        cut = len(rows) - page.last
        rows = rows[cut:]
        start += cut
    return Page(rows, start, has_next, start > 0, count_total)


def query_page(
    session: Session,
    stmt: Select[Any],
    *,
    filters: Mapping[str, Mapping[str, Any]] | None,
    sort: Sequence[str] | None,
    page: PageRequest,
    columns: Mapping[str, ColumnLike],
    sorts: Mapping[str, ColumnLike],
    id_column: ColumnLike,
) -> Page[Any]:
    """Filter, sort and cut one page of a list: the whole of every `things(...)` query."""
    stmt = apply_sort(apply_filters(stmt, filters, columns), sort, sorts, id_column)
    return paginate(session, stmt, page)


def exact_sum(units: Any) -> tuple[Any, Any]:
    """Two SQL sums whose combination `high * 10^6 + low` is the exact total of a column of
    integer millionths, however many rows: SQLite sums in 64-bit integers and fails on
    overflow, but neither half can overflow for quantities within MAX_QUANTITY."""
    from sqlalchemy import BigInteger, literal_column, type_coerce

    raw = type_coerce(units, BigInteger)
    factor = literal_column(str(FACTOR), BigInteger)  # integer division on both engines
    return func.sum(raw // factor), func.sum(raw % factor)


def combine_sum(high: Any, low: Any) -> Decimal:
    return from_units(int(high or 0) * FACTOR + int(low or 0))
