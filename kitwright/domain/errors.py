"""Errors every layer understands.

Each carries the API error code (docs/api.md, "Errors") so that GraphQL, REST, the CLI and the
importers report the same failure the same way, naming the field or row at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One reason a request was refused; `row` and `column` are set for imports."""

    message: str
    field: str | None = None
    row: int | None = None
    column: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


class KitwrightError(Exception):
    code = "BAD_USER_INPUT"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: Sequence[Problem] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details: list[Problem] = list(details or [])


class BadInput(KitwrightError):
    code = "BAD_USER_INPUT"


class NotFound(KitwrightError):
    code = "NOT_FOUND"


class Conflict(KitwrightError):
    """A stale etag, or a state that changed under the caller."""

    code = "CONFLICT"


class Gone(KitwrightError):
    """What the caller refers to is no longer kept (a change token older than the change
    log's retention): start again from a full read."""

    code = "GONE"


class Unauthenticated(KitwrightError):
    code = "UNAUTHENTICATED"


class Forbidden(KitwrightError):
    code = "FORBIDDEN"


@dataclass
class Problems:
    """Collects every reason at once (docs/rules.md#r5), then raises them together."""

    items: list[Problem] = field(default_factory=list)

    def add(self, message: str, *, field: str | None = None, row: int | None = None,
            column: str | None = None) -> None:
        self.items.append(Problem(message, field=field, row=row, column=column))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            only = self.items[0]
            raise BadInput(only.message, field=only.field or only.column, details=self.items)
        summary = "; ".join(
            (f"row {p.row}: " if p.row is not None else "")
            + (f"{p.field or p.column}: " if (p.field or p.column) else "")
            + p.message
            for p in self.items[:20]
        )
        more = f" (and {len(self.items) - 20} more)" if len(self.items) > 20 else ""
        raise BadInput(f"{len(self.items)} problems: {summary}{more}", details=self.items)
