"""Issue by scan: which record and item a scanned code means, and plain refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain.errors import BadInput
from kitwright.domain.scan import ScanItem, ScannedRecord, ScanTarget, choose_scan_target, clean_code
from kitwright.domain.status import PartInventoryStatus as S

ITEMS = [ScanItem(10, 1, "FC-100", Decimal(0)), ScanItem(11, 1, "FC-100", Decimal(2)),
         ScanItem(12, 2, "BOLT", Decimal(40))]


def test_clean_code_strips_scanner_noise_and_refuses_empty_or_control_text() -> None:
    assert clean_code("  FC-0001\r\n") == "FC-0001"
    for bad in ("", "   ", None, 12, "A\x00B", "x" * 201):
        with pytest.raises(BadInput) as error:
            clean_code(bad)
        assert error.value.field == "code"


def test_unknown_code_is_refused_in_words() -> None:
    with pytest.raises(BadInput, match="Nothing carries the serial or lot number “X-1”"):
        choose_scan_target("X-1", [], ITEMS)


def test_a_part_the_kit_does_not_ask_for_is_refused_naming_the_part() -> None:
    with pytest.raises(BadInput, match="“SN-1” is IMU-7; this kit does not ask for that part"):
        choose_scan_target("SN-1", [ScannedRecord(5, 9, "IMU-7", S.AVAILABLE)], ITEMS)


def test_the_first_item_still_needing_the_part_gets_the_record() -> None:
    assert choose_scan_target("FC-1", [ScannedRecord(5, 1, "FC-100", S.AVAILABLE)], ITEMS) == ScanTarget(5, 11)


def test_a_full_item_is_still_chosen_so_the_issue_rules_can_say_why() -> None:
    items = [ScanItem(10, 1, "FC-100", Decimal(0))]
    assert choose_scan_target("FC-1", [ScannedRecord(5, 1, "FC-100", S.AVAILABLE)], items) == ScanTarget(5, 10)


def test_an_available_record_is_preferred_over_a_kitted_one_with_the_same_lot() -> None:
    records = [ScannedRecord(3, 2, "BOLT", S.KITTED), ScannedRecord(8, 2, "BOLT", S.AVAILABLE),
               ScannedRecord(4, 9, "OTHER", S.AVAILABLE)]
    assert choose_scan_target("L-1", records, ITEMS) == ScanTarget(8, 12)


statuses = st.sampled_from(list(S))


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 3), statuses), min_size=1, max_size=8,
                unique_by=lambda r: r[0]))
def test_the_choice_is_always_a_wanted_part_and_an_item_of_that_part(rows: list[tuple[int, int, S]]) -> None:
    records = [ScannedRecord(rid, part, f"P{part}", status) for rid, part, status in rows]
    try:
        target = choose_scan_target("C", records, ITEMS)
    except BadInput:
        assert all(r.part_id not in (1, 2) for r in records)
        return
    chosen = next(r for r in records if r.record_id == target.record_id)
    item = next(i for i in ITEMS if i.item_id == target.item_id)
    assert chosen.part_id == item.part_id
    wanted = [r for r in records if r.part_id in (1, 2)]
    if any(r.status is S.AVAILABLE for r in wanted):
        assert chosen.status is S.AVAILABLE
