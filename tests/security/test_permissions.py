"""No root field is reachable without its permission, and no nested path reveals more than its
root would (docs/security.md).

The schema is walked, not listed by hand: a field another engineer adds tomorrow is covered
by these tests the moment it exists (and fails the first one until it declares a permission).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from itertools import combinations
from typing import Any

import pytest
import strawberry
from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema, get_named_type, is_abstract_type
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from kitwright.api.authorization import Authorization, authorize_root_field, check, declared_permission, needs
from kitwright.api.schema import schema
from kitwright.domain.errors import Forbidden, Unauthenticated
from kitwright.security.permissions import (
    ADMIN_ROLE,
    PUBLIC_ROUTES,
    ROLES,
    ROUTE_PERMISSIONS,
    SIGNED_IN_ROUTES,
    Permission,
    role_permissions,
)
from kitwright.services import kits
from kitwright.services.actor import ANONYMOUS, SYSTEM, Actor
from kitwright.services.auth import actor_for
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import User
from tests import factories
from tests.security.operations import NoValue, operation, root_fields, row_counts

FIELDS = root_fields()
LESSER_ROLES = [role for role in ROLES if role != ADMIN_ROLE]
GRAPHQL: GraphQLSchema = schema._schema


def root_field(kind: str, name: str) -> GraphQLField:
    root = GRAPHQL.query_type if kind == "query" else GRAPHQL.mutation_type
    assert root is not None
    return root.fields[name]


def permission_of(kind: str, name: str) -> Permission:
    declared = declared_permission(root_field(kind, name))
    assert declared is not None, f"{kind} {name} declares no permission"
    return declared


def authorize(actor: Actor, kind: str, name: str) -> None:
    """What a call meets before its resolver: the root checks, then the field's own `needs`."""
    authorize_root_field(actor, name, root_field(kind, name))
    check(actor, name, permission_of(kind, name))


def test_every_root_field_declares_a_permission() -> None:
    undeclared = [f"{kind} {name}" for kind, name in FIELDS if declared_permission(root_field(kind, name)) is None]
    assert not undeclared, f"give these fields permission_classes=needs(P....): {undeclared}"
    assert {kind for kind, _ in FIELDS} == {"query", "mutation"}


def test_every_mutation_is_beyond_the_viewer() -> None:
    viewer = role_permissions("viewer")
    reachable = [name for kind, name in FIELDS if kind == "mutation" and permission_of(kind, name) in viewer]
    assert reachable == []


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_is_refused_what_it_lacks(role: str) -> None:
    actor = actor_for(User(id=7, name="someone", role=role))
    held = role_permissions(role)
    for kind, name in FIELDS:
        if role == ADMIN_ROLE or permission_of(kind, name) in held:
            authorize(actor, kind, name)
        else:
            with pytest.raises(Forbidden):
                authorize(actor, kind, name)
        with pytest.raises(Unauthenticated):
            authorize(ANONYMOUS, kind, name)


@strawberry.type
class _Query:
    @strawberry.field(permission_classes=needs(Permission.VIEW_KITS))
    def declared(self) -> int:
        return 1

    @strawberry.field
    def added_tomorrow(self) -> int:  # declares nothing
        return 2


class _Context:
    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.introspection = True


_DENY_BY_DEFAULT = strawberry.Schema(query=_Query, extensions=[Authorization])


@pytest.mark.parametrize("role", list(ROLES))
def test_a_root_field_that_declares_nothing_is_for_admins_only(role: str) -> None:
    actor = actor_for(User(id=7, name="x", role=role))
    result = _DENY_BY_DEFAULT.execute_sync("{ declared addedTomorrow }", context_value=_Context(actor))
    if role == ADMIN_ROLE:
        assert result.errors is None and result.data == {"declared": 1, "addedTomorrow": 2}
    else:
        assert result.data is None or result.data.get("addedTomorrow") is None
        assert [(e.path, type(e.original_error)) for e in result.errors or []] == [(["addedTomorrow"], Forbidden)]


def test_a_declared_field_is_refused_to_an_actor_without_its_permission() -> None:
    actor = Actor(id=7, name="narrow", role="viewer", permissions=frozenset({Permission.VIEW_SELF}))
    result = _DENY_BY_DEFAULT.execute_sync("{ declared }", context_value=_Context(actor))
    assert [type(e.original_error) for e in result.errors or []] == [Forbidden]
    anonymous = _DENY_BY_DEFAULT.execute_sync("{ declared }", context_value=_Context(ANONYMOUS))
    assert [type(e.original_error) for e in anonymous.errors or []] == [Unauthenticated]


