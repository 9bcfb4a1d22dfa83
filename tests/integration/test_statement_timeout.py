"""On PostgreSQL the server cancels any statement that runs longer than a request's whole time
limit, set when each connection opens (docs/security.md, "Time limit")."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, text

from kitwright.app import app_from_env
from kitwright.store.db import make_engine


def test_a_statement_longer_than_the_limit_is_cancelled(postgres_url: str) -> None:
    engine = make_engine(postgres_url, statement_timeout_ms=300)
    try:
        for _ in range(3):  # every checkout, after rollbacks too
            with engine.connect() as conn:
                assert conn.execute(text("SHOW statement_timeout")).scalar() == "300ms"
                assert conn.execute(text("SHOW jit")).scalar() == "off"
                conn.execute(text("SELECT pg_sleep(0.05)"))
                with pytest.raises(exc.OperationalError, match="statement timeout"):
                    conn.execute(text("SELECT pg_sleep(2)"))
                conn.rollback()
    finally:
        engine.dispose()


def test_the_server_limits_its_statements_to_the_request_time(postgres_url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITWRIGHT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("KITWRIGHT_REQUEST_SECONDS", "7")
    monkeypatch.setenv("KITWRIGHT_SECRET_KEY", "k")
    app = app_from_env()
    try:
        with app.state.engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "7s"
    finally:
        app.state.engine.dispose()
