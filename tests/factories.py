"""The one place tests build what they need, always through the services (so every object a
test makes passed the same checks a caller's would): users, API keys, signed-in web sessions,
parts, locations, suppliers, inventory records, kits and their items, mBOM lines and runs.

Builders of rows take a `Session`; builders of people take the `Engine` (they open and close a
session of their own, so a test's session never holds their rows in its identity map).
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kitwright.services import auth, bom, catalog, inventory, kits, locations, parts, runs
from kitwright.services.inventory import NewPartInventory
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import Location, Part, PartInventory, PartKit, PartKitItem, Run, Supplier

Quantity = Decimal | int | str

# ----------------------------------------------------------------------------- people

PASSWORD = "a long enough password"


def user(engine: Engine, name: str | None = None, role: str = "viewer", password: str | None = None) -> int:
    """A user with `role` (a unique name unless given), by id; with `password` they can sign in."""
    with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
        made = auth.create_user(uow, name or f"test-{role}-{uuid.uuid4().hex[:6]}", role, password)
        uow.flush()
        return made.id


def person(engine: Engine, name: str, role: str, password: str = PASSWORD) -> int:
    """A user who signs in on the web pages with `password`, by id."""
    return user(engine, name, role, password)


def api_key(engine: Engine, role: str = "admin", name: str | None = None, *, password: str | None = None,
            key_name: str = "tests", key_role: str | None = None) -> auth.NewApiKey:
    """A new user with `role` and an API key of theirs (narrowed to `key_role` when given)."""
    return key_of(engine, user(engine, name, role, password), key_name, role=key_role)


def key_of(engine: Engine, user_id: int, name: str = "tests", *, role: str | None = None) -> auth.NewApiKey:
    """A new API key of an existing user (narrowed to `role` when given)."""
    with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
        return auth.create_api_key(uow, user_id, name=name, role=role)


def api_key_for(engine: Engine, role: str, name: str | None = None) -> str:
    """Create a user with `role` and an API key; return the key's secret (a bearer token)."""
    return api_key(engine, role, name).secret


def bearer(app: Starlette, secret: str) -> TestClient:
    """A client sending `Authorization: Bearer <secret>` (enter it, or use it as a context)."""
    return TestClient(app, headers={"Authorization": f"Bearer {secret}"})


def form_token(page: str) -> str:
    """The CSRF token of the first form on `page`."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found[1]


def sign_in(client: TestClient, name: str, password: str = PASSWORD, next_page: str = "/inventory") -> TestClient:
    """Sign `client` in through the sign-in form; it then carries the session cookie."""
    token = form_token(client.get("/signin").text)
    response = client.post("/signin", data={"csrf_token": token, "name": name, "password": password,
                                            "next": next_page})
    assert response.status_code == 303, response.text
    return client


def signed_in(app: Starlette, engine: Engine, role: str, name: str | None = None,
              next_page: str = "/inventory") -> TestClient:
    """A browser-like client (no redirects followed) signed in as a new person with `role`."""
    person(engine, name or role, role)
    return sign_in(TestClient(app, follow_redirects=False), name or role, next_page=next_page)


# ----------------------------------------------------------------------------- plant and stock


def part(session: Session, number: str = "P-1", tracking: str = "UNTRACKED", **kw: Any) -> Part:
    with UnitOfWork(session) as uow:
        return parts.create_part(uow, part_number=number, tracking_type=tracking, **kw)


def location(session: Session, name: str = "Shelf", parent: Location | None = None, **kw: Any) -> Location:
    with UnitOfWork(session) as uow:
        return locations.create_location(uow, name=name, parent_id=parent.id if parent else None, **kw)


def supplier(session: Session, name: str = "Acme") -> Supplier:
    with UnitOfWork(session) as uow:
        return catalog.create_supplier(uow, name=name)


def record(session: Session, part: Part, quantity: Quantity | None = None, **kw: Any) -> PartInventory:
    """An inventory record of `part`; `kw` are the other fields of NewPartInventory."""
    with UnitOfWork(session) as uow:
        return inventory.create_part_inventory(
            uow, NewPartInventory(part_id=part.id, quantity=quantity, **kw)
        )


def mbom(session: Session, parent: Part, *lines: tuple[Part, Quantity]) -> None:
    for component, quantity in lines:
        with UnitOfWork(session) as uow:
            bom.create_mbom_item(uow, parent_id=parent.id, part_id=component.id, quantity=quantity)


def run(session: Session, part: Part, quantity: Quantity = 1, **kw: Any) -> Run:
    """A run of `part` (which needs an mBOM); TODO unless `status` says otherwise."""
    with UnitOfWork(session) as uow:
        return runs.create_run(uow, title=kw.pop("title", f"build {part.part_number}"), part_id=part.id,
                               quantity=quantity, **kw)


# ----------------------------------------------------------------------------- kits


def kit(session: Session, **kw: Any) -> PartKit:
    """A kit; `kw` are create_part_kit's (status, run_id, delivery_location_id, items, …)."""
    with UnitOfWork(session) as uow:
        return kits.create_part_kit(uow, **kw)


def kit_item(session: Session, of: PartKit | int, part: Part | int, quantity: Any) -> PartKitItem:
    """An item of `quantity` of `part` on kit `of` (objects or ids)."""
    with UnitOfWork(session) as uow:
        return kits.create_part_kit_item(
            uow, part_kit_id=of if isinstance(of, int) else of.id,
            part_id=part if isinstance(part, int) else part.id, quantity=quantity,
        )


def dining_set_orders(session: Session, stock: list[tuple[int, int, int]], orders: int) -> tuple[int, list[int]]:
    """A Dining Set (1 table + 4 chairs) sold as one item, stocked at DC1 and DC2 — for each
    `(site index, tables, chairs)` of `stock` one table record and one chair record there — and
    `orders` open orders RACE-0, RACE-1, … of one set each. Returns (the set's part id, order ids)."""
    from kitwright.services import orders as order_service
    from kitwright.services.orders import NewLine

    table = part(session, "Table")
    chair = part(session, "Chair")
    dining = part(session, "DiningSet", components=[(table.id, Decimal(1)), (chair.id, Decimal(4))])
    sites = location(session, "DC1"), location(session, "DC2")
    for site, tables, chairs in stock:
        record(session, table, tables, location_id=sites[site].id)
        record(session, chair, chairs, location_id=sites[site].id)
    order_ids = []
    for n in range(orders):
        with UnitOfWork(session) as uow:
            order_ids.append(order_service.create_order(uow, f"RACE-{n}", [NewLine("1", dining.id, 1)]).id)
    return dining.id, order_ids
