"""`kitwright availability export`: the publish feed as CSV, with a Rich progress bar;
`kitwright availability prune`: the change log's retention."""

from __future__ import annotations

import csv
import sys
from contextlib import ExitStack
from typing import TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kitwright.domain.availability import DEFAULT_VIEW
from kitwright.domain.errors import KitwrightError
from kitwright.services import availability, availability_changes
from kitwright.store.db import make_engine, make_sessionmaker


def export(
    database_url: str | None,
    output: str | None,
    as_of: str | None,
    supply_types: str | None,
    console: Console,
) -> None:
    try:
        day = availability.parse_date(as_of, field="--as-of") or availability.today()
        view = DEFAULT_VIEW
        if supply_types is not None:
            view = availability.build_view(
                [t for t in supply_types.split(",") if t.strip()] or [""], field="--supply-types"
            )
    except KitwrightError as error:
        console.print(f"[red]{error.field}: {error.message}[/red]")
        raise typer.Exit(2) from None
    engine = make_engine(database_url)
    written = 0
    with ExitStack() as stack:
        session = stack.enter_context(make_sessionmaker(engine)())
        stream: TextIO
        if output:
            stream = stack.enter_context(open(output, "w", newline="", encoding="utf-8"))
        else:
            stream = sys.stdout
        writer = csv.writer(stream)
        writer.writerow(availability.FEED_COLUMNS)
        total = availability.count_kits(session)
        progress = stack.enter_context(
            Progress(
                TextColumn("kits"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console, transient=output is None,
            )
        )
        task = progress.add_task("export", total=total)
        rows = availability.feed(session, view=view, as_of=day)
        last_kit = None
        for cells in availability.feed_csv_rows(session, rows):
            writer.writerow(cells)
            written += 1
            if cells[0] != last_kit:
                last_kit = cells[0]
                progress.advance(task)
    engine.dispose()
    console.print(f"[green]{written} rows for {total} kits as of {day.isoformat()}[/green]")


def prune(database_url: str | None, console: Console) -> None:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            removed = availability_changes.prune(session)
    finally:
        engine.dispose()
    console.print(f"[green]{removed} availability changes pruned[/green]")
