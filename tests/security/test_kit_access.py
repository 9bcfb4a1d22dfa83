"""Who may change a kit (docs/kit-rules.md): every role, on a kit they requested and on
someone else's, through the API, on both engines. A refusal is FORBIDDEN and changes nothing;
an allowed call succeeds. The expectations below are written out by hand, from the rule in
words, not computed from the table they test.

Among them, the reported exploits: a requester moving another team's kitted stock to
quarantine with updatePartKit(stagingLocationId), and setting CANCELED or DELIVERED on any kit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kitwright.services import kits
from kitwright.services.actor import SYSTEM, Actor
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import LedgerEntry, Part, PartInventory, PartKit, PartKitInventory, PartKitItem
from tests import factories
from tests.api.gql import gql

ROLES = ["viewer", "requester", "planner", "inventory", "admin"]
REQ = {"requester", "planner"}
INV = {"inventory", "admin"}


@dataclass
class Case:
    """A kit in some state, and the call to make on it."""

    status: str = "DRAFT"
    holding: bool = False
    call: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]] = lambda ids: ("", {})
    own: frozenset[str] = frozenset()  # roles allowed on a kit they requested
    other: frozenset[str] = frozenset()  # roles allowed on anyone's kit
    creates: bool = False  # no existing kit: "own" is the only column


def update_kit(**fields: Any) -> Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]:
    def call(ids: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        values = {k: ids[v] if isinstance(v, str) and v in ids else v for k, v in fields.items()}
        return ("mutation($i: UpdatePartKitInput!) { updatePartKit(input: $i) { partKit { id } } }",
                {"i": {"id": ids["kit"], "etag": ids["kit_etag"], **values}})
    return call


def create_kit(status: str) -> Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]:
    return lambda ids: (
        "mutation($i: CreatePartKitInput!) { createPartKit(input: $i) { partKit { id } } }",
        {"i": {"status": status, "deliveryLocationId": ids["line"], "stagingLocationId": ids["staging"]}},
    )


def to_kit(mutation: str, input_type: str, **fields: str) -> Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]:
    def call(ids: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return (f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ __typename }} }}",
                {"i": {k: ids[v] for k, v in fields.items()}})
    return call


CASES: dict[str, Case] = {
    "create a DRAFT kit": Case(creates=True, call=create_kit("DRAFT"), own=frozenset(REQ | {"admin"})),
    "create a REQUESTED kit": Case(creates=True, call=create_kit("REQUESTED"), own=frozenset(REQ | {"admin"})),
    "create an IN_PROGRESS kit": Case(creates=True, call=create_kit("IN_PROGRESS"), own=frozenset({"admin"})),
    "edit a DRAFT kit": Case(call=update_kit(priority=3), own=frozenset(REQ | INV), other=frozenset(INV)),
    "edit an IN_PROGRESS kit": Case(status="IN_PROGRESS", holding=True, call=update_kit(priority=3),
                                    own=frozenset(INV), other=frozenset(INV)),
    "change the delivery location of a REQUESTED kit": Case(
        status="REQUESTED", call=update_kit(deliveryLocationId="staging"), own=frozenset(REQ | INV),
        other=frozenset(INV)),
    "request a DRAFT kit": Case(call=update_kit(status="REQUESTED"), own=frozenset(REQ | INV), other=frozenset(INV)),
    "stage-locate an empty DRAFT kit": Case(call=update_kit(stagingLocationId="staging"),
                                            own=frozenset(REQ | INV), other=frozenset(INV)),
    # The reported exploit: kitted stock moved to quarantine by whoever can update a kit.
    "stage-locate a kit holding stock to quarantine": Case(
        status="IN_PROGRESS", holding=True, call=update_kit(stagingLocationId="quarantine"),
        own=frozenset(INV), other=frozenset(INV)),
    "stage-locate a REQUESTED kit holding stock": Case(
        status="REQUESTED", holding=True, call=update_kit(stagingLocationId="quarantine"),
        own=frozenset(INV), other=frozenset(INV)),
    "cancel an empty REQUESTED kit": Case(status="REQUESTED", call=update_kit(status="CANCELED"),
                                          own=frozenset(REQ | INV), other=frozenset(INV)),
    "cancel a REQUESTED kit holding stock": Case(status="REQUESTED", holding=True, call=update_kit(status="CANCELED"),
                                                 own=frozenset(INV), other=frozenset(INV)),
    "cancel an IN_PROGRESS kit": Case(status="IN_PROGRESS", holding=True, call=update_kit(status="CANCELED"),
                                      own=frozenset(INV), other=frozenset(INV)),
    "deliver an empty REQUESTED kit": Case(status="REQUESTED", call=update_kit(status="DELIVERED"),
                                           own=frozenset(INV), other=frozenset(INV)),
    "deliver an IN_PROGRESS kit": Case(status="IN_PROGRESS", holding=True, call=update_kit(status="DELIVERED"),
                                       own=frozenset(INV), other=frozenset(INV)),
    "move a delivered kit's delivery location": Case(
        status="DELIVERED", holding=True, call=update_kit(deliveryLocationId="quarantine"),
        own=frozenset(INV), other=frozenset(INV)),
    "complete an IN_PROGRESS kit": Case(status="IN_PROGRESS", holding=True, call=update_kit(status="COMPLETED"),
                                        own=frozenset(INV), other=frozenset(INV)),
    "start a REQUESTED kit": Case(status="REQUESTED", call=update_kit(status="IN_PROGRESS"),
                                  own=frozenset(INV), other=frozenset(INV)),
    "send an IN_PROGRESS kit back to REQUESTED": Case(
        status="IN_PROGRESS", holding=True, call=update_kit(status="REQUESTED"),
        own=frozenset(INV), other=frozenset(INV)),
    "reopen a CANCELED kit": Case(status="CANCELED", call=update_kit(status="REQUESTED"),
                                  own=frozenset(INV), other=frozenset(INV)),
    "stage a kit's inventory": Case(
        status="IN_PROGRESS", holding=True,
        call=to_kit("stagePartKitInventory", "StagePartKitInventoryInput", id="kit", locationId="quarantine"),
        own=frozenset(INV), other=frozenset(INV)),
    "fulfil a REQUESTED kit": Case(status="REQUESTED", call=to_kit("fulfillPartKit", "FulfillPartKitInput", id="kit"),
                                   own=frozenset(INV), other=frozenset(INV)),
    "issue to a REQUESTED kit": Case(
        status="REQUESTED",
        call=to_kit("issueItemToKit", "InventoryToKitInput", partInventoryId="lot", partKitItemId="item"),
        own=frozenset(INV), other=frozenset(INV)),
    "return from an IN_PROGRESS kit": Case(
        status="IN_PROGRESS", holding=True,
        call=to_kit("moveItemToInventory", "InventoryToKitInput", partInventoryId="held", partKitItemId="item"),
        own=frozenset(INV), other=frozenset(INV)),
    "delete an empty DRAFT kit": Case(
        call=lambda ids: ("mutation($id: ID!, $e: String!) { deletePartKit(id: $id, etag: $e) { id } }",
                          {"id": ids["kit"], "e": ids["kit_etag"]}),
        own=frozenset(REQ | {"admin"}), other=frozenset({"admin"})),
    "add an item to a DRAFT kit": Case(
        call=lambda ids: ("mutation($i: CreatePartKitItemInput!) { createPartKitItem(input: $i) { __typename } }",
                          {"i": {"partKitId": ids["kit"], "partId": ids["part"], "quantity": 1}}),
        own=frozenset(REQ | INV), other=frozenset(INV)),
    "add an item to a DELIVERED kit": Case(
        status="DELIVERED", holding=True,
        call=lambda ids: ("mutation($i: CreatePartKitItemInput!) { createPartKitItem(input: $i) { __typename } }",
                          {"i": {"partKitId": ids["kit"], "partId": ids["part"], "quantity": 1}}),
        own=frozenset(INV), other=frozenset(INV)),
    "change an item of a DRAFT kit": Case(
        call=lambda ids: ("mutation($i: UpdatePartKitItemInput!) { updatePartKitItem(input: $i) { __typename } }",
                          {"i": {"id": ids["item"], "etag": ids["item_etag"], "quantity": 7}}),
        own=frozenset(REQ | INV), other=frozenset(INV)),
    "change an item of an IN_PROGRESS kit": Case(
        status="IN_PROGRESS", holding=True,
        call=lambda ids: ("mutation($i: UpdatePartKitItemInput!) { updatePartKitItem(input: $i) { __typename } }",
                          {"i": {"id": ids["item"], "etag": ids["item_etag"], "quantity": 7}}),
        own=frozenset(INV), other=frozenset(INV)),
    "remove an item of a DRAFT kit": Case(
        call=lambda ids: ("mutation($id: ID!, $e: String!) { deletePartKitItem(id: $id, etag: $e) { id } }",
                          {"id": ids["item"], "e": ids["item_etag"]}),
        own=frozenset(REQ | INV), other=frozenset(INV)),
}


@dataclass
class Caller:
    user_id: int
    client: TestClient


@pytest.fixture
def callers(app: Starlette, engine: Engine) -> Iterator[dict[str, Caller]]:
    found: dict[str, Caller] = {}
    for role in [*ROLES, "other"]:
        user_id = factories.user(engine, f"{role}-{uuid.uuid4().hex[:6]}", "requester" if role == "other" else role)
        client = factories.bearer(app, factories.key_of(engine, user_id, "t").secret)
        found[role] = Caller(user_id, client.__enter__())
    yield found
    for caller in found.values():
        caller.client.__exit__(None, None, None)


def world(session: Session) -> dict[str, Any]:
    return {
        "shelf": factories.location(session, "A-1").id,
        "staging": factories.location(session, "Staging").id,
        "line": factories.location(session, "Line 1").id,
        "quarantine": factories.location(session, "Quarantine", inventory_available=False).id,
        "part": factories.part(session, "BOLT", "LOT").id,
    }


def make_kit(session: Session, places: dict[str, Any], case: Case, owner_id: int) -> dict[str, Any]:
    """The case's kit, requested by `owner_id`, with one item of 5 and a fresh lot of 10."""
    session.rollback()
    lot = factories.record(session, session.get_one(Part, places["part"]), "10",
                           lot_number=f"L-{uuid.uuid4().hex[:8]}", location_id=places["shelf"])
    owner = Actor(id=owner_id, name="owner", role="admin")
    with UnitOfWork(session, owner) as uow:
        kit = kits.create_part_kit(uow, delivery_location_id=places["line"])
    with UnitOfWork(session, SYSTEM) as uow:
        item = kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=places["part"], quantity="5")
    ids = {**places, "kit": kit.id, "item": item.id, "lot": lot.id}
    if case.holding:
        with UnitOfWork(session, SYSTEM) as uow:
            ids["held"] = kits.issue_item_to_kit(uow, part_inventory_id=lot.id, part_kit_item_id=item.id,
                                                 quantity=Decimal(2)).id
    current = session.get_one(PartKit, kit.id, populate_existing=True)
    if current.status != case.status:
        with UnitOfWork(session, SYSTEM) as uow:
            kits.update_part_kit(uow, kit.id, current.etag, {"status": case.status})
    session.rollback()
    ids["kit_etag"] = session.get_one(PartKit, kit.id, populate_existing=True).etag
    ids["item_etag"] = session.get_one(PartKitItem, item.id, populate_existing=True).etag
    session.rollback()
    return ids


