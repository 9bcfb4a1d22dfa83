"""`kitwright orders reconcile` on a migrated SQLite file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from kitwright.cli.main import app
from kitwright.services import orders
from kitwright.services.orders import NewEvent, NewLine
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import OrderReleaseLine, UnprocessedOrderEvent
from tests import factories
from tests.invariants import assert_invariants

runner = CliRunner()


def test_reconcile_reports_stuck_events_then_processes_whole_kits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    assert runner.invoke(app, ["migrate", "--database-url", url]).exit_code == 0
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        table, chair = factories.part(session, "Table"), factories.part(session, "Chair")
        kit = factories.part(session, "DiningSet", components=[(table.id, Decimal(1)), (chair.id, Decimal(4))])
        site = factories.location(session, "DC1")
        factories.record(session, table, 2, location_id=site.id)
        factories.record(session, chair, 8, location_id=site.id)
        with UnitOfWork(session) as uow:
            orders.update_order_settings(uow, {"partial_kit_supported": True})
        with UnitOfWork(session) as uow:
            order_id = orders.create_order(uow, "ORD-1", [NewLine("1", kit.id, 2)]).id
        with UnitOfWork(session) as uow:
            orders.allocate_order(uow, order_id)
        with UnitOfWork(session) as uow:
            orders.release_order(uow, order_id)
        lines = {r.part_id: r.id for r in session.scalars(select(OrderReleaseLine))}
        table_id, chair_id = table.id, chair.id
        with UnitOfWork(session) as uow:
            orders.process_order_events(uow, "M1", [NewEvent("PICK", table_id, 1, release_line_id=lines[table_id])])
    stuck = runner.invoke(app, ["orders", "reconcile", "--database-url", url])
    assert stuck.exit_code == 0, stuck.output
    assert "processed 0 stored events; 1 still stuck" in stuck.output
    with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
        orders.process_order_events(uow, "M2", [NewEvent("PICK", chair_id, 4, release_line_id=lines[chair_id])])
    done = runner.invoke(app, ["orders", "reconcile", "--database-url", url])
    assert done.exit_code == 0 and "processed 2 stored events; 0 still stuck" in done.output
    with make_sessionmaker(engine)() as session:
        assert all(e.processed_at for e in session.scalars(select(UnprocessedOrderEvent)))
    assert_invariants(engine)
    engine.dispose()
