"""Timestamps read the same on both engines: timezone-aware, in UTC."""

from datetime import UTC

from sqlalchemy.orm import Session

from kitwright.store.models import PartInventory
from tests import factories


def test_created_at_is_aware_utc(session: Session) -> None:
    made = factories.record(session, factories.part(session, "CABLE"), 1)
    session.expire_all()
    again = session.get(PartInventory, made.id)
    assert again is not None and again.created_at.tzinfo is not None
    assert again.created_at.utcoffset() == UTC.utcoffset(None)