def fingerprint(session: Session) -> tuple[Any, ...]:
    session.rollback()
    return (
        tuple(session.execute(select(PartKit.id, PartKit.status, PartKit.etag).order_by(PartKit.id))),
        tuple(session.execute(select(PartKitItem.id, PartKitItem.etag).order_by(PartKitItem.id))),
        tuple(session.execute(select(PartInventory.id, PartInventory.etag).order_by(PartInventory.id))),
        tuple(session.execute(select(PartKitInventory.id, PartKitInventory.released).order_by(PartKitInventory.id))),
        session.scalar(select(func.count()).select_from(LedgerEntry)),
    )


@pytest.mark.parametrize("name", list(CASES))
def test_every_role_on_own_and_other_kits(
    name: str, session: Session, callers: dict[str, Caller],
) -> None:
    case = CASES[name]
    places = world(session)
    wrong: list[str] = []
    for role in ROLES:
        for own in (True, False) if not case.creates else (True,):
            allowed = role in (case.own if own else case.other)
            owner = callers[role if own else "other"].user_id
            ids = make_kit(session, places, case, owner)
            query, variables = case.call(ids)
            before = fingerprint(session)
            body = gql(callers[role].client, query, variables)
            codes = [e["extensions"]["code"] for e in body.get("errors") or []]
            whose = "own" if own else "other's"
            if allowed and codes:
                wrong.append(f"{role} on {whose} kit: expected success, got {body['errors']}")
            if not allowed:
                if codes != ["FORBIDDEN"]:
                    wrong.append(f"{role} on {whose} kit: expected FORBIDDEN, got {body}")
                elif fingerprint(session) != before:
                    wrong.append(f"{role} on {whose} kit: refused, but something changed")
    assert not wrong, f"{name}:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("user_role", "key_role"), [("inventory", "requester"), ("planner", "inventory"),
                                                     ("requester", "inventory")])
