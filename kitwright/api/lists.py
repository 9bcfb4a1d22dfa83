"""Every list field of the schema, declared once (docs/api.md, "Lists").

`connection_field(PartKitType, kits.list_part_kits, filters=..., sort=...)` is a whole
`partKits(filters, sort, first, after, last, before): PartKitConnection!` field: it declares
the arguments, turns them into the services' terms, cuts the page with the services' listing
and primes the batch loaders for the page's rows before any nested field resolves.

Priming is automatic and works per ORM model, whatever list returned the rows:
- the rows themselves go into their model's loader (a field reaching them by id finds them);
- every row their foreign keys point at is announced to that model's loader, so the first
  nested field that needs one loads them all in one query;
- a model's own primer (`primes(Model)`) loads what is reached the other way round (a kit's
  items, an order's lines) for the whole page at once.
A list whose nested fields cost a query per row fails `tests/api/test_list_priming.py`.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, cast

import strawberry
from sqlalchemy.orm import Session
from strawberry.permission import BasePermission

from kitwright.api.context import Context, Info
from kitwright.api.relay import Connection, connection, filters_dict, sort_values
from kitwright.store.models import Base
from kitwright.store.queries import Page, PageRequest

N = TypeVar("N")
R = TypeVar("R")


class ListFunction(Protocol):
    """A services listing (`services.listing.Listing` or alike)."""

    def __call__(
        self, session: Session, filters: Mapping[str, Mapping[str, Any]] | None,
        sort: Sequence[str] | None, page: PageRequest, /,
    ) -> Page[Any]: ...


Primer = Callable[[Context, list[Any]], None]
_PRIMERS: dict[type[Any], list[Primer]] = {}


def primes(model: type[Any]) -> Callable[[Callable[[Context, list[R]], None]], Callable[[Context, list[R]], None]]:
    """Registers what a page of `model` rows loads ahead, beyond their foreign keys."""

    def register(function: Callable[[Context, list[R]], None]) -> Callable[[Context, list[R]], None]:
        _PRIMERS.setdefault(model, []).append(function)
        return function

    return register


def prime(context: Context, rows: Sequence[Any]) -> None:
    """Prime the loaders for a page of ORM rows (see the module docstring)."""
    if not rows or not isinstance(rows[0], Base):
        return
    model = type(rows[0])
    own = context.loader(model)
    for row in rows:
        own.cache[row.id] = row
    context.announce(rows)
    for primer in _PRIMERS.get(model, ()):
        primer(context, list(rows))


Nodes = Callable[[Info, list[Any], Mapping[str, Any]], list[Any]]


def connection_field(
    node: type[N],
    listing: ListFunction,
    *,
    filters: type[Any] | None = None,
    sort: type[enum.Enum] | None = None,
    backwards: bool = True,
    arguments: Mapping[str, Any] | None = None,
    nodes: Nodes | None = None,
    description: str | None = None,
    permission_classes: list[type[BasePermission]] | None = None,
) -> Connection[N]:
    """A list field of `node`s: `filters` (an input of operator filters), `sort` (a sort enum),
    `first`/`after` and, when `backwards`, `last`/`before`; `arguments` are further arguments
    (name: annotation, default null) handed to `nodes`, which turns the page's rows into the
    nodes (default: the rows themselves)."""
    # Annotations built at run time from the classes passed in: Strawberry reads them, mypy
    # cannot (a class held in a variable is no type to it), hence the Any-typed handles.
    optional: Any = type(None)
    generic_list: Any = list
    result: Any = cast(Any, Connection)[node]
    parameters = [inspect.Parameter("info", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Info)]

    def argument(name: str, annotation: Any) -> None:
        parameters.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
        )

    if filters is not None:
        argument("filters", filters | optional)
    if sort is not None:
        argument("sort", generic_list[sort | optional] | optional)
    argument("first", int | None)
    argument("after", str | None)
    if backwards:
        argument("last", int | None)
        argument("before", str | None)
    for name, annotation in (arguments or {}).items():
        argument(name, annotation | optional)
    paging = {"first", "after", "last", "before"}

    def resolve(info: Info, **kwargs: Any) -> Connection[N]:
        request = PageRequest(**{k: v for k, v in kwargs.items() if k in paging})
        page = listing(
            info.context.session, filters_dict(kwargs.get("filters")), sort_values(kwargs.get("sort")), request
        )
        if nodes is None:
            prime(info.context, page.rows)
        else:
            page.rows = nodes(info, page.rows, kwargs)
        return connection(page)

    # Strawberry reads the arguments from the signature and their types from the annotations.
    cast(Any, resolve).__signature__ = inspect.Signature(parameters, return_annotation=result)
    resolve.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": result}
    return strawberry.field(resolver=resolve, description=description, permission_classes=permission_classes)
