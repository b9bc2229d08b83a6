"""``may_come_first``: the quick test that spares reading a story's texts when a copy joins
it (:meth:`~feeds.store.sql.copies.CopyTable.story_id_with`) never says a copy that is the
story's first copy cannot be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from feeds.core.dedupe import CopyInfo, first_copy, may_come_first

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

copies = st.builds(
    CopyInfo,
    source=st.sampled_from(["a", "b", "c"]),
    published=st.sampled_from([T0, T0 + timedelta(minutes=5), T0 - timedelta(hours=1)]),
    first_seen=st.sampled_from([T0, T0 + timedelta(hours=2)]),
    words=st.integers(0, 60),
    order=st.just(0),
    title=st.sampled_from(["Fed adds reserves", "CORRECTED - Fed adds reserves", "UPDATE 1-Fed"]),
    key=st.sampled_from(["k1", "k2", "k3"]),
)


@given(st.lists(copies, min_size=1, max_size=6), copies)
def test_a_copy_that_cannot_come_first_is_not_the_first_copy(
    stored: list[CopyInfo], joining: CopyInfo
) -> None:
    first = first_copy([*stored, joining]) == len(stored)
    assert may_come_first(stored, joining) or not first


def test_the_test_tells_by_first_seen_version_and_date() -> None:
    wire = CopyInfo("wire", T0, T0, words=40, order=0, title="Fed adds reserves", key="w")
    earlier = CopyInfo("blog", T0 - timedelta(hours=1), T0, words=10, order=0, key="b")
    correction = CopyInfo("blog", T0, T0, words=10, order=0, title="CORRECTED - Fed", key="c")
    later_seen = CopyInfo("blog", T0 - timedelta(hours=1), T0 + timedelta(hours=1), 5, 0)
    assert may_come_first([wire], earlier) and first_copy([wire, earlier]) == 1
    assert not may_come_first([earlier], wire)
    assert not may_come_first([wire], correction)
    assert not may_come_first([wire], later_seen)
    assert may_come_first([correction], wire)
