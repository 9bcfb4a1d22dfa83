"""The one place the command line turns an error it can explain into one line and exit code 1.

Each command handles the refusals of its own use case (an import's problem table, a bad
option); what is left is the same for every command: a database that cannot be opened or was
never migrated, a `--database-url` that names no database, a file that cannot be written. Those
end here as `error: …` instead of a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from kitwright.domain.errors import KitwrightError
from kitwright.store.db import is_lock_conflict, is_missing_table

console = Console(stderr=True)


def explain(error: BaseException) -> str | None:
    """One line naming the cause of `error`, or None when it is not one we can explain."""
    if isinstance(error, KitwrightError):
        return f"{error.field}: {error.message}" if error.field else error.message
    if isinstance(error, NoSuchModuleError):
        return f"--database-url names no database Kitwright can use ({error}); use sqlite:///FILE or postgresql://…"
    if isinstance(error, ArgumentError):
        return f"--database-url: {error}"
    if isinstance(error, DBAPIError):
        if is_missing_table(error):
            return "the database is not migrated (its tables are missing): run `kitwright migrate` first"
        if is_lock_conflict(error):
            return "a concurrent change locked the same rows; try again"
        reason = str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)
        return f"cannot use the database: {reason}"
    if isinstance(error, OSError) and error.filename is not None:
        return f"cannot use the file {error.filename}: {error.strerror or error}"
    return None


class ExplainingGroup(typer.core.TyperGroup):
    """The root command group: runs every command, answering explainable errors in one line."""

    # `Any`: the context's class is the one Typer vendors from click, which it does not export.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            # Typer's own exits and usage errors are none of these, and go on as they are.
            message = explain(error)
            if message is None:
                raise
            console.print(f"[red]error: {escape(message)}[/red]", soft_wrap=True, highlight=False)
            raise typer.Exit(1) from None
