"""What only the PostgreSQL store says: how an output's newest stories are read, and
``VACUUM FULL``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from feeds.errors import StoreError
from feeds.store.postgres.connection import Connection
from feeds.store.sql.codec import marks

__all__ = ["OwnStatements"]

_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"


class OwnStatements(Connection):
    """The statements of the PostgreSQL store that the shared tables leave to it."""

    def _newest_entry_ids(self, sources: Sequence[str], limit: int) -> Iterator[list[str]]:
        # Read newest-first a page at a time (the planner picks the index), until the
        # caller has its stories.
        page = max(limit * 2, 64)
        offset = 0
        while True:
            rows = self._execute(
                "SELECT entry_id FROM entries"
                f" WHERE source IN ({marks(sources)}) AND expired IS NULL"
                " AND entry_id NOT IN (SELECT entry_id FROM tombstones)"
                " ORDER BY published DESC, entry_id LIMIT ? OFFSET ?",
                (*sources, page, offset),
            ).fetchall()
            offset += page
            yield [entry_id for (entry_id,) in rows]
            if len(rows) < page:
                return

    def vacuum(self) -> tuple[int, int]:
        """Give the space of deleted rows back: VACUUM FULL of the store's tables (which
        runs outside a transaction); their size in bytes (tables, indexes and TOAST) before
        and after."""
        if self._in_transaction:
            raise StoreError(f"{self.location}: VACUUM cannot run inside a transaction")
        before = self._size()
        for (table,) in self._db.execute(_TABLES).fetchall():
            self._db.execute(f'VACUUM (FULL, ANALYZE) "{table}"'.encode())
        return before, self._size()

    def _size(self) -> int:
        row = self._one(
            "SELECT coalesce(sum(pg_total_relation_size(quote_ident(tablename)::regclass)), 0)"
            " FROM pg_tables WHERE schemaname = current_schema()"
        )
        return int(row[0])
