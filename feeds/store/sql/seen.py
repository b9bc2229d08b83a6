"""Which copies a reader may have seen: those saved before the last publish or hook event.

A story no reader has seen (none of its copies was there when outputs were last published
or hook events last queued) may still change its id, across transactions: copies of one
story that a run saves in two groups, or two workers save one after the other, give the
story the id of its first copy by the rule of its copies, not the id of the copy committed
first. The store keeps one number, ``meta`` ``seen_copies``: the highest copy (``rowid``)
there when the store was last read for readers. Copies are saved one transaction at a
time (SQLite's one writer, PostgreSQL's save lock), so a copy saved later has a higher
rowid; a rowid reused after a deletion only counts a new copy as seen (its story keeps its
id, as before).
"""

from __future__ import annotations

from collections.abc import Collection

from feeds.store.sql.codec import marks
from feeds.store.sql.connection import SqlConnection
from feeds.store.sql.hook_queue import DRAFT

__all__ = ["SeenCopies"]

#: Every copy: what a store that showed readers its stories before it kept this number (it
#: published, or queued hook events) is taken to have shown.
EVERY_COPY = 2**63 - 1

#: The counter of hook deliveries (:mod:`feeds.run.hooks`): events a receiver may have had.
HOOK_DELIVERIES = "feeds_hook_deliveries_total"


class SeenCopies(SqlConnection):
    """The copies readers may have seen (part of the ``PublishState`` role)."""

    def mark_seen(self) -> None:
        """Note that every copy saved so far may be seen from now on: call inside the
        transaction that reads what readers are shown (outputs, hook events), before reading
        it. Saves wait for it to end, so no story read in it changes its id afterwards."""
        self._lock_saves()
        row = self._one("SELECT coalesce(max(rowid), 0) FROM entries")
        self._execute(
            "INSERT INTO meta (key, value) VALUES ('seen_copies', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(row[0]),),
        )
        self._new_copies.seen = int(row[0])
        self._new_copies.unseen_before = False

    def _seen_copies(self) -> int:
        """The highest copy a reader may have seen (read once a transaction, under the save
        lock: a publisher marks copies seen under it). Outside a transaction, every copy."""
        new = self._new_copies
        if new.seen is not None:
            return new.seen
        if not self._in_transaction:
            return EVERY_COPY
        self._lock_saves()
        row = self._execute("SELECT value FROM meta WHERE key = 'seen_copies'").fetchone()
        if row is not None:
            new.seen = int(row[0])
        else:  # never marked: nothing seen, unless it was shown before it kept the number
            new.seen = EVERY_COPY if self._shown_unmarked() else 0
        return new.seen

    def _shown_unmarked(self) -> bool:
        """Whether a store with no mark showed readers its stories before it kept one: it
        published an output, or queued hook events (pending, or counted as delivered or
        failed: a delivered event is deleted)."""
        shown = self._execute(
            "SELECT 1 FROM meta WHERE key LIKE 'published:%'"
            f" UNION ALL SELECT 1 FROM hook_events WHERE event != '{DRAFT}'"
            f" UNION ALL SELECT 1 FROM counters WHERE name = '{HOOK_DELIVERIES}' LIMIT 1"
        )
        return shown.fetchone() is not None

    def _unseen_before(self) -> bool:
        """Whether copies no reader has seen were committed before the open transaction
        (else a story no reader has seen is one of the transaction's own)."""
        new = self._new_copies
        seen = self._seen_copies()
        if new.unseen_before is None:
            first = new.first_copy()
            row = self._execute(
                "SELECT 1 FROM entries WHERE rowid > ? AND rowid < ? LIMIT 1",
                (seen, first if first is not None else EVERY_COPY),
            ).fetchone()
            new.unseen_before = row is not None
        return new.unseen_before

    def _seen_stories(self, entry_ids: Collection[str]) -> set[str]:
        """Those of ``entry_ids`` that a reader may have seen (a copy of each was there when
        readers were last shown the store); a story with no copy is not among them."""
        seen = self._seen_copies()
        if not self._unseen_before():
            return {e for e in entry_ids if e not in self._new_copies.stories}
        if seen == 0:
            return set()  # (nothing marked seen: no copy is at or below it)
        ids = list(entry_ids)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            rows = self._execute(
                f"SELECT DISTINCT entry_id FROM entries WHERE entry_id IN ({marks(part)})"
                " AND rowid <= ?",
                (*part, seen),
            )
            found.update(row[0] for row in rows)
        return found
