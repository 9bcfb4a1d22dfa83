"""A record held by an open kit is frozen except through its kit (docs/kit-rules.md).

A held record is exactly what its kit says: the kit's link records the quantity issued, the
pick list says where it stands, availability leaves it out. So while an open kit holds a
record, nothing but the kit's own operations (issue, return, stage, deliver, release) may
change what it is, how much of it there is, whether it is on hand, or where it stands. The
way out is `moveItemToInventory`: once returned, the record is ordinary stock again.

Pure: the service reads the hold (after locking the record) and the fields a request would
really change, and asks `check_held_change`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from kitwright.domain.errors import BadInput, Conflict, Problem
from kitwright.domain.kits import PartKitStatus


class RecordChange(enum.StrEnum):
    """What a use case outside the kit would change on a record (values are API names)."""

    QUANTITY = "quantity"
    PART = "partId"
    ON_ORDER = "onOrder"
    LOCATION = "locationId"
    UNIT_OF_MEASURE = "unitOfMeasureId"  # the unit gives the held quantity its meaning
    SCRAP = "scrapped"
    RECEIVE = "receive"
    DELETE = "delete"
    # Free while held: descriptive fields that change neither the amount nor the place.
    SUPPLIER = "supplierId"
    SERIAL_NUMBER = "serialNumber"
    LOT_NUMBER = "lotNumber"
    COST = "cost"
    USAGE_TYPE = "usageType"
    SEGMENT = "segment"
    ATTRIBUTES = "attributes"
    EXPECTED_AT = "expectedAt"
    EXPIRATION_DATE = "expirationDate"  # orders FEFO fulfilment; the amount and place stay


FROZEN_WHILE_HELD: frozenset[RecordChange] = frozenset({
    RecordChange.QUANTITY, RecordChange.PART, RecordChange.ON_ORDER, RecordChange.LOCATION,
    RecordChange.UNIT_OF_MEASURE, RecordChange.SCRAP, RecordChange.RECEIVE, RecordChange.DELETE,
})

_WHAT: dict[RecordChange, str] = {
    RecordChange.QUANTITY: "its quantity cannot change",
    RecordChange.PART: "its part cannot change",
    RecordChange.ON_ORDER: "it cannot be put on order",
    RecordChange.LOCATION: "it moves only with its kit",
    RecordChange.UNIT_OF_MEASURE: "its unit of measure cannot change",
    RecordChange.SCRAP: "it cannot be scrapped",
    RecordChange.RECEIVE: "it cannot be received",
    RecordChange.DELETE: "it cannot be deleted",
}
# The field a refusal names: the request's own field, or the record for whole-record operations.
_FIELD: dict[RecordChange, str] = {
    RecordChange.SCRAP: "id", RecordChange.RECEIVE: "id", RecordChange.DELETE: "id",
}


@dataclass(frozen=True)
class Hold:
    """The kit holding a record: its unreleased link."""

    kit_id: int
    item_id: int
    kit_status: PartKitStatus


def check_held_change(record_id: int, hold: Hold | None, changes: Iterable[RecordChange]) -> None:
    """Refuse, with CONFLICT naming the kit, any frozen change to a record an open kit holds.

    `changes` are the changes the request would really make (a field sent with its current
    value changes nothing and is not refused). Every refused change is listed at once.
    """
    if hold is None or hold.kit_status.is_closed:
        return
    refused = sorted({c for c in changes if c in FROZEN_WHILE_HELD}, key=list(RecordChange).index)
    if not refused:
        return
    lead = f"inventory {record_id} is held by kit {hold.kit_id} (item {hold.item_id}, {hold.kit_status.value})"
    way_out = "return it with moveItemToInventory first"
    problems = [
        Problem(f"{lead}: {_WHAT[c]}; {way_out}", field=_FIELD.get(c, c.value)) for c in refused
    ]
    message = f"{lead}: {', '.join(_WHAT[c] for c in refused)}; {way_out}"
    raise Conflict(message, field=problems[0].field, details=problems)


def check_installed_change(record_id: int, installed: bool, changes: Iterable[RecordChange]) -> None:
    """An installed record holds exactly what its aBOM line installed, where its unit stands:
    its quantity changes only through the aBOM item, and it moves only with the unit."""
    if not installed:
        return
    wanted = set(changes)
    if RecordChange.QUANTITY in wanted:
        raise BadInput(f"inventory {record_id} is installed; change the aBOM item instead", field="quantity")
    if RecordChange.LOCATION in wanted:
        raise BadInput(f"inventory {record_id} is installed; it moves with the unit it is installed in",
                       field="locationId")
