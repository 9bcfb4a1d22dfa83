"""`kitwright user …`, `kitwright apikey …` and the serve flags, through the real CLI."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from kitwright.app import create_app
from kitwright.cli.main import app as cli
from kitwright.security.settings import SecuritySettings
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import AuditEntry, User

runner = CliRunner()


def test_first_admin_key_revoke_and_audit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    made = runner.invoke(cli, ["user", "create", "alice", "--role", "admin", "--password-stdin",
                               "--database-url", url], input="a long enough password\n")
    assert made.exit_code == 0, made.output
    short = runner.invoke(cli, ["user", "create", "bob", "--password-stdin", "--database-url", url], input="short\n")
    assert short.exit_code == 1 and "at least 10" in short.output
    bad_role = runner.invoke(cli, ["user", "create", "bob", "--role", "boss", "--no-password", "--database-url", url])
    assert bad_role.exit_code == 1 and "unknown role" in bad_role.output
    key = runner.invoke(cli, ["apikey", "create", "--user", "alice", "--expires-days", "30", "--database-url", url])
    assert key.exit_code == 0, key.output
    secret = re.search(r"client_secret: (kws_\S+)", key.output)
    client_id = re.search(r"client_id:\s+(kwk_\S+)", key.output)
    assert secret and client_id
    engine = make_engine(url)
    app = create_app(engine, SecuritySettings(secret_key="k"))
    with TestClient(app, headers={"Authorization": f"Bearer {secret[1]}"}) as client:
        me = client.post("/graphql", json={"query": "{ me { name role } }"}).json()
        assert me == {"data": {"me": {"name": f"alice via key {client_id[1]}", "role": "admin"}}}
        revoked = runner.invoke(cli, ["apikey", "revoke", client_id[1], "--database-url", url])
        assert revoked.exit_code == 0, revoked.output
        assert client.post("/graphql", json={"query": "{ me { name } }"}).status_code == 401
    assert runner.invoke(cli, ["user", "set-role", "alice", "viewer", "--database-url", url]).exit_code == 0
    assert runner.invoke(cli, ["user", "set-role", "system", "viewer", "--database-url", url]).exit_code == 1
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(User.role).where(User.name == "alice")) == "viewer"
        actions = session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target_type)
                                  .order_by(AuditEntry.id)).all()
    assert [(a, t) for _, a, t in actions] == [("CREATE", "User"), ("CREATE", "ApiKey"), ("UPDATE", "ApiKey"),
                                              ("UPDATE", "User")]
    assert all(actor.startswith("cli:") for actor, _, _ in actions)
    engine.dispose()


def test_insecure_dev_is_loopback_only_and_never_in_production(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    wide = runner.invoke(cli, ["serve", "--insecure-dev", "--host", "0.0.0.0", "--database-url", url])
    assert wide.exit_code == 2 and "loopback" in wide.output
    production = runner.invoke(cli, ["serve", "--insecure-dev", "--database-url", url],
                               env={"KITWRIGHT_PRODUCTION": "1"})
    assert production.exit_code == 2 and "PRODUCTION" in production.output


def test_rest_and_graphql_writes_name_the_key(client: TestClient) -> None:
    leg = client.post("/graphql", json={"query": """mutation { createPart(input: {partNumber: "LEG",
        trackingType: UNTRACKED}) { part { id } } }"""}).json()
    assert leg == {"data": {"createPart": {"part": {"id": "1"}}}}  # the first part of a new database
    response = client.post("/api/items", json={"ItemId": "SET", "ItemComponent": [
        {"ComponentItemId": "LEG", "ComponentQty": 4}]})
    assert response.status_code == 201, response.text
    kit = client.post("/graphql", json={"query": "mutation { createPartKit(input: {}) { partKit { id } } }"}).json()
    kit_id = kit["data"]["createPartKit"]["partKit"]["id"]
    entries = client.post("/graphql", json={"query": """{ auditEntries(sort: [ID_ASC]) {
        edges { node { actor action targetType targetId changes } } } }"""}).json()["data"]["auditEntries"]["edges"]
    made = {(n["targetType"], n["changes"].get("part_number")): n for n in (e["node"] for e in entries)
            if n["action"] == "CREATE"}
    for key in (("Part", "LEG"), ("Part", "SET"), ("PartKit", None)):
        assert made[key]["actor"].startswith("test-admin via key kwk_"), made[key]
    assert made[("PartKit", None)]["targetId"] == kit_id
