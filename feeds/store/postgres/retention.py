"""Retention: deleting old copies' bodies (keeping what identifies them), and VACUUM FULL.

As in the SQLite store (:mod:`feeds.store.sqlite.retention`), statement for statement: an
expired copy keeps its row, keys, hashes, story and dates, loses its text (not its title),
and its LSH bands and signature once it is outside the dedupe window; outputs never read it.
"""

from __future__ import annotations

from datetime import datetime

from feeds.core import dedupe
from feeds.errors import StoreError
from feeds.store.postgres.codec import marks, ts
from feeds.store.postgres.connection import Connection

#: How many copies one statement expires (the retention of a year-old store runs in steps).
STEP = 500

_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"


class RetentionTables(Connection):
    """Expire old copies and reclaim space (part of the ``IngestStore`` role)."""

    def expire_copies(
        self,
        *,
        older_than: datetime | None,
        max_per_source: int | None,
        unsign_before: datetime,
        now: datetime,
    ) -> int:
        """Delete the bodies of copies published and updated before ``older_than``, and of
        each source's copies beyond its ``max_per_source`` newest (by published date, then
        first seen); the copies published before ``unsign_before`` also lose their
        signature. Returns how many copies expired. Call inside a transaction: it holds
        the save lock (as a save does) until the commit, so no worker matches or updates a
        copy while its body goes."""
        self._lock_saves()
        rowids: list[int] = []
        if older_than is not None:
            cutoff = ts(older_than)
            rowids += [
                int(r[0])
                for r in self._db.execute(
                    "SELECT rowid FROM entries"
                    " WHERE expired IS NULL AND published < %s AND updated < %s",
                    (cutoff, cutoff),
                )
            ]
        if max_per_source is not None:
            rowids += self._beyond(max_per_source)
        chosen = sorted(set(rowids))
        for start in range(0, len(chosen), STEP):
            self._expire(chosen[start : start + STEP], ts(unsign_before), ts(now))
        return len(chosen)

    def _beyond(self, keep: int) -> list[int]:
        """Each source's live copies after its ``keep`` newest."""
        found: list[int] = []
        for (source,) in self._db.execute("SELECT name FROM sources ORDER BY name").fetchall():
            found += [
                int(r[0])
                for r in self._db.execute(
                    "SELECT rowid FROM entries WHERE source = %s AND expired IS NULL"
                    " ORDER BY published DESC, first_seen DESC, rowid DESC OFFSET %s",
                    (source, keep),
                )
            ]
        return found

    def _expire(self, rowids: list[int], unsign_before: str, now: str) -> None:
        rows = self._db.execute(
            "SELECT rowid, signature, body_text, published FROM entries"
            f" WHERE rowid IN ({marks(rowids)})",
            rowids,
        ).fetchall()
        for rowid, blob, text, published in rows:
            sig = dedupe.decode_signature(blob)
            if published < unsign_before and sig is not None:
                self._many(
                    "DELETE FROM lsh WHERE bucket = %s AND copy = %s",
                    [(b, rowid) for b in (*dedupe.lsh_buckets(sig), *dedupe.lead_buckets(text))],
                )
                self._db.execute("DELETE FROM signatures WHERE copy = %s", (rowid,))
                self._db.execute(
                    "UPDATE entries SET signature = ''::bytea WHERE rowid = %s", (rowid,)
                )
        self._db.execute(
            "UPDATE entries SET expired = %s, excerpt = NULL, content_html = '',"
            f" body_text = '', body_key = NULL WHERE rowid IN ({marks(rowids)})",
            (now, *rowids),
        )
        self._copy_saved()

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
