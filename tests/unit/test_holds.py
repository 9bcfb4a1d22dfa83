"""domain.holds: which changes a held record refuses, and how the refusal reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain.errors import BadInput, Conflict
from kitwright.domain.holds import (
    FROZEN_WHILE_HELD,
    Hold,
    RecordChange,
    check_held_change,
    check_installed_change,
)
from kitwright.domain.kits import CLOSED_STATUSES, OPEN_STATUSES, PartKitStatus

FREE = sorted(set(RecordChange) - FROZEN_WHILE_HELD)


def test_the_frozen_set_is_what_the_rule_names() -> None:
    assert {c.value for c in FROZEN_WHILE_HELD} == {
        "quantity", "partId", "onOrder", "locationId", "unitOfMeasureId", "scrapped", "receive", "delete",
    }


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
@pytest.mark.parametrize("change", sorted(FROZEN_WHILE_HELD))
def test_an_open_kit_refuses_every_frozen_change(status: PartKitStatus, change: RecordChange) -> None:
    with pytest.raises(Conflict) as caught:
        check_held_change(12, Hold(kit_id=7, item_id=9, kit_status=status), [change])
    assert "held by kit 7 (item 9" in caught.value.message
    assert "moveItemToInventory" in caught.value.message
    whole = change in (RecordChange.SCRAP, RecordChange.RECEIVE, RecordChange.DELETE)
    assert caught.value.field == ("id" if whole else change.value)


@given(
    status=st.sampled_from(sorted(PartKitStatus)),
    changes=st.lists(st.sampled_from(sorted(RecordChange)), max_size=6),
    held=st.booleans(),
)
def test_refused_exactly_when_held_by_an_open_kit_and_something_frozen_changes(
    status: PartKitStatus, changes: list[RecordChange], held: bool,
) -> None:
    hold = Hold(kit_id=1, item_id=2, kit_status=status) if held else None
    frozen = [c for c in changes if c in FROZEN_WHILE_HELD]
    should_refuse = held and status in OPEN_STATUSES and bool(frozen)
    try:
        check_held_change(3, hold, changes)
    except Conflict as error:
        assert should_refuse
        # every refused change listed once, in a stable order
        assert [p.field for p in error.details] == [
            "id" if c in (RecordChange.SCRAP, RecordChange.RECEIVE, RecordChange.DELETE) else c.value
            for c in sorted(set(frozen), key=list(RecordChange).index)
        ]
    else:
        assert not should_refuse


@pytest.mark.parametrize("status", sorted(CLOSED_STATUSES))
def test_a_closed_kit_holds_nothing(status: PartKitStatus) -> None:
    check_held_change(12, Hold(kit_id=7, item_id=9, kit_status=status), sorted(FROZEN_WHILE_HELD))


def test_descriptive_fields_are_free() -> None:
    check_held_change(12, Hold(kit_id=7, item_id=9, kit_status=PartKitStatus.IN_PROGRESS), FREE)
    assert RecordChange.COST in FREE and RecordChange.SERIAL_NUMBER in FREE


@given(st.sets(st.sampled_from(list(RecordChange))), st.booleans())
def test_an_installed_record_keeps_its_quantity_and_place(changes: set[RecordChange], installed: bool) -> None:
    refused = installed and bool(changes & {RecordChange.QUANTITY, RecordChange.LOCATION})
    if not refused:
        check_installed_change(7, installed, changes)
        return
    with pytest.raises(BadInput) as caught:
        check_installed_change(7, installed, changes)
    assert caught.value.field == ("quantity" if RecordChange.QUANTITY in changes else "locationId")
    assert "inventory 7 is installed" in caught.value.message
