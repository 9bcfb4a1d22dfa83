"""The PostgreSQL reset between tests leaves the database exactly as the migrations did, for
whatever a test wrote: rows of any table (append-only ones included), rows of seeded tables
changed, and inserts rolled back (their ids must start again at 1)."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select, text, update

from kitwright.store.db import make_sessionmaker
from kitwright.store.models import Base, NumberSequence, Part, User
from tests import factories
from tests.conftest import _MIGRATED, reset_postgres


def _contents(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {table.name: sorted(tuple(map(repr, row)) for row in conn.execute(select(table)))
                for table in Base.metadata.sorted_tables}


def test_reset_restores_the_migrated_database(pg_engine: Engine) -> None:
    migrated = _MIGRATED[pg_engine.url.render_as_string(hide_password=False)]
    expected = {table.name: sorted(tuple(map(repr, row.values())) for row in rows) for table, rows in migrated.seeded}
    assert _contents(pg_engine) == {table.name: expected.get(table.name, []) for table in Base.metadata.sorted_tables}
    with make_sessionmaker(pg_engine)() as session:
        bolt = factories.part(session, "BOLT", "LOT")
        shelf = factories.location(session, "A-1")
        factories.record(session, bolt, 5, lot_number="L1", location_id=shelf.id)  # writes the ledger
        factories.kit_item(session, factories.kit(session, status="REQUESTED"), bolt, 2)
    factories.api_key_for(pg_engine, "admin")
    with pg_engine.begin() as conn:
        conn.execute(update(User).where(User.id == 1).values(name="renamed"))
        conn.execute(update(NumberSequence).values(next_value=NumberSequence.next_value + 7))
    with pg_engine.connect() as conn:  # an insert rolled back still moves the sequence
        conn.execute(insert(Part).values(part_number="GONE", tracking_type="UNTRACKED", revision="A",
                                         attributes={}))
        conn.rollback()
    assert _contents(pg_engine)["ledger_entry"]

    reset_postgres(pg_engine)

    assert _contents(pg_engine) == {table.name: expected.get(table.name, []) for table in Base.metadata.sorted_tables}
    with make_sessionmaker(pg_engine)() as session:
        assert factories.part(session, "NEXT").id == 1
        assert factories.location(session, "L").id == 1
    with pg_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM part")) == 1
