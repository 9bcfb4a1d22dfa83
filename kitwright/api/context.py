"""Per-request state: the database session, who is acting, and batch loaders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from kitwright.services.uow import SYSTEM, Actor, UnitOfWork
from kitwright.store.models import Base

M = TypeVar("M", bound=Base)


class BatchLoader(Generic[M]):
    """Loads rows by id, many at a time.

    List resolvers announce the ids their rows point at (`want`); the first lookup then
    fetches all announced ids in one query, so a page of 50 records costs one query for
    their parts, not 50.
    """

    def __init__(self, session: Session, model: type[M]) -> None:
        self.session = session
        self.model = model
        self.cache: dict[int, M | None] = {}
        self.wanted: set[int] = set()

    def want(self, ids: Iterable[int | None]) -> None:
        self.wanted.update(i for i in ids if i is not None and i not in self.cache)

    def get(self, id: int | None) -> M | None:
        if id is None:
            return None
        if id not in self.cache:
            batch = self.wanted | {id}
            self.wanted = set()
            column = getattr(self.model, "id")  # noqa: B009 - every model has an integer id
            for row in self.session.scalars(select(self.model).where(column.in_(batch))):
                self.cache[getattr(row, "id")] = row  # noqa: B009
            for missing in batch - self.cache.keys():
                self.cache[missing] = None
        return self.cache[id]


@dataclass
class Context:
    session: Session
    actor: Actor = SYSTEM
    # False when the deployment turns introspection off (api.authorization refuses it).
    introspection: bool = True
    # time.monotonic() past which resolvers stop (api.limits.Deadline); None: no limit.
    deadline: float | None = None
    # Largest estimated query cost allowed (api.limits.QueryCost); None: the default.
    max_query_cost: int | None = None
    loaders: dict[type[Any], BatchLoader[Any]] = field(default_factory=dict)

    def loader(self, model: type[M]) -> BatchLoader[M]:
        if model not in self.loaders:
            self.loaders[model] = BatchLoader(self.session, model)
        return self.loaders[model]

    def uow(self) -> UnitOfWork:
        # Loaded rows may be stale after a write: start the loaders afresh.
        self.loaders.clear()
        return UnitOfWork(self.session, self.actor, keep_loaded=True)


Info = strawberry.Info[Context, None]
