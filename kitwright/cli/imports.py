"""`kitwright import …`: spreadsheets into the database with a progress bar (docs/importers.md).

On failure the error table (row, column, message) is printed and the exit code is 1; nothing
was written. `--dry-run` checks everything and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from kitwright.domain.errors import KitwrightError

import_app = typer.Typer(help="Import spreadsheets (CSV or XLSX); all rows or none.", no_args_is_help=True)
console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="KITWRIGHT_DATABASE_URL", help="SQLAlchemy URL; default sqlite:///./kitwright.db"),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Check every row; write nothing.")]
FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or XLSX file.")]

STAGES = {"read": "reading", "check": "checking", "write": "writing"}


def print_problems(error: KitwrightError, out: Console) -> None:
    if not error.details:
        label = f"{error.field}: " if error.field else ""
        out.print(f"[red]{error.code}: {label}{error.message}[/red]")
        return
    table = Table(title=f"{len(error.details)} problem(s); nothing was imported", title_justify="left")
    table.add_column("row", justify="right")
    table.add_column("column")
    table.add_column("message")
    for problem in error.details:
        table.add_row("" if problem.row is None else str(problem.row), problem.column or problem.field or "",
                      problem.message)
    out.print(table)
    out.print(f"[red]{error.message.split(':')[0]}[/red]")


def run_import(
    path: Path, database_url: str | None, dry_run: bool,
    service: Callable[..., Any], describe: Callable[[Any], str],
) -> None:
    """Open one unit of work, run the import service with a progress bar, report."""
    from kitwright.services.uow import UnitOfWork
    from kitwright.store.db import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    try:
        with Progress(
            TextColumn("{task.description:<9}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(), console=console, transient=True,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=total or None)
                bar.update(tasks[stage], completed=done, total=total or None)

            with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
                result = service(uow, path.open("rb"), filename=path.name, dry_run=dry_run, progress=progress)
    except KitwrightError as error:
        print_problems(error, console)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    prefix = "[yellow]dry run, nothing written:[/yellow] " if dry_run else "[green]imported:[/green] "
    console.print(prefix + describe(result))


@import_app.command("kit-items")
def kit_items(file: FileArg, dry_run: DryRun = False, database_url: DatabaseUrl = None) -> None:
    """Create or update kit items: columns kit_id, part_number, revision, quantity."""
    from kitwright.services.import_kit_items import import_kit_items

    def describe(result: Any) -> str:
        kits = ", ".join(str(id) for id in result.part_kit_ids[:20])
        more = f" and {len(result.part_kit_ids) - 20} more" if len(result.part_kit_ids) > 20 else ""
        return (f"{result.count} rows ({result.created_count} created, {result.updated_count} updated) "
                f"in kits {kits}{more}")

    run_import(file, database_url, dry_run, import_kit_items, describe)


@import_app.command("template")
def template(
    kind: Annotated[str, typer.Argument(help="kit-items, suppliers, parts, locations or part-inventory")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (.csv or .xlsx).")],
) -> None:
    """Write an empty template to fill in."""
    from kitwright.services import import_kit_items as kit_items_service
    from kitwright.services.plant_import import TEMPLATES

    headers = {"kit-items": kit_items_service.TEMPLATE_HEADER, **TEMPLATES}
    if kind not in headers:
        console.print(f"[red]unknown template {kind!r}; one of: {', '.join(headers)}[/red]")
        raise typer.Exit(2)
    if output.suffix.lower() == ".xlsx":
        output.write_bytes(kit_items_service.template_xlsx(headers[kind]))
    else:
        output.write_text(",".join(headers[kind]) + "\r\n", encoding="utf-8", newline="")
    console.print(f"[green]template written to {output}[/green]")


def _plant_command(kind: str, help_text: str) -> None:
    def command(file: FileArg, dry_run: DryRun = False, database_url: DatabaseUrl = None) -> None:
        from kitwright.services.plant_import import LOADERS

        def describe(result: Any) -> str:
            return (f"{result.count} {result.kind} rows ({result.created_count} created, "
                    f"{result.updated_count} updated)")

        run_import(file, database_url, dry_run, LOADERS[kind], describe)

    command.__doc__ = help_text
    import_app.command(kind)(command)


_plant_command("suppliers", "Create suppliers: column name (or Supplier, Vendor).")
_plant_command("parts", "Create parts: part_number, revision, description, tracking_type, unit_of_measure, cost.")
_plant_command("locations", "Create locations: name, parent (a path Site/Room/… or a unique name), type, "
               "description, inventory_available; parents may be rows above.")
_plant_command("part-inventory", "Create inventory (rows without id) or update it (rows with id): part_number, "
               "revision, location, serial_number, lot_number, quantity, supplier, cost, autogenerate_*.")
