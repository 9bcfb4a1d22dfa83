"""`kitwright orders reconcile`: process stored order events that now form whole kits."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from kitwright.domain.errors import KitwrightError
from kitwright.services import orders
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker


def reconcile(database_url: str | None, console: Console) -> None:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
            result = orders.reconcile_order_events(uow)
            console.print(f"processed {len(result.processed)} stored events; {len(result.stuck)} still stuck")
            if result.stuck:
                table = Table("event", "type", "order line", "release line", "part", "quantity", "age (s)", "reason")
                for stuck in result.stuck:
                    event = stuck.event
                    table.add_row(str(event.id), event.event_type, str(event.order_line_id),
                                  str(event.release_line_id or ""), str(event.part_id), str(event.quantity),
                                  str(stuck.age_seconds), stuck.reason)
                console.print(table)
    except KitwrightError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
