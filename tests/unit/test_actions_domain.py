"""Actions in CEL (domain.actions): compile-time refusals, run-time failures that block, the
time bound, and conditions agreeing with Python on generated values."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain import actions
from kitwright.domain.actions import Change, CompiledRule
from kitwright.domain.errors import BadInput

USER = {"id": 7, "name": "alice", "role": "requester"}


def rule(code: str, *, id: int = 1, event: str = "CREATE", severity: str = "BLOCK",
         message: str | None = None) -> CompiledRule:
    return CompiledRule(id, f"rule {id}", "PARTKITITEM", event, severity, message,
                        actions.compile_condition(code))


@pytest.mark.parametrize(("code", "needle"), [
    ("", "non-empty"),
    ("new.quantity >", "does not compile"),
    ("x" * (actions.MAX_CODE + 1), "longer"),
    ("[1].all(a, [2].all(b, [3].exists(c, c > a)))", "comprehension"),
    (None, "non-empty"),
])
def test_bad_conditions_are_refused_when_saved(code: object, needle: str) -> None:
    with pytest.raises(BadInput, match=needle) as caught:
        actions.compile_condition(code)
    assert caught.value.field == "code"


def test_true_trips_false_passes_and_sees_old_new_user() -> None:
    rules = [
        rule('new.part.partNumber.startsWith("CAPA")', id=1, message="no CAPA parts in kits"),
        rule("old != null && new.quantity < old.quantity", id=2, event="UPDATE"),
        rule('user.role == "viewer"', id=3),
    ]
    create = Change("CREATE", None, {"quantity": Decimal(2), "part": {"partNumber": "CAPA-9"}}, row=4)
    fine = Change("CREATE", None, {"quantity": Decimal(2), "part": {"partNumber": "BOLT"}})
    lower = Change("UPDATE", {"quantity": Decimal(5)}, {"quantity": Decimal("4.5")})
    trips = actions.evaluate(rules, "PARTKITITEM", [create, fine, lower], USER)
    assert [(t.rule.id, t.change.row, t.message, t.blocked) for t in trips] == [
        (1, 4, "no CAPA parts in kits", True), (2, None, "rule 2", True),
    ]
    assert actions.evaluate(rules, "PARTINVENTORY", [create], USER) == []


def test_run_time_failures_block_with_a_clear_message() -> None:
    rules = [rule("new.missing > 1", id=5), rule("new.quantity", id=6), rule("1 / 0 == 1", id=7)]
    trips = actions.evaluate(rules, "PARTKITITEM", [Change("CREATE", None, {"quantity": 1})], USER)
    assert [t.blocked for t in trips] == [True, True, True]
    assert "action 5 (rule 5) failed to run" in trips[0].message
    assert "must give true or false" in trips[1].message


def test_warn_rules_do_not_block() -> None:
    trips = actions.evaluate([rule("true", severity="WARN")], "PARTKITITEM",
                             [Change("CREATE", None, {})], USER)
    assert len(trips) == 1 and not trips[0].blocked
    actions.raise_blocking(trips)  # nothing to raise


def test_time_budget_blocks_instead_of_running_on() -> None:
    changes = [Change("CREATE", None, {"quantity": n}) for n in range(1000)]
    trips = actions.evaluate([rule("new.quantity < 0")], "PARTKITITEM", changes, USER, budget_seconds=0.0)
    assert trips and trips[-1].blocked and "longer than" in trips[-1].message


def test_raise_blocking_names_each_row() -> None:
    trips = actions.evaluate([rule("true", message="never")], "PARTKITITEM",
                             [Change("CREATE", None, {}, row=2), Change("CREATE", None, {}, row=9)], USER)
    with pytest.raises(BadInput) as caught:
        actions.raise_blocking(trips)
    assert [(p.row, p.message) for p in caught.value.details] == [(2, "never"), (9, "never")]


@given(quantity=st.decimals(min_value=-10**6, max_value=10**6, places=3, allow_nan=False),
       limit=st.integers(min_value=-10**6, max_value=10**6))
def test_conditions_agree_with_python(quantity: Decimal, limit: int) -> None:
    trips = actions.evaluate([rule(f"new.quantity > {limit}.0")], "PARTKITITEM",
                             [Change("CREATE", None, {"quantity": quantity})], USER)
    assert bool(trips) == (quantity > limit)
