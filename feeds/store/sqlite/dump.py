"""Rows as they are, table by table: what ``feeds store migrate`` reads and writes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from feeds.store.sqlite.connection import Connection


class DumpTables(Connection):
    """Read and write whole tables, column by column (for moving a store between backends)."""

    def table_columns(self, table: str) -> list[str]:
        return [str(r[1]) for r in self._db.execute(f"PRAGMA table_info({table})")]

    def table_count(self, table: str) -> int:
        return int(self._db.execute(f"SELECT count(*) FROM {_rows_of(table)}").fetchone()[0])

    def table_rows(self, table: str, columns: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of ``table`` (those ``columns``), a thousand at a time, in key order."""
        cursor = self._db.execute(f"SELECT {', '.join(columns)} FROM {_rows_of(table)} ORDER BY 1")
        while batch := cursor.fetchmany(1000):
            yield [tuple(row) for row in batch]

    def put_rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``rows``; a row whose key is there already replaces it (``meta``)."""
        marks = ", ".join("?" for _ in columns)
        self._give_up_bucket_filter()  # (LSH rows may go in here, past _insert_bands)
        self._db.executemany(
            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
        )

    def finish_copy(self) -> None:
        """Nothing to do: SQLite numbers new rows after the highest ``rowid``."""


def _rows_of(table: str) -> str:
    """Where ``table``'s rows are: ``lsh``'s are also in ``lsh_staged``
    (:mod:`~feeds.store.sqlite.staged_bands`), a table the other backend does not have."""
    if table == "lsh":
        return "(SELECT bucket, copy FROM lsh UNION ALL SELECT bucket, copy FROM lsh_staged)"
    return table
