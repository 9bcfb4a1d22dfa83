"""`kitwright`: serve, migrate, demo, version."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from kitwright import __version__
from kitwright.cli.errors import ExplainingGroup
from kitwright.security.settings import SecuritySettings

app = typer.Typer(help="Kitwright: kitting and inventory.", no_args_is_help=True, cls=ExplainingGroup)
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


def _load_demo(database_url: str | None, base_url: str) -> None:
    from kitwright.cli.security import create_demo_credentials
    from kitwright.services.demo import is_empty, load_demo
    from kitwright.store.db import make_sessionmaker
    from kitwright.store.migrate import upgrade

    engine = _engine(database_url)
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        if not is_empty(session):
            console.print("[yellow]the database already holds parts; demo data not loaded[/yellow]")
            console.print("(sign-in details were printed when it was loaded; a new key: "
                          "kitwright apikey create --user demo)")
            return
        load_demo(session)
        create_demo_credentials(session, base_url)
    console.print("[green]demo data loaded[/green]")


@app.command()
def demo(database_url: DatabaseUrl = None) -> None:
    """Load demo data (parts, locations, inventory, kits) into an empty database."""
    _load_demo(database_url, "http://127.0.0.1:8000")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    database_url: DatabaseUrl = None,
    with_demo: Annotated[bool, typer.Option("--demo", help="Load demo data if the database is empty.")] = False,
    insecure_dev: Annotated[bool, typer.Option(
        "--insecure-dev", help="DEVELOPMENT ONLY: requests without credentials act as an admin (loopback only).",
    )] = False,
    ssl_certfile: Annotated[str | None, typer.Option(
        help="Serve HTTPS with this certificate (PEM); ION's scripts fetch tokens over https only.",
    )] = None,
    ssl_keyfile: Annotated[str | None, typer.Option(help="The private key (PEM) of --ssl-certfile.")] = None,
) -> None:
    """Run the service (GraphQL at /graphql). Migrates the database first."""
    from kitwright.cli import serving
    from kitwright.cli.security import check_serve_security
    from kitwright.store.db import database_url as resolve_url

    settings = check_serve_security(host, insecure_dev)
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise typer.BadParameter("--ssl-certfile and --ssl-keyfile go together")
    scheme = "https" if ssl_certfile else "http"
    url = resolve_url(database_url)
    os.environ["KITWRIGHT_DATABASE_URL"] = url
    if with_demo:
        _load_demo(url, f"{scheme}://{host}:{port}")
    else:
        migrate(url)
    if not settings.insecure_dev:
        from kitwright.cli.security import hint_first_admin

        hint_first_admin(url)
    console.print(serve_banner(settings, host, port, scheme=scheme))
    serving.run(host=host, port=port, workers=workers, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)


def serve_banner(settings: SecuritySettings, host: str, port: int, *, scheme: str = "http") -> str:
    """What is served, and nothing that is not (no GraphiQL address when it is off)."""
    shown = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{shown}:{port}"
    lines = [f"Kitwright {__version__}: GraphQL API at {base}/graphql (POST)"]
    if settings.graphiql:
        lines.append(f"  GraphiQL at {base}/graphql (in a browser)")
    lines.append(f"  web pages at {base}/")
    return "\n".join(lines)


availability_app = typer.Typer(help="Retail kit availability.", no_args_is_help=True)
app.add_typer(availability_app, name="availability")


@availability_app.command("export")
def availability_export(
    database_url: DatabaseUrl = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="CSV file to write; default: standard output.")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Day of the figures, YYYY-MM-DD; default today.")] = None,
    supply_types: Annotated[
        str | None,
        typer.Option("--supply-types", help="Comma-separated supply types; default ON_HAND_AVAILABLE,FUTURE."),
    ] = None,
) -> None:
    """Write every kit's network and per-site availability as CSV (the publish feed)."""
    from kitwright.cli.availability import export

    export(database_url, output, as_of, supply_types, console)


@availability_app.command("prune")
def availability_prune(database_url: DatabaseUrl = None) -> None:
    """Delete kitAvailabilityChanges notes older than KITWRIGHT_AVAILABILITY_CHANGES_RETENTION (hours, default
    168); writers also prune now and then."""
    from kitwright.cli.availability import prune

    prune(database_url, console)


kanban_app = typer.Typer(help="Kanban kits (docs/kanban.md).", no_args_is_help=True)
app.add_typer(kanban_app, name="kanban")


@kanban_app.command("replenish")
def kanban_replenish(
    location: Annotated[int, typer.Option("--location", help="The line location's id.")],
    source: Annotated[int | None, typer.Option("--source", help="Only fill from this location's subtree.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Refill or create kanban kits for every part below its minimum at a line location."""
    from kitwright.cli.kanban import replenish

    replenish(database_url, location, source, console)
orders_app = typer.Typer(help="Retail kit orders.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")


@orders_app.command("reconcile")
def orders_reconcile(database_url: DatabaseUrl = None) -> None:
    """Process stored (unprocessed) order events that now form whole kits; list the stuck ones with their age."""
    from kitwright.cli.orders import reconcile

    reconcile(database_url, console)


from kitwright.cli.security import apikey_app, user_app  # noqa: E402 - commands below main's own

app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")

from kitwright.cli.imports import import_app  # noqa: E402

app.add_typer(import_app, name="import")


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
