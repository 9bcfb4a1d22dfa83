"""Kit parts hold no stock, on SQLite and PostgreSQL, through every path that writes either side:
a part with components gets no inventory record (createPartInventory, the part-inventory
importer) and a part with inventory records gets no components (createPart, updatePart,
Manhattan's item document). docs/ion-compatibility.md "Kit parts hold no stock"."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput
from kitwright.services import inventory, items, parts
from kitwright.services.inventory import NewPartInventory
from kitwright.services.plant_import import import_part_inventory
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import PartComponent, PartInventory
from tests import factories


def _counts(session: Session, part_id: int) -> tuple[int, int]:
    session.rollback()
    components = session.scalar(select(func.count()).where(PartComponent.part_id == part_id))
    records = session.scalar(select(func.count()).where(PartInventory.part_id == part_id))
    return int(components or 0), int(records or 0)


def test_a_stocked_part_is_given_components_by_no_path(session: Session) -> None:
    stocked = factories.part(session, "CABLE")
    component = factories.part(session, "PLUG")
    factories.record(session, stocked, 7)
    stocked_id, etag, component_id = stocked.id, stocked.etag, component.id

    with pytest.raises(BadInput) as by_update, UnitOfWork(session) as uow:
        parts.update_part(uow, stocked_id, etag, {"components": [(component_id, Decimal(1))]})
    assert by_update.value.field == "components" and "has inventory records" in by_update.value.message

    with pytest.raises(BadInput) as by_document, UnitOfWork(session) as uow:
        items.save_item_document(uow, "CABLE", [("PLUG", Decimal(2))])
    assert by_document.value.field == "ItemComponent"
    assert by_document.value.message == ("part CABLE has inventory records, and a kit holds no stock; "
                                         "it can become a kit once they are deleted")
    assert _counts(session, stocked_id) == (0, 1)

    # Without stock the same document makes it a kit, and then it takes no stock by any path.
    fresh = factories.part(session, "LAMP")
    with UnitOfWork(session) as uow:
        assert items.save_item_document(uow, "LAMP", [("PLUG", Decimal(2))]).kits == 2
    with pytest.raises(BadInput) as by_create, UnitOfWork(session) as uow:
        inventory.create_part_inventory(uow, NewPartInventory(part_id=fresh.id, quantity=1))
    assert by_create.value.field == "partId"
    with pytest.raises(BadInput) as by_import, UnitOfWork(session) as uow:
        import_part_inventory(uow, io.BytesIO(b"part_number,quantity\nPLUG,3\nLAMP,1\n"), filename="s.csv")
    assert [(p.row, p.column) for p in by_import.value.details] == [(3, "part_number")]
    assert _counts(session, fresh.id) == (1, 0)
    assert _counts(session, component_id) == (0, 0)


def test_an_emptied_part_may_become_a_kit_and_a_kit_may_be_redefined(session: Session) -> None:
    """The rule is about records held now: once they are deleted, components are fine; a kit
    redefined (or cleared) keeps holding nothing."""
    part = factories.part(session, "DESK")
    leg = factories.part(session, "LEG")
    record = factories.record(session, part, 1)
    with UnitOfWork(session) as uow:
        inventory.delete_part_inventory(uow, record.id, record.etag)
    with UnitOfWork(session) as uow:
        items.save_item_document(uow, "DESK", [("LEG", Decimal(4))])
    with UnitOfWork(session) as uow:
        items.save_item_document(uow, "DESK", [("LEG", Decimal(3))])
    assert _counts(session, part.id) == (1, 0)
    with UnitOfWork(session) as uow:
        current = uow.get(type(part), part.id)
        parts.update_part(uow, part.id, current.etag, {"components": []})
    assert _counts(session, part.id) == (0, 0)
    factories.record(session, part, 2)
    assert _counts(session, part.id) == (0, 1) and leg.id
