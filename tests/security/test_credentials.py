"""Keys, tokens and who is acting, attacked."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kitwright.app import create_app
from kitwright.security.settings import SecuritySettings
from kitwright.services import auth
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import AccessToken, ApiKey, AuditEntry, LedgerEntry, User, utcnow
from tests import factories
from tests.api.gql import data, error, gql
from tests.security.operations import row_counts

ME = "{ me { id name role permissions apiKeyId } }"
CREATE_SUPPLIER = "mutation($n: String!) { createSupplier(input: {name: $n}) { supplier { id name } } }"
PARTS = "{ parts { totalCount } }"


def refused(client: TestClient, query: str = PARTS) -> None:
    response = client.post("/graphql", json={"query": query})
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")


def token_for(client: TestClient, client_id: str, secret: str) -> str:
    response = client.post("/auth/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3600
    assert response.headers["cache-control"] == "no-store"
    token: str = body["access_token"]
    return token


def test_key_and_token_act_as_the_user_via_the_key(app: Starlette, engine: Engine, anonymous_client: TestClient) -> None:
    key = factories.api_key(engine, "inventory", "alice")
    token = token_for(anonymous_client, key.client_id, key.secret)
    for credential in (key.secret, token):
        me = data(factories.bearer(app, credential), ME)["me"]
        assert me["name"] == f"alice via key {key.client_id}" and me["role"] == "inventory"
        assert "IssueItemToKit" in me["permissions"] and "ManageUsers" not in me["permissions"]
    # HTTP Basic and JSON bodies work at /auth/token too (OAuth2 clients use both).
    basic = base64.b64encode(f"{key.client_id}:{key.secret}".encode()).decode()
    assert anonymous_client.post("/auth/token", headers={"Authorization": f"Basic {basic}"},
                                 data={"grant_type": "client_credentials"}).status_code == 200
    assert anonymous_client.post("/auth/token", json={"client_id": key.client_id,
                                                      "client_secret": key.secret}).status_code == 200


def test_the_ledger_and_the_audit_name_the_user_and_key(app: Starlette, engine: Engine) -> None:
    key = factories.api_key(engine, "inventory", "bob")
    client = factories.bearer(app, key.secret)
    created = data(client, "mutation { createPart(input: {partNumber: \"AUD-1\", trackingType: UNTRACKED}) { part { id } } }")
    part_id = created["createPart"]["part"]["id"]
    data(client, "mutation($p: ID!) { createPartInventory(input: {partId: $p, quantity: 3}) { partInventory { id } } }",
         {"p": part_id})
    with make_sessionmaker(engine)() as session:
        user_id = session.scalar(select(User.id).where(User.name == "bob"))
        entry = session.scalars(select(LedgerEntry)).one()
        assert (entry.actor_id, entry.actor) == (user_id, f"bob via key {key.client_id}")
        audit = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "Part")).one()
        assert (audit.action, audit.actor_id, audit.actor) == ("CREATE", user_id, f"bob via key {key.client_id}")
        assert audit.changes["part_number"] == "AUD-1"
        key_audit = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "ApiKey")).all()
        assert all("kws_" not in str(row.changes) and key.secret not in str(row.changes) for row in key_audit)


def test_audit_entries_are_for_admins(client: TestClient, app: Starlette, engine: Engine) -> None:
    data(client, CREATE_SUPPLIER, {"n": "Audited"})
    entries = data(client, "{ auditEntries(sort: [ID_DESC], first: 5) { edges { node { actor action targetType changes } } } }")
    nodes = [e["node"] for e in entries["auditEntries"]["edges"]]
    assert any(n["targetType"] == "User" and n["action"] == "CREATE" for n in nodes)
    viewer = factories.bearer(app, factories.api_key(engine, "viewer", "vic").secret)
    assert error(viewer, "{ auditEntries { totalCount } }")["extensions"]["code"] == "FORBIDDEN"


def test_the_audit_trail_is_append_only(engine: Engine) -> None:
    factories.api_key(engine, "viewer", "carol")
    with engine.connect() as connection, pytest.raises(Exception, match="append-only"):
        connection.execute(update(AuditEntry).values(actor="someone else"))


def test_revoked_keys_and_their_tokens_stop_at_once(app: Starlette, engine: Engine, anonymous_client: TestClient) -> None:
    key = factories.api_key(engine, "admin", "dave")
    token = token_for(anonymous_client, key.client_id, key.secret)
    data(factories.bearer(app, token), PARTS)
    with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
        auth.revoke_api_key(uow, key.client_id)
    refused(factories.bearer(app, key.secret))
    refused(factories.bearer(app, token))
    denied = anonymous_client.post("/auth/token", data={"client_id": key.client_id, "client_secret": key.secret})
    assert denied.status_code == 401 and denied.json()["error"] == "invalid_client"


def test_expired_keys_and_tokens_are_refused(app: Starlette, engine: Engine, anonymous_client: TestClient) -> None:
    key = factories.api_key(engine, "admin", "erin")
    token = token_for(anonymous_client, key.client_id, key.secret)
    past = utcnow() - timedelta(seconds=1)
    with engine.begin() as connection:
        connection.execute(update(AccessToken).values(expires_at=past))
    refused(factories.bearer(app, token))
    data(factories.bearer(app, key.secret), PARTS)  # the key itself has not expired
    with engine.begin() as connection:
        connection.execute(update(ApiKey).where(ApiKey.client_id == key.client_id).values(expires_at=past))
    refused(factories.bearer(app, key.secret))
    assert anonymous_client.post("/auth/token", data={
        "client_id": key.client_id, "client_secret": key.secret}).status_code == 401


def test_a_demoted_users_key_acts_with_the_demoted_rights(app: Starlette, engine: Engine) -> None:
    key = factories.api_key(engine, "admin", "frank")
    client = factories.bearer(app, key.secret)
    data(client, CREATE_SUPPLIER, {"n": "Before demotion"})
    with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
        auth.set_role(uow, "frank", "viewer")
    before = row_counts(engine)
    assert error(client, CREATE_SUPPLIER, {"n": "After demotion"})["extensions"]["code"] == "FORBIDDEN"
    assert row_counts(engine) == before
    assert data(client, ME)["me"]["role"] == "viewer"
    data(client, PARTS)
    with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
        auth.set_active(uow, "frank", False)
    refused(client)


def test_a_key_narrowed_to_a_role_never_rises_above_its_user(app: Starlette, engine: Engine) -> None:
    narrow = factories.api_key(engine, "admin", "grace", key_role="viewer").secret
    wide = factories.api_key(engine, "viewer", "heidi", key_role="admin").secret
    for secret in (narrow, wide):
        client = factories.bearer(app, secret)
        assert data(client, ME)["me"]["role"] == "viewer"
        assert error(client, CREATE_SUPPLIER, {"n": "x"})["extensions"]["code"] == "FORBIDDEN"


FORGED = [
    "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "bearer kwt_" + "A" * 43,
    "Bearer kws_" + "B" * 43, "Bearer kwt_", "Bearer " + "x" * 5000, "Bearer ' OR 1=1 --",
    "Bearer kwt_\u00e9\u00e8", "Bearer kws_../../etc/passwd", "Bearer null", "Bearer kwk_0000000000000000",
]


@pytest.mark.parametrize("header", FORGED)
def test_forged_and_garbage_credentials_are_refused_cleanly(app: Starlette, header: str) -> None:
    with TestClient(app) as client:
        response = client.post("/graphql", json={"query": PARTS},
                               headers={"Authorization": header.encode("utf-8")})
        assert response.status_code == 401, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_token_is_not_a_key_and_a_client_id_is_not_a_secret(
    app: Starlette, engine: Engine, anonymous_client: TestClient,
) -> None:
    key = factories.api_key(engine, "admin", "ivan")
    refused(factories.bearer(app, key.client_id))
    refused(factories.bearer(app, key.secret + "x"))
    refused(factories.bearer(app, "kwt_" + key.secret[4:]))
    for fields in ({"client_id": key.client_id, "client_secret": key.secret[:-1]},
                   {"client_id": "kwk_nope", "client_secret": key.secret},
                   {"client_id": key.client_id}, {}):
        response = anonymous_client.post("/auth/token", data=fields)
        assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    wrong_grant = anonymous_client.post("/auth/token", data={"grant_type": "password", "client_id": key.client_id})
    assert wrong_grant.status_code == 400 and wrong_grant.json()["error"] == "unsupported_grant_type"


def test_only_hashes_are_stored(engine: Engine, anonymous_client: TestClient) -> None:
    key = factories.api_key(engine, "viewer", "judy", password="correct horse battery")
    token = token_for(anonymous_client, key.client_id, key.secret)
    with make_sessionmaker(engine)() as session:
        stored = " ".join(str(v) for row in session.execute(select(ApiKey.__table__)).all() for v in row)
        stored += " ".join(str(v) for row in session.execute(select(AccessToken.__table__)).all() for v in row)
        stored += " ".join(str(v) for row in session.execute(select(User.__table__)).all() for v in row)
        stored += " ".join(str(row.changes) for row in session.scalars(select(AuditEntry)))
    for secret in (key.secret, token, "correct horse battery"):
        assert secret not in stored
    assert "$argon2id$" in stored


def test_rate_limit_per_key_and_for_bad_credentials(engine: Engine) -> None:
    # Slow refills (one a minute, six a minute): a loaded machine cannot refill a bucket mid-test.
    settings = SecuritySettings(secret_key="k", rate_per_minute=1, rate_burst=3, auth_rate_per_minute=6)
    app = create_app(engine, settings)
    key = factories.api_key(engine, "viewer", "kim")
    other = factories.api_key(engine, "viewer", "lee")
    with factories.bearer(app, key.secret) as client:
        answers = [client.post("/graphql", json={"query": PARTS}).status_code for _ in range(5)]
        assert answers[:3] == [200, 200, 200] and answers[-1] == 429
        limited = client.post("/graphql", json={"query": PARTS})
        assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(limited.headers["retry-after"]) >= 1
    with factories.bearer(app, other.secret) as client:  # buckets are per key
        assert client.post("/graphql", json={"query": PARTS}).status_code == 200
    with factories.bearer(app, "kws_wrong") as client:
        answers = [client.post("/graphql", json={"query": PARTS}).status_code for _ in range(40)]
        assert answers[0] == 401 and answers[-1] == 429


def test_the_default_test_client_is_an_admin_and_anonymous_is_nobody(
    client: TestClient, anonymous_client: TestClient,
) -> None:
    assert gql(client, ME)["data"]["me"]["role"] == "admin"
    refused(anonymous_client, ME)
