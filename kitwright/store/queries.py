"""Set-based list queries: operator filters, sorts and keyset (or offset) pagination.

Filters arrive as `{field: {operator: value}}` with values already of the column's Python
type (the API converts and names bad values). Everything is pushed into one SELECT; nothing
is filtered in Python.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput
from kitwright.domain.limits import MAX_ID
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
class CountForm:
    """A second form of a membership filter for counting a list on `engines`: conditions over
    the rows `joins` adds to the statement (once, whatever the operators)."""

    is_in: Callable[..., ColumnElement[bool]]
    joins: Callable[[Select[Any]], Select[Any]]
    engines: frozenset[str]


@dataclass(frozen=True)
class MembershipFilter:
    """A derived value filtered through `is_in(*values)` conditions instead of comparing a
    computed expression (which no index can serve): eq, neq, in, notIn, isNull."""

    is_in: Callable[..., ColumnElement[bool]]
    count_form: CountForm | None = None

    def counted_form(self, engine: str | None) -> CountForm | None:
        """The form to count the list with on `engine`, if it has its own there."""
        form = self.count_form
        return form if form is not None and engine in form.engines else None

    def condition(self, op: str, value: Any, *, field: str, counting_on: str | None = None) -> ColumnElement[bool]:
        form = self.counted_form(counting_on)
        is_in = self.is_in if form is None else form.is_in
        if op == "isNull":
            return false() if value else true()
        if value is None:
            raise BadInput(f"{field}.{op} must not be null", field=field)
        if op == "eq":
            return is_in(value)
        if op == "neq":
            return ~is_in(value)
        if op == "in":
            return is_in(*value)
        if op == "notIn":
            return ~is_in(*value)
        raise BadInput(f"{field} takes eq, neq, in, notIn or isNull, not {op}", field=field)


def apply_filters(
    stmt: Select[Any],
    filters: Mapping[str, Mapping[str, Any]] | None,
    columns: Mapping[str, ColumnLike],
    *,
    counting_on: str | None = None,
) -> Select[Any]:
    """`stmt` filtered. `counting_on` (an engine's name): the statement is for counting there,
    and filters with a count form for that engine use it."""
    if not filters:
        return stmt
    clauses: list[ColumnElement[bool]] = []
    for name, ops in filters.items():
        column = columns.get(name)
        if column is None:
            raise BadInput(f"cannot filter by {name}", field=name)
        form = column.counted_form(counting_on) if isinstance(column, MembershipFilter) else None
        if form is not None and ops:
            stmt = form.joins(stmt)
        for op, value in ops.items():
            if isinstance(column, MembershipFilter):
                clauses.append(column.condition(op, value, field=name, counting_on=counting_on))
            else:
                clauses.append(condition(column, op, value, field=name))
    return stmt.where(and_(*clauses)) if clauses else stmt


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term of a list; the last key is always the id, so the order is total."""

    name: str
    column: ColumnLike
    descending: bool

    @property
    def nullable(self) -> bool:
        columns = getattr(getattr(self.column, "property", None), "columns", None)
        return bool(columns[0].nullable) if columns else True


def sort_keys(sort: Sequence[str] | None, columns: Mapping[str, ColumnLike], id_column: ColumnLike) -> list[SortKey]:
    """`sort` holds values like "CREATED_AT_DESC"; the id breaks ties so pages are stable."""
    keys: list[SortKey] = []
    for value in sort or []:
        name, _, direction = value.rpartition("_")
        column = columns.get(name)
        if column is None or direction not in ("ASC", "DESC"):
            raise BadInput(f"cannot sort by {value}", field="sort")
        keys.append(SortKey(name, column, direction == "DESC"))
    if not any(key.column is id_column for key in keys):
        # The tie-breaker follows the first sort's direction so an index on (column, id)
        # can be read backwards and stop after one page.
        keys.append(SortKey("ID", id_column, bool(keys) and keys[0].descending))
    return keys


def _order(keys: Sequence[SortKey], *, reverse: bool = False) -> list[Any]:
    return [key.column.desc() if key.descending != reverse else key.column.asc() for key in keys]


def apply_sort(
    stmt: Select[Any],
    sort: Sequence[str] | None,
    columns: Mapping[str, ColumnLike],
    id_column: ColumnLike,
) -> Select[Any]:
    return stmt.order_by(*_order(sort_keys(sort, columns, id_column)))


# -- cursors -------------------------------------------------------------------------------
#
# A cursor names the position after which (or before which) a page starts. Keyset cursors
# carry the sort key values of the row they stand for, so a page deep in a list costs what
# the first one costs and stays stable when rows are inserted before it. Offset cursors
# (`arrayconnection:N`, graphene's and so ION's form) are still accepted, so the cursors
# clients already hold keep working.

KEYSET = "keyset"
OFFSET = "arrayconnection"


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"{OFFSET}:{offset}".encode()).decode()


