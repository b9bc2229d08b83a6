"""Rows as they are, table by table: what ``feeds store migrate`` reads and writes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from feeds.store.postgres.connection import Connection

_KEYS = {
    "sources": "name",
    "meta": "key",
    "counters": "name, labels",
    "archive_pages": "output, page",
    "pending_pings": "hub, topic",
    "lsh": "bucket, copy",
}
"""The conflict target of each table whose key is not its first column alone."""


class DumpTables(Connection):
    """Read and write whole tables, column by column (for moving a store between backends)."""

    def table_columns(self, table: str) -> list[str]:
        rows = self._db.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        return [str(r[0]) for r in rows]

    def table_count(self, table: str) -> int:
        return int(self._one(f"SELECT count(*) FROM {table}")[0])

    def table_rows(self, table: str, columns: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of ``table`` (those ``columns``), a thousand at a time, in key order,
        from one snapshot (call inside a batch)."""
        with self._db.cursor(name=f"dump_{table}") as cursor:
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1")
            while batch := cursor.fetchmany(1000):
                yield [tuple(row) for row in batch]

    def put_rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``rows``; a row whose key is there already replaces it (``meta``)."""
        key = _KEYS.get(table, columns[0])
        update = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key.split(", "))
        conflict = f"DO UPDATE SET {update}" if update else "DO NOTHING"
        marks = ", ".join("?" for _ in columns)
        self._many(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            f" ON CONFLICT ({self.dialect.arbiter(table, key)}) {conflict}",
            rows,
        )

    def finish_copy(self) -> None:
        """Number new rows after the highest copied ``rowid``."""
        for table in ("entries", "source_urls"):
            self._db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'rowid'),"
                f" coalesce((SELECT max(rowid) FROM {table}), 0) + 1, false)"
            )

    def snapshot(self) -> None:
        """Read every later statement of this transaction from one snapshot."""
        self._db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
