"""Shared fixtures.

`engine` runs a test on SQLite and on PostgreSQL. Each test gets a clean database: a copy of a
migrated SQLite file, or a PostgreSQL database (one per test process) truncated after the test.
PostgreSQL that cannot be reached FAILS the run: the concurrency rules are only proven there.
Every test using `engine` ends with the invariant check (design rules 1, 2, 4).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, create_engine, text
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kitwright.app import create_app
from kitwright.security.settings import SecuritySettings
from kitwright.services import auth
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.migrate import upgrade
from kitwright.store.models import Base
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
    _MIGRATED_ROWS[url] = _rows_written_by_migrations(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# Rows the migrations seed (the system user, number counters, …), read back once after
# migrating so a reset restores exactly them. Cloning a template database per test was
# measured instead: about 1 s to create and 2 s to drop each, against milliseconds to truncate.
_MIGRATED_ROWS: dict[str, list[tuple[Table, list[dict[str, object]]]]] = {}


def _rows_written_by_migrations(engine: Engine) -> list[tuple[Table, list[dict[str, object]]]]:
    with engine.connect() as conn:
        rows = [(table, [dict(row._mapping) for row in conn.execute(table.select())])
                for table in Base.metadata.sorted_tables]
    return [(table, found) for table, found in rows if found]


def reset_postgres(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        for table, rows in _MIGRATED_ROWS[engine.url.render_as_string(hide_password=False)]:
            conn.execute(table.insert(), rows)
            if "id" in table.c:
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM \"{table.name}\"))"
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


def api_key_for(engine: Engine, role: str, name: str | None = None) -> str:
    """Create a user with `role` and an API key; return the key's secret (a bearer token)."""
    with make_sessionmaker(engine)() as session:
        with UnitOfWork(session) as uow:
            user = auth.create_user(uow, name or f"test-{role}-{uuid.uuid4().hex[:6]}", role)
        with UnitOfWork(session) as uow:
            return auth.create_api_key(uow, user.id, name="tests").secret


@pytest.fixture
def app(engine: Engine) -> Starlette:
    return create_app(engine, TEST_SECURITY)


@pytest.fixture
def client(app: Starlette, engine: Engine) -> Iterator[TestClient]:
    """Authenticated as an admin (API key in `Authorization: Bearer`)."""
    secret = api_key_for(engine, "admin", "test-admin")
    with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
        yield client


@pytest.fixture
def client_for(app: Starlette, engine: Engine) -> Iterator[Callable[[str], TestClient]]:
    """`client_for("viewer")`: a client authenticated as a new user with that role."""
    with ExitStack() as stack:
        def make(role: str) -> TestClient:
            secret = api_key_for(engine, role)
            return stack.enter_context(TestClient(app, headers={"Authorization": f"Bearer {secret}"}))

        yield make


@pytest.fixture
def anonymous_client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client
