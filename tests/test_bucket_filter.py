"""Buckets that may hold an LSH row, known without a lookup (feeds/store/sqlite/bucket_filter.py).

A new store's connection notes every LSH row it inserts or holds: a bucket it never noted is
not asked about. Every answer must be the lookup's: rows held, inserted, rolled back, and rows
another connection wrote (which end the filter) are all found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.store import Presence
from feeds.store.sqlite import Store

Row = tuple[int, int]


class Failed(Exception):
    """Raised inside a unit of work to roll it back."""


@dataclass(frozen=True)
class Unit:
    adds: tuple[tuple[Row, ...], ...]
    fails: bool


# Buckets as the store sees them: signed 64-bit, many sharing the filter's bits
buckets = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 40).map(lambda n: n << 22),  # the same low bits
    st.integers(0, 40).map(lambda n: (n << 32) | n),  # high bits that the bit ignores
)
units = st.builds(
    Unit,
    st.lists(st.lists(st.tuples(buckets, st.integers(1, 50)), max_size=6).map(tuple)).map(tuple),
    st.booleans(),
)


def _present(store: Store, asked: list[int]) -> set[int]:
    """Which of ``asked`` the store says hold a row, as a fetch's presence asks."""
    found = Presence()
    with store.batch():
        store.add_present_buckets(found, asked)
    return found.buckets


@settings(max_examples=100, deadline=None)
@given(program=st.lists(units, max_size=5), others=st.lists(buckets, max_size=20))
def test_every_answer_is_the_lookups(
    tmp_path_factory: pytest.TempPathFactory, program: list[Unit], others: list[int]
) -> None:
    with Store.open(tmp_path_factory.mktemp("filter") / "feeds.db") as store:
        assert _present(store, [0, *others]) == set()
        assert store._filter is not None  # a new store: the filter began
        kept: set[int] = set()
        for unit in program:
            try:
                with store.batch():
                    for rows in unit.adds:
                        with store.batch():
                            store._insert_bands(list(rows))
                    if unit.fails:
                        raise Failed
            except Failed:
                continue
            kept |= {b for rows in unit.adds for b, _ in rows}
            asked = [*kept, *others]
            assert _present(store, asked) == kept
        assert _present(store, others) == kept & set(others)


def test_a_store_that_holds_rows_is_asked_about_every_bucket(tmp_path: Path) -> None:
    with Store.open(tmp_path / "feeds.db") as store, store.batch():
        store._insert_bands([(7, 1)])
    with Store.open(tmp_path / "feeds.db") as store:
        assert _present(store, [7, 8]) == {7}
        assert store._filter is None


def test_rows_another_connection_wrote_are_found(tmp_path: Path) -> None:
    """Another process's refresh (or command) wrote between two transactions: the bits
    know nothing of its rows, so the filter is given up."""
    with Store.open(tmp_path / "feeds.db") as store:
        assert _present(store, [5]) == set()
        assert store._filter is not None
        with Store.open(tmp_path / "feeds.db") as other, other.batch():
            other._insert_bands([(9, 1)])
        assert _present(store, [5, 9]) == {9}
        assert store._filter is None


def test_a_bucket_no_row_was_noted_under_is_not_asked_about(tmp_path: Path) -> None:
    with Store.open(tmp_path / "feeds.db") as store, store.batch():
        assert store._may_hold([1]) == []  # the first ask begins it
        store._insert_bands([(1, 1), (-5, 1)])
        assert store._may_hold([1, 2, 3, -5, 6]) == [1, -5]  # in the order asked


def test_rows_a_store_migration_copies_in_are_found(tmp_path: Path) -> None:
    """``feeds store migrate`` writes the ``lsh`` table's rows as they are, past the bits."""
    with Store.open(tmp_path / "feeds.db") as store:
        assert _present(store, [5]) == set()
        with store.batch():
            store.put_rows("lsh", ["bucket", "copy"], [(11, 3)])
        assert _present(store, [5, 11]) == {11}