def _encode_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"D": value.isoformat()}
    if isinstance(value, enum.Enum):
        return _encode_value(value.value)
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


def _decode_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (tag, text), = value.items()
        if isinstance(text, str) and len(text) <= 64:
            if tag == "d":
                number = Decimal(text)
                if number.is_finite():
                    return number
            elif tag == "t":
                return datetime.fromisoformat(text)
            elif tag == "D":
                return date.fromisoformat(text)
    raise ValueError("bad cursor value")


def _signature(keys: Sequence[SortKey]) -> str:
    return ",".join(f"{key.name}{'-' if key.descending else '+'}" for key in keys)


def encode_keyset(keys: Sequence[SortKey], values: Sequence[Any]) -> str:
    text = json.dumps([_signature(keys), [_encode_value(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(f"{KEYSET}:{text}".encode()).decode()


@dataclass(frozen=True)
class Cursor:
    offset: int | None = None
    values: tuple[Any, ...] | None = None


def decode_cursor(cursor: str, *, field: str, keys: Sequence[SortKey] = ()) -> Cursor:
    """An offset or keyset cursor; a keyset cursor must come from a list sorted the same way."""
    refused = BadInput(f"{field} is not a cursor from this API", field=field)
    if len(cursor) > 4096:
        raise refused
    try:
        raw = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
        prefix, _, rest = raw.partition(":")
        if prefix == OFFSET:
            # ASCII digits, at most 2^31-1: an offset any engine takes (int() would accept "٣").
            if not rest.isascii() or not rest.isdigit() or len(rest) > 10 or int(rest) > MAX_OFFSET:
                raise ValueError(rest)
            return Cursor(offset=int(rest))
        if prefix != KEYSET:
            raise ValueError(prefix)
        signature, values = json.loads(rest)
        decoded = tuple(_decode_value(v) for v in values)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise refused from None
    if signature != _signature(keys) or len(decoded) != len(keys):
        raise BadInput(f"{field} belongs to a list sorted another way", field=field)
    return Cursor(values=decoded)


def _beyond(keys: Sequence[SortKey], values: Sequence[Any], *, nulls_largest: bool, reverse: bool) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `keys` (before them when `reverse`).

    An OR over "equal on the keys so far, beyond on this one", plus a plain range condition
    on the first key so an index on it can start at the cursor instead of scanning up to it.
    NULLs sort as the largest value on PostgreSQL and the smallest on SQLite.
    """
    terms: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    bound: ColumnElement[bool] | None = None
    for index, (key, value) in enumerate(zip(keys, values, strict=True)):
        descending = key.descending != reverse
        nulls_last = nulls_largest != descending
        column = key.column
        if value is None:
            beyond: ColumnElement[bool] = false() if nulls_last else column.is_not(None)
            same: ColumnElement[bool] = column.is_(None)
        else:
            beyond = column < value if descending else column > value
            if key.nullable and nulls_last:
                beyond = or_(beyond, column.is_(None))
            same = column == value
            if index == 0 and not (key.nullable and nulls_last):
                bound = column <= value if descending else column >= value
        terms.append(and_(*equal, beyond))
        equal.append(same)
    clause = or_(*terms)
    return and_(bound, clause) if bound is not None else clause


# Ids are 32-bit integer columns on PostgreSQL: anything larger cannot name a row, and
# offsets beyond it cannot name a page.
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
    offset: int | None
    has_next_page: bool
    has_previous_page: bool
    count_total: Callable[[], int] = field(repr=False)
    keys: list[SortKey] = field(default_factory=list, repr=False)
    key_values: list[tuple[Any, ...]] = field(default_factory=list, repr=False)

    def cursor(self, index: int) -> str:
        if self.offset is not None:
            return encode_cursor(self.offset + index)
        return encode_keyset(self.keys, self.key_values[index])


def _check_sizes(page: PageRequest) -> None:
    for name in ("first", "last"):
        value = getattr(page, name)
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise BadInput(f"{name} must be between 0 and {MAX_PAGE}", field=name)


def count_of(stmt: Select[Any]) -> Select[Any]:
    """`SELECT count(*)` of the rows `stmt` selects. The count keeps the statement's FROM and
    WHERE but not its columns: counted over a subquery of every column, SQLite worked out each
    row's derived columns (the status) only to throw them away (bench/README.md)."""
    if (stmt._group_by_clauses or stmt._distinct or stmt._having_criteria or stmt._limit_clause is not None
            or stmt._offset_clause is not None):
        return select(func.count()).select_from(stmt.order_by(None).subquery())
    return stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)


def paginate(
    session: Session, stmt: Select[Any], page: PageRequest, keys: Sequence[SortKey] | None = None,
    counted: Select[Any] | None = None,
) -> Page[Any]:
    """Cut one page. With `keys` (the list's order), pages are keyset pages; `stmt` must not
    be ordered yet. Without them `stmt` is ordered and pages are cut by offset. `counted`, when
    given, selects the same rows as `stmt` and is the one counted for `totalCount`."""
    _check_sizes(page)
    after = decode_cursor(page.after, field="after", keys=keys or ()) if page.after else None
    before = decode_cursor(page.before, field="before", keys=keys or ()) if page.before else None
    total_cache: list[int] = []

    def count_total() -> int:
        if not total_cache:
            total_cache.append(int(session.scalar(count_of(stmt if counted is None else counted)) or 0))
        return total_cache[0]

    if keys is None or any(c is not None and c.offset is not None for c in (after, before)):
        if keys is not None:
            if any(c is not None and c.values is not None for c in (after, before)):
                raise BadInput("after and before must come from the same page", field="before")
            stmt = stmt.order_by(*_order(keys))
        return _offset_page(
            session, stmt, page, after.offset if after else None, before.offset if before else None, count_total
        )
    return _keyset_page(session, stmt, page, list(keys), after, before, count_total)


def _keyset_page(
    session: Session,
    stmt: Select[Any],
    page: PageRequest,
    keys: list[SortKey],
    after: Cursor | None,
    before: Cursor | None,
    count_total: Callable[[], int],
) -> Page[Any]:
    nulls_largest = session.get_bind().dialect.name != "sqlite"
    if after is not None and after.values is not None:
        stmt = stmt.where(_beyond(keys, after.values, nulls_largest=nulls_largest, reverse=False))
    if before is not None and before.values is not None:
        stmt = stmt.where(_beyond(keys, before.values, nulls_largest=nulls_largest, reverse=True))
    stmt = stmt.add_columns(*[key.column for key in keys])
    backwards = page.last is not None and page.first is None
    size = page.last if backwards else (page.first if page.first is not None else DEFAULT_PAGE)
    assert size is not None
    fetched = list(session.execute(stmt.order_by(*_order(keys, reverse=backwards)).limit(size + 1))) if size else []
    more = len(fetched) > size
    fetched = fetched[:size]
    if backwards:
        fetched.reverse()
    elif page.last is not None and len(fetched) > page.last:
        fetched = fetched[len(fetched) - page.last:]
        more = True
    rows = [row[0] for row in fetched]
    values = [tuple(row[1:]) for row in fetched]
    if backwards:
        has_next, has_previous = before is not None, more
    else:
        has_next, has_previous = more, after is not None
    return Page(rows, None, has_next, has_previous, count_total, keys, values)


def _offset_page(
    session: Session,
    stmt: Select[Any],
    page: PageRequest,
    after: int | None,
    before: int | None,
    count_total: Callable[[], int],
) -> Page[Any]:
    start = after + 1 if after is not None else 0
    end = before
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
    engine = session.get_bind().dialect.name
    counted = None
    membership = [c for name in filters or {} if isinstance(c := columns.get(name), MembershipFilter)]
    if any(column.counted_form(engine) is not None for column in membership):
        counted = apply_filters(stmt, filters, columns, counting_on=engine)
    return paginate(session, apply_filters(stmt, filters, columns), page, sort_keys(sort, sorts, id_column),
                    counted=counted)


def exact_sum(units: Any) -> tuple[Any, Any]:
    """Two SQL sums whose combination `high * 10^6 + low` is the exact total of a column of
    integer millionths, however many rows: SQLite sums in 64-bit integers and fails on
    overflow, but neither half can overflow for quantities within MAX_QUANTITY. Each half
    is cast back to a 64-bit integer, so PostgreSQL (whose sum of bigints is a numeric)
    sends ints, not Decimals to parse."""
    from sqlalchemy import BigInteger, cast, literal_column, type_coerce

    raw = type_coerce(units, BigInteger)
    factor = literal_column(str(FACTOR), BigInteger)  # integer division on both engines
    return cast(func.sum(raw // factor), BigInteger), cast(func.sum(raw % factor), BigInteger)


def combine_sum(high: Any, low: Any) -> Decimal:
    return from_units(int(high or 0) * FACTOR + int(low or 0))
