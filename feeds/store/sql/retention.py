"""Retention: deleting old copies' bodies (keeping what identifies them).

An expired copy keeps its row: source, key, GUID, post id, link, title and body hashes,
content hash, story id and dates, so a feed that still lists it finds it unchanged and
it never comes back as new (:mod:`feeds.core.retention`). Its text goes (the title
stays, for ``feeds explain``; an expired copy is never published again), and so do its
LSH bands and signature once it is outside the dedupe window. ``expired`` says when;
outputs never read such a copy. Giving the space back (``vacuum``) is each backend's own.
"""

from __future__ import annotations

from datetime import datetime

from feeds.core import dedupe
from feeds.store.sql.codec import marks, ts
from feeds.store.sql.connection import SqlConnection

#: How many copies one statement expires (the retention of a year-old store runs in steps).
STEP = 500


class RetentionTables(SqlConnection):
    """Expire old copies (part of the ``IngestStore`` role)."""

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
        story id, as an output lists them; then first seen); the copies published before
        ``unsign_before`` also lose their signature. Returns how many copies expired. Call
        inside a transaction: it holds the save lock (as a save does) until the commit, so
        no worker matches or updates a copy while its body goes."""
        self._lock_saves()
        rowids: list[int] = []
        if older_than is not None:
            cutoff = ts(older_than)
            rowids += [
                int(r[0])
                for r in self._execute(
                    "SELECT rowid FROM entries"
                    + self.dialect.indexed_by("entries_live_published")
                    + " WHERE expired IS NULL AND published < ? AND updated < ?",
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
        for (source,) in self._execute("SELECT name FROM sources ORDER BY name").fetchall():
            found += [
                int(r[0])
                for r in self._execute(
                    "SELECT rowid FROM entries"
                    + self.dialect.indexed_by("entries_live_source")
                    + " WHERE source = ? AND expired IS NULL"
                    " ORDER BY published DESC, entry_id, first_seen DESC, rowid DESC"
                    f" LIMIT {self.dialect.no_limit} OFFSET ?",
                    (source, keep),
                )
            ]
        return found

    def _expire(self, rowids: list[int], unsign_before: str, now: str) -> None:
        rows = self._execute(
            "SELECT rowid, signature, body_text, published FROM entries"
            f" WHERE rowid IN ({marks(rowids)})",
            rowids,
        ).fetchall()
        bands: list[tuple[int, int]] = []
        unsigned: list[int] = []
        for rowid, blob, text, published in rows:
            sig = dedupe.decode_signature(blob)
            if published < unsign_before and sig is not None:
                bands += [
                    (b, rowid) for b in (*dedupe.lsh_buckets(sig), *dedupe.lead_buckets(text))
                ]
                unsigned.append(rowid)
        if unsigned:  # a statement for all of them, not three per copy
            self._delete_bands(bands)
            self._execute(f"DELETE FROM signatures WHERE copy IN ({marks(unsigned)})", unsigned)
            self._execute(
                f"UPDATE entries SET signature = ? WHERE rowid IN ({marks(unsigned)})",
                (b"", *unsigned),
            )
        self._execute(
            "UPDATE entries SET expired = ?, excerpt = NULL, content_html = '',"
            f" body_text = '', body_key = NULL WHERE rowid IN ({marks(rowids)})",
            (now, *rowids),
        )
        self._copy_saved()
