"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import contextvars
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///./kitwright.db"

# SQLite has no row locks: a writer must take the database's write lock when its transaction
# begins (BEGIN IMMEDIATE), or two read-then-write transactions deadlock on upgrade. Readers
# keep a plain deferred BEGIN so they never wait behind writers (WAL).
_sqlite_begin = contextvars.ContextVar("kitwright_sqlite_begin", default="DEFERRED")


def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("KITWRIGHT_DATABASE_URL") or DEFAULT_URL


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str | None = None, *, statement_timeout_ms: int | None = None, **kwargs: Any) -> Engine:
    """The engine for `url` (default: the environment's). On PostgreSQL, `statement_timeout_ms`
    makes the server cancel any statement that runs longer, set when each connection opens
    (no round trip per request)."""
    url = normalise_url(database_url(url))
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # Our statements are short OLTP queries; PostgreSQL's JIT compiles them on every request
    # once cost estimates pass jit_above_cost and adds 8-30 ms (bench/README.md).
    options = "-c jit=off" + (f" -c statement_timeout={int(statement_timeout_ms)}" if statement_timeout_ms else "")
    kwargs.setdefault("connect_args", {"options": options})
    ping_idle = kwargs.pop("pool_pre_ping", None) is None
    engine = create_engine(url, **kwargs)
    if ping_idle:
        _ping_idle_connections(engine)
    return engine


# A connection back in the pool for less than this is taken as alive without a round trip.
PING_AFTER_IDLE_SECONDS = 2.0


def _ping_idle_connections(engine: Engine) -> None:
    """Pessimistic disconnect handling, for connections that sat idle only.

    A request checks a connection out several times (authentication, the rate limit, each
    transaction); pinging on every checkout cost one round trip each. A connection used
    moments ago is alive; one idle for a while (a restarted or failed-over server, an idle
    timeout) is pinged first and replaced when dead, as `pool_pre_ping` would."""
    import time

    from sqlalchemy import exc

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["kitwright_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("kitwright_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool then discards this connection and checks out a fresh one.
            raise exc.DisconnectionError(str(error)) from error


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(f"BEGIN {_sqlite_begin.get()}")


@contextmanager
def sqlite_write_lock() -> Iterator[None]:
    """Transactions begun inside this block take SQLite's write lock at BEGIN."""
    token = _sqlite_begin.set("IMMEDIATE")
    try:
        yield
    finally:
        _sqlite_begin.reset(token)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=True, autoflush=True)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


# PostgreSQL's codes for a lock that could not be had: deadlock detected, serialization
# failure, lock not available. SQLite says "database is locked" (or "... table is locked").
_LOCK_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def is_lock_conflict(error: BaseException) -> bool:
    """True when a database error means a concurrent writer held the rows (trying again may
    succeed), not that the database is unreachable, missing a table or broken."""
    orig = getattr(error, "orig", error)
    if getattr(orig, "sqlstate", None) in _LOCK_SQLSTATES:
        return True
    return isinstance(orig, sqlite3.OperationalError) and "is locked" in str(orig)


# The codes and texts of a database that lacks Kitwright's tables (never migrated).
_MISSING_TABLE_SQLSTATE = "42P01"


def is_missing_table(error: BaseException) -> bool:
    orig = getattr(error, "orig", error)
    return getattr(orig, "sqlstate", None) == _MISSING_TABLE_SQLSTATE or "no such table" in str(orig)
