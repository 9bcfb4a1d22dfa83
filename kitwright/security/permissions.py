"""Permissions, roles, and what each HTTP route needs.

A permission is named after the operation it allows (`IssueItemToKit`). A role is a set of
permissions. The `admin` role holds every permission, so a new field or route works for admins
until it is given its own permission; every other role is denied it (deny by default).

Each GraphQL field declares its permission where it is defined (api.authorization, `needs`);
the HTTP routes other than /graphql are listed here, where the request guard (kitwright.guard)
reads them before any route runs. tests/security/test_permissions.py checks both against what
exists: every field and route has a permission, and every entry names a real route.
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
    # The kit rules let inventory edit the items of any kit (docs/kit-rules.md, KitAction.EDIT);
    # domain.kit_access decides per kit, as it does for the import.
    P.CREATE_PART_KIT_ITEM, P.UPDATE_PART_KIT_ITEM, P.DELETE_PART_KIT_ITEM,
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


def allowed(role: str | None, permissions: frozenset[str], needed: str | None) -> bool:
    """Admins may do everything; anyone else needs the named permission (None: unmapped)."""
    if role == ADMIN_ROLE:
        return True
    return needed is not None and needed in permissions


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
# Open to anyone signed in; every GraphQL field is then checked on its own (api.authorization).
SIGNED_IN_ROUTES: dict[tuple[str, str], Permission] = {
    ("POST", "/signout"): P.VIEW_SELF,
    ("GET", "/graphql"): P.VIEW_SELF,
    ("POST", "/graphql"): P.VIEW_SELF,
}
# Reachable without credentials.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/health"), ("POST", "/auth/token"), ("GET", "/signin"), ("POST", "/signin"),
    # ION's token paths, for ION scripts (docs/ion-compatibility.md)
    ("POST", "/realms/api-keys/protocol/openid-connect/token"), ("POST", "/oauth/token"),
})
