"""The location tree. A root location is a site; `path` and `site_id` are kept here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput, Conflict
from kitwright.domain.text import LONG, clean_text
from kitwright.services.listing import Listing
from kitwright.services.uow import UnitOfWork, check_etag, check_updatable
from kitwright.store.models import Location, PartInventory, PartKit

UPDATABLE = {"name", "type", "description", "parent_id", "inventory_available", "available_soon", "archived"}


def _check_flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise BadInput(f"{field} must be true or false", field=field)
    return value


def create_location(
    uow: UnitOfWork,
    *,
    name: str,
    parent_id: int | None = None,
    type: str | None = None,
    description: str | None = None,
    inventory_available: bool = True,
    available_soon: bool = False,
) -> Location:
    location = Location(
        name=clean_text(name, field="name", required=True),
        type=clean_text(type, field="type", max_length=50),
        description=clean_text(description, field="description", max_length=LONG, multiline=True),
        inventory_available=_check_flag(inventory_available, "inventoryAvailable"),
        available_soon=_check_flag(available_soon, "availableSoon"),
    )
    parent = uow.get(Location, parent_id, field="parentId") if parent_id is not None else None
    if parent is not None and parent.archived:
        raise BadInput(f"parent location {parent.id} is archived", field="parentId")
    location.parent_id = parent.id if parent else None
    uow.session.add(location)
    uow.flush()
    location.path = f"{parent.path if parent else '/'}{location.id}/"
    location.site_id = parent.site_id if parent else location.id
    uow.commit()
    return location


def update_location(uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]) -> Location:
    check_updatable(changes, UPDATABLE)
    location = uow.get(Location, id, lock=True)
    check_etag(location, etag)
    if "name" in changes:
        location.name = clean_text(changes["name"], field="name", required=True) or location.name
    if "type" in changes:
        location.type = clean_text(changes["type"], field="type", max_length=50)
    if "description" in changes:
        location.description = clean_text(
            changes["description"], field="description", max_length=LONG, multiline=True
        )
    for key, field in (
        ("inventory_available", "inventoryAvailable"),
        ("available_soon", "availableSoon"),
        ("archived", "archived"),
    ):
        if key in changes:
            setattr(location, key, _check_flag(changes[key], field))
    if "parent_id" in changes and changes["parent_id"] != location.parent_id:
        _move(uow, location, changes["parent_id"])
    uow.commit()
    return location


def delete_location(uow: UnitOfWork, id: int, etag: str) -> int:
    """Delete an empty leaf location. One that still holds inventory records, has child
    locations or is a kit's staging, delivery or current location is refused (archive it
    instead, `updateLocation(archived: true)`), naming what is still there."""
    location = uow.get(Location, id, lock=True)
    check_etag(location, etag)
    session = uow.session
    still_used = []
    if session.scalar(select(exists().where(Location.parent_id == id))):
        still_used.append("child locations")
    if session.scalar(select(exists().where(PartInventory.location_id == id))):
        still_used.append("inventory records")
    if session.scalar(select(exists().where(or_(
        PartKit.staging_location_id == id, PartKit.delivery_location_id == id, PartKit.current_location_id == id,
    )))):
        still_used.append("kits")
    if still_used:
        raise Conflict(
            f"location {id} still has {', '.join(still_used)}; empty it or archive it instead", field="id"
        )
    session.delete(location)
    uow.commit()
    return id


def _move(uow: UnitOfWork, location: Location, parent_id: int | None) -> None:
    """Re-parent a location and rewrite its subtree's paths in one statement."""
    parent = uow.get(Location, parent_id, field="parentId") if parent_id is not None else None
    if parent is not None and parent.path.startswith(location.path):
        raise BadInput("a location cannot be moved under itself or its own subtree", field="parentId")
    old_prefix = location.path
    new_prefix = f"{parent.path if parent else '/'}{location.id}/"
    new_site = parent.site_id if parent else location.id
    uow.session.execute(
        update(Location)
        .where(Location.path.startswith(old_prefix))
        .values(
            path=new_prefix + func.substr(Location.path, len(old_prefix) + 1),
            site_id=new_site,
        )
        .execution_options(synchronize_session=False)
    )
    location.parent_id = parent.id if parent else None
    location.path = new_prefix
    location.site_id = new_site


def subtree_ids(session: Session, location_id: int) -> Any:
    """A SELECT of the ids in a location's subtree, for use in IN (...) clauses."""
    prefix = select(Location.path).where(Location.id == location_id).scalar_subquery()
    return select(Location.id).where(Location.path.startswith(prefix))


LOCATION_COLUMNS = {
    "id": Location.id,
    "name": Location.name,
    "type": Location.type,
    "parentId": Location.parent_id,
    "siteId": Location.site_id,
    "inventoryAvailable": Location.inventory_available,
    "availableSoon": Location.available_soon,
    "archived": Location.archived,
    "createdAt": Location.created_at,
}
LOCATION_SORTS = {"ID": Location.id, "NAME": Location.name, "CREATED_AT": Location.created_at}


list_locations = Listing(Location, LOCATION_COLUMNS, LOCATION_SORTS)


def children(session: Session, location_id: int) -> list[Location]:
    stmt = select(Location).where(Location.parent_id == location_id).order_by(Location.name, Location.id)
    return list(session.scalars(stmt))
