"""A constraint the database enforces reads like the same rule checked in Python, on both
engines: PostgreSQL names the violated constraint, SQLite names only a unique rule's columns."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

import kitwright.app  # noqa: F401  # every service module registers its constraints' messages
from kitwright.services.uow import CONSTRAINT_MESSAGES, _unique_rules, translate_integrity_error
from kitwright.store.models import Base


class _Driver(Exception):
    pass


def _translated(message: str) -> tuple[str | None, str]:
    error = translate_integrity_error(IntegrityError("statement", {}, _Driver(message)))
    return error.field, error.message


RULES = sorted(_unique_rules().items())


@pytest.mark.parametrize(("name", "rule"), RULES, ids=[name for name, _rule in RULES])
def test_every_unique_rule_is_named_the_same_on_both_engines(name: str, rule: tuple[str, tuple[str, ...]]) -> None:
    table, columns = rule
    sqlite = _translated("UNIQUE constraint failed: " + ", ".join(f"{table}.{column}" for column in columns))
    postgres = _translated(f'duplicate key value violates unique constraint "{name}"\nDETAIL:  Key (...)')
    for field, message in (sqlite, postgres):
        assert field is not None and "constraint" not in message
    if name in CONSTRAINT_MESSAGES:
        assert postgres == CONSTRAINT_MESSAGES[name]
        assert CONSTRAINT_MESSAGES[name][1] in sqlite[1]  # with the other rules on those columns, if any
    else:
        assert sqlite == postgres and "(not unique)" in postgres[1]


def test_every_unique_rule_of_the_schema_is_known() -> None:
    constraints = {c.name for t in Base.metadata.tables.values() for c in t.constraints
                   if c.__class__.__name__ == "UniqueConstraint"}
    indexes = {i.name for t in Base.metadata.tables.values() for i in t.indexes if i.unique}
    assert constraints | indexes == set(_unique_rules())


def test_partial_indexes_on_the_same_columns_are_both_named() -> None:
    field, message = _translated("UNIQUE constraint failed: abom_item.part_inventory_id")
    assert field == "partInventoryId"
    assert CONSTRAINT_MESSAGES["uq_abom_item_installed"][1] in message
    assert CONSTRAINT_MESSAGES["uq_abom_item_root"][1] in message


def test_check_constraints_and_the_rest() -> None:
    assert _translated("CHECK constraint failed: ck_part_inventory_quantity_not_negative") == (
        "quantity", "quantity must not be negative")
    assert _translated("UNIQUE constraint failed: index 'uq_run_open_unit'")[0] == "partInventoryId"
    field, message = _translated("NOT NULL constraint failed: part.part_number")
    assert field is None and message.startswith("the change breaks a database rule")
