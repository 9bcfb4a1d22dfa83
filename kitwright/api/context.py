"""Per-request state: the database session, who is acting, and batch loaders."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import Select, bindparam, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from kitwright.api.limits import TOO_SLOW, TooSlow
from kitwright.services.actor import SYSTEM, Actor
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import Base

M = TypeVar("M", bound=Base)
F = TypeVar("F", bound=Callable[..., Any])


def by_key(model: type[Base], key: str) -> Callable[[F], F]:
    """Marks a resolver `(root, info)` whose answer is `info.context.loader(model).get(root.<key>)`
    (the row the parent row's foreign key names), which is all its body may do: compiled plans
    (api.execution) read the row that way themselves instead of calling the resolver with an
    info built for each row. tests/api/test_execution_paths.py holds every marked resolver to it."""

    def mark(resolver: F) -> F:
        resolver._kitwright_by_key = (model, key)  # type: ignore[attr-defined]
        return resolver

    return mark


class BatchLoader(Generic[M]):
    """Loads rows by id, many at a time.

    List resolvers announce the ids their rows point at (`want`); the first lookup then
    fetches all announced ids in one query, so a page of 50 records costs one query for
    their parts, not 50.
    """

    def __init__(self, session: Session, model: type[M], loaded: Callable[[list[M]], None] | None = None,
                 before_load: Callable[[], None] | None = None) -> None:
        self.session = session
        self.model = model
        self.loaded = loaded
        self.before_load = before_load
        self.cache: dict[int, M | None] = {}
        self.wanted: set[int] = set()

    def want(self, ids: Iterable[int | None]) -> None:
        self.wanted.update(i for i in ids if i is not None and i not in self.cache)

    def get(self, id: int | None) -> M | None:
        if id is None:
            return None
        if id not in self.cache:
            if self.before_load is not None:
                self.before_load()
            batch = self.wanted | {id}
            self.wanted = set()
            rows = list(self.session.scalars(_by_ids(self.model), {"ids": list(batch)}))
            for row in rows:
                self.cache[getattr(row, "id")] = row  # noqa: B009
            for missing in batch - self.cache.keys():
                self.cache[missing] = None
            if self.loaded is not None:
                self.loaded(rows)
        return self.cache[id]


@functools.cache
def _by_ids(model: type[Any]) -> Select[Any]:
    """`SELECT model WHERE id IN (:ids)`, built once per model: built per lookup, the statement
    and its cache key cost more than reading a few rows."""
    column = getattr(model, "id")  # noqa: B009 - every model has an integer id
    return select(model).where(column.in_(bindparam("ids", expanding=True)))


class GroupLoader(Generic[M]):
    """Loads, for many keys at a time, every row whose `column` holds the key, grouped by key
    (a kit's items, a location's children). Resolvers announce keys (`want`), and `siblings`
    names more (every kit loaded so far); the first lookup loads them all in one query."""

    def __init__(
        self, session: Session, model: type[M], column: Any, order_by: tuple[Any, ...] = (),
        loaded: Callable[[list[M]], None] | None = None, siblings: Callable[[], Iterable[int]] | None = None,
        before_load: Callable[[], None] | None = None,
    ) -> None:
        self.session = session
        self.model = model
        self.column = column
        self.order_by = order_by or (getattr(model, "id"),)  # noqa: B009
        self.loaded = loaded
        self.siblings = siblings
        self.before_load = before_load
        self.cache: dict[int, list[M]] = {}
        self.wanted: set[int] = set()

    def want(self, keys: Iterable[int | None]) -> None:
        self.wanted.update(k for k in keys if k is not None and k not in self.cache)

    def get(self, key: int) -> list[M]:
        if key not in self.cache:
            if self.before_load is not None:
                self.before_load()
            if self.siblings is not None:
                self.want(self.siblings())
            batch = self.wanted | {key}
            self.wanted = set()
            for k in batch:
                self.cache[k] = []
            rows = list(
                self.session.scalars(select(self.model).where(self.column.in_(sorted(batch))).order_by(*self.order_by))
            )
            for row in rows:
                self.cache[getattr(row, self.column.key)].append(row)
            if self.loaded is not None:
                self.loaded(rows)
        return self.cache[key]


_FOREIGN_KEYS: dict[type[Any], tuple[tuple[str, type[Any]], ...]] = {}


def foreign_keys(model: type[Any]) -> tuple[tuple[str, type[Any]], ...]:
    """(attribute, referenced model) for each foreign key column of `model`."""
    if model not in _FOREIGN_KEYS:
        _FOREIGN_KEYS[model] = _find_foreign_keys(model)
    return _FOREIGN_KEYS[model]


def _find_foreign_keys(model: type[Any]) -> tuple[tuple[str, type[Any]], ...]:
    by_table = {mapper.local_table: mapper.class_ for mapper in Base.registry.mappers}
    mapper = sa_inspect(model)
    found: list[tuple[str, type[Any]]] = []
    for column in mapper.columns:
        for key in column.foreign_keys:
            target = by_table.get(key.column.table)
            if target is not None:
                found.append((mapper.get_property_by_column(column).key, target))
    return tuple(found)


@dataclass
class Context:
    session: Session
    actor: Actor = SYSTEM
    # False when the deployment turns introspection off (api.authorization refuses it).
    introspection: bool = True
    # time.monotonic() past which resolvers stop (api.limits.Deadline); None: no limit.
    deadline: float | None = None
    # False once a mutation's root field has started: its answer must reach the caller.
    stoppable: bool = True
    # Largest estimated query cost allowed (api.limits.QueryCost); None: the default.
    max_query_cost: int | None = None
    loaders: dict[Any, Any] = field(default_factory=dict)

    def loader(self, model: type[M]) -> BatchLoader[M]:
        found = self.loaders.get(model)
        if found is None:
            found = self.loaders[model] = BatchLoader(self.session, model, self.announce, self.check_deadline)
        assert isinstance(found, BatchLoader)
        return found

    def group(self, column: Any, order_by: tuple[Any, ...] = ()) -> GroupLoader[Any]:
        """The request's group loader of rows by the foreign key `column` (`Location.parent_id`):
        the first lookup loads the groups of every row loaded so far that the key points at."""
        model = column.class_
        key = ("group", model, column.key)
        found = self.loaders.get(key)
        if found is None:
            parent = dict(foreign_keys(model)).get(column.key)

            def siblings() -> list[int]:
                loaded = self.loader(parent).cache.items() if parent is not None else ()
                return [id for id, row in loaded if row is not None]

            found = self.loaders[key] = GroupLoader(
                self.session, model, column, order_by, loaded=self.announce, siblings=siblings,
                before_load=self.check_deadline,
            )
        assert isinstance(found, GroupLoader)
        return found

    def check_deadline(self) -> None:
        """Stop a query past its deadline before it loads more rows (api.limits.Deadline)."""
        if self.deadline is not None and self.stoppable and time.monotonic() > self.deadline:
            raise TooSlow(TOO_SLOW)

    def announce(self, rows: Iterable[Any]) -> None:
        """Announce what the foreign keys of loaded rows point at, so a nested field reaching
        them loads them for all rows at once (a page's parts, then those parts' units)."""
        loaded = [row for row in rows if row is not None]
        if not loaded:
            return
        for attribute, target in foreign_keys(type(loaded[0])):
            self.loader(target).want(getattr(row, attribute) for row in loaded)

    def close(self) -> None:
        """Drop the loaders at the end of the request. Each holds the context's methods, a
        reference cycle that kept every row the request loaded alive until the cyclic garbage
        collector came round (about 1,000 objects a page); without it they go with the request."""
        self.loaders.clear()

    def uow(self) -> UnitOfWork:
        # Loaded rows may be stale after a write: start the loaders afresh.
        self.loaders.clear()
        return UnitOfWork(self.session, self.actor, keep_loaded=True)


Info = strawberry.Info[Context, None]
