"""The command line's errors: a database that cannot be opened or is not migrated, a URL that
names no database, a file that cannot be written end in one `error: …` line and exit code 1,
never a traceback; a port outside 1-65535 is a usage error (exit 2). Only a real lock
conflict says "try again"."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from kitwright.cli.errors import explain
from kitwright.cli.main import app
from kitwright.store.db import is_lock_conflict
from tests.conftest import PG_ADMIN_URL

runner = CliRunner()


def failed(args: list[str], code: int = 1) -> str:
    """The one error line of a command that must fail cleanly."""
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    # A traceback would be an exception other than the exit itself.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.fixture
def items_csv(tmp_path: Path) -> Path:
    path = tmp_path / "items.csv"
    path.write_text("kit_id,part_number,quantity\n1,BOLT,2\n")
    return path


@pytest.fixture
def unmigrated_postgres() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"kitwright_unmigrated_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_an_unmigrated_database_says_so_not_conflict(tmp_path: Path, items_csv: Path,
                                                      unmigrated_postgres: str) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    for url in (f"sqlite:///{empty}", unmigrated_postgres):
        for command in (["import", "kit-items", str(items_csv)], ["import", "parts", str(items_csv)]):
            line = failed([*command, "--database-url", url])
            assert "not migrated" in line and "kitwright migrate" in line, line
            assert "CONFLICT" not in line and "try again" not in line


def test_a_database_that_cannot_be_reached(tmp_path: Path, items_csv: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    unreachable = "postgresql://nobody@127.0.0.1:1/x"
    for args in (["import", "kit-items", str(items_csv), "--database-url", missing],
                 ["availability", "prune", "--database-url", missing],
                 ["orders", "reconcile", "--database-url", unreachable],
                 ["availability", "prune", "--database-url", unreachable]):
        line = failed(args)
        assert line.startswith("error: cannot use the database: ") and "try again" not in line, line
    assert "Connection refused" in failed(["orders", "reconcile", "--database-url", unreachable])


def test_a_url_that_names_no_database() -> None:
    assert "--database-url" in failed(["migrate", "--database-url", "garbage://x"])
    assert "--database-url" in failed(["migrate", "--database-url", "not a url"])


def test_an_output_file_that_cannot_be_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    assert runner.invoke(app, ["migrate", "--database-url", url]).exit_code == 0
    nowhere = tmp_path / "no" / "dir"
    for args in (["import", "template", "kit-items", "-o", str(nowhere / "t.xlsx")],
                 ["import", "template", "parts", "-o", str(nowhere / "t.csv")],
                 ["availability", "export", "-o", str(nowhere / "feed.csv"), "--database-url", url]):
        line = failed(args)
        assert str(nowhere) in line and "No such file or directory" in line, line


def test_serve_refuses_a_port_outside_1_to_65535() -> None:
    for port in ("99999", "65536", "0", "-1"):
        result = runner.invoke(app, ["serve", "--port", port, "--database-url", "sqlite:///unused.db"])
        assert result.exit_code == 2, (port, result.output)
        assert "--port" in result.output
    assert not Path("unused.db").exists()


def test_only_a_lock_conflict_is_called_one() -> None:
    import sqlite3

    import psycopg

    def wrapped(orig: Exception) -> OperationalError:
        return OperationalError("SELECT 1", {}, orig)

    assert is_lock_conflict(wrapped(sqlite3.OperationalError("database is locked")))
    assert not is_lock_conflict(wrapped(sqlite3.OperationalError("no such table: part_kit")))
    assert not is_lock_conflict(wrapped(sqlite3.OperationalError("unable to open database file")))
    assert explain(wrapped(sqlite3.OperationalError("database is locked"))) == (
        "a concurrent change locked the same rows; try again")
    assert is_lock_conflict(wrapped(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert is_lock_conflict(wrapped(psycopg.errors.LockNotAvailable("could not obtain lock")))
    assert not is_lock_conflict(wrapped(psycopg.OperationalError("connection failed")))
    assert "not migrated" in (explain(wrapped(psycopg.errors.UndefinedTable("relation does not exist"))) or "")
    assert explain(RuntimeError("a bug")) is None  # keeps its traceback
