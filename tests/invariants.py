"""The rules that must hold after every test (design.md rules 1, 2 and 4)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from kitwright.domain.quantities import ONE, ZERO
from kitwright.services import ledger
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import PartInventory


def assert_invariants(engine: Engine) -> None:
    with make_sessionmaker(engine)() as session:
        # Rule 4: replaying the ledger from empty reproduces every record.
        problems = ledger.verify(session)
        assert not problems, "ledger and records disagree:\n" + "\n".join(problems[:20])
        # Rule 2: tracking.
        for record in session.scalars(select(PartInventory)):
            assert record.quantity >= ZERO, f"record {record.id} is negative"
            if record.serial_number is not None:
                assert record.quantity <= ONE, f"serial record {record.id} holds {record.quantity}"