# -- a nested path never reveals more than its root would ------------------------------------


def _node_type(field: GraphQLField) -> Any:
    """The type a root field lists: a connection's node, else the field's own type."""
    named = get_named_type(field.type)
    if isinstance(named, GraphQLObjectType) and named.name.endswith("Connection") and "edges" in named.fields:
        edge = get_named_type(named.fields["edges"].type)
        assert isinstance(edge, GraphQLObjectType)
        return get_named_type(edge.fields["node"].type)
    return named


def home_permissions() -> dict[str, set[Permission]]:
    """Each type a root query field returns -> the permissions of those root fields: what an
    actor must hold to read that type from its own root."""
    homes: dict[str, set[Permission]] = defaultdict(set)
    assert GRAPHQL.query_type is not None
    for name, field in GRAPHQL.query_type.fields.items():
        homes[_node_type(field).name].add(permission_of("query", name))
    return homes


def permission_sets() -> set[frozenset[str]]:
    """Every set of permissions a non-admin actor can hold: a role, or a user's role narrowed
    by the role of the key it calls with (services.auth.actor_for)."""
    roles = [frozenset(str(p) for p in role_permissions(role)) for role in LESSER_ROLES]
    return set(roles) | {a & b for a, b in combinations(roles, 2)}


def leaks(held: frozenset[str]) -> list[str]:
    """Paths from a root field `held` allows to a type whose own root needs a permission
    `held` lacks, passing only nested fields whose declared permission `held` holds."""
    homes = home_permissions()
    found: list[str] = []
    for kind, name in FIELDS:
        if permission_of(kind, name) not in held:
            continue
        stack: list[tuple[Any, str]] = [(get_named_type(root_field(kind, name).type), name)]
        seen: set[str] = set()
        while stack:
            type_, path = stack.pop()
            targets = GRAPHQL.get_possible_types(type_) if is_abstract_type(type_) else [type_]
            for target in targets:
                if not isinstance(target, GraphQLObjectType) or target.name in seen:
                    continue
                seen.add(target.name)
                home = homes.get(target.name)
                if home and not home & held:
                    found.append(f"{kind} {path}: {target.name} needs one of {sorted(str(p) for p in home)}")
                for child, field in target.fields.items():
                    declared = declared_permission(field)
                    if declared is None or declared in held:
                        stack.append((get_named_type(field.type), f"{path}.{child}"))
    return found


@pytest.mark.parametrize("held", sorted(permission_sets(), key=sorted), ids=lambda held: f"{len(held)}")
def test_no_nested_path_reveals_more_than_its_root(held: frozenset[str]) -> None:
    assert leaks(held) == []


def test_the_walk_finds_a_nested_path_into_data_the_root_does_not_grant() -> None:
    """Proof that the walk above would see a leak: an actor holding only the kit permissions
    (no role is like that today) reaches part inventory from partKit's items."""
    found = leaks(frozenset({Permission.VIEW_SELF, Permission.VIEW_KITS}))
    assert "query partKit.partInventories: PartInventory needs one of ['ViewInventory']" in found, found
    assert all(line.split(": ")[1].split(" ")[0] in home_permissions() for line in found)


def test_anonymous_calls_to_every_root_field_are_refused(anonymous_client: TestClient, engine: Engine) -> None:
    before = row_counts(engine)
    for kind, name in FIELDS:
        try:
            query, variables = operation(kind, name)
        except NoValue:
            continue  # covered through the extension above
        response = anonymous_client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 401, (name, response.text)
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert row_counts(engine) == before


