"""LSH rows inserted many to a statement.

The rows held back until a commit (:mod:`~feeds.store.sqlite.held_bands`) go in 20 a copy:
600,000 in a cold refresh of 30,000 entries. With ``executemany`` each row is a step of the
statement of its own; a ``VALUES`` list of :data:`ROWS_PER_INSERT` rows binds the same values
in one step. 600,000 rows in bucket order, 20,000 to a transaction (a ``/tmp`` loop, three
runs each): 0.93–1.00 s of CPU with ``executemany``, 0.69–0.79 s with 128 rows a statement
(64 to 512 measure alike).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain

__all__ = ["ROWS_PER_INSERT", "insert_bands"]

ROWS_PER_INSERT = 128
"""Rows in one ``INSERT`` (256 values: far below SQLite's limit on a statement's values)."""


def insert_bands(db: sqlite3.Connection, table: str, rows: Iterable[tuple[int, int]]) -> None:
    """Insert ``rows`` ``(bucket, copy)`` into ``table`` in their order, each row once
    (a row there already is left as it is)."""
    listed = list(rows)
    whole = len(listed) - len(listed) % ROWS_PER_INSERT
    if whole:
        sql = _statement(table, ROWS_PER_INSERT)
        for start in range(0, whole, ROWS_PER_INSERT):
            db.execute(sql, list(chain.from_iterable(listed[start : start + ROWS_PER_INSERT])))
    if whole < len(listed):
        db.executemany(_statement(table, 1), listed[whole:])


@lru_cache(maxsize=8)
def _statement(table: str, rows: int) -> str:
    values = ", ".join(["(?, ?)"] * rows)
    return f"INSERT INTO {table} (bucket, copy) VALUES {values} ON CONFLICT DO NOTHING"
