"""`kitwright user …` and `kitwright apikey …`: the first admin, and keys for scripts.

Secrets are printed once, to the terminal, and never stored in clear.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import KitwrightError
from kitwright.security.permissions import ROLES
from kitwright.security.settings import SecuritySettings
from kitwright.services.actor import SYSTEM, Actor
from kitwright.services.uow import UnitOfWork

user_app = typer.Typer(help="Users: people and machine accounts, each with a role.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys: a client id and a secret, shown once.", no_args_is_help=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="KITWRIGHT_DATABASE_URL", help="SQLAlchemy URL; default sqlite:///./kitwright.db"),
]
ROLE_HELP = "One of: " + ", ".join(ROLES)


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _session(database_url: str | None) -> tuple[Engine, Session]:
    from kitwright.store.db import make_engine, make_sessionmaker
    from kitwright.store.migrate import upgrade

    engine = make_engine(database_url)
    upgrade(engine)
    return engine, make_sessionmaker(engine)()


def cli_actor() -> Actor:
    """Changes made from the command line name the operating-system account running it."""
    import getpass

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(id=SYSTEM.id, name=f"cli:{who}"[:200], role="admin")


def _fail(error: KitwrightError) -> typer.Exit:
    _err(f"error: {error.message}")
    return typer.Exit(code=1)


@contextmanager
def _unit_of_work(database_url: str | None) -> Iterator[UnitOfWork]:
    """One command's unit of work on a migrated database; a refusal exits 1 with its reason."""
    engine, session = _session(database_url)
    try:
        with session, UnitOfWork(session, cli_actor()) as uow:
            yield uow
    except KitwrightError as error:
        raise _fail(error) from None
    finally:
        engine.dispose()


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
    no_password: Annotated[bool, typer.Option("--no-password", help="A machine account: API keys only.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user (the first admin: `kitwright user create alice --role admin`)."""
    from kitwright.services import auth

    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not no_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _unit_of_work(database_url) as uow:
        user = auth.create_user(uow, name, role, password)
        _err(f"user {user.name} (id {user.id}) created with role {user.role}")


@user_app.command("set-role")
def user_set_role(
    name: Annotated[str, typer.Argument(help="User name or id.")],
    role: Annotated[str, typer.Argument(help=ROLE_HELP)],
    database_url: DatabaseUrl = None,
) -> None:
    """Change a user's role; their keys, tokens and sessions follow at once."""
    from kitwright.services import auth

    with _unit_of_work(database_url) as uow:
        user = auth.set_role(uow, name, role)
        _err(f"user {user.name} now has role {user.role}")


@user_app.command("deactivate")
def user_deactivate(
    name: Annotated[str, typer.Argument(help="User name or id.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Stop a user from signing in; their keys and tokens stop working too."""
    from kitwright.services import auth

    with _unit_of_work(database_url) as uow:
        user = auth.set_active(uow, name, False)
        _err(f"user {user.name} deactivated")


@apikey_app.command("create")
def apikey_create(
    user: Annotated[str, typer.Option("--user", help="The user (name or id) the key acts for.")],
    expires_days: Annotated[int | None, typer.Option("--expires-days", min=1, max=3650, help="Days until it expires; default never.")] = None,
    role: Annotated[str | None, typer.Option(help="Narrow the key to this role (never above the user's). " + ROLE_HELP)] = None,
    name: Annotated[str, typer.Option(help="A label, e.g. the script using it.")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print its client id and secret ONCE."""
    from kitwright.services import auth

    with _unit_of_work(database_url) as uow:
        new = auth.create_api_key(uow, user, name=name, expires_days=expires_days, role=role)
        key_id = new.key.id
    typer.echo(f"id:            {key_id}")
    typer.echo(f"client_id:     {new.client_id}")
    typer.echo(f"client_secret: {new.secret}")
    _err("The secret is shown only now. Send it as `Authorization: Bearer <client_secret>`, or exchange "
         "client_id and client_secret for a short-lived token at POST /auth/token.")


@apikey_app.command("revoke")
def apikey_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or client id.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API key; its tokens stop working at once."""
    from kitwright.services import auth

    with _unit_of_work(database_url) as uow:
        revoked = auth.revoke_api_key(uow, key)
        _err(f"API key {revoked.client_id} (id {revoked.id}) revoked")


def create_demo_credentials(session: Session, base_url: str = "http://127.0.0.1:8000") -> None:
    """A demo admin with a password and an API key, printed once (demo databases only)."""
    from kitwright.services import auth
    from kitwright.store.models import User

    if session.scalar(select(func.count()).select_from(User).where(User.name == "demo")):
        return
    password = secrets.token_urlsafe(12)
    with UnitOfWork(session, cli_actor()) as uow:
        user = auth.create_user(uow, "demo", "admin", password)
    with UnitOfWork(session, cli_actor()) as uow:
        key = auth.create_api_key(uow, user.id, name="demo")
    lines = [
        "",
        "Demo sign-in (printed this once; only hashes are stored):",
        f"  web pages:  sign in at /signin as  demo  with password  {password}",
        f"  API key:    client_id {key.client_id}  client_secret {key.secret}",
        f"  GraphQL:    curl -H 'Authorization: Bearer {key.secret}' -H 'Content-Type: application/json' \\",
        f"                   -d '{{\"query\": \"{{ me {{ name role }} }}\"}}' {base_url}/graphql",
        "",
    ]
    for line in lines:
        print(line, file=sys.stderr, flush=True)


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def check_serve_security(host: str, insecure_dev: bool) -> SecuritySettings:
    """The settings `serve` runs with. Insecure-dev mode, whether asked for by `--insecure-dev`
    or KITWRIGHT_INSECURE_DEV, is loud, loopback-only and refused in production; production
    needs KITWRIGHT_SECRET_KEY."""
    import os

    from kitwright.security.settings import SecuritySettings, env_flag

    insecure_dev = insecure_dev or env_flag("KITWRIGHT_INSECURE_DEV", False)
    if insecure_dev:
        if env_flag("KITWRIGHT_PRODUCTION", False):
            _err("error: --insecure-dev cannot be used with KITWRIGHT_PRODUCTION=1")
            raise typer.Exit(code=2)
        if host not in LOOPBACK:
            _err(f"error: --insecure-dev only listens on the loopback interface, not {host}")
            raise typer.Exit(code=2)
        os.environ["KITWRIGHT_INSECURE_DEV"] = "1"
    try:
        settings = SecuritySettings.from_env()
    except ValueError as error:
        _err(f"error: {error}")
        raise typer.Exit(code=2) from None
    if insecure_dev:
        banner = "!" * 78
        _err(f"{banner}\nWARNING: --insecure-dev: the API runs WITHOUT AUTHENTICATION; every request acts as "
             f"an\nadmin. For local development only.\n{banner}")
    return settings


def hint_first_admin(database_url: str) -> None:
    """`kitwright serve` on a database without users says how to create the first admin."""
    from kitwright.store.models import User

    engine, session = _session(database_url)
    try:
        with session:
            users = session.scalar(select(func.count()).select_from(User).where(User.id != 1))
    finally:
        engine.dispose()
    if not users:
        _err("No users yet. Create the first admin, then a key for scripts:\n"
             "  kitwright user create NAME --role admin\n"
             "  kitwright apikey create --user NAME")
