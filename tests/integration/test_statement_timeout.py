"""On PostgreSQL the server cancels any statement that runs longer than a request's whole time
limit, set once per connection (docs/security.md, "Time limit")."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, exc, text

from kitwright.store.db import limit_statements


def test_a_statement_longer_than_the_limit_is_cancelled(pg_engine: Engine) -> None:
    with pg_engine.connect() as early:  # a connection pooled before the limit was set
        early.execute(text("SELECT 1"))
    limit_statements(pg_engine, 300)
    for _ in range(3):  # every checkout, pooled or new, after rollbacks too
        with pg_engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "300ms"
            conn.execute(text("SELECT pg_sleep(0.05)"))
            with pytest.raises(exc.OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(2)"))
            conn.rollback()
