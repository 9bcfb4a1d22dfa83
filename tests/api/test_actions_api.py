"""Actions over GraphQL on both engines: createRule / updateRule / deleteRule / rules, a
rule refused when it does not compile, and a mutation blocked by a rule (nothing written)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from tests.api.gql import data, error

CREATE = """mutation ($input: CreateRuleInput!) { createRule(input: $input) {
  rule { id _etag title target eventType enabled order severity code message } } }"""


def test_rule_lifecycle_and_blocking(client: TestClient) -> None:
    bad = error(client, CREATE, {"input": {"title": "x", "target": "PARTKITITEM", "eventType": "CREATE",
                                           "code": "new.quantity >"}})
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and bad["extensions"]["field"] == "code"
    rule = data(client, CREATE, {"input": {
        "title": "no CAPA parts", "target": "PARTKITITEM", "eventType": "CREATE", "order": 2,
        "code": 'new.part.partNumber.startsWith("CAPA")', "message": "a CAPA part may not be added to a kit",
    }})["createRule"]["rule"]
    assert (rule["severity"], rule["enabled"], rule["order"]) == ("BLOCK", True, 2)
    part = data(client, 'mutation { createPart(input: {partNumber: "CAPA-1", trackingType: UNTRACKED}) { part { id } } }')
    kit = data(client, "mutation { createPartKit(input: {}) { partKit { id } } }")
    create_item = """mutation ($k: ID!, $p: ID!) { createPartKitItem(input: {partKitId: $k, partId: $p, quantity: 1}) {
      partKitItem { id } } }"""
    variables = {"k": kit["createPartKit"]["partKit"]["id"], "p": part["createPart"]["part"]["id"]}
    blocked = error(client, create_item, variables)
    assert blocked["message"] == "a CAPA part may not be added to a kit"
    assert blocked["extensions"]["code"] == "BAD_USER_INPUT"
    items = data(client, "{ partKitItems { pageInfo { totalCount } } }")
    assert items["partKitItems"]["pageInfo"]["totalCount"] == 0
    updated = data(client, """mutation ($id: ID!, $etag: String!) { updateRule(input: {id: $id, etag: $etag,
      enabled: false, order: 1}) { rule { enabled order _etag } } }""", {"id": rule["id"], "etag": rule["_etag"]})
    assert updated["updateRule"]["rule"]["enabled"] is False
    created = data(client, create_item, variables)["createPartKitItem"]["partKitItem"]["id"]
    items = data(client, "{ partKitItems { edges { node { id } } pageInfo { totalCount } } }")["partKitItems"]
    assert ([e["node"]["id"] for e in items["edges"]], items["pageInfo"]["totalCount"]) == ([created], 1)
    listed = data(client, "{ rules(filters: {target: {eq: PARTKITITEM}}) { edges { node { id title } } } }")
    assert [e["node"]["title"] for e in listed["rules"]["edges"]] == ["no CAPA parts"]
    stale = error(client, 'mutation ($id: ID!) { deleteRule(id: $id, etag: "old") { id } }', {"id": rule["id"]})
    assert stale["extensions"]["code"] == "CONFLICT"
    gone = data(client, "mutation ($id: ID!, $etag: String!) { deleteRule(id: $id, etag: $etag) { id } }",
                {"id": rule["id"], "etag": updated["updateRule"]["rule"]["_etag"]})
    assert gone["deleteRule"]["id"] == rule["id"]


def test_only_rule_managers_save_rules(client_for: Callable[[str], TestClient]) -> None:
    requester = client_for("requester")
    refused = error(requester, CREATE, {"input": {"title": "x", "target": "PART", "eventType": "CREATE",
                                                  "code": "false"}})
    assert refused["extensions"]["code"] == "FORBIDDEN"
    assert data(requester, "{ rules { pageInfo { totalCount } } }")["rules"]["pageInfo"]["totalCount"] == 0
