"""Kit rules (kitwright.domain.kits): every refusal, and properties that try to break
docs/rules.md R1-R3 (no parts created or consumed, exact quantities, no double counting)."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitwright.domain.errors import BadInput
from kitwright.domain.kits import (
    CLOSED_STATUSES,
    FEFO,
    FIFO,
    OPEN_STATUSES,
    Allocation,
    Candidate,
    FefoStrategy,
    FifoStrategy,
    FulfilmentOrder,
    FulfilmentStrategy,
    IssueItem,
    IssueRecord,
    KitDemand,
    KitHolding,
    KitPlace,
    KitSplit,
    OpenLine,
    PartKitStatus,
    PickLine,
    PlanKind,
    Shortage,
    StageRecord,
    UnissueItem,
    UnissueRecord,
    apply_status_effect,
    check_item_quantity,
    current_location_id,
    issue_location,
    natural_key,
    pick_path_order,
    plan_fulfilment,
    plan_issue,
    plan_stage,
    plan_unissue,
    remaining_quantity,
    shortage_report,
    status_after_issue,
    status_change_effects,
)
from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.status import PartInventoryStatus
from kitwright.domain.tracking import TrackingType

D = Decimal
S = PartKitStatus
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SERIAL, LOT, UNTRACKED = TrackingType.SERIAL, TrackingType.LOT, TrackingType.UNTRACKED


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def record(
    *,
    id: int = 10,
    part_id: int = 1,
    part_number: str = "P-1",
    revision: str = "A",
    tracking: TrackingType = LOT,
    quantity: str | Decimal = "5",
    status: PartInventoryStatus = PartInventoryStatus.AVAILABLE,
    location_id: int | None = 100,
) -> IssueRecord:
    return IssueRecord(
        id=id,
        part_id=part_id,
        part_number=part_number,
        revision=revision,
        tracking=tracking,
        quantity=D(quantity),
        status=status,
        location_id=location_id,
    )


def item(
    *,
    id: int = 7,
    part_id: int = 1,
    part_number: str = "P-1",
    revision: str = "A",
    quantity: str | Decimal = "3",
    kitted: str | Decimal = "0",
    kit_status: PartKitStatus = S.REQUESTED,
    delivery_location_id: int | None = None,
    staging_location_id: int | None = None,
) -> IssueItem:
    return IssueItem(
        id=id,
        part_id=part_id,
        part_number=part_number,
        revision=revision,
        quantity=D(quantity),
        kitted_quantity=D(kitted),
        kit_status=kit_status,
        delivery_location_id=delivery_location_id,
        staging_location_id=staging_location_id,
    )


def refused(exc: pytest.ExceptionInfo[BadInput]) -> set[str | None]:
    """The fields named by every problem of a refusal."""
    fields = {p.field for p in exc.value.details}
    return fields or {exc.value.field}


# --------------------------------------------------------------------------- statuses


def test_open_and_closed_statuses_partition_all() -> None:
    assert {S.COMPLETED, S.CANCELED} == CLOSED_STATUSES
    assert {S.DRAFT, S.REQUESTED, S.IN_PROGRESS, S.DELIVERED} == OPEN_STATUSES
    for s in S:
        assert s.is_open != s.is_closed


@pytest.mark.parametrize("status", [S.DRAFT, S.REQUESTED])
def test_issuing_to_a_draft_or_requested_kit_starts_it(status: PartKitStatus) -> None:
    assert status_after_issue(status) is S.IN_PROGRESS


@pytest.mark.parametrize("status", [S.IN_PROGRESS, S.DELIVERED])
def test_issuing_keeps_a_started_kit_where_it_is(status: PartKitStatus) -> None:
    assert status_after_issue(status) is status


@pytest.mark.parametrize("status", sorted(CLOSED_STATUSES))
def test_issuing_to_a_closed_kit_is_refused(status: PartKitStatus) -> None:
    with pytest.raises(BadInput) as exc:
        status_after_issue(status)
    assert exc.value.field == "partKitItemId"


@pytest.mark.parametrize(("old", "new"), list(itertools.product(S, S)))
def test_any_status_may_move_to_any_other(old: PartKitStatus, new: PartKitStatus) -> None:
    effect = status_change_effects(old, new, delivery_location_id=5, staging_location_id=4)
    assert effect.release_held == (old.is_open and new.is_closed)
    assert effect.reopened == (old.is_closed and new.is_open)
    assert effect.move_held_to_location_id == (5 if new is S.DELIVERED and old is not new else None)


def test_delivering_moves_held_inventory_to_the_delivery_location() -> None:
    effect = status_change_effects(
        S.IN_PROGRESS, S.DELIVERED, delivery_location_id=5, staging_location_id=4
    )
    held = [
        KitHolding(1, 1, D(1), location_id=4),
        KitHolding(2, 1, D(2), location_id=None),
        KitHolding(3, 1, D(1), location_id=9, installed=True),  # on the build: stays
        KitHolding(4, 1, D(1), location_id=8, released=True),  # history: untouched
    ]
    after = apply_status_effect(effect, held)
    assert [h.location_id for h in after] == [5, 5, 9, 8]
    assert not any(h.released for h in after[:3])
    assert effect.current_location_id == 5
    assert effect.changes_inventory


def test_delivering_without_a_delivery_location_is_refused() -> None:
    with pytest.raises(BadInput) as exc:
        status_change_effects(
            S.IN_PROGRESS, S.DELIVERED, delivery_location_id=None, staging_location_id=4
        )
    assert exc.value.field == "deliveryLocationId"


@pytest.mark.parametrize("closed", sorted(CLOSED_STATUSES))
@pytest.mark.parametrize("old", sorted(OPEN_STATUSES))
def test_closing_releases_inventory_where_it_stands_and_keeps_the_links(
    old: PartKitStatus, closed: PartKitStatus
) -> None:
    effect = status_change_effects(old, closed, delivery_location_id=5, staging_location_id=4)
    held = [KitHolding(1, 1, D(1), 4), KitHolding(2, 1, D(3), 6, installed=True)]
    after = apply_status_effect(effect, held)
    assert [h.record_id for h in after] == [1, 2]  # the kit keeps what it held
    assert all(h.released for h in after)
    assert [h.location_id for h in after] == [4, 6]  # not moved
    assert effect.current_location_id is None


@pytest.mark.parametrize("new", sorted(OPEN_STATUSES))
def test_reopening_never_re_reserves_released_inventory(new: PartKitStatus) -> None:
    closed = apply_status_effect(
        status_change_effects(S.IN_PROGRESS, S.COMPLETED, delivery_location_id=5,
                              staging_location_id=None),
        [KitHolding(1, 1, D(2), 4)],
    )
    effect = status_change_effects(S.COMPLETED, new, delivery_location_id=5,
                                   staging_location_id=None)
    assert effect.reopened and not effect.release_held
    reopened = apply_status_effect(effect, closed)
    assert reopened[0].released
    assert reopened[0].location_id == 4  # released stock is not dragged to the delivery
    assert all(h.released for h in reopened)  # so the item holds nothing: issue it again


def test_a_delivered_kit_takes_its_inventory_to_a_new_delivery_location_only() -> None:
    same = status_change_effects(S.DELIVERED, S.DELIVERED, delivery_location_id=5,
                                 staging_location_id=4)
    assert not same.changes_inventory  # saving a delivered kit again moves nothing
    moved = status_change_effects(S.DELIVERED, S.DELIVERED, delivery_location_id=6,
                                  staging_location_id=4, delivery_changed=True)
    assert moved.move_held_to_location_id == 6 and moved.operation == LedgerOperation.KIT_DELIVER
    after = apply_status_effect(moved, [KitHolding(1, 1, D(1), 5),
                                        KitHolding(2, 1, D(1), 9, installed=True)])
    assert [h.location_id for h in after] == [6, 9]


@pytest.mark.parametrize("status", [S.DRAFT, S.REQUESTED, S.IN_PROGRESS])
def test_a_new_staging_location_stages_an_open_undelivered_kit(status: PartKitStatus) -> None:
    effect = status_change_effects(status, status, delivery_location_id=None,
                                   staging_location_id=4, staging_changed=True)
    assert effect.move_held_to_location_id == 4 and effect.operation == LedgerOperation.KIT_STAGE
    assert not effect.release_held
    after = apply_status_effect(effect, [KitHolding(1, 1, D(1), 8),
                                         KitHolding(2, 1, D(1), 9, installed=True)])
    assert [h.location_id for h in after] == [4, 9]  # installed stays put


def test_a_new_staging_location_does_not_move_delivered_or_closed_kits_or_to_nowhere() -> None:
    delivered = status_change_effects(S.DELIVERED, S.DELIVERED, delivery_location_id=5,
                                      staging_location_id=4, staging_changed=True)
    assert delivered.move_held_to_location_id is None
    closed = status_change_effects(S.IN_PROGRESS, S.CANCELED, delivery_location_id=5,
                                   staging_location_id=4, staging_changed=True)
    assert closed.move_held_to_location_id is None and closed.operation == LedgerOperation.KIT_RELEASE
    cleared = status_change_effects(S.IN_PROGRESS, S.IN_PROGRESS, delivery_location_id=None,
                                    staging_location_id=None, staging_changed=True)
    assert not cleared.changes_inventory


def test_delivering_and_staging_at_once_delivers() -> None:
    effect = status_change_effects(S.IN_PROGRESS, S.DELIVERED, delivery_location_id=5,
                                   staging_location_id=4, staging_changed=True)
    assert effect.move_held_to_location_id == 5 and effect.operation == LedgerOperation.KIT_DELIVER


def test_stage_moves_what_an_open_kit_holds_except_installed_and_already_there() -> None:
    records = [
        StageRecord(3, PartInventoryStatus.KITTED, 8),
        StageRecord(1, PartInventoryStatus.KITTED, None),
        StageRecord(2, PartInventoryStatus.INSTALLED, 9),
        StageRecord(4, PartInventoryStatus.KITTED, 4),  # already there
    ]
    assert plan_stage(S.IN_PROGRESS, records, 4) == (1, 3)


def test_stage_moves_only_what_a_closed_kit_released_that_is_still_stock() -> None:
    records = [
        StageRecord(1, PartInventoryStatus.AVAILABLE, 8),
        StageRecord(2, PartInventoryStatus.KITTED, 8),  # kitted to another kit since
        StageRecord(3, PartInventoryStatus.INSTALLED, 8),
        StageRecord(4, PartInventoryStatus.SCRAPPED, 8),
        StageRecord(5, PartInventoryStatus.UNAVAILABLE, 8),
    ]
    assert plan_stage(S.COMPLETED, records, 4) == (1, 5)


def test_closed_to_closed_changes_nothing() -> None:
    effect = status_change_effects(S.COMPLETED, S.CANCELED, delivery_location_id=5,
                                   staging_location_id=4)
    assert not effect.changes_inventory and not effect.reopened


def test_current_location() -> None:
    kw = {"staging_location_id": 4, "delivery_location_id": 5}
    assert current_location_id(S.DRAFT, **kw) == 4
    assert current_location_id(S.IN_PROGRESS, **kw) == 4
    assert current_location_id(S.DELIVERED, **kw) == 5
    assert current_location_id(S.CANCELED, **kw) is None
    assert current_location_id(S.REQUESTED, staging_location_id=None,
                               delivery_location_id=5) == 5


holdings_st = st.lists(
    st.builds(
        KitHolding,
        record_id=st.integers(1, 10_000),
        part_id=st.integers(1, 3),
        quantity=st.integers(0, 10**6).map(lambda n: D(n).scaleb(-3)),
        location_id=st.none() | st.integers(1, 5),
        installed=st.booleans(),
        released=st.booleans(),
    ),
    max_size=20,
)


@given(
    old=st.sampled_from(S),
    new=st.sampled_from(S),
    delivery=st.integers(1, 5),
    staging=st.none() | st.integers(1, 5),
    holdings=holdings_st,
    delivery_changed=st.booleans(),
    staging_changed=st.booleans(),
)
def test_status_effects_never_create_or_consume_quantity(
    old: PartKitStatus,
    new: PartKitStatus,
    delivery: int,
    staging: int | None,
    holdings: list[KitHolding],
    delivery_changed: bool,
    staging_changed: bool,
) -> None:
    effect = status_change_effects(old, new, delivery_location_id=delivery,
                                   staging_location_id=staging, delivery_changed=delivery_changed,
                                   staging_changed=staging_changed)
    after = apply_status_effect(effect, holdings)
    assert [(h.record_id, h.part_id, h.quantity, h.installed) for h in after] == [
        (h.record_id, h.part_id, h.quantity, h.installed) for h in holdings
    ]
    for before, now in zip(holdings, after, strict=True):
        assert now.released >= before.released  # nothing is ever re-reserved
        if before.released or before.installed:
            assert now.location_id == before.location_id  # history and builds stay put
        if before.released:
            assert now == before


# --------------------------------------------------------------------------- item quantities


def test_remaining_quantity_is_never_negative() -> None:
    assert remaining_quantity(D(3), D(2)) == 1
    assert remaining_quantity(D(3), D(4)) == 0


def test_an_item_cannot_be_lowered_below_what_it_holds() -> None:
    check_item_quantity(D(2), D(2))
    with pytest.raises(BadInput) as exc:
        check_item_quantity(D(1), D(2))
    assert exc.value.field == "quantity"
    with pytest.raises(BadInput):
        check_item_quantity(D(0), D(0))


# --------------------------------------------------------------------------- issue


def test_issue_a_serial_whole_and_start_the_kit() -> None:
    plan = plan_issue(record(tracking=SERIAL, quantity="1"), item(quantity="2"))
    assert plan.kind is PlanKind.MOVE_WHOLE
    assert (plan.quantity, plan.origin_keeps, plan.how_created) == (D(1), D(0), None)
    assert plan.kit_status_after is S.IN_PROGRESS
    assert plan.location_id == 100


def test_issue_part_of_a_lot_splits_it() -> None:
    plan = plan_issue(record(quantity="5"), item(quantity="3"), D(2))
    assert plan.kind is PlanKind.SPLIT
    assert (plan.quantity, plan.origin_keeps) == (D(2), D(3))
    assert plan.how_created is KitSplit.PARTIAL_KIT


def test_issue_without_quantity_takes_what_the_item_still_needs() -> None:
    plan = plan_issue(record(quantity="5"), item(quantity="3", kitted="1"))
    assert (plan.kind, plan.quantity, plan.origin_keeps) == (PlanKind.SPLIT, D(2), D(3))


def test_issue_without_quantity_takes_the_whole_record_when_it_is_smaller() -> None:
    plan = plan_issue(record(tracking=UNTRACKED, quantity="1.25"), item(quantity="3"))
    assert (plan.kind, plan.quantity, plan.origin_keeps) == (PlanKind.MOVE_WHOLE, D("1.25"), D(0))


def test_issue_exactly_the_record_moves_it_whole() -> None:
    plan = plan_issue(record(quantity="3"), item(quantity="3"), D(3))
    assert plan.kind is PlanKind.MOVE_WHOLE and plan.how_created is None


@pytest.mark.parametrize(
    "status", [s for s in PartInventoryStatus if s is not PartInventoryStatus.AVAILABLE]
)
def test_issue_refuses_a_record_that_is_not_available(status: PartInventoryStatus) -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(record(status=status), item())
    assert refused(exc) == {"partInventoryId"}


def test_issue_refuses_an_empty_record() -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(record(quantity="0"), item())
    assert "partInventoryId" in refused(exc)


def test_issue_refuses_more_than_the_item_still_needs() -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(record(quantity="5"), item(quantity="3", kitted="2"), D(2))
    assert refused(exc) == {"quantity"}
    assert "still needs (1)" in exc.value.message


def test_issue_refuses_an_item_that_is_already_full() -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(record(), item(quantity="3", kitted="3"))
    assert refused(exc) == {"partKitItemId"}


def test_issue_refuses_more_than_the_record_holds() -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(record(quantity="2"), item(quantity="9"), D(3))
    assert refused(exc) == {"quantity"}


@pytest.mark.parametrize("bad", ["0", "-1", "0.0000001", "NaN", "Infinity"])
def test_issue_refuses_a_bad_quantity(bad: str) -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(record(), item(), D(bad))
    assert refused(exc) == {"quantity"}


@pytest.mark.parametrize("q", ["2", "0.5"])
def test_issue_refuses_a_serial_quantity_other_than_one(q: str) -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(record(tracking=SERIAL, quantity="1"), item(quantity="3"), D(q))
    assert refused(exc) == {"quantity"}


def test_issue_refuses_a_serial_to_an_item_needing_less_than_one() -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(record(tracking=SERIAL, quantity="1"), item(quantity="0.5"))
    assert refused(exc) == {"quantity"}


def test_issue_refuses_another_part() -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(record(part_id=2, part_number="P-2"), item(), allow_other_revision=True)
    assert refused(exc) == {"partInventoryId"}


def test_issue_refuses_another_revision_by_default() -> None:
    other_rev = record(part_id=2, revision="B")
    with pytest.raises(BadInput) as exc:
        plan_issue(other_rev, item())
    assert refused(exc) == {"partInventoryId"}
    assert "another revision" in exc.value.message


def test_issue_accepts_another_revision_when_the_organisation_allows_it() -> None:
    plan = plan_issue(record(part_id=2, revision="B"), item(), D(1), allow_other_revision=True)
    assert plan.quantity == 1


@pytest.mark.parametrize("status", sorted(CLOSED_STATUSES))
def test_issue_refuses_a_closed_kit(status: PartKitStatus) -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(record(), item(kit_status=status), D(1))
    assert refused(exc) == {"partKitItemId"}


def test_issue_reports_every_reason_at_once() -> None:
    with pytest.raises(BadInput) as exc:
        plan_issue(
            record(part_id=2, part_number="P-2", status=PartInventoryStatus.KITTED),
            item(kit_status=S.CANCELED),
            D(-1),
        )
    assert len(exc.value.details) == 4
    assert refused(exc) == {"partInventoryId", "partKitItemId", "quantity"}


def test_issue_lands_at_the_staging_location_when_the_kit_has_one() -> None:
    plan = plan_issue(record(location_id=100), item(staging_location_id=4, delivery_location_id=5),
                      D(1))
    assert plan.location_id == 4
    explicit = plan_issue(record(), item(staging_location_id=4), D(1), location_id=6)
    assert explicit.location_id == 6  # the caller's location wins
    delivered = plan_issue(record(), item(kit_status=S.DELIVERED, staging_location_id=4,
                                          delivery_location_id=5), D(1), location_id=6)
    assert delivered.location_id == 6


def test_issue_location() -> None:
    kw = {"stands_at": 1, "staging_location_id": 4, "delivery_location_id": 5}
    assert issue_location(S.IN_PROGRESS, **kw) == 4
    assert issue_location(S.DELIVERED, **kw) == 5
    assert issue_location(S.DELIVERED, **kw, explicit=7) == 7
    assert issue_location(S.IN_PROGRESS, stands_at=1, staging_location_id=None,
                          delivery_location_id=5) == 1  # no staging location: stays
    assert issue_location(S.DELIVERED, stands_at=1, staging_location_id=4,
                          delivery_location_id=None) == 1


def test_issue_to_a_delivered_kit_lands_at_its_delivery_location() -> None:
    plan = plan_issue(record(), item(kit_status=S.DELIVERED, delivery_location_id=5), D(1))
    assert plan.location_id == 5 and plan.kit_status_after is S.DELIVERED


# --------------------------------------------------------------------------- unissue


def kitted(
    *,
    id: int = 20,
    tracking: TrackingType = LOT,
    quantity: str = "3",
    held_by: int | None = 7,
    installed: bool = False,
) -> UnissueRecord:
    return UnissueRecord(
        id=id, tracking=tracking, quantity=D(quantity), location_id=100,
        held_by_item_id=held_by, installed=installed,
    )


def test_unissue_whole_record() -> None:
    plan = plan_unissue(kitted(), UnissueItem(7, S.IN_PROGRESS))
    assert (plan.kind, plan.quantity, plan.kit_keeps) == (PlanKind.MOVE_WHOLE, D(3), D(0))
    assert plan.how_created is None and plan.location_id == 100


def test_unissue_part_of_a_lot_splits_it_back_to_stock() -> None:
    plan = plan_unissue(kitted(), UnissueItem(7, S.DELIVERED), D("1.5"), location_id=42)
    assert (plan.kind, plan.quantity, plan.kit_keeps) == (PlanKind.SPLIT, D("1.5"), D("1.5"))
    assert plan.how_created is KitSplit.PARTIAL_UNKIT
    assert plan.location_id == 42


def test_unissue_refuses_more_than_issued() -> None:
    with pytest.raises(BadInput) as exc:
        plan_unissue(kitted(), UnissueItem(7, S.IN_PROGRESS), D(4))
    assert refused(exc) == {"quantity"}


@pytest.mark.parametrize("bad", ["0", "-2", "0.0000001"])
def test_unissue_refuses_a_bad_quantity(bad: str) -> None:
    with pytest.raises(BadInput) as exc:
        plan_unissue(kitted(), UnissueItem(7, S.IN_PROGRESS), D(bad))
    assert refused(exc) == {"quantity"}


def test_unissue_a_serial_is_whole() -> None:
    rec = kitted(tracking=SERIAL, quantity="1")
    assert plan_unissue(rec, UnissueItem(7, S.IN_PROGRESS), D(1)).kind is PlanKind.MOVE_WHOLE
    with pytest.raises(BadInput) as exc:
        plan_unissue(rec, UnissueItem(7, S.IN_PROGRESS), D("0.5"))
    assert refused(exc) == {"quantity"}


@pytest.mark.parametrize("held_by", [None, 8])
def test_unissue_refuses_a_record_this_item_does_not_hold(held_by: int | None) -> None:
    with pytest.raises(BadInput) as exc:
        plan_unissue(kitted(held_by=held_by), UnissueItem(7, S.IN_PROGRESS))
    assert refused(exc) == {"partInventoryId"}


def test_unissue_refuses_a_closed_kit() -> None:
    with pytest.raises(BadInput) as exc:
        plan_unissue(kitted(), UnissueItem(7, S.COMPLETED))
    assert refused(exc) == {"partKitItemId"}


@pytest.mark.parametrize("quantity", [None, D(1), D(3)])
@pytest.mark.parametrize("kit_status", [S.DRAFT, S.REQUESTED, S.IN_PROGRESS, S.DELIVERED])
def test_unissue_refuses_an_installed_record(quantity: Decimal | None, kit_status: PartKitStatus) -> None:
    """Whole or in part, at any open status: an installed record is uninstalled first."""
    with pytest.raises(BadInput) as exc:
        plan_unissue(kitted(installed=True), UnissueItem(7, kit_status), quantity, location_id=42)
    assert refused(exc) == {"partInventoryId"}
    assert "inventory 20 is installed; uninstall it first" in exc.value.message


# A tiny in-memory store applying plans the way the service will, to check round trips.


@dataclass
class Rec:
    quantity: Decimal
    held_by: int | None = None
    how_created: str = "CREATED"


@dataclass
class Store:
    records: dict[int, Rec] = field(default_factory=dict)
    next_id: int = 1000

    def add(self, rec: Rec) -> int:
        self.next_id += 1
        self.records[self.next_id] = rec
        return self.next_id

    def kitted(self, item_id: int) -> Decimal:
        return sum(
            (r.quantity for r in self.records.values() if r.held_by == item_id), D(0)
        )

    def stock(self) -> Decimal:
        return sum((r.quantity for r in self.records.values() if r.held_by is None), D(0))

    def total(self) -> Decimal:
        return sum((r.quantity for r in self.records.values()), D(0))

    def issue(self, rid: int, item_id: int, requested: Decimal, q: Decimal | None) -> None:
        rec = self.records[rid]
        status = (
            PartInventoryStatus.KITTED if rec.held_by is not None
            else PartInventoryStatus.AVAILABLE if rec.quantity > 0
            else PartInventoryStatus.UNAVAILABLE
        )
        plan = plan_issue(
            record(id=rid, quantity=rec.quantity, status=status),
            item(id=item_id, quantity=requested, kitted=self.kitted(item_id),
                 kit_status=S.IN_PROGRESS),
            q,
        )
        if plan.kind is PlanKind.MOVE_WHOLE:
            rec.held_by = item_id
        else:
            rec.quantity = plan.origin_keeps
            self.add(Rec(plan.quantity, item_id, KitSplit.PARTIAL_KIT))

    def unissue(self, rid: int, item_id: int, q: Decimal | None) -> None:
        rec = self.records[rid]
        plan = plan_unissue(
            UnissueRecord(rid, LOT, rec.quantity, 100, rec.held_by),
            UnissueItem(item_id, S.IN_PROGRESS),
            q,
        )
        if plan.kind is PlanKind.MOVE_WHOLE:
            rec.held_by = None
        else:
            rec.quantity = plan.kit_keeps
            self.add(Rec(plan.quantity, None, KitSplit.PARTIAL_UNKIT))


def test_issuing_a_tenth_three_times_from_three_tenths_leaves_exactly_zero() -> None:
    store = Store()
    lot = store.add(Rec(D("0.3")))
    for _ in range(3):
        store.issue(lot, 7, D("0.3"), D("0.1"))
    assert store.stock() == 0
    assert store.kitted(7) == D("0.3")
    assert store.records[lot].quantity == D("0.1") and store.records[lot].held_by == 7
    with pytest.raises(BadInput):  # the item is full: nothing more goes in
        store.issue(store.add(Rec(D(1))), 7, D("0.3"), D("0.1"))


qty = st.integers(1, 10_000).map(lambda n: D(n).scaleb(-3))


@given(
    start=qty,
    requested=qty,
    issues=st.lists(st.none() | qty, min_size=1, max_size=8),
    returns=st.lists(st.none() | qty, max_size=8),
)
def test_issue_then_unissue_restores_quantities_exactly(
    start: Decimal, requested: Decimal, issues: list[Decimal | None],
    returns: list[Decimal | None],
) -> None:
    store = Store()
    lot = store.add(Rec(start))
    for q in issues:
        source = lot if store.records[lot].held_by is None else None
        if source is None:
            break
        with contextlib.suppress(BadInput):  # a refusal changes nothing
            store.issue(source, 7, requested, q)
        assert store.total() == start
        assert store.kitted(7) <= requested
    for q in returns:
        held = [rid for rid, r in store.records.items() if r.held_by == 7]
        if not held:
            break
        with contextlib.suppress(BadInput):
            store.unissue(held[0], 7, q)
        assert store.total() == start
    for rid in [rid for rid, r in store.records.items() if r.held_by == 7]:
        store.unissue(rid, 7, None)
    assert store.stock() == start
    assert store.kitted(7) == 0
    assert all(r.quantity >= 0 for r in store.records.values())


# --------------------------------------------------------------------------- fulfilment


def cand(
    rid: int, part: int, q: str, created: int, tracking: TrackingType = LOT,
    expires: date | None = None,
) -> Candidate:
    return Candidate(rid, part, tracking, D(q), day(created), f"L-{rid}", expires)


def test_fifo_is_a_strategy() -> None:
    strategy: FulfilmentStrategy = FIFO
    assert strategy.name == "FIFO" and isinstance(FIFO, FifoStrategy)


def test_fulfil_takes_the_oldest_first_across_the_whole_kit() -> None:
    lines = [OpenLine(1, 1, D(3)), OpenLine(2, 1, D(4))]
    cands = [cand(30, 1, "10", created=3), cand(10, 1, "5", created=1),
             cand(20, 1, "1", created=2)]
    plan = plan_fulfilment(lines, cands, FIFO)
    assert plan.allocations == (
        Allocation(1, 10, D(3), split=True),
        Allocation(2, 10, D(2), split=False),  # the leftover of the lot split for line 1
        Allocation(2, 20, D(1), split=False),
        Allocation(2, 30, D(1), split=True),
    )
    assert plan.shortages == ()


def test_fulfil_breaks_created_at_ties_by_id() -> None:
    plan = plan_fulfilment([OpenLine(1, 1, D(1))], [cand(9, 1, "1", 0), cand(3, 1, "1", 0)])
    assert plan.allocations[0].record_id == 3


def test_fulfil_gives_serials_whole_and_never_twice() -> None:
    lines = [OpenLine(1, 1, D(2)), OpenLine(2, 1, D(2))]
    cands = [cand(i, 1, "1", i, SERIAL) for i in range(1, 4)]
    plan = plan_fulfilment(lines, cands)
    assert [(a.item_id, a.record_id, a.quantity, a.split) for a in plan.allocations] == [
        (1, 1, D(1), False), (1, 2, D(1), False), (2, 3, D(1), False)
    ]
    assert plan.shortages == (Shortage(2, 1, D(1)),)


def test_fulfil_does_not_put_a_serial_in_a_line_needing_less_than_one() -> None:
    lines = [OpenLine(1, 1, D("0.5")), OpenLine(2, 1, D(1))]
    plan = plan_fulfilment(lines, [cand(1, 1, "1", 0, SERIAL)])
    assert plan.allocations == (Allocation(2, 1, D(1), split=False),)
    assert plan.shortages == (Shortage(1, 1, D("0.5")),)


def test_fulfil_is_partial_and_reports_shortages_per_item() -> None:
    lines = [OpenLine(1, 1, D(5)), OpenLine(2, 2, D(2)), OpenLine(3, 3, D(0))]
    plan = plan_fulfilment(lines, [cand(1, 1, "2", 0), cand(2, 9, "9", 0),
                                   cand(3, 1, "0", -1)])
    assert plan.allocations == (Allocation(1, 1, D(2), split=False),)
    assert plan.shortages == (Shortage(1, 1, D(3)), Shortage(2, 2, D(2)))


def test_fulfil_refuses_a_candidate_given_twice() -> None:
    with pytest.raises(ValueError):
        plan_fulfilment([OpenLine(1, 1, D(1))], [cand(1, 1, "1", 0), cand(1, 1, "1", 1)])


def test_fefo_takes_the_first_expiring_first_and_undated_last() -> None:
    cands = [
        cand(1, 1, "1", 0),  # oldest, no expiry: last
        cand(2, 1, "1", 5, expires=date(2030, 6, 1)),
        cand(3, 1, "1", 9, expires=date(2030, 1, 1)),
        cand(4, 1, "1", 1, expires=date(2020, 1, 1)),  # expired
    ]
    plan = plan_fulfilment([OpenLine(1, 1, D(4))], cands, FefoStrategy())
    # Expiry orders, it does not filter: the expired record goes first.
    assert [a.record_id for a in plan.allocations] == [4, 3, 2, 1]


def test_fefo_and_fifo_side_by_side_per_part() -> None:
    cands = [
        cand(1, 1, "1", 0),  # oldest, no expiry
        cand(2, 1, "1", 5, expires=date(2030, 6, 1)),
        cand(3, 1, "1", 9, expires=date(2030, 1, 1)),
        cand(11, 2, "1", 0),
        cand(12, 2, "1", 5, expires=date(2030, 6, 1)),
        cand(13, 2, "1", 9, expires=date(2030, 1, 1)),
    ]
    lines = [OpenLine(1, 1, D(2)), OpenLine(2, 2, D(2))]
    orders = {1: FulfilmentOrder.FIFO.strategy, 2: FulfilmentOrder.FEFO.strategy}
    plan = plan_fulfilment(lines, cands, orders)
    assert [a.record_id for a in plan.allocations] == [1, 2, 13, 12]
    assert plan_fulfilment(lines, cands, {})  == plan_fulfilment(lines, cands, FIFO)
    assert FulfilmentOrder("FEFO").strategy is FEFO


def test_fulfil_for_a_kit_says_where_records_go_and_which_status_follows() -> None:
    cands = [Candidate(1, 1, LOT, D(5), day(0), location_id=100),
             Candidate(2, 2, SERIAL, D(1), day(0), location_id=101)]
    lines = [OpenLine(1, 1, D(2)), OpenLine(2, 2, D(1))]
    staged = plan_fulfilment(lines, cands, kit=KitPlace(S.REQUESTED, staging_location_id=4))
    assert staged.kit_status_after is S.IN_PROGRESS
    assert [(a.location_id, a.kind, a.how_created) for a in staged.allocations] == [
        (4, PlanKind.SPLIT, KitSplit.PARTIAL_KIT), (4, PlanKind.MOVE_WHOLE, None)]
    delivered = plan_fulfilment(lines, cands, kit=KitPlace(S.DELIVERED, 4, 5))
    assert [a.location_id for a in delivered.allocations] == [5, 5]
    assert delivered.kit_status_after is S.DELIVERED
    in_place = plan_fulfilment(lines, cands, kit=KitPlace(S.DRAFT))
    assert [a.location_id for a in in_place.allocations] == [100, 101]
    nothing = plan_fulfilment(lines, [], kit=KitPlace(S.DRAFT))
    assert nothing.kit_status_after is S.DRAFT  # nothing issued: the kit does not start


@pytest.mark.parametrize("status", sorted(CLOSED_STATUSES))
def test_fulfil_refuses_a_closed_kit(status: PartKitStatus) -> None:
    with pytest.raises(BadInput) as exc:
        plan_fulfilment([OpenLine(1, 1, D(1))], [cand(1, 1, "1", 0)], kit=KitPlace(status))
    assert exc.value.field == "id" and status.value in exc.value.message


@st.composite
def fulfilment_case(draw: st.DrawFn) -> tuple[list[OpenLine], list[Candidate]]:
    parts = draw(st.lists(st.sampled_from([SERIAL, LOT, UNTRACKED]), min_size=1, max_size=3))
    lines = [
        OpenLine(i, draw(st.integers(0, len(parts) - 1)),
                 D(draw(st.integers(0, 5000))) / 100)
        for i in range(draw(st.integers(0, 6)))
    ]
    cands = []
    for rid in range(draw(st.integers(0, 12))):
        part = draw(st.integers(0, len(parts) - 1))
        tracking = parts[part]
        q = (D(draw(st.integers(0, 1))) if tracking is SERIAL
             else D(draw(st.integers(0, 3000))) / 100)
        # Every field of Candidate varies: expiry (FEFO orders by it) and location included.
        expires = draw(st.none() | st.dates(date(2030, 1, 1), date(2030, 1, 5)))
        where = draw(st.sampled_from([None, "A-2", "A-10"]))
        cands.append(Candidate(rid, part, tracking, q, day(draw(st.integers(0, 5))), where, expires))
    return lines, cands


@settings(max_examples=300)
@given(case=fulfilment_case(), fefo=st.booleans(),
       kit_status=st.none() | st.sampled_from(sorted(OPEN_STATUSES)))
def test_fulfilment_properties(
    case: tuple[list[OpenLine], list[Candidate]], fefo: bool, kit_status: PartKitStatus | None,
) -> None:
    lines, cands = case
    strategy: FulfilmentStrategy = FefoStrategy() if fefo else FIFO
    kit = None if kit_status is None else KitPlace(kit_status, 4, 5)
    plan = plan_fulfilment(lines, cands, strategy, kit=kit)
    if kit is not None:
        assert plan.kit_status_after == (status_after_issue(kit.status) if plan.allocations
                                         else kit.status)
    by_id = {c.record_id: c for c in cands}
    used: dict[int, Decimal] = {}
    got: dict[int, Decimal] = {}
    left = {c.record_id: c.quantity for c in cands}
    for a in plan.allocations:
        c = by_id[a.record_id]
        line = next(ln for ln in lines if ln.item_id == a.item_id)
        assert c.part_id == line.part_id
        assert a.quantity > 0
        assert a.split == (a.quantity < left[a.record_id])  # valid when applied in order
        left[a.record_id] -= a.quantity
        used[a.record_id] = used.get(a.record_id, D(0)) + a.quantity
        got[a.item_id] = got.get(a.item_id, D(0)) + a.quantity
        if c.tracking is SERIAL:
            assert a.quantity == 1 and not a.split
    serial_uses = [a.record_id for a in plan.allocations if by_id[a.record_id].tracking is SERIAL]
    assert len(serial_uses) == len(set(serial_uses))
    for rid, q in used.items():
        assert q <= by_id[rid].quantity  # never more than a record holds
    short = {s.item_id: s.quantity for s in plan.shortages}
    for line in lines:
        assert got.get(line.item_id, D(0)) <= max(line.remaining, D(0))
        if line.remaining > 0:
            assert got.get(line.item_id, D(0)) + short.get(line.item_id, D(0)) == line.remaining
    # in strategy order: no record used while an earlier one of the same part has quantity left
    for a in plan.allocations:
        younger = by_id[a.record_id]
        for older in cands:
            if older.part_id == younger.part_id and strategy.key(older) < strategy.key(younger):
                assert left[older.record_id] == 0


# --------------------------------------------------------------------------- pick list


def test_natural_key() -> None:
    assert natural_key("A-2") < natural_key("A-10")
    assert natural_key("a-3") < natural_key("B-1")
    assert natural_key("Rack 9 / Shelf 2") < natural_key("Rack 10 / Shelf 1")


def test_pick_path_order() -> None:
    def pl(rid: int, part: str, loc: str | None) -> PickLine:
        return PickLine(rid, part, loc, D(1))

    lines = [
        pl(1, "P-1", None), pl(2, "P-2", "A-10"), pl(3, "P-1", "A-2"), pl(4, "P-10", "A-2"),
        pl(5, "P-9", "A-2"), pl(7, "P-1", "A-2"), pl(6, "P-1", "A-2"), pl(8, "X", "a-1"),
    ]
    assert [line.record_id for line in pick_path_order(lines)] == [8, 3, 6, 7, 5, 4, 2, 1]


# --------------------------------------------------------------------------- shortage report


def demand(kit_id: int, created: int, lines: list[OpenLine], priority: int | None = None,
           status: PartKitStatus = S.REQUESTED) -> KitDemand:
    return KitDemand(kit_id, status, day(created), lines, priority)


def test_shortage_report_in_priority_order_from_what_is_left() -> None:
    kits = [
        demand(1, 0, [OpenLine(11, 1, D(4)), OpenLine(12, 2, D(1))]),
        demand(2, 5, [OpenLine(21, 1, D(3))], priority=1),
        demand(3, 1, [OpenLine(31, 1, D(1))], status=S.IN_PROGRESS),
        demand(4, 0, [OpenLine(41, 1, D(9))], status=S.DRAFT),  # not requested yet
        demand(5, 0, [OpenLine(51, 1, D(9))], status=S.DELIVERED),
    ]
    report = shortage_report(kits, {1: D(6), 2: D(5)})
    assert [k.kit_id for k in report.kits] == [2, 1, 3]
    k2, k1, k3 = report.kits
    assert k2.can_fulfil_now and k2.lines[0].fulfillable == 3
    assert not k1.can_fulfil_now
    assert (k1.lines[0].fulfillable, k1.lines[0].missing) == (D(3), D(1))
    assert k1.missing_by_part == {1: D(1)}
    assert (k3.lines[0].fulfillable, k3.lines[0].missing) == (D(0), D(1))
    assert report.missing_by_part == {1: D(2)}
    assert report.stock_left == {1: D(0), 2: D(4)}


def test_shortage_report_orders_priorities_ascending_then_creation() -> None:
    kits = [demand(1, 3, []), demand(2, 1, []), demand(3, 9, [], priority=2),
            demand(4, 9, [], priority=1)]
    assert [k.kit_id for k in shortage_report(kits, {}).kits] == [4, 3, 2, 1]


@given(
    kits=st.lists(
        st.builds(
            demand,
            kit_id=st.integers(1, 50),
            created=st.integers(0, 9),
            lines=st.lists(st.builds(OpenLine, st.integers(1, 99), st.integers(1, 3), qty),
                           max_size=4),
            priority=st.none() | st.integers(1, 3),
            status=st.sampled_from(S),
        ),
        max_size=6,
    ),
    stock=st.dictionaries(st.integers(1, 3), qty),
)
def test_shortage_report_conserves_stock(
    kits: list[KitDemand], stock: dict[int, Decimal]
) -> None:
    report = shortage_report(kits, stock)
    taken: dict[int, Decimal] = {}
    for kit in report.kits:
        for line in kit.lines:
            assert line.fulfillable + line.missing == line.needed
            assert line.fulfillable >= 0 and line.missing >= 0
            taken[line.part_id] = taken.get(line.part_id, D(0)) + line.fulfillable
    for part, q in stock.items():
        assert taken.get(part, D(0)) + report.stock_left[part] == q
        assert report.stock_left[part] >= 0
