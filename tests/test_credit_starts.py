"""``near._may_hold_credit`` says what the eight substring searches it stands for said:
whether a text holds one of ``_CREDIT_STARTS`` (then ``signed_text`` looks for credits)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core import near

_PIECES = st.sampled_from(
    [*near._CREDIT_STARTS, "(", "This ", "This", "Read the", "The post", "Thi", " ", "a", "é"]
    + [start[:-1] for start in near._CREDIT_STARTS]
)
_TEXTS = st.lists(_PIECES, max_size=12).map("".join)


def _old(text: str) -> bool:
    return any(start in text for start in near._CREDIT_STARTS)


@settings(max_examples=2000)
@given(_TEXTS)
def test_may_hold_credit_as_before(text: str) -> None:
    assert near._may_hold_credit(text) is _old(text)


def test_may_hold_credit_each_start() -> None:
    for start in near._CREDIT_STARTS:
        assert near._may_hold_credit(f"x {start} y")
        assert not near._may_hold_credit(f"x {start[:-1]}")
    assert not near._may_hold_credit("")
