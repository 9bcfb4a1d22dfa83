"""Domain enums exposed to GraphQL under the names of docs/api.md."""

from __future__ import annotations

from typing import TypeAlias

import strawberry

from kitwright.domain.kits import FulfilmentOrder as _FulfilmentOrder
from kitwright.domain.status import PartInventoryStatus as _Status
from kitwright.domain.tracking import TrackingType as _Tracking

strawberry.enum(_Tracking, name="TrackingType")
TrackingType: TypeAlias = _Tracking
strawberry.enum(_Status, name="PartInventoryStatus")
PartInventoryStatus: TypeAlias = _Status
strawberry.enum(
    _FulfilmentOrder, name="FulfilmentOrder",
    description="The order fulfillPartKit uses a part's records in: FIFO (oldest first) or FEFO "
    "(earliest expirationDate first, records without one last).",
)
FulfilmentOrder: TypeAlias = _FulfilmentOrder
