"""domain.kit_access: the table of who may change a kit, and how an update reads as actions."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain.errors import Forbidden
from kitwright.domain.kit_access import (
    KIT_RULES,
    KitAccess,
    KitAction,
    check_kit_access,
    kit_update_actions,
    may,
    status_action,
)
from kitwright.domain.kits import PartKitStatus as S

ROLES = ["viewer", "requester", "planner", "inventory", "admin", None, "unknown"]
# Everything that moves or releases stock, or moves a kit along: the inventory team's.
STOCK_ACTIONS = {
    KitAction.PROGRESS, KitAction.DELIVER, KitAction.COMPLETE, KitAction.REOPEN, KitAction.STAGE,
    KitAction.FULFIL, KitAction.ISSUE, KitAction.UNISSUE,
}

accesses = st.builds(
    KitAccess, role=st.sampled_from(ROLES), kit_id=st.integers(1, 9), status=st.sampled_from(list(S)),
    requested_by_caller=st.booleans(), holds_stock=st.booleans(),
)


def test_every_action_has_a_rule() -> None:
    assert set(KIT_RULES) == set(KitAction)


@given(access=accesses, action=st.sampled_from(list(KitAction)))
def test_the_table_in_words(access: KitAccess, action: KitAction) -> None:
    allowed = may(access, action)
    if access.role == "admin":
        assert allowed
    elif access.role in ("viewer", None, "unknown"):
        assert not allowed
    elif access.role in ("requester", "planner"):
        own_request = access.requested_by_caller and access.status in (S.DRAFT, S.REQUESTED)
        if action in STOCK_ACTIONS:
            assert not allowed
        elif action in (KitAction.CANCEL, KitAction.SET_STAGING, KitAction.DELETE):
            assert allowed == (own_request and not access.holds_stock)
        else:  # create, edit, request
            assert allowed == own_request
    else:  # inventory: everything on any kit but creating and deleting kits
        assert allowed == (action not in (KitAction.CREATE, KitAction.DELETE))


def test_the_refusal_says_why() -> None:
    base = KitAccess(role="requester", kit_id=4, status=S.IN_PROGRESS, requested_by_caller=True,
                     holds_stock=True)
    with pytest.raises(Forbidden) as caught:
        check_kit_access(base, [(KitAction.SET_STAGING, "stagingLocationId")])
    assert caught.value.field == "stagingLocationId" and "kit 4" in caught.value.message
    assert "IN_PROGRESS" in caught.value.message
    with pytest.raises(Forbidden, match="only its requester"):
        check_kit_access(KitAccess("requester", 4, S.DRAFT, False, False), [(KitAction.EDIT, "id")])
    with pytest.raises(Forbidden, match="holds stock"):
        check_kit_access(KitAccess("requester", 4, S.REQUESTED, True, True), [(KitAction.CANCEL, "status")])
    with pytest.raises(Forbidden, match="admin or inventory"):
        check_kit_access(KitAccess("planner", 4, S.REQUESTED, True, False), [(KitAction.FULFIL, "id")])


@pytest.mark.parametrize(("old", "new"), [(o, n) for o, n in itertools.product(S, S) if o is not n])
def test_every_status_change_is_one_action(old: S, new: S) -> None:
    action = status_action(old, new)
    if new is S.CANCELED:
        assert action is KitAction.CANCEL
    elif new is S.COMPLETED:
        assert action is KitAction.COMPLETE
    elif new is S.DELIVERED:
        assert action is KitAction.DELIVER
    elif old.is_closed:
        assert action is KitAction.REOPEN
    elif {old, new} <= {S.DRAFT, S.REQUESTED}:
        assert action is KitAction.REQUEST
    else:
        assert action is KitAction.PROGRESS


def test_an_update_lists_what_it_does() -> None:
    assert kit_update_actions(S.DRAFT, S.DRAFT, staging_changed=False, delivery_changed=False,
                              details_changed=False) == [(KitAction.EDIT, "id")]
    assert kit_update_actions(S.IN_PROGRESS, S.CANCELED, staging_changed=True, delivery_changed=True,
                              details_changed=True) == [
        (KitAction.CANCEL, "status"), (KitAction.EDIT, "deliveryLocationId"),
        (KitAction.SET_STAGING, "stagingLocationId"), (KitAction.EDIT, "id"),
    ]
    # A delivered kit's stock follows its delivery location: that is delivering.
    assert kit_update_actions(S.DELIVERED, S.DELIVERED, staging_changed=False, delivery_changed=True,
                              details_changed=False) == [(KitAction.DELIVER, "deliveryLocationId")]
