"""A large store's new LSH rows staged in a small table, merged into ``lsh`` now and then.

``lsh`` is keyed by bucket, a random number: the rows of 1,000 new copies (20,000 rows)
land on nearly every one of its pages once it outgrows them (a store of 100,000 copies:
2,000,000 rows on 9,000 pages), and each page so changed is written to the WAL and back
to the database at the next checkpoint. An ingest into a store ten times larger cost
40% more, almost all of it here (``bench/RESULTS.md``).

From ``STAGE_FROM`` copies on, new rows go to ``lsh_staged`` instead, which stays a
fraction of the size (its pages are the ones a small store's ingest touches), and all
of them are merged into ``lsh`` in bucket order once the copies saved since the last
merge reach ``1 / MERGE_SHARE`` of the store: a merge changes each of ``lsh``'s pages
about once, for the rows of many ingests rather than one.

Lookups read both tables (:attr:`~feeds.store.sqlite.connection.Connection.BAND_TABLES`),
so what is found does not depend on where a row is; a row is deleted from both.
Where the last merge left off is ``meta``'s ``lsh_merged_through`` (the newest copy then).
"""

from __future__ import annotations

import sqlite3

__all__ = [
    "INSERT_STAGED",
    "MERGE_SHARE",
    "STAGE_FROM",
    "any_staged",
    "merge",
    "merge_due",
    "staging",
]

STAGE_FROM = 50_000
"""The newest copy's number from which new LSH rows are staged: below it ``lsh`` is small
enough (about 4,500 pages) that a group commit's rows, inserted in bucket order, meet
most of its pages anyway, and lookups would read two tables for nothing."""

MERGE_SHARE = 8
"""Staged rows are merged once the copies saved since the last merge reach this share of
the store (12,500 copies in a store of 100,000: a merge about every 12 ingests of 1,000)."""

INSERT_STAGED = "INSERT INTO lsh_staged (bucket, copy) VALUES (?, ?) ON CONFLICT DO NOTHING"

MERGE_STEPS = 64
"""A merge moves the rows of one 64th of the buckets' range per statement: a statement that
changes many rows inside a transaction keeps the first version of each page it changes (in
memory, for the run's transactions), to undo itself alone; in one statement that was 15 MiB
at 100,000 copies (every page of ``lsh``)."""

_MERGE = (
    "INSERT INTO lsh (bucket, copy) SELECT bucket, copy FROM lsh_staged"
    " WHERE bucket BETWEEN ? AND ? ON CONFLICT DO NOTHING"
)
_UNSTAGE = "DELETE FROM lsh_staged WHERE bucket BETWEEN ? AND ?"


def newest_copy(db: sqlite3.Connection) -> int:
    """The number (``rowid``) of the newest copy stored: the store's size, near enough."""
    row = db.execute("SELECT max(rowid) FROM entries").fetchone()
    return int(row[0] or 0)


def staging(db: sqlite3.Connection) -> bool:
    """Whether new LSH rows go to ``lsh_staged`` (the store has grown to ``STAGE_FROM``)."""
    return newest_copy(db) >= STAGE_FROM


def any_staged(db: sqlite3.Connection) -> bool:
    """Whether ``lsh_staged`` holds a row."""
    return bool(db.execute("SELECT EXISTS (SELECT 1 FROM lsh_staged)").fetchone()[0])


def merge_due(db: sqlite3.Connection) -> bool:
    """Whether the copies saved since the last merge reach ``1 / MERGE_SHARE`` of the store
    (a store that has never merged: at once, so the mark is set)."""
    newest = newest_copy(db)
    row = db.execute("SELECT value FROM meta WHERE key = 'lsh_merged_through'").fetchone()
    merged_through = int(row[0]) if row is not None else 0
    return newest - merged_through >= newest // MERGE_SHARE


def merge(db: sqlite3.Connection) -> None:
    """Move every staged row into ``lsh`` (in bucket order: the staged table's key order,
    in ``MERGE_STEPS`` ranges) and mark where the merge left off. Inside the caller's
    transaction."""
    for low, high in _ranges(MERGE_STEPS):
        db.execute(_MERGE, (low, high))
        db.execute(_UNSTAGE, (low, high))
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('lsh_merged_through', ?)",
        (str(newest_copy(db)),),
    )


def _ranges(steps: int) -> list[tuple[int, int]]:
    """``steps`` ranges of equal width, in order, that cover the signed 64-bit buckets."""
    width = 2**64 // steps
    lows = [-(2**63) + i * width for i in range(steps)]
    return [(low, low + width - 1) for low in lows[:-1]] + [(lows[-1], 2**63 - 1)]
