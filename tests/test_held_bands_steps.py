"""The held LSH rows' bookkeeping (feeds/store/sqlite/held_bands.py) step by step against the
plain loops it replaced: every program of adds, takes, savepoints, rollbacks and drops gives
the same rows, in the same order, held and present alike."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.store.sqlite import held_bands
from feeds.store.sqlite.held_bands import HeldBands


class PlainHeldBands(HeldBands):
    """``add`` and ``take`` as they were: a Python step per row."""

    def add(self, rows: Iterable[tuple[int, int]]) -> None:
        for bucket, copy in rows:
            self._before.append(self._held.get(bucket, -1))
            self._held[bucket] = len(self._buckets)
            self._buckets.append(bucket)
            self._copies.append(copy)
            self._inserted.append(0)
            self._count += 1

    def take(self, buckets: Iterable[int] | None = None) -> Iterator[tuple[int, int]] | None:
        if buckets is None:
            positions = [p for p, inserted in enumerate(self._inserted) if not inserted]
            self._held = {}
        else:
            held = self._held
            last = [held.pop(bucket) for bucket in set(buckets) if bucket in held]
            if not last:
                return None
            positions = [p for position in last for p in self._chain(position)]
        if not positions:
            return None
        self._insertions += 1
        for position in positions:
            self._inserted[position] = self._insertions
        self._count -= len(positions)
        keys, copies = self._buckets, self._copies
        positions.sort(key=keys.__getitem__)
        if not self._count and not self._marks:
            self.clear()
        return ((keys[p], copies[p]) for p in positions)


# Few buckets, so that rows share them (chains) and a copy's rows repeat one; some of them
# past 64 bits' worth of a machine word, as the LSH buckets are.
bucket = st.sampled_from([0, 1, 2, 3, -(2**63), 2**63 - 1, 2**40 + 1])
rows = st.lists(st.tuples(bucket, st.integers(1, 30)), max_size=25)
step = st.one_of(
    st.tuples(st.just("add"), rows),
    st.tuples(st.just("add iterator"), rows),
    st.tuples(st.just("take"), st.none() | st.lists(bucket, max_size=4)),
    st.tuples(st.sampled_from(["mark", "release", "roll back", "drop", "clear"]), st.none()),
)


def _do(held: HeldBands, name: str, argument: Any) -> object:
    if name == "add":
        held.add(list(argument))
        return None
    if name == "add iterator":
        held.add(iter(argument))
        return None
    if name == "take":
        taken = held.take(argument)
        return None if taken is None else list(taken)
    if name in ("release", "roll back") and not held._marks:
        return None
    return {"mark": held.mark, "release": held.release, "roll back": held.roll_back}.get(
        name, held.drop if name == "drop" else held.clear
    )()


@settings(max_examples=400, deadline=None)
@given(program=st.lists(step, max_size=40), log_max=st.sampled_from([2, 8, held_bands.LOG_MAX]))
def test_every_step_holds_and_takes_what_the_plain_loops_did(
    program: list[tuple[str, Any]], log_max: int
) -> None:
    saved = held_bands.LOG_MAX
    held_bands.LOG_MAX = log_max  # the log compacted at a savepoint past it
    try:
        fast, plain = HeldBands(), PlainHeldBands()
        for name, argument in program:
            assert _do(fast, name, argument) == _do(plain, name, argument)
            assert len(fast) == len(plain) and fast.due() == plain.due()
            assert fast.present(range(-3, 4)) == plain.present(range(-3, 4))
            assert fast._held == plain._held and fast._before == plain._before
            assert fast._inserted == plain._inserted
        assert _do(fast, "take", None) == _do(plain, "take", None)
    finally:
        held_bands.LOG_MAX = saved
