"""`kitwright kanban replenish` on SQLite and PostgreSQL (docs/kanban.md)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from kitwright.cli.main import app
from kitwright.services import kanban
from kitwright.services.kanban import LevelEntry
from kitwright.services.uow import UnitOfWork
from tests import factories

runner = CliRunner()


def test_replenish_from_the_command_line(session: Session, engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    bolt = factories.part(session, "BOLT", "LOT")
    stock = factories.location(session, "Stockroom")
    home = factories.location(session, "Kanban rack")
    line = factories.location(session, "Line 1")
    factories.record(session, bolt, 5, lot_number="L1", location_id=stock.id)
    missing = runner.invoke(app, ["kanban", "replenish", "--location", str(line.id), "--database-url", url])
    assert missing.exit_code == 2 and "locationId" in missing.output
    with UnitOfWork(session) as uow:
        kanban.set_line_stock_levels(uow, location_id=line.id, home_location_id=home.id,
                                     levels=[LevelEntry(bolt.id, 2, 8)])
    line_id, bolt_id = line.id, bolt.id
    first = runner.invoke(app, ["kanban", "replenish", "--location", str(line_id), "--database-url", url])
    assert first.exit_code == 0, first.output
    assert "FILLED" in first.output and f"part {bolt_id} short 3" in first.output and "1 created" in first.output
    session.rollback()
    assert kanban.line_position(session, line_id) == {bolt_id: 5}
    again = runner.invoke(app, ["kanban", "replenish", "--location", str(line_id), "--database-url", url])
    assert again.exit_code == 0 and "nothing to do" in again.output
