"""ORM rows standing for Strawberry types.

A resolver declared to return `PartKitType` returns the `PartKit` row: Strawberry reads each
field of the type from the row (same names), so the row *is* the node at run time. Mypy cannot
know that; `as_node(PartKitType, row)` says it once, typed, instead of an ignore per line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, cast

T = TypeVar("T")


def as_node(kind: type[T], row: object) -> T:
    """`row` (an ORM row, or None where the field is nullable) as the Strawberry type `kind`."""
    return cast(T, row)


def as_nodes(kind: type[T], rows: Iterable[Any]) -> list[T]:
    """Each of `rows` as the Strawberry type `kind`, in a list."""
    return [cast(T, row) for row in rows]
