"""Migrations upgrade a database that already holds data, on both engines."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text

from kitwright.store.db import make_engine
from kitwright.store.migrate import alembic_config, current_revision, upgrade
from tests.conftest import PG_ADMIN_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        yield engine
        engine.dispose()
        shutil.rmtree(tmp_path, ignore_errors=True)
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"kitwright_migration_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_every_revision_upgrades_a_database_holding_data(empty_engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_engine))
    revisions = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    upgrade(empty_engine, revisions[0])
    with empty_engine.begin() as conn:
        conn.execute(text("INSERT INTO part (part_number, revision, tracking_type, is_digital, created_at, etag)"
                          " VALUES ('FC', 'A', 'SERIAL', false, CURRENT_TIMESTAMP, 'e')"))
        conn.execute(text(
            "INSERT INTO part_inventory (part_id, part_number, serial_number, quantity, attributes, on_order,"
            " scrapped, how_created, created_at, created_by_id, etag)"
            " VALUES (1, 'FC', 'sn-1', 1000000, '{}', false, false, 'CREATED', CURRENT_TIMESTAMP, 1, 'e')"
        ))
    for revision in revisions[1:]:
        upgrade(empty_engine, revision)
        assert current_revision(empty_engine) == revision
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT serial_number, created_by_id FROM part_inventory")).one() == ("sn-1", 1)
        assert conn.execute(text("SELECT name FROM app_user WHERE id = 1")).scalar_one() == "system"
