"""Retention: deleting old copies' bodies (keeping what identifies them), and VACUUM.

An expired copy keeps its row: source, key, GUID, post id, link, title and body hashes,
content hash, story id and dates, so a feed that still lists it finds it unchanged and
it never comes back as new (:mod:`feeds.core.retention`). Its text goes (the title
stays, for ``feeds explain``; an expired copy is never published again), and so do its
LSH bands and signature once it is outside the dedupe window. ``expired`` says when;
outputs never read such a copy.
"""

from __future__ import annotations

from datetime import datetime

from feeds.core import dedupe
from feeds.store.sqlite.codec import ts
from feeds.store.sqlite.connection import Connection

#: How many copies one statement expires (the retention of a year-old store runs in steps).
STEP = 500


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
        signature. Returns how many copies expired. Call inside a transaction."""
        rowids: list[int] = []
        if older_than is not None:
            cutoff = ts(older_than)
            rowids += [
                int(r[0])
                for r in self._db.execute(
                    "SELECT rowid FROM entries INDEXED BY entries_live_published"
                    " WHERE expired IS NULL AND published < ? AND updated < ?",
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
        for (source,) in self._db.execute("SELECT name FROM sources").fetchall():
            found += [
                int(r[0])
                for r in self._db.execute(
                    "SELECT rowid FROM entries INDEXED BY entries_live_source"
                    " WHERE source = ? AND expired IS NULL"
                    " ORDER BY published DESC, first_seen DESC, rowid DESC LIMIT -1 OFFSET ?",
                    (source, keep),
                )
            ]
        return found

    def _expire(self, rowids: list[int], unsign_before: str, now: str) -> None:
        marks = ",".join("?" for _ in rowids)
        rows = self._db.execute(
            f"SELECT rowid, signature, body_text, published FROM entries WHERE rowid IN ({marks})",
            rowids,
        ).fetchall()
        for rowid, blob, text, published in rows:
            sig = dedupe.decode_signature(blob)
            if published < unsign_before and sig is not None:
                self._db.executemany(
                    "DELETE FROM lsh WHERE bucket = ? AND copy = ?",
                    [(b, rowid) for b in (*dedupe.lsh_buckets(sig), *dedupe.lead_buckets(text))],
                )
                self._db.execute("DELETE FROM signatures WHERE copy = ?", (rowid,))
                self._db.execute("UPDATE entries SET signature = X'' WHERE rowid = ?", (rowid,))
        self._db.execute(
            "UPDATE entries SET expired = ?, excerpt = NULL, content_html = '',"
            f" body_text = '', body_key = NULL WHERE rowid IN ({marks})",
            (now, *rowids),
        )
        self._copy_saved()

    def vacuum(self) -> tuple[int, int]:
        """Give the space of deleted rows back to the file system: the store's size in bytes
        (file and write-ahead log) before and after."""
        before = self._size()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.execute("VACUUM")
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return before, self._size()

    def _size(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += self.path.with_name(self.path.name + suffix).stat().st_size
            except OSError:
                continue
        return total