def test_a_narrowed_key_is_judged_by_both_roles(
    user_role: str, key_role: str, session: Session, app: Starlette, engine: Engine, callers: dict[str, Caller],
) -> None:
    """A key narrowed to another role than its user's does on a kit only what both roles may:
    an inventory user's requester key cannot deliver someone else's kit."""
    user_id = factories.user(engine, f"{user_role}-{uuid.uuid4().hex[:6]}", user_role)
    places = world(session)
    wrong: list[str] = []
    with factories.bearer(app, factories.key_of(engine, user_id, "narrow", role=key_role).secret) as client:
        for name, case in CASES.items():
            for own in (True, False) if not case.creates else (True,):
                allowed = all(role in (case.own if own else case.other) for role in (user_role, key_role))
                ids = make_kit(session, places, case, user_id if own else callers["other"].user_id)
                query, variables = case.call(ids)
                before = fingerprint(session)
                body = gql(client, query, variables)
                codes = [e["extensions"]["code"] for e in body.get("errors") or []]
                whose = "own" if own else "other's"
                if allowed and codes:
                    wrong.append(f"{name}, {whose} kit: expected success, got {body['errors']}")
                if not allowed and (codes != ["FORBIDDEN"] or fingerprint(session) != before):
                    wrong.append(f"{name}, {whose} kit: expected FORBIDDEN and no change, got {body}")
    assert not wrong, "\n".join(wrong)
