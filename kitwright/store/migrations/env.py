"""Alembic environment: run against the connection handed over by `store.migrate`."""

from __future__ import annotations

from alembic import context

from kitwright.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when alembic is run by hand
    from kitwright.store.db import make_engine

    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or None)
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
