"""Who may change a kit: one table over (role, kit status, whether the caller requested the
kit, whether it holds stock, the action). docs/kit-rules.md explains it in words.

A requester (or planner) shapes their own request: creates it, edits it, requests it, and
cancels it while it holds no stock, as long as it is DRAFT or REQUESTED. Anything that moves
or releases stock (staging it elsewhere, staging, fulfilling, issuing, returning, delivering,
completing, cancelling a kit that holds stock, moving it along) is the inventory team's.
Admins may do everything. The permission a GraphQL root field needs
(security.permissions) is checked first; this table refines it per kit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from kitwright.domain.errors import Forbidden
from kitwright.domain.kits import PartKitStatus


class KitAction(enum.StrEnum):
    CREATE = "create"  # a new kit, in the status it is created with
    EDIT = "edit"  # run, priority, assignee, delivery location of an undelivered kit, items
    REQUEST = "request"  # DRAFT <-> REQUESTED
    SET_STAGING = "set its staging location"  # moves what it holds
    CANCEL = "cancel"  # releases what it holds
    PROGRESS = "move it along"  # to or back from IN_PROGRESS / DELIVERED, without delivering
    DELIVER = "deliver"  # also: change a delivered kit's delivery location (its stock follows)
    COMPLETE = "complete"
    REOPEN = "reopen"  # a COMPLETED or CANCELED kit becomes open again
    STAGE = "stage"
    FULFIL = "fulfil"
    ISSUE = "issue to"
    UNISSUE = "return from"
    DELETE = "delete"


ADMIN = "admin"
STOCK_ROLES: frozenset[str] = frozenset({"inventory", ADMIN})
REQUEST_ROLES: frozenset[str] = frozenset({"requester", "planner"})
REQUEST_STATUSES: frozenset[PartKitStatus] = frozenset({PartKitStatus.DRAFT, PartKitStatus.REQUESTED})


@dataclass(frozen=True)
class KitRule:
    """`any_kit` roles may act on any kit; `own_roles` only on a kit they requested, in one of
    `own_statuses`, and (with `own_only_empty`) only while it holds no stock."""

    any_kit: frozenset[str]
    own_roles: frozenset[str] = frozenset()
    own_statuses: frozenset[PartKitStatus] = frozenset()
    own_only_empty: bool = False


_STOCK_ONLY = KitRule(STOCK_ROLES)

KIT_RULES: dict[KitAction, KitRule] = {
    KitAction.CREATE: KitRule(frozenset({ADMIN}), REQUEST_ROLES, REQUEST_STATUSES),
    KitAction.EDIT: KitRule(STOCK_ROLES, REQUEST_ROLES, REQUEST_STATUSES),
    KitAction.REQUEST: KitRule(STOCK_ROLES, REQUEST_ROLES, REQUEST_STATUSES),
    KitAction.SET_STAGING: KitRule(STOCK_ROLES, REQUEST_ROLES, REQUEST_STATUSES, own_only_empty=True),
    KitAction.CANCEL: KitRule(STOCK_ROLES, REQUEST_ROLES, REQUEST_STATUSES, own_only_empty=True),
    KitAction.DELETE: KitRule(frozenset({ADMIN}), REQUEST_ROLES, REQUEST_STATUSES, own_only_empty=True),
    KitAction.PROGRESS: _STOCK_ONLY,
    KitAction.DELIVER: _STOCK_ONLY,
    KitAction.COMPLETE: _STOCK_ONLY,
    KitAction.REOPEN: _STOCK_ONLY,
    KitAction.STAGE: _STOCK_ONLY,
    KitAction.FULFIL: _STOCK_ONLY,
    KitAction.ISSUE: _STOCK_ONLY,
    KitAction.UNISSUE: _STOCK_ONLY,
}


@dataclass(frozen=True)
class KitAccess:
    """The facts the table looks at. For CREATE, `status` is the status asked for and the
    caller is the requester."""

    role: str | None
    kit_id: int | None
    status: PartKitStatus
    requested_by_caller: bool
    holds_stock: bool


def may(access: KitAccess, action: KitAction) -> bool:
    rule = KIT_RULES[action]
    if access.role in rule.any_kit:
        return True
    return (
        access.role in rule.own_roles
        and access.requested_by_caller
        and access.status in rule.own_statuses
        and not (rule.own_only_empty and access.holds_stock)
    )


def check_kit_access(access: KitAccess, actions: Iterable[tuple[KitAction, str]]) -> None:
    """Raise FORBIDDEN, naming the field, at the first (action, field) the caller may not do."""
    for action, field in actions:
        if may(access, action):
            continue
        rule = KIT_RULES[action]
        kit = "a kit" if access.kit_id is None else f"kit {access.kit_id}"
        if access.role in rule.own_roles and rule.own_statuses:
            why = _why_not_own(access, rule)
        else:
            why = f"that needs the {' or '.join(sorted(rule.any_kit))} role"
        raise Forbidden(f"role {access.role} may not {action.value} {kit}: {why}", field=field)


def _why_not_own(access: KitAccess, rule: KitRule) -> str:
    if not access.requested_by_caller:
        return "only its requester or the inventory team may"
    if access.status not in rule.own_statuses:
        statuses = "/".join(sorted(s.value for s in rule.own_statuses))
        return f"it is {access.status.value}; a requester may only while it is {statuses}"
    return "it holds stock; the inventory team returns or releases it"


def kit_update_actions(
    old: PartKitStatus, new: PartKitStatus, *, staging_changed: bool, delivery_changed: bool,
    details_changed: bool,
) -> list[tuple[KitAction, str]]:
    """What an updatePartKit does, as (action, input field) pairs, most consequential first."""
    actions: list[tuple[KitAction, str]] = []
    if new is not old:
        actions.append((status_action(old, new), "status"))
    if delivery_changed:
        delivered = new is PartKitStatus.DELIVERED  # a delivered kit's stock follows
        actions.append((KitAction.DELIVER if delivered else KitAction.EDIT, "deliveryLocationId"))
    if staging_changed:
        actions.append((KitAction.SET_STAGING, "stagingLocationId"))
    if details_changed or not actions:
        actions.append((KitAction.EDIT, "id"))
    return actions


def status_action(old: PartKitStatus, new: PartKitStatus) -> KitAction:
    """The action a status change is (old != new)."""
    if new is PartKitStatus.CANCELED:
        return KitAction.CANCEL
    if new is PartKitStatus.COMPLETED:
        return KitAction.COMPLETE
    if new is PartKitStatus.DELIVERED:
        return KitAction.DELIVER
    if old.is_closed:
        return KitAction.REOPEN
    if old in REQUEST_STATUSES and new in REQUEST_STATUSES:
        return KitAction.REQUEST
    return KitAction.PROGRESS
