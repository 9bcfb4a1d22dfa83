"""Every list of the API, declared once: which table, which fields filter it, which keys sort it.

A `Listing` is called like the list functions it replaces:
`list_part_kits(session, filters, sort, PageRequest(first=10))` returns one `Page` of rows.
Pages are keyset pages (cursors carry the sort values, `store/queries.py`); offset cursors
(`arrayconnection:N`) keep working. Lists with a fixed order and no sort keys (the
availability feed) use `offset_page`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kitwright.store.queries import ColumnLike, Page, PageRequest, paginate, query_page

T = TypeVar("T")

Filters = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Listing(Generic[T]):
    """One list: rows of `model`, filtered by `columns` (`{camelField: column}`, or a function
    returning them when a column is defined further down its module), sorted by `sorts`
    (`{"CREATED_AT": column}`); `default_sort` applies when the caller names no sort."""

    model: type[T]
    columns: Mapping[str, ColumnLike] | Callable[[], Mapping[str, ColumnLike]]
    sorts: Mapping[str, ColumnLike]
    default_sort: Sequence[str] = ()

    def __call__(
        self,
        session: Session,
        filters: Filters | None = None,
        sort: Sequence[str] | None = None,
        page: PageRequest = PageRequest(),
    ) -> Page[T]:
        columns = self.columns() if callable(self.columns) else self.columns
        return query_page(
            session, select(self.model), filters=filters, sort=list(sort or self.default_sort), page=page,
            columns=columns, sorts=self.sorts, id_column=getattr(self.model, "id"),  # noqa: B009
        )


def offset_page(session: Session, stmt: Select[Any], page: PageRequest) -> Page[Any]:
    """One page of an ordered statement whose cursors are offsets (no sort keys to carry)."""
    return paginate(session, stmt, page)
