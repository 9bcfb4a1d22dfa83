"""`kitwright`: serve, migrate, demo, version."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from kitwright import __version__

app = typer.Typer(help="Kitwright: kitting and inventory.", no_args_is_help=True)
console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="KITWRIGHT_DATABASE_URL",
        help="SQLAlchemy URL; default sqlite:///./kitwright.db",
    ),
]


def _engine(database_url: str | None):  # type: ignore[no-untyped-def]
    from kitwright.store.db import make_engine

    return make_engine(database_url)


@app.command()
def migrate(database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the database schema (Alembic)."""
    from kitwright.store.migrate import current_revision, upgrade

    engine = _engine(database_url)
    upgrade(engine)
    console.print(f"[green]database at revision {current_revision(engine)}[/green] ({engine.url.render_as_string()})")


@app.command()
def demo(database_url: DatabaseUrl = None) -> None:
    """Load demo data (parts, locations, inventory) into an empty database."""
    from kitwright.services.demo import is_empty, load_demo
    from kitwright.store.db import make_sessionmaker
    from kitwright.store.migrate import upgrade

    engine = _engine(database_url)
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        if not is_empty(session):
            console.print("[yellow]the database already holds parts; demo data not loaded[/yellow]")
            return
        load_demo(session)
    console.print("[green]demo data loaded[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    database_url: DatabaseUrl = None,
    with_demo: Annotated[bool, typer.Option("--demo", help="Load demo data if the database is empty.")] = False,
) -> None:
    """Run the service (GraphQL at /graphql). Migrates the database first."""
    import uvicorn

    from kitwright.store.db import database_url as resolve_url

    url = resolve_url(database_url)
    os.environ["KITWRIGHT_DATABASE_URL"] = url
    if with_demo:
        demo(url)
    else:
        migrate(url)
    console.print(f"Kitwright {__version__}: GraphiQL at http://{host}:{port}/graphql")
    uvicorn.run(
        "kitwright.api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
        log_level="info",
    )


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
