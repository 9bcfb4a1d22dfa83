"""The operations a ledger entry names (docs/rules.md#r4). Stored as these strings."""

from __future__ import annotations

import enum


class LedgerOperation(enum.StrEnum):
    # inventory records (services.inventory, the plant importer)
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    RECEIVE = "RECEIVE"
    # kits: none of them changes a part's total (docs/rules.md#r1)
    KIT_ISSUE = "KIT_ISSUE"
    KIT_SPLIT = "KIT_SPLIT"
    KIT_UNISSUE = "KIT_UNISSUE"
    KIT_DELIVER = "KIT_DELIVER"
    KIT_STAGE = "KIT_STAGE"
    KIT_RELEASE = "KIT_RELEASE"
    # kanban cycles
    KANBAN_CONSUME = "KANBAN_CONSUME"
    KANBAN_RETURN = "KANBAN_RETURN"
    # runs and their builds
    RUN_START = "RUN_START"
    RUN_COMPLETE = "RUN_COMPLETE"
    RUN_CANCEL = "RUN_CANCEL"
    INSTALL = "INSTALL"
    INSTALL_SPLIT = "INSTALL_SPLIT"
    UNINSTALL = "UNINSTALL"
    UNIT_TO_STOCK = "UNIT_TO_STOCK"
    FOLLOW_UNIT = "FOLLOW_UNIT"
    # retail orders
    ORDER_ALLOCATE = "ORDER_ALLOCATE"
    ORDER_UNALLOCATE = "ORDER_UNALLOCATE"
    ORDER_SHIP = "ORDER_SHIP"
    ORDER_RETURN = "ORDER_RETURN"


# What a kit writes; none of them changes a part's total.
KIT_OPERATIONS: tuple[LedgerOperation, ...] = tuple(
    op for op in LedgerOperation if op.name.startswith("KIT_")
)
