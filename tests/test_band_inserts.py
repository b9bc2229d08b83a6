"""LSH rows inserted many to a statement (feeds/store/sqlite/band_inserts.py): every row once.

A run of rows is split into whole statements of ``ROWS_PER_INSERT`` rows and a remainder;
whatever the split, the table ends with each row once: rows repeated in the run, in one
statement or across two, and rows already in the table, are kept once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.store.sqlite import Store
from feeds.store.sqlite.band_inserts import ROWS_PER_INSERT, insert_bands

Row = tuple[int, int]
TABLES = ("lsh", "lsh_staged")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    with Store.open(tmp_path / "feeds.db") as store:  # its tables as the schema makes them
        yield store._db


def rows_of(db: sqlite3.Connection, table: str) -> list[Row]:
    return [(b, c) for b, c in db.execute(f"SELECT bucket, copy FROM {table} ORDER BY 1, 2")]


@pytest.mark.parametrize(
    "count",
    [0, 1, ROWS_PER_INSERT - 1, ROWS_PER_INSERT, ROWS_PER_INSERT + 1, 3 * ROWS_PER_INSERT + 7],
)
@pytest.mark.parametrize("table", TABLES)
def test_every_row_is_inserted_whatever_the_count(
    db: sqlite3.Connection, table: str, count: int
) -> None:
    rows = [(-(2**63) + 7919 * i, i // 20 + 1) for i in range(count)]
    insert_bands(db, table, iter(rows))  # as HeldBands.take gives them: a generator
    assert rows_of(db, table) == sorted(rows)
    other = next(t for t in TABLES if t != table)
    assert rows_of(db, other) == []


def test_a_row_repeated_in_one_statement_or_already_there_is_kept_once(
    db: sqlite3.Connection,
) -> None:
    there = [(5, 1), (2**63 - 1, 9)]
    insert_bands(db, "lsh", there)
    rows = [(b % 50, b % 3) for b in range(2 * ROWS_PER_INSERT + 5)] + there
    insert_bands(db, "lsh", rows)
    assert rows_of(db, "lsh") == sorted(set(rows))


BUCKETS = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from([0, -1, 2**62, *range(40)]) | BUCKETS, st.integers(1, 6)),
            max_size=3 * ROWS_PER_INSERT,
        ),
        max_size=3,
    )
)
def test_runs_of_rows_leave_each_row_once(
    tmp_path_factory: pytest.TempPathFactory, runs: list[list[Row]]
) -> None:
    with Store.open(tmp_path_factory.mktemp("bands") / "feeds.db") as store:
        for run in runs:
            insert_bands(store._db, "lsh", sorted(run))
        assert rows_of(store._db, "lsh") == sorted({row for run in runs for row in run})
