"""Units of measure and suppliers: plain named records."""

from __future__ import annotations

from kitwright.domain.attributes import normalize_attributes
from kitwright.domain.text import clean_text
from kitwright.services.listing import Listing
from kitwright.services.uow import UnitOfWork, check_etag
from kitwright.store.models import Supplier, UnitOfMeasure


def create_unit_of_measure(uow: UnitOfWork, *, name: str, abbreviation: str | None = None) -> UnitOfMeasure:
    unit = UnitOfMeasure(
        name=clean_text(name, field="name", required=True, max_length=100),
        abbreviation=clean_text(abbreviation, field="abbreviation", max_length=20),
    )
    uow.session.add(unit)
    uow.commit()
    return unit


def create_supplier(
    uow: UnitOfWork, *, name: str, attributes: list[tuple[object, object, object]] | None = None
) -> Supplier:
    supplier = Supplier(
        name=clean_text(name, field="name", required=True), attributes=normalize_attributes(attributes or [])
    )
    uow.session.add(supplier)
    uow.commit()
    return supplier


def update_supplier(
    uow: UnitOfWork, id: int, etag: str, *, name: str | None = None,
    attributes: list[tuple[object, object, object]] | None = None,
) -> Supplier:
    """Change the name and/or replace the attributes (None leaves either as it is)."""
    supplier = uow.get(Supplier, id, lock=True)
    check_etag(supplier, etag)
    if name is not None:
        supplier.name = clean_text(name, field="name", required=True) or supplier.name
    if attributes is not None:
        supplier.attributes = normalize_attributes(attributes)
    uow.commit()
    return supplier


# ION calls a unit's name its `type` (unitsOfMeasurement): both filter and sort the name.
UNIT_COLUMNS = {"id": UnitOfMeasure.id, "name": UnitOfMeasure.name, "type": UnitOfMeasure.name}
UNIT_SORTS = {"ID": UnitOfMeasure.id, "NAME": UnitOfMeasure.name, "TYPE": UnitOfMeasure.name}
SUPPLIER_COLUMNS = {"id": Supplier.id, "name": Supplier.name, "createdAt": Supplier.created_at}
SUPPLIER_SORTS = {"ID": Supplier.id, "NAME": Supplier.name, "CREATED_AT": Supplier.created_at}


list_units_of_measure = Listing(UnitOfMeasure, UNIT_COLUMNS, UNIT_SORTS)


list_suppliers = Listing(Supplier, SUPPLIER_COLUMNS, SUPPLIER_SORTS)
