"""Actions on runs and mBOM lines over GraphQL, on both engines: a blocking RUN rule refuses
createRun and updateRun, a blocking MBOMITEM rule refuses createMbomItem, and nothing is
written (no run, no build requirement, no status change, no mBOM line)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from kitwright.store.models import BuildRequirement, MbomItem, Run
from tests.api.gql import data, error

CREATE_RULE = """mutation ($input: CreateRuleInput!) { createRule(input: $input) { rule { id } } }"""
CREATE_PART = """mutation ($n: String!) { createPart(input: {partNumber: $n, trackingType: UNTRACKED}) {
  part { id } } }"""
CREATE_MBOM_ITEM = """mutation ($input: CreateMBomItemInput!) { createMbomItem(input: $input) { mbomItem { id } } }"""
CREATE_RUN = """mutation ($input: CreateRunInput!) { createRun(input: $input) { run { id status _etag } } }"""
UPDATE_RUN = """mutation ($input: UpdateRunInput!) { updateRun(input: $input) { run { id status _etag } } }"""


def _rule(client: TestClient, target: str, event: str, code: str, message: str) -> str:
    rule: dict[str, Any] = data(client, CREATE_RULE, {"input": {
        "title": message, "target": target, "eventType": event, "code": code, "message": message,
    }})["createRule"]["rule"]
    return str(rule["id"])


def _count(session: Session, model: type[Any]) -> int:
    session.rollback()  # a fresh snapshot
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _assembly(client: TestClient) -> tuple[str, str]:
    assembly = data(client, CREATE_PART, {"n": "ASSY-1"})["createPart"]["part"]["id"]
    component = data(client, CREATE_PART, {"n": "BOLT-1"})["createPart"]["part"]["id"]
    data(client, CREATE_MBOM_ITEM, {"input": {"partId": component, "parentId": assembly, "quantity": 2}})
    return assembly, component


def test_a_blocking_run_rule_refuses_create_run_and_nothing_is_written(session: Session, client: TestClient) -> None:
    assembly, _ = _assembly(client)
    rule_id = _rule(client, "RUN", "CREATE",
                    'new.quantity > 5.0 || new.part.partNumber.startsWith("OBSOLETE")',
                    "runs build at most 5 units")
    refused = error(client, CREATE_RUN, {"input": {"title": "big", "partId": assembly, "quantity": 10}})
    assert refused["message"] == "runs build at most 5 units"
    assert refused["extensions"]["code"] == "BAD_USER_INPUT"
    assert refused["extensions"]["field"] == f"rule:{rule_id}"
    assert _count(session, Run) == 0 and _count(session, BuildRequirement) == 0
    # Within the rule, the run and its requirements are written.
    run = data(client, CREATE_RUN, {"input": {"title": "small", "partId": assembly, "quantity": 5}})
    assert run["createRun"]["run"]["status"] == "TODO"
    assert _count(session, Run) == 1 and _count(session, BuildRequirement) == 1


def test_a_blocking_run_rule_refuses_update_run_and_the_run_is_unchanged(session: Session, client: TestClient) -> None:
    assembly, _ = _assembly(client)
    run = data(client, CREATE_RUN, {"input": {"title": "r", "partId": assembly, "quantity": 1}})["createRun"]["run"]
    rule_id = _rule(client, "RUN", "UPDATE",
                    'old.status != new.status && new.status == "HOLD" && user.role != "planner"',
                    "only planners put runs on hold")
    refused = error(client, UPDATE_RUN, {"input": {"id": run["id"], "etag": run["_etag"], "status": "HOLD"}})
    assert refused["message"] == "only planners put runs on hold"
    assert refused["extensions"]["field"] == f"rule:{rule_id}"
    session.rollback()
    stored = session.get(Run, int(run["id"]))
    assert stored is not None and stored.status == "TODO" and stored.etag == run["_etag"]
    # A change the rule does not watch goes through.
    renamed = data(client, UPDATE_RUN, {"input": {"id": run["id"], "etag": run["_etag"], "title": "renamed"}})
    assert renamed["updateRun"]["run"]["status"] == "TODO"


def test_a_blocking_mbom_rule_refuses_create_mbom_item(session: Session, client: TestClient) -> None:
    assembly, _ = _assembly(client)
    other = data(client, CREATE_PART, {"n": "NUT-1"})["createPart"]["part"]["id"]
    _rule(client, "MBOMITEM", "CREATE", 'new.parent.partNumber.startsWith("ASSY") && new.quantity > 100.0',
          "no more than 100 of a part per assembly")
    refused = error(client, CREATE_MBOM_ITEM, {"input": {"partId": other, "parentId": assembly, "quantity": 101}})
    assert refused["message"] == "no more than 100 of a part per assembly"
    assert _count(session, MbomItem) == 1
    data(client, CREATE_MBOM_ITEM, {"input": {"partId": other, "parentId": assembly, "quantity": 100}})
    assert _count(session, MbomItem) == 2


def test_a_build_requirement_rule_refuses_the_run_that_would_take_it(session: Session, client: TestClient) -> None:
    assembly, _ = _assembly(client)
    _rule(client, "BUILDREQUIREMENT", "CREATE", 'new.part.partNumber == "BOLT-1" && new.quantity > 10.0',
          "no run needs more than 10 bolts")
    refused = error(client, CREATE_RUN, {"input": {"title": "big", "partId": assembly, "quantity": 6}})
    assert refused["message"] == "no run needs more than 10 bolts"
    assert _count(session, Run) == 0 and _count(session, BuildRequirement) == 0
    data(client, CREATE_RUN, {"input": {"title": "small", "partId": assembly, "quantity": 5}})
    assert _count(session, BuildRequirement) == 1
