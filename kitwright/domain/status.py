"""The status of an inventory record is derived from facts, never set by hand.

Precedence, first match wins: SCRAPPED, INSTALLED, KITTED, ALLOCATED, ON_ORDER, WIP, UNAVAILABLE,
AVAILABLE. `store.queries.status_expression` is the same rule as SQL (for filters); a
property test holds the two equal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal


class PartInventoryStatus(enum.StrEnum):
    AVAILABLE = "AVAILABLE"
    KITTED = "KITTED"
    ALLOCATED = "ALLOCATED"
    INSTALLED = "INSTALLED"
    WIP = "WIP"
    ON_ORDER = "ON_ORDER"
    UNAVAILABLE = "UNAVAILABLE"
    SCRAPPED = "SCRAPPED"


@dataclass(frozen=True)
class StatusFacts:
    quantity: Decimal
    location_available: bool  # False when the record has no location
    on_order: bool = False
    scrapped: bool = False
    kitted: bool = False  # issued to a kit that is not closed
    allocated: bool = False  # held by a retail order line (docs/retail-orders.md)
    installed: bool = False  # linked to a build requirement
    wip: bool = False


def derive_status(facts: StatusFacts) -> PartInventoryStatus:
    if facts.scrapped:
        return PartInventoryStatus.SCRAPPED
    if facts.installed:
        return PartInventoryStatus.INSTALLED
    if facts.kitted:
        return PartInventoryStatus.KITTED
    if facts.allocated:
        return PartInventoryStatus.ALLOCATED
    if facts.on_order:
        return PartInventoryStatus.ON_ORDER
    if facts.wip:
        return PartInventoryStatus.WIP
    if facts.quantity <= 0 or not facts.location_available:
        return PartInventoryStatus.UNAVAILABLE
    return PartInventoryStatus.AVAILABLE
