"""Small builders for tests: make parts, locations and records through the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from kitwright.services import catalog, inventory, locations, parts
from kitwright.services.inventory import NewPartInventory
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import Location, Part, PartInventory, Supplier


def part(session: Session, number: str = "P-1", tracking: str = "UNTRACKED", **kw: Any) -> Part:
    with UnitOfWork(session) as uow:
        return parts.create_part(uow, part_number=number, tracking_type=tracking, **kw)


def location(session: Session, name: str = "Shelf", parent: Location | None = None, **kw: Any) -> Location:
    with UnitOfWork(session) as uow:
        return locations.create_location(uow, name=name, parent_id=parent.id if parent else None, **kw)


def supplier(session: Session, name: str = "Acme") -> Supplier:
    with UnitOfWork(session) as uow:
        return catalog.create_supplier(uow, name=name)


def record(session: Session, part: Part, quantity: Decimal | int | str | None = None, **kw: Any) -> PartInventory:
    with UnitOfWork(session) as uow:
        return inventory.create_part_inventory(
            uow, NewPartInventory(part_id=part.id, quantity=quantity, **kw)
        )


def mbom(session: Session, parent: Part, *lines: tuple[Part, Decimal | int | str]) -> None:
    from kitwright.services import bom

    for component, quantity in lines:
        with UnitOfWork(session) as uow:
            bom.create_mbom_item(uow, parent_id=parent.id, part_id=component.id, quantity=quantity)


def run(session: Session, part: Part, quantity: Decimal | int | str = 1, **kw: Any) -> Any:
    """A run of `part` (which needs an mBOM); TODO unless `status` says otherwise."""
    from kitwright.services import runs

    with UnitOfWork(session) as uow:
        return runs.create_run(uow, title=kw.pop("title", f"build {part.part_number}"), part_id=part.id,
                               quantity=quantity, **kw)
