"""Permissions, roles and the one table saying what every operation needs.

A permission is named after the operation it allows (`IssueItemToKit`). A role is a set of
permissions. The `admin` role holds every permission, including ones for fields not yet
mapped below, so a new field works for admins until it is given its own permission; every
other role is denied an unmapped field (deny by default).
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    VIEW_INVENTORY = "ViewInventory"
    VIEW_KITS = "ViewKits"
    VIEW_AVAILABILITY = "ViewAvailability"
    VIEW_RUNS = "ViewRuns"
    VIEW_RULES = "ViewRules"
    VIEW_ORDERS = "ViewOrders"
    VIEW_SELF = "ViewSelf"
    MANAGE_PARTS = "ManageParts"
    MANAGE_LOCATIONS = "ManageLocations"
    MANAGE_CATALOG = "ManageCatalog"
    CREATE_PART_INVENTORY = "CreatePartInventory"
    UPDATE_PART_INVENTORY = "UpdatePartInventory"
    DELETE_PART_INVENTORY = "DeletePartInventory"
    RECEIVE_PART_INVENTORY = "ReceivePartInventory"
    CREATE_PART_KIT = "CreatePartKit"
    UPDATE_PART_KIT = "UpdatePartKit"
    DELETE_PART_KIT = "DeletePartKit"
    CREATE_PART_KIT_ITEM = "CreatePartKitItem"
    UPDATE_PART_KIT_ITEM = "UpdatePartKitItem"
    DELETE_PART_KIT_ITEM = "DeletePartKitItem"
    ISSUE_ITEM_TO_KIT = "IssueItemToKit"
    MOVE_ITEM_TO_INVENTORY = "MoveItemToInventory"
    FULFILL_PART_KIT = "FulfillPartKit"
    STAGE_PART_KIT_INVENTORY = "StagePartKitInventory"
    IMPORT_KIT_ITEMS = "ImportKitItems"
    MANAGE_RUNS = "ManageRuns"
    MANAGE_KANBAN_KITS = "ManageKanbanKits"
    CYCLE_KANBAN_KITS = "CycleKanbanKits"
    INSTALL_PART_INVENTORY = "InstallPartInventory"
    MANAGE_RULES = "ManageRules"
    MANAGE_ORDERS = "ManageOrders"
    PROCESS_ORDER_EVENTS = "ProcessOrderEvents"
    MANAGE_SETTINGS = "ManageSettings"
    MANAGE_USERS = "ManageUsers"
    VIEW_AUDIT = "ViewAudit"


P = Permission

VIEWER: frozenset[Permission] = frozenset({
    P.VIEW_INVENTORY, P.VIEW_KITS, P.VIEW_AVAILABILITY, P.VIEW_RUNS, P.VIEW_RULES, P.VIEW_ORDERS, P.VIEW_SELF,
})
REQUESTER: frozenset[Permission] = VIEWER | {
    P.CREATE_PART_KIT, P.UPDATE_PART_KIT, P.DELETE_PART_KIT,
    P.CREATE_PART_KIT_ITEM, P.UPDATE_PART_KIT_ITEM, P.DELETE_PART_KIT_ITEM,
    P.IMPORT_KIT_ITEMS,  # requesters add kit items by the hundred from a spreadsheet
}
INVENTORY: frozenset[Permission] = VIEWER | {
    P.MANAGE_PARTS, P.MANAGE_LOCATIONS, P.MANAGE_CATALOG,
    P.CREATE_PART_INVENTORY, P.UPDATE_PART_INVENTORY, P.DELETE_PART_INVENTORY, P.RECEIVE_PART_INVENTORY,
    P.UPDATE_PART_KIT, P.ISSUE_ITEM_TO_KIT, P.MOVE_ITEM_TO_INVENTORY, P.FULFILL_PART_KIT,
    P.STAGE_PART_KIT_INVENTORY, P.IMPORT_KIT_ITEMS, P.INSTALL_PART_INVENTORY,
    P.MANAGE_ORDERS, P.PROCESS_ORDER_EVENTS,
    P.MANAGE_KANBAN_KITS, P.CYCLE_KANBAN_KITS,
}
PLANNER: frozenset[Permission] = REQUESTER | {P.MANAGE_RUNS, P.MANAGE_PARTS, P.INSTALL_PART_INVENTORY,
                                              P.MANAGE_KANBAN_KITS}
ADMIN: frozenset[Permission] = frozenset(Permission)

ROLES: dict[str, frozenset[Permission]] = {
    "viewer": VIEWER,
    "requester": REQUESTER,
    "inventory": INVENTORY,
    "planner": PLANNER,
    "admin": ADMIN,
}
ADMIN_ROLE = "admin"


def role_permissions(role: str | None) -> frozenset[Permission]:
    return ROLES.get(role or "", frozenset())


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return role


# GraphQL root field -> the permission calling it needs. Fields of the API contract that do not
# exist yet (runs, rules, import, orders) are mapped ahead so they are guarded when they land.
ROOT_FIELD_PERMISSIONS: dict[str, Permission] = {
    # Query: inventory and catalogue
    "part": P.VIEW_INVENTORY, "parts": P.VIEW_INVENTORY,
    "location": P.VIEW_INVENTORY, "locations": P.VIEW_INVENTORY,
    "unitOfMeasure": P.VIEW_INVENTORY, "unitsOfMeasure": P.VIEW_INVENTORY,
    "supplier": P.VIEW_INVENTORY, "suppliers": P.VIEW_INVENTORY,
    "partInventory": P.VIEW_INVENTORY, "partInventories": P.VIEW_INVENTORY,
    "ledgerEntries": P.VIEW_INVENTORY,
    # Query: kits, availability, runs, rules, orders
    "partKit": P.VIEW_KITS, "partKits": P.VIEW_KITS, "partKitItem": P.VIEW_KITS, "partKitItems": P.VIEW_KITS,
    "partKitShortageReport": P.VIEW_KITS,
    "kitAvailability": P.VIEW_AVAILABILITY, "kitAvailabilityFeed": P.VIEW_AVAILABILITY,
    "kitAvailabilityChanges": P.VIEW_AVAILABILITY,
    "run": P.VIEW_RUNS, "runs": P.VIEW_RUNS,
    "rule": P.VIEW_RULES, "rules": P.VIEW_RULES,
    "order": P.VIEW_ORDERS, "orders": P.VIEW_ORDERS, "orderSettings": P.VIEW_ORDERS,
    # Query: security
    "me": P.VIEW_SELF,
    "auditEntries": P.VIEW_AUDIT,
    # Mutation: catalogue
    "createPart": P.MANAGE_PARTS, "updatePart": P.MANAGE_PARTS, "deletePart": P.MANAGE_PARTS,
    "createLocation": P.MANAGE_LOCATIONS, "updateLocation": P.MANAGE_LOCATIONS,
    "deleteLocation": P.MANAGE_LOCATIONS,
    "createUnitOfMeasure": P.MANAGE_CATALOG, "updateUnitOfMeasure": P.MANAGE_CATALOG,
    "unitsOfMeasurement": P.VIEW_INVENTORY, "createUnitOfMeasurement": P.MANAGE_CATALOG,  # ION's names
    "createSupplier": P.MANAGE_CATALOG, "updateSupplier": P.MANAGE_CATALOG,
    # Mutation: inventory
    "createPartInventory": P.CREATE_PART_INVENTORY,
    "updatePartInventory": P.UPDATE_PART_INVENTORY,
    "deletePartInventory": P.DELETE_PART_INVENTORY,
    "receivePartInventory": P.RECEIVE_PART_INVENTORY,
    # Mutation: kits
    "createPartKit": P.CREATE_PART_KIT, "updatePartKit": P.UPDATE_PART_KIT, "deletePartKit": P.DELETE_PART_KIT,
    "createPartKitItem": P.CREATE_PART_KIT_ITEM, "updatePartKitItem": P.UPDATE_PART_KIT_ITEM,
    "deletePartKitItem": P.DELETE_PART_KIT_ITEM,
    "issueItemToKit": P.ISSUE_ITEM_TO_KIT, "moveItemToInventory": P.MOVE_ITEM_TO_INVENTORY,
    "fulfillPartKit": P.FULFILL_PART_KIT, "stagePartKitInventory": P.STAGE_PART_KIT_INVENTORY,
    "importKitItems": P.IMPORT_KIT_ITEMS,
    "importPlant": P.CREATE_PART_INVENTORY,  # as POST /api/import/{kind}
    # Mutation: runs, rules, orders (mapped ahead)
    "createRun": P.MANAGE_RUNS, "updateRun": P.MANAGE_RUNS, "createKitForRun": P.MANAGE_RUNS,
    "installPartInventory": P.INSTALL_PART_INVENTORY, "uninstallPartInventory": P.INSTALL_PART_INVENTORY,
    "createRule": P.MANAGE_RULES, "updateRule": P.MANAGE_RULES, "deleteRule": P.MANAGE_RULES,
    "createOrder": P.MANAGE_ORDERS, "allocateOrder": P.MANAGE_ORDERS, "releaseOrder": P.MANAGE_ORDERS,
    "createReturnOrder": P.MANAGE_ORDERS, "recordReturnVerification": P.MANAGE_ORDERS,
    "resolveReturnLine": P.MANAGE_ORDERS,
    "processOrderEvents": P.PROCESS_ORDER_EVENTS, "reconcileOrderEvents": P.PROCESS_ORDER_EVENTS,
    # Runs, mBOM and aBOM (docs/runs.md)
    "buildRequirement": P.VIEW_RUNS, "abomItem": P.VIEW_RUNS,
    "mbomItem": P.VIEW_RUNS, "mbomItems": P.VIEW_RUNS, "mbomTree": P.VIEW_RUNS,
    "updateRunAttribute": P.MANAGE_RUNS, "updateBuildRequirement": P.MANAGE_RUNS,
    "addRunNeedsToPartKit": P.MANAGE_RUNS,
    "createMbomItem": P.MANAGE_RUNS, "updateMbomItem": P.MANAGE_RUNS, "deleteMbomItem": P.MANAGE_RUNS,
    "createMbomItemReferenceDesignator": P.MANAGE_RUNS, "deleteMbomItemReferenceDesignator": P.MANAGE_RUNS,
    "createOrUpdateMultipleMboms": P.MANAGE_RUNS,
    "createAbomForPartInventory": P.INSTALL_PART_INVENTORY, "updateAbomItem": P.INSTALL_PART_INVENTORY,
    "updateOrderSettings": P.MANAGE_SETTINGS,
    # Kanban kits (docs/kanban.md): planners and inventory define kits and line levels; the
    # inventory team moves the stock (fill, deliver, empty, replenish); viewers read.
    "kanbanKit": P.VIEW_KITS, "kanbanKits": P.VIEW_KITS, "lineStockLevels": P.VIEW_KITS,
    "createKanbanKit": P.MANAGE_KANBAN_KITS, "updateKanbanKit": P.MANAGE_KANBAN_KITS,
    "setLineStockLevels": P.MANAGE_KANBAN_KITS,
    "fillKanbanKit": P.CYCLE_KANBAN_KITS, "deliverKanbanKit": P.CYCLE_KANBAN_KITS,
    "emptyKanbanKit": P.CYCLE_KANBAN_KITS, "replenishLineLocation": P.CYCLE_KANBAN_KITS,
}


def allowed(role: str | None, permissions: frozenset[str], needed: str | None) -> bool:
    """Admins may do everything; anyone else needs the named permission (None: unmapped)."""
    if role == ADMIN_ROLE:
        return True
    return needed is not None and needed in permissions


def field_permission(field_name: str) -> Permission | None:
    return ROOT_FIELD_PERMISSIONS.get(field_name)


# HTTP routes other than /graphql: (method, Starlette path template) -> permission. Paths not
# listed here and not public are for admins only (deny by default).
ROUTE_PERMISSIONS: dict[tuple[str, str], Permission] = {
    ("GET", "/"): P.VIEW_INVENTORY,
    ("GET", "/inventory"): P.VIEW_INVENTORY,
    ("GET", "/inventory/{id}/history"): P.VIEW_INVENTORY,
    ("GET", "/api/kits/{id}/pick-list.csv"): P.VIEW_KITS,
    ("POST", "/api/items"): P.MANAGE_PARTS,
    ("POST", "/api/import/kit-items"): P.IMPORT_KIT_ITEMS,
    ("GET", "/api/import/kit-items/template"): P.VIEW_KITS,
    # Plant loading (suppliers, parts, locations, part inventory): inventory team and admins.
    ("POST", "/api/import/{kind}"): P.CREATE_PART_INVENTORY,
    ("POST", "/api/order-events"): P.PROCESS_ORDER_EVENTS,
    ("GET", "/audit"): P.VIEW_AUDIT,
    # Web pages (web.pages, web.kits, web.availability): each action as its GraphQL mutation.
    ("GET", "/static/{name}"): P.VIEW_SELF,
    ("GET", "/inventory/{id}"): P.VIEW_INVENTORY,
    ("GET", "/parts/{id}"): P.VIEW_INVENTORY,
    ("GET", "/kits"): P.VIEW_KITS,
    ("GET", "/kits/new"): P.CREATE_PART_KIT,
    ("POST", "/kits"): P.CREATE_PART_KIT,
    ("GET", "/kits/{id}"): P.VIEW_KITS,
    ("GET", "/kits/{id}/pick-list"): P.VIEW_KITS,
    ("POST", "/kits/{id}/status"): P.UPDATE_PART_KIT,
    ("POST", "/kits/{id}/fulfil"): P.FULFILL_PART_KIT,
    ("POST", "/kits/{id}/items"): P.CREATE_PART_KIT_ITEM,
    ("POST", "/kits/{id}/scan"): P.ISSUE_ITEM_TO_KIT,
    ("POST", "/kits/{id}/return"): P.MOVE_ITEM_TO_INVENTORY,
    ("POST", "/kits/{id}/stage"): P.STAGE_PART_KIT_INVENTORY,
    ("GET", "/availability"): P.VIEW_AVAILABILITY,
    ("GET", "/availability/{id}"): P.VIEW_AVAILABILITY,
    # Web pages (web.features): imports, runs, orders, kanban kits.
    ("GET", "/imports"): P.IMPORT_KIT_ITEMS,
    ("POST", "/imports/kit-items"): P.IMPORT_KIT_ITEMS,
    ("GET", "/runs"): P.VIEW_RUNS,
    ("GET", "/runs/{id}"): P.VIEW_RUNS,
    ("POST", "/runs/{id}/status"): P.MANAGE_RUNS,
    ("POST", "/runs/{id}/kit"): P.MANAGE_RUNS,
    ("POST", "/runs/{id}/install"): P.INSTALL_PART_INVENTORY,
    ("GET", "/orders"): P.VIEW_ORDERS,
    ("GET", "/orders/{id}"): P.VIEW_ORDERS,
    ("GET", "/kanban"): P.VIEW_KITS,
}
# Reachable without credentials.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/health"), ("POST", "/auth/token"), ("GET", "/signin"), ("POST", "/signin"),
    # ION's token paths, for ION scripts (docs/ion-compatibility.md)
    ("POST", "/realms/api-keys/protocol/openid-connect/token"), ("POST", "/oauth/token"),
})