def test_wrong_role_calls_to_every_root_field_are_refused_and_change_nothing(
    client_for: Callable[[str], TestClient], engine: Engine,
) -> None:
    clients = {role: client_for(role) for role in ROLES}
    before = row_counts(engine)
    allowed_calls: list[tuple[str, str, str]] = []
    refused = 0
    for kind, name in FIELDS:
        try:
            query, variables = operation(kind, name)
        except NoValue:
            continue
        for role, client in clients.items():
            if role == ADMIN_ROLE or permission_of(kind, name) in role_permissions(role):
                allowed_calls.append((role, kind, name))
                continue
            response = client.post("/graphql", json={"query": query, "variables": variables})
            assert response.status_code == 200, response.text
            errors = response.json().get("errors") or []
            assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], (role, name, errors)
            assert errors[0]["extensions"]["field"] == name
            refused += 1
    assert refused > 50
    assert row_counts(engine) == before, "a refused call wrote something"
    # And the roles that hold the permission get past the check (to NOT_FOUND, a result, …).
    for role, kind, name in allowed_calls:
        query, variables = operation(kind, name)
        body = clients[role].post("/graphql", json={"query": query, "variables": variables}).json()
        # The per-kit rules (docs/kit-rules.md) may still refuse a kit someone else requested:
        # that FORBIDDEN names an input field, the root-field check names the root field.
        codes = {e["extensions"]["code"] for e in body.get("errors") or []
                 if not (e["extensions"]["code"] == "FORBIDDEN" and e["extensions"].get("field") != name)}
        assert not codes & {"FORBIDDEN", "UNAUTHENTICATED", "INTERNAL_SERVER_ERROR"}, (role, name, body)


def test_every_http_route_is_public_or_has_a_permission_and_every_entry_is_a_route(app: Starlette) -> None:
    """The REST and web routes, walked like the schema: none is left to the admin-only default
    by accident (a new route fails here until it is given a permission), and no entry names a
    route that does not exist."""
    real: set[tuple[str, str]] = set()
    for route in app.routes:
        assert isinstance(route, Route)
        path = route.path.replace(":int", "")
        real.update((method, path) for method in route.methods or set() if method != "HEAD")
    tables = {"PUBLIC_ROUTES": set(PUBLIC_ROUTES), "ROUTE_PERMISSIONS": set(ROUTE_PERMISSIONS),
              "SIGNED_IN_ROUTES": set(SIGNED_IN_ROUTES)}
    known = set().union(*tables.values())
    assert sorted(real - known) == [], "give these routes a permission in security.permissions"
    for table, entries in tables.items():
        assert sorted(entries - real) == [], f"{table} names routes that do not exist"
    assert sum(len(entries) for entries in tables.values()) == len(known), "a route is listed twice"


NESTED = """query Nested($id: ID!) { partKit(id: $id) { items { partInventories { id serialNumber quantity } } } }"""
ROOT = """query Root($id: ID!) { partInventory(id: $id) { id serialNumber quantity } }"""


def issued_kit(session: Session) -> tuple[int, int]:
    """A kit whose one item holds one record: (kit id, record id)."""
    part = factories.part(session, "NESTED", "SERIAL")
    record = factories.record(session, part, "1", serial_number="SN-NESTED",
                            location_id=factories.location(session, "Shelf N").id)
    with UnitOfWork(session, SYSTEM) as uow:
        kit = kits.create_part_kit(uow)
    with UnitOfWork(session, SYSTEM) as uow:
        item = kits.create_part_kit_item(uow, part_kit_id=kit.id, part_id=part.id, quantity="1")
    with UnitOfWork(session, SYSTEM) as uow:
        held = kits.issue_item_to_kit(uow, part_inventory_id=record.id, part_kit_item_id=item.id,
                                      quantity=Decimal(1))
    ids = kit.id, held.id
    session.rollback()
    return ids


def test_a_nested_path_reveals_no_more_than_its_root_for_each_role(
    session: Session, client_for: Callable[[str], TestClient],
) -> None:
    """Through the API with the five roles: a role reads part inventory through a kit's items
    only if it may read the same record from its own root field (and an admin reads both)."""
    kit_id, record_id = issued_kit(session)
    for role in ROLES:
        caller = client_for(role)
        nested = caller.post("/graphql", json={"query": NESTED, "variables": {"id": str(kit_id)}}).json()
        root = caller.post("/graphql", json={"query": ROOT, "variables": {"id": str(record_id)}}).json()
        nested_records = [record for item in ((nested.get("data") or {}).get("partKit") or {}).get("items", [])
                          for record in item["partInventories"]]
        if root.get("errors"):
            assert nested_records == [], (role, nested)
        else:
            assert nested_records in ([], [root["data"]["partInventory"]]), (role, nested, root)
        if role == ADMIN_ROLE:
            assert nested_records == [root["data"]["partInventory"]], (nested, root)
