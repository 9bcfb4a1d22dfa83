"""The Kit Items importer over GraphQL multipart, REST and the CLI, on both engines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from kitwright.cli.main import app as cli
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import PartKitItem
from tests import factories

MUTATION = """mutation ($file: Upload!, $dryRun: Boolean) {
  importKitItems(file: $file, dryRun: $dryRun) { count createdCount updatedCount dryRun partKits { id } } }"""


def setup(engine: Engine) -> int:
    with make_sessionmaker(engine)() as session:
        factories.part(session, "BOLT", revision="A")
        return factories.kit(session).id


def item_count(engine: Engine) -> int:
    with make_sessionmaker(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(PartKitItem)) or 0)


def upload(client: TestClient, content: bytes, dry_run: bool = False, name: str = "items.csv") -> dict[str, Any]:
    operations = {"query": MUTATION, "variables": {"file": None, "dryRun": dry_run}}
    response = client.post("/graphql", data={
        "operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]}),
    }, files={"0": (name, content, "text/csv")})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_graphql_multipart_upload(client: TestClient, engine: Engine) -> None:
    kit_id = setup(engine)
    good = f"kit_id,part_number,revision,quantity\n{kit_id},BOLT,,3\n".encode()
    dry = upload(client, good, dry_run=True)["data"]["importKitItems"]
    assert dry == {"count": 1, "createdCount": 1, "updatedCount": 0, "dryRun": True,
                   "partKits": [{"id": str(kit_id)}]}
    assert item_count(engine) == 0
    done = upload(client, good)["data"]["importKitItems"]
    assert (done["createdCount"], done["dryRun"]) == (1, False)
    again = upload(client, f"kit_id,part_number,quantity\n{kit_id},BOLT,4\n".encode())["data"]["importKitItems"]
    assert (again["createdCount"], again["updatedCount"]) == (0, 1)
    bad = upload(client, f"kit_id,part_number,quantity\n,BOLT,1\n{kit_id},NOPE,1\n".encode())
    error = bad["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [(d["row"], d["column"]) for d in error["extensions"]["details"]] == [(2, "kit_id"), (3, "part_number")]
    assert item_count(engine) == 1


def test_graphql_upload_without_a_file_is_a_clear_error(client: TestClient, engine: Engine) -> None:
    response = client.post("/graphql", json={"query": MUTATION, "variables": {"file": "not a file"}})
    body = response.json()
    assert response.status_code == 200 and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    broken = client.post("/graphql", data={"operations": "{not json", "map": "{}"},
                         files={"0": ("a.csv", b"x", "text/csv")})
    assert broken.status_code == 400
    missing = client.post("/graphql", data={"operations": json.dumps({"query": MUTATION, "variables": {}}),
                                            "map": json.dumps({"1": ["variables.file"]})},
                          files={"0": ("a.csv", b"x", "text/csv")})
    assert missing.status_code == 400 and "not sent" in missing.text


def test_rest_endpoint(client: TestClient, engine: Engine) -> None:
    kit_id = setup(engine)
    content = f"KIT_ID,Part Number,Quantity\n{kit_id},BOLT,2\n".encode()
    dry = client.post("/api/import/kit-items?dryRun=true", files={"file": ("k.csv", content, "text/csv")})
    assert dry.status_code == 200 and dry.json()["dryRun"] is True and item_count(engine) == 0
    done = client.post("/api/import/kit-items", files={"file": ("k.csv", content, "text/csv")})
    assert done.status_code == 200, done.text
    assert done.json() == {"count": 1, "createdCount": 1, "updatedCount": 0, "dryRun": False,
                           "partKits": [{"id": str(kit_id)}]}
    bad = client.post("/api/import/kit-items", files={"file": ("k.csv", b"kit_id,part_number\n1,BOLT\n", "text/csv")})
    assert bad.status_code == 400
    details = bad.json()["errors"][0]["extensions"]["details"]
    assert details == [{"row": 1, "column": "quantity", "message": "missing column quantity"}]
    assert client.post("/api/import/kit-items", data={"x": "1"}).status_code == 400
    assert client.post("/api/import/kit-items?dryRun=maybe", files={"file": ("k.csv", content)}).status_code == 400
    template = client.get("/api/import/kit-items/template")
    assert template.status_code == 200 and template.text.startswith("kit_id,part_number,revision,quantity")
    xlsx = client.get("/api/import/kit-items/template?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_permissions(client_for: Callable[[str], TestClient], engine: Engine) -> None:
    kit_id = setup(engine)
    content = f"kit_id,part_number,quantity\n{kit_id},BOLT,2\n".encode()
    viewer = client_for("viewer")
    assert viewer.post("/api/import/kit-items", files={"file": ("k.csv", content)}).status_code == 403
    assert upload(viewer, content)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    requester = client_for("requester")
    # The per-kit rule of createPartKitItem applies too: another's kit is refused, naming the row,
    # with nothing written; a kit the requester made is theirs to fill.
    before = item_count(engine)
    refused = requester.post("/api/import/kit-items", files={"file": ("k.csv", content)})
    assert refused.status_code == 403
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert [(d["row"], d["column"]) for d in error["extensions"]["details"]] == [(2, "kit_id")]
    assert upload(requester, content)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert item_count(engine) == before
    made = requester.post("/graphql", json={
        "query": "mutation { createPartKit(input: {status: DRAFT}) { partKit { id } } }"}).json()
    own = made["data"]["createPartKit"]["partKit"]["id"]
    mine = f"kit_id,part_number,quantity\n{own},BOLT,2\n".encode()
    assert requester.post("/api/import/kit-items", files={"file": ("k.csv", mine)}).status_code == 200
    assert client_for("inventory").post("/api/import/kit-items", files={"file": ("k.csv", content)}).status_code == 200


def test_cli(tmp_path: Path, engine: Engine) -> None:
    kit_id = setup(engine)
    url = engine.url.render_as_string(hide_password=False)
    good = tmp_path / "items.csv"
    good.write_text(f"kit_id,part_number,quantity\n{kit_id},BOLT,2\n")
    runner = CliRunner()
    dry = runner.invoke(cli, ["import", "kit-items", str(good), "--dry-run", "--database-url", url])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and item_count(engine) == 0
    done = runner.invoke(cli, ["import", "kit-items", str(good), "--database-url", url])
    assert done.exit_code == 0 and "1 rows (1 created" in done.output
    bad = tmp_path / "bad.csv"
    bad.write_text("kit_id,part_number,quantity\n,BOLT,2\n")
    failed = runner.invoke(cli, ["import", "kit-items", str(bad), "--database-url", url])
    assert failed.exit_code == 1 and "kit_id is required" in failed.output
    template = tmp_path / "t.xlsx"
    assert runner.invoke(cli, ["import", "template", "kit-items", "-o", str(template)]).exit_code == 0
    assert template.read_bytes()[:2] == b"PK"


def test_plant_loading_over_rest_and_cli(client: TestClient, client_for: Callable[[str], TestClient],
                                         engine: Engine, tmp_path: Path) -> None:
    tree = b"Location,Parent\nPlant,\nRoom 1,Plant\nRack,Plant/Room 1\n"
    dry = client.post("/api/import/locations?dryRun=true", files={"file": ("l.csv", tree)})
    assert dry.status_code == 200 and dry.json()["count"] == 3 and dry.json()["dryRun"] is True
    done = client.post("/api/import/locations", files={"file": ("l.csv", tree)})
    assert done.status_code == 200 and len(done.json()["ids"]) == 3
    # Loading the same tree again finds every location by name under its parent: updates.
    again = client.post("/api/import/locations", files={"file": ("l.csv", tree)})
    assert again.status_code == 200 and (again.json()["createdCount"], again.json()["updatedCount"]) == (0, 3)
    bad = client.post("/api/import/locations", files={"file": ("l.csv", b"Location,Parent\nX,Nowhere\nY,Mars\n")})
    assert bad.status_code == 400
    assert [d["row"] for d in bad.json()["errors"][0]["extensions"]["details"]] == [2, 3]
    assert client.post("/api/import/planets", files={"file": ("l.csv", tree)}).status_code == 404
    assert client_for("viewer").post("/api/import/suppliers", files={"file": ("s.csv", b"name\nA\n")}).status_code == 403
    suppliers = tmp_path / "s.csv"
    suppliers.write_text("Supplier\nAcme\n")
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["import", "suppliers", str(suppliers), "--database-url", url])
    assert result.exit_code == 0 and "1 suppliers rows (1 created, 0 updated)" in result.output
    repeated = CliRunner().invoke(cli, ["import", "suppliers", str(suppliers), "--database-url", url])
    assert repeated.exit_code == 0 and "(0 created, 1 updated)" in repeated.output
    suppliers.write_text("id,name\nabc,Acme\n")
    refused = CliRunner().invoke(cli, ["import", "suppliers", str(suppliers), "--database-url", url])
    assert refused.exit_code == 1 and "no supplier" in refused.output
