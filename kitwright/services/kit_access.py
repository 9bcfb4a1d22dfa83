"""Apply domain.kit_access to the acting user (the unit of work's actor) and a locked kit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select

from kitwright.domain.errors import Forbidden
from kitwright.domain.kit_access import (
    KIT_RULES,
    KitAccess,
    KitAction,
    check_kit_access,
    kit_update_actions,
)
from kitwright.domain.kits import PartKitStatus
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import PartKit, PartKitInventory

_DETAILS = ("run_id", "priority", "assigned_to_id")


def _roles(uow: UnitOfWork) -> list[str | None]:
    """The roles the kit rules judge the actor by: its role, and a narrowing key's role."""
    actor = uow.actor
    return [actor.role] if actor.key_role is None else [actor.role, actor.key_role]


def _check(uow: UnitOfWork, kit: PartKit, actions: Sequence[tuple[KitAction, str]]) -> None:
    actor = uow.actor
    roles = _roles(uow)
    mine = actor.id is not None and kit.created_by_id == actor.id
    # Whether the kit holds stock matters only to a requester's own cancel / staging / delete;
    # the issue and fulfil paths skip the query.
    matters = mine and any(
        KIT_RULES[action].own_only_empty and role in KIT_RULES[action].own_roles
        for action, _ in actions for role in roles
    )
    holds = matters and uow.session.scalar(
        select(PartKitInventory.id)
        .where(PartKitInventory.part_kit_id == kit.id, PartKitInventory.released == False)  # noqa: E712
        .limit(1)
    ) is not None
    for role in roles:
        check_kit_access(KitAccess(role=role, kit_id=kit.id, status=PartKitStatus(kit.status),
                                   requested_by_caller=mine, holds_stock=holds), actions)


def refusals(uow: UnitOfWork, kits: Iterable[PartKit], action: KitAction) -> dict[int, Forbidden]:
    """Per locked kit the actor may not do `action` to, why (the importers report it per row
    and write nothing, instead of stopping at the first kit)."""
    refused: dict[int, Forbidden] = {}
    for kit in kits:
        try:
            _check(uow, kit, [(action, "id")])
        except Forbidden as error:
            refused[kit.id] = error
    return refused


def authorize(uow: UnitOfWork, kit: PartKit, action: KitAction, field: str = "id") -> None:
    """Refuse (FORBIDDEN) unless the actor may do `action` to the locked `kit`."""
    _check(uow, kit, [(action, field)])


def authorize_create(uow: UnitOfWork, status: PartKitStatus) -> None:
    for role in _roles(uow):
        access = KitAccess(role=role, kit_id=None, status=status, requested_by_caller=True, holds_stock=False)
        check_kit_access(access, [(KitAction.CREATE, "status")])


def authorize_update(uow: UnitOfWork, kit: PartKit, new: PartKitStatus, changes: Mapping[str, Any]) -> None:
    """updatePartKit: every action the change amounts to must be allowed."""
    def changed(name: str, current: object) -> bool:
        return name in changes and changes[name] != current

    actions = kit_update_actions(
        PartKitStatus(kit.status), new,
        staging_changed=changed("staging_location_id", kit.staging_location_id),
        delivery_changed=changed("delivery_location_id", kit.delivery_location_id),
        details_changed=any(changed(name, getattr(kit, name)) for name in _DETAILS),
    )
    _check(uow, kit, actions)
