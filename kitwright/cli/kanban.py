"""`kitwright kanban replenish`: line-side replenishment from a scheduler (docs/kanban.md)."""

from __future__ import annotations

import typer
from rich.console import Console

from kitwright.domain.errors import KitwrightError
from kitwright.services import kanban
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker


def replenish(database_url: str | None, location_id: int, source_location_id: int | None,
              console: Console) -> None:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            try:
                with UnitOfWork(session) as uow:
                    outcome = kanban.replenish_line_location(
                        uow, location_id=location_id, source_location_id=source_location_id)
                    lines = [
                        (fill.kit.id, fill.kit.status, len(fill.issued),
                         [(s.part_id, s.quantity) for s in fill.shortages])
                        for fill in outcome.fills
                    ]
                    created = len(outcome.created)
            except KitwrightError as error:
                console.print(f"[red]{error.field}: {error.message}[/red]")
                raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if not lines:
        console.print(f"location {location_id}: every part is at or above its minimum; nothing to do")
        return
    for kit_id, status, issued, shortages in lines:
        short = ", ".join(f"part {part} short {quantity}" for part, quantity in shortages)
        console.print(f"kanban kit {kit_id}: {status}, {issued} records issued" + (f"; {short}" if short else ""))
    console.print(f"[green]{len(lines)} kanban kits filled, {created} created[/green]")
