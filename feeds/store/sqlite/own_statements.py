"""What only the SQLite store says: how an output's newest stories are read, and VACUUM."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from feeds.store.sql.codec import marks
from feeds.store.sqlite.connection import Connection

__all__ = ["OwnStatements"]


class OwnStatements(Connection):
    """The statements of the SQLite store that the shared tables leave to it."""

    def _newest_entry_ids(self, sources: Sequence[str], limit: int) -> Iterator[list[str]]:
        # Two ways to the newest stories: every row of these sources, sorted (cheap when
        # they are a few of many), or the ``published`` index newest-first, skipping other
        # sources' rows (cheap when they are most of the store: an output of everything
        # would otherwise sort the whole store). A unary + keeps SQLite off the source index.
        column = "+source" if self._scan_newest_first(len(set(sources)), limit) else "source"
        cursor = self._db.execute(
            "SELECT entry_id FROM entries"
            f" WHERE {column} IN ({marks(sources)}) AND expired IS NULL"
            " AND entry_id NOT IN (SELECT entry_id FROM tombstones)"
            " ORDER BY published DESC, entry_id",
            tuple(sources),
        )
        while batch := cursor.fetchmany(max(limit, 64)):
            yield [entry_id for (entry_id,) in batch]

    def _scan_newest_first(self, wanted: int, limit: int) -> bool:
        """Whether reading ``limit`` stories of ``wanted`` sources newest-first through the
        ``published`` index reads fewer rows than sorting all of those sources' rows.

        With the sources' rows spread evenly, the scan reads about ``limit × all / wanted``
        rows and the sort ``rows × wanted / all``.
        """
        total = int(self._db.execute("SELECT count(*) FROM sources").fetchone()[0])
        rows = int(self._db.execute("SELECT max(rowid) FROM entries").fetchone()[0] or 0)
        if not total or wanted >= total:
            return True
        return limit * total * total < rows * wanted * wanted

    def vacuum(self) -> tuple[int, int]:
        """Give the space of deleted rows back to the file system: the store's size in bytes
        (file and write-ahead log) before and after."""
        before = self._size()
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as exc:
            # The store is as it was: VACUUM writes a new copy of it beside the old one
            # (a full disk, say), and gives up whole.
            raise self._error("cannot vacuum, the store is unchanged", exc) from exc
        return before, self._size()

    def _size(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += self.path.with_name(self.path.name + suffix).stat().st_size
            except OSError:
                continue
        return total
