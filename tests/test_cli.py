"""The `kitwright` command: migrate, demo (once), version."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from kitwright import __version__
from kitwright.cli.main import app
from kitwright.services.availability import get_kit_availability
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import Part, PartInventory, PartKit
from tests.invariants import assert_invariants

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.strip() == __version__


def test_migrate_then_demo_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    assert runner.invoke(app, ["migrate", "--database-url", url]).exit_code == 0
    first = runner.invoke(app, ["demo", "--database-url", url])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["demo", "--database-url", url])
    assert again.exit_code == 0 and "already" in again.output
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        # 12 stock records and the avionics unit being built (docs/runs.md)
        assert session.scalar(select(func.count()).select_from(PartInventory)) == 13
        statuses = sorted(session.scalars(select(PartKit.status)))
        assert statuses == ["IN_PROGRESS", "IN_PROGRESS", "REQUESTED"]
        by_status = sorted(session.scalars(select(PartInventory.status).where(
            PartInventory.status.in_(["WIP", "INSTALLED"]))))
        assert by_status == ["INSTALLED", "WIP"]
        dining = session.scalars(select(Part).where(Part.part_number == "DINING-SET")).one()
        figures = get_kit_availability(session, dining.id)
        # retail-kits.md, "two DCs": 4 kits at the first site, 1 at the second, 5 in all.
        assert [site.figure.on_hand for site in figures.sites] == [4, 1]
        assert figures.network.on_hand == 5
    assert_invariants(engine)


def test_demo_on_postgres(postgres_url: str) -> None:
    from tests.conftest import reset_postgres

    engine = make_engine(postgres_url)
    reset_postgres(engine)
    result = runner.invoke(app, ["demo", "--database-url", postgres_url])
    assert result.exit_code == 0, result.output
    assert_invariants(engine)
    reset_postgres(engine)
    engine.dispose()
