"""Shared fixtures.

`engine` runs a test on SQLite and on PostgreSQL. Each test gets a clean database: a copy of a
migrated SQLite file, or a PostgreSQL database (one per test process) from which `reset_postgres`
removes, before the test, whatever the tests before it wrote.
PostgreSQL that cannot be reached FAILS the run: the concurrency rules are only proven there.
Every test using `engine` ends with the invariant check (tests/invariants.py, docs/rules.md).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, create_engine, text
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kitwright.app import create_app
from kitwright.security.settings import SecuritySettings
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.migrate import upgrade
from kitwright.store.models import Base
from tests.factories import api_key_for, bearer
from tests.invariants import assert_invariants

PG_ADMIN_URL = os.environ.get(
    "KITWRIGHT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _admin() -> Engine:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # pragma: no cover - the point is to fail loudly
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({error}). Start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`; "
            "PostgreSQL tests never skip.",
            pytrace=False,
        )
    return admin


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this test process, dropped at the end."""
    admin = _admin()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"kitwright_test_{worker}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    _MIGRATED[url] = _read_migrated(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class _Migrated:
    """What a freshly migrated database holds, read once per test process, so that a reset can
    find the tables a test wrote and put back exactly the rows the migrations seed (the system
    user, number counters, …)."""

    seeded: list[tuple[Table, list[dict[str, object]]]]
    sequences: dict[str, str]  # table -> its id sequence
    probe: str  # one query naming every table a test may have written


# A reset deletes the rows of only the tables a test wrote: a table is written when it has
# rows the migrations did not seed or its id sequence moved (a rolled-back insert moves it
# too). DELETE of a few small tables is much cheaper than TRUNCATE (new files for every
# table) or cloning a template database (CREATE plus DROP DATABASE, each with a checkpoint);
# the figures are in README.md, "Tests".
_MIGRATED: dict[str, _Migrated] = {}


def _read_migrated(engine: Engine) -> _Migrated:
    tables = Base.metadata.sorted_tables
    with engine.connect() as conn:
        seeded = [(table, [dict(row._mapping) for row in conn.execute(table.select())]) for table in tables]
        sequences: dict[str, str] = {}
        for table in tables:
            if "id" in table.c:
                found = conn.scalar(text(f"SELECT pg_get_serial_sequence('\"{table.name}\"', 'id')"))
                if found:
                    sequences[table.name] = found
        moved = {name: conn.execute(text(f"SELECT last_value, is_called FROM {sequence}")).one()
                 for name, sequence in sequences.items()}
    seeded = [(table, rows) for table, rows in seeded if rows]
    always = {table.name for table, _ in seeded}
    probes = [f"SELECT '{name}' FROM {sequence} WHERE (last_value, is_called) <> ({last}, {called})"
              for name, sequence in sequences.items() for last, called in [moved[name]]]
    probes += [f"SELECT '{table.name}' WHERE EXISTS (SELECT FROM \"{table.name}\")"
               for table in tables if table.name not in always]
    probes += [f"SELECT '{name}'" for name in sorted(always)]
    return _Migrated(seeded, sequences, " UNION ALL ".join(probes))


def reset_postgres(engine: Engine) -> None:
    """Put the database back as the migrations left it, touching only what the last test wrote."""
    migrated = _MIGRATED[engine.url.render_as_string(hide_password=False)]
    with engine.begin() as conn:
        written = set(conn.scalars(text(migrated.probe)))
        # Deleting every row of a table needs neither its foreign keys checked nor the
        # append-only triggers (they guard the application, not the test harness).
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in written:
                conn.execute(text(f'DELETE FROM "{table.name}"'))
        for table, rows in migrated.seeded:
            if table.name in written:
                conn.execute(table.insert(), rows)
        for name, sequence in migrated.sequences.items():
            if name in written:
                conn.execute(text(
                    f"SELECT setval('{sequence}', coalesce(max(id), 1), max(id) IS NOT NULL) FROM \"{name}\""
                ))


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "kitwright.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    reset_postgres(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The same test on both engines, ending with the invariant check."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    engine: Engine = request.getfixturevalue(name)
    yield engine
    assert_invariants(engine)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_sessionmaker(engine)() as session:
        yield session


# Tests send many requests quickly: the rate limits are raised (tests/security checks them).
TEST_SECURITY = SecuritySettings(
    secret_key="test-session-key", rate_per_minute=6_000_000, rate_burst=1_000_000,
    auth_rate_per_minute=6_000_000,
)


@pytest.fixture
def app(engine: Engine) -> Starlette:
    return create_app(engine, TEST_SECURITY)


@pytest.fixture
def client(app: Starlette, engine: Engine) -> Iterator[TestClient]:
    """Authenticated as an admin (API key in `Authorization: Bearer`)."""
    with bearer(app, api_key_for(engine, "admin", "test-admin")) as client:
        yield client


@pytest.fixture
def client_for(app: Starlette, engine: Engine) -> Iterator[Callable[[str], TestClient]]:
    """`client_for("viewer")`: a client authenticated as a new user with that role."""
    with ExitStack() as stack:
        def make(role: str) -> TestClient:
            return stack.enter_context(bearer(app, api_key_for(engine, role)))

        yield make


@pytest.fixture
def anonymous_client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client
