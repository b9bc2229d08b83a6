"""The hash behind signatures and lead keys is the same on every Python."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.core import dedupe, near, tuplehash
from feeds.core.tuplehash import portable_tuple_hash

LEAD = (
    "LONDON (Reuters) - The company said on Tuesday that its quarterly profit rose sharply as"
    " sales of its new products grew in every region and costs fell, beating the forecasts of"
    " analysts polled before the results were published"
)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((), 5740354900026072187),
        ((1, 2, 3), 529344067295497451),
        ((0x1EAD, 4294967295, 17), 8698068133807053528),
    ],
)
def test_the_hash_is_defined_by_its_numbers_not_by_the_interpreter(
    values: tuple[int, ...], expected: int
) -> None:
    assert portable_tuple_hash(values) == expected


@given(st.lists(st.integers(0, 2**32 - 1), max_size=8).map(tuple))
def test_the_hash_in_use_is_the_definition(values: tuple[int, ...]) -> None:
    assert tuplehash.tuple_hash(values) == portable_tuple_hash(values)


def test_a_python_whose_hash_differs_uses_the_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tuplehash, "hash", lambda value: 0, raising=False)
    assert tuplehash._choose() is portable_tuple_hash


def test_lead_keys_and_signatures_are_the_same_through_the_definition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected_leads = (
        1848439178837750562,
        1923084847500394503,
        -5325201503569495173,
        46799562744255984,
    )
    fast = dedupe.signature(LEAD)
    assert dedupe.lead_buckets(LEAD) == expected_leads
    monkeypatch.setattr(near, "tuple_hash", portable_tuple_hash)
    near._LEADS.clear()
    try:
        assert dedupe.lead_buckets(LEAD) == expected_leads
        assert dedupe.signature(LEAD) == fast
    finally:
        near._LEADS.clear()


def test_a_value_past_the_hash_modulus_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        portable_tuple_hash((2**61 - 1,))
