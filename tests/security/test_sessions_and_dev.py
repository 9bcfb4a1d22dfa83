"""Insecure-dev mode stays on the developer's machine; sign-out ends the session on the
server; production needs its secret, hides the schema's spelling hints and sends security
headers (docs/security.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient
from typer.testing import CliRunner

from kitwright.app import create_app
from kitwright.cli.main import app as cli
from kitwright.cli.main import serve_banner
from kitwright.security.settings import SecuritySettings
from tests import factories

runner = CliRunner()
ME = {"query": "{ me { name } }"}


def test_insecure_dev_refuses_other_hosts_and_non_json_posts(engine: Engine) -> None:
    app = create_app(engine, SecuritySettings(secret_key="k", insecure_dev=True))
    with TestClient(app, base_url="http://evil.example") as rebound:  # DNS rebinding
        response = rebound.post("/graphql", json=ME)
        assert response.status_code == 403 and response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        with TestClient(app, base_url=f"http://{host}") as local:
            assert local.post("/graphql", json=ME).json()["data"]["me"]["name"].startswith("dev")
            # A cross-site form or text/plain fetch needs no preflight: refused.
            for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
                answer = local.post("/graphql", content=b'{"query": "{ me { name } }"}',
                                    headers={"content-type": content_type})
                assert answer.status_code == 415, (host, content_type)


def test_insecure_dev_from_the_environment_binds_loopback_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    wide = runner.invoke(cli, ["serve", "--host", "0.0.0.0", "--database-url", url],
                         env={"KITWRIGHT_INSECURE_DEV": "1"})
    assert wide.exit_code == 2 and "loopback" in wide.output


def test_sign_out_ends_the_session_on_the_server(app: object, engine: Engine) -> None:
    factories.person(engine, "sam", "viewer")
    with TestClient(app, follow_redirects=False) as browser:  # type: ignore[arg-type]
        factories.sign_in(browser, "sam")
        stolen = browser.cookies.get("kitwright_session")
        assert stolen and browser.get("/inventory").status_code == 200
        token = browser.cookies.get("csrftoken")
        assert browser.post("/signout", data={"csrf_token": token}).status_code == 303
    with TestClient(app, follow_redirects=False, cookies={"kitwright_session": stolen}) as thief:  # type: ignore[arg-type]
        assert thief.get("/inventory").status_code == 303  # back to sign-in
        assert thief.post("/graphql", json=ME).status_code == 401


def test_production_refuses_to_start_without_a_secret_key(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KITWRIGHT_SECRET_KEY"):
        create_app(engine, SecuritySettings(production=True, introspection=False, graphiql=False))
    result = runner.invoke(cli, ["serve", "--database-url", f"sqlite:///{tmp_path / 'k.db'}"],
                           env={"KITWRIGHT_PRODUCTION": "1", "KITWRIGHT_SECRET_KEY": ""})
    assert result.exit_code == 2 and "KITWRIGHT_SECRET_KEY" in result.output


PRODUCTION = SecuritySettings(production=True, introspection=False, graphiql=False, https_only=True,
                              secret_key="a-long-random-test-key")


def test_production_gives_no_field_suggestions(engine: Engine) -> None:
    secret = factories.api_key_for(engine, "admin")
    with TestClient(create_app(engine, PRODUCTION), headers={"Authorization": f"Bearer {secret}"}) as client:
        error = client.post("/graphql", json={"query": "{ auditEntrie { totalCount } }"}).json()["errors"][0]
    assert "Did you mean" not in error["message"] and "auditEntrie" in error["message"]
    with TestClient(create_app(engine, SecuritySettings(secret_key="k")),
                    headers={"Authorization": f"Bearer {secret}"}) as client:
        error = client.post("/graphql", json={"query": "{ auditEntrie { totalCount } }"}).json()["errors"][0]
    assert "Did you mean" in error["message"]  # development keeps the hint


def test_pages_send_security_headers(engine: Engine, app: object) -> None:
    factories.person(engine, "ann", "viewer")
    with TestClient(app, follow_redirects=False) as browser:  # type: ignore[arg-type]
        page = browser.get("/signin")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in page.headers  # not over plain HTTP in development
        factories.sign_in(browser, "ann")
        for path in ("/inventory", "/"):
            assert browser.get(path).headers["cache-control"] == "no-store"
        graphiql = browser.get("/graphql", headers={"accept": "text/html"})
        assert "https://unpkg.com" in graphiql.headers["content-security-policy"]
        assert browser.post("/graphql", json=ME, headers={
            "x-csrf-token": browser.cookies.get("csrftoken") or ""}).headers["cache-control"] == "no-store"
    with TestClient(create_app(engine, PRODUCTION), base_url="https://testserver") as browser:
        page = browser.get("/signin")
        assert page.headers["strict-transport-security"].startswith("max-age=")


def test_serve_prints_only_what_is_served() -> None:
    assert "GraphiQL" not in serve_banner(PRODUCTION, "0.0.0.0", 8000)
    assert "GraphiQL at http://127.0.0.1:8000/graphql" in serve_banner(SecuritySettings(), "127.0.0.1", 8000)
