"""Key/value attributes (domain.attributes) and the rule that kit parts hold no stock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitwright.domain.attributes import MAX_KEYS, normalize_attributes
from kitwright.domain.errors import BadInput
from kitwright.domain.kit_definitions import check_holds_stock, check_may_become_kit


def test_attributes_are_trimmed_and_typed() -> None:
    assert normalize_attributes([(" Approved ", "yes", None), ("Sheet", "https://x/y.pdf", "file_attachment")]) == [
        {"key": "Approved", "value": "yes", "type": "TEXT"},
        {"key": "Sheet", "value": "https://x/y.pdf", "type": "FILE_ATTACHMENT"},
    ]
    assert normalize_attributes([("Empty", "  ", "")]) == [{"key": "Empty", "value": None, "type": "TEXT"}]


def test_every_bad_attribute_is_named_at_once() -> None:
    with pytest.raises(BadInput) as caught:
        normalize_attributes([("k", 1, None), ("", "v", None), ("K", "v", None), ("k2", "v", "two words"),
                              ("k3", "\x00", None)])
    fields = [p.field for p in caught.value.details]
    assert fields == ["attributes[0].value", "attributes[1].key", "attributes[3].type", "attributes[4].value"]


def test_a_key_given_twice_is_refused_whatever_its_case() -> None:
    with pytest.raises(BadInput) as caught:
        normalize_attributes([("Approved", "1", None), ("APPROVED", "0", None)])
    assert caught.value.field == "attributes[1].key"


def test_too_many_attributes() -> None:
    with pytest.raises(BadInput, match=str(MAX_KEYS)):
        normalize_attributes([(f"k{i}", "v", None) for i in range(MAX_KEYS + 1)])


@given(st.lists(st.tuples(st.text(min_size=1, max_size=20), st.one_of(st.none(), st.text(max_size=30)),
                          st.sampled_from([None, "TEXT", "numeric", "FILE_ATTACHMENT"])), max_size=20))
def test_accepted_attributes_have_unique_keys_and_normalise_to_themselves(items: list[tuple[str, str | None, str | None]]) -> None:
    try:
        result = normalize_attributes(list(items))
    except BadInput:
        return
    keys = [a["key"] for a in result]
    assert len({k.casefold() for k in keys if k}) == len(keys) == len(items)
    assert normalize_attributes([(a["key"], a["value"], a["type"]) for a in result]) == result


def test_a_kit_part_holds_no_stock() -> None:
    check_holds_stock("TABLE-OAK", False)
    with pytest.raises(BadInput) as caught:
        check_holds_stock("DINING-SET", True)
    assert caught.value.field == "partId" and "DINING-SET" in caught.value.message


def test_a_part_with_stock_cannot_become_a_kit() -> None:
    check_may_become_kit("CABLE-24", False)
    with pytest.raises(BadInput) as caught:
        check_may_become_kit("CABLE-24", True)
    assert caught.value.field == "components"
