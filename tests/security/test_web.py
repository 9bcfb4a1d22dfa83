"""Web pages need a signed-in user; forms and cookie-authenticated API calls need the
CSRF token; sessions live in signed, HttpOnly, SameSite cookies."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kitwright.app import create_app
from kitwright.security.settings import SecuritySettings
from kitwright.services import auth
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import Supplier
from tests import factories
from tests.security.operations import row_counts


@pytest.fixture
def browser(app: Starlette) -> TestClient:
    return TestClient(app, follow_redirects=False)


def test_pages_redirect_anonymous_people_to_sign_in(browser: TestClient) -> None:
    for path in ("/", "/inventory", "/inventory/1/history"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")
    page = browser.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 303
    assert browser.get("/api/kits/1/pick-list.csv").status_code == 401


def test_sign_in_then_pages_then_sign_out(browser: TestClient, engine: Engine) -> None:
    factories.person(engine, "pat", "viewer")
    factories.sign_in(browser, "pat")
    cookie = browser.cookies.get("kitwright_session")
    assert cookie
    page = browser.get("/inventory")
    assert page.status_code == 200 and "pat" in page.text
    token = factories.form_token(page.text)
    assert browser.post("/signout", data={}).status_code == 403  # no CSRF token
    assert browser.get("/inventory").status_code == 200  # still signed in
    assert browser.post("/signout", data={"csrf_token": token}).status_code == 303
    assert browser.get("/inventory").status_code == 303


def test_wrong_passwords_and_missing_csrf_are_refused(browser: TestClient, engine: Engine) -> None:
    factories.person(engine, "quinn", "viewer")
    token = factories.form_token(browser.get("/signin").text)
    wrong = browser.post("/signin", data={"csrf_token": token, "name": "quinn", "password": "nope nope nope"})
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    nobody = browser.post("/signin", data={"csrf_token": token, "name": "nobody", "password": factories.PASSWORD})
    assert nobody.status_code == 401
    system = browser.post("/signin", data={"csrf_token": token, "name": "system", "password": factories.PASSWORD})
    assert system.status_code == 401
    no_csrf = browser.post("/signin", data={"name": "quinn", "password": factories.PASSWORD})
    assert no_csrf.status_code == 403
    assert browser.get("/inventory").status_code == 303


def test_sign_in_never_redirects_off_site(browser: TestClient, engine: Engine) -> None:
    factories.person(engine, "rae", "viewer")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        token = factories.form_token(browser.get("/signin").text)
        response = browser.post("/signin", data={"csrf_token": token, "name": "rae", "password": factories.PASSWORD,
                                                 "next": target})
        assert response.headers["location"] == "/"


def test_cookie_authenticated_graphql_needs_the_csrf_header(browser: TestClient, engine: Engine) -> None:
    factories.person(engine, "sam", "admin")
    factories.sign_in(browser, "sam")
    graphiql = browser.get("/graphql", headers={"accept": "text/html"})
    assert graphiql.status_code == 200
    csrf = browser.cookies.get("csrftoken")
    assert csrf
    mutation = {"query": 'mutation { createSupplier(input: {name: "via cookie"}) { supplier { id } } }'}
    before = row_counts(engine)
    refused = browser.post("/graphql", json=mutation)
    assert refused.status_code == 403 and refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert browser.post("/graphql", json=mutation, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert row_counts(engine) == before
    done = browser.post("/graphql", json=mutation, headers={"X-CSRFToken": csrf}).json()
    with make_sessionmaker(engine)() as session:
        made = session.scalars(select(Supplier.id).where(Supplier.name == "via cookie")).one()
    assert done == {"data": {"createSupplier": {"supplier": {"id": str(made)}}}}
    me = browser.post("/graphql", json={"query": "{ me { name } }"}, headers={"X-CSRF-Token": csrf}).json()
    assert me["data"]["me"]["name"] == "sam"  # a person, not a key


def test_sessions_end_when_the_user_is_deactivated_or_the_password_changes(browser: TestClient, engine: Engine) -> None:
    factories.person(engine, "tess", "viewer")
    factories.sign_in(browser, "tess")
    assert browser.get("/inventory").status_code == 200
    with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
        auth.set_password(uow, "tess", "another long password")
    assert browser.get("/inventory").status_code == 303
    factories.sign_in(browser, "tess", "another long password")
    with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
        auth.set_active(uow, "tess", False)
    assert browser.get("/inventory").status_code == 303


def test_session_cookie_flags(engine: Engine) -> None:
    factories.person(engine, "uma", "viewer")
    app = create_app(engine, SecuritySettings(secret_key="k", https_only=True))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = factories.form_token(client.get("/signin").text)
        response = client.post("/signin", data={"csrf_token": token, "name": "uma", "password": factories.PASSWORD})
        cookies = response.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("kitwright_session="))
        assert "httponly" in session.lower() and "secure" in session.lower() and "samesite=lax" in session.lower()
        csrf = next(c for c in cookies if c.startswith("csrftoken="))
        assert "secure" in csrf.lower() and "samesite=strict" in csrf.lower()


def test_rest_endpoints_check_their_permission(app: Starlette, engine: Engine) -> None:

    viewer = TestClient(app, headers={"Authorization": f"Bearer {factories.api_key_for(engine, 'viewer')}"})
    before = row_counts(engine)
    refused = viewer.post("/api/items", json={"ItemId": "K", "ItemComponent": [{"ComponentItemId": "C",
                                                                                 "ComponentQty": 1}]})
    assert refused.status_code == 403 and refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert row_counts(engine) == before
    assert viewer.get("/api/kits/1/pick-list.csv").status_code == 404  # allowed: the kit does not exist
    assert viewer.get("/some/unmapped/path").status_code == 403  # deny by default


def test_insecure_dev_acts_as_an_admin_without_credentials(engine: Engine) -> None:
    app = create_app(engine, SecuritySettings(secret_key="k", insecure_dev=True))
    with TestClient(app, base_url="http://localhost:8000") as client:  # loopback names only
        me = client.post("/graphql", json={"query": "{ me { name role } }"}).json()
        assert me == {"data": {"me": {"name": "dev (--insecure-dev)", "role": "admin"}}}
        assert client.post("/graphql", json={"query": "{ me { name } }"},
                           headers={"Authorization": "Bearer junk"}).status_code == 401
