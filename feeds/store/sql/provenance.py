"""Provenance and dropped stories: which copies a story has, and tombstones."""

from __future__ import annotations

import json
from datetime import datetime

from feeds.store.sql.codec import RowMap, optional_dt, required_dt, ts
from feeds.store.sql.connection import SqlConnection
from feeds.store.values import StoredCopy


def _scores(text: str | None) -> dict[str, object]:
    return dict(json.loads(text)) if text else {}


def _words(text: str) -> int:
    return len(text.split())


def _rules(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text else ()


STORED_COPY = RowMap(
    StoredCopy,
    columns={
        "copy": "rowid",
        "scores": "merge_scores",
        "words": "body_text",
        "updates": "update_count",
        "rules": "rules",
    },
    convert={
        "published": required_dt,
        "updated": required_dt,
        "first_seen": required_dt,
        "expired": optional_dt,
        "scores": _scores,
        "words": _words,
        "rules": _rules,
    },
)


class ProvenanceTables(SqlConnection):
    """Resolve, drop and explain stories (the ``ProvenanceStore`` role)."""

    def resolve(self, query: str) -> str | None:
        """The entry id that ``query`` names: an entry id, or any copy's link or GUID."""
        for sql in (
            "SELECT entry_id FROM entries WHERE entry_id = ? LIMIT 1",
            "SELECT entry_id FROM tombstones WHERE entry_id = ?",
            "SELECT entry_id FROM entries WHERE link = ? ORDER BY rowid LIMIT 1",
            "SELECT entry_id FROM entries WHERE guid = ? ORDER BY rowid LIMIT 1",
            "SELECT entry_id FROM entries WHERE key = 'guid:' || ? ORDER BY rowid LIMIT 1",
        ):
            row = self._execute(sql, (query,)).fetchone()
            if row is not None:
                return str(row[0])
        return None

    def drop(self, entry_id: str, query: str, now: datetime) -> bool:
        """Tombstone a story: never published again, whichever copy comes back.

        Returns False when it was already dropped.
        """
        cursor = self._execute(
            "INSERT INTO tombstones (entry_id, dropped_at, query) VALUES (?, ?, ?)"
            f" ON CONFLICT ({self.dialect.arbiter('tombstones', 'entry_id')}) DO NOTHING",
            (entry_id, ts(now), query),
        )
        return cursor.rowcount > 0

    def dropped(self, entry_id: str) -> datetime | None:
        """When the story was dropped, or None."""
        row = self._execute(
            "SELECT dropped_at FROM tombstones WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return optional_dt(row[0]) if row else None

    def copies(self, entry_id: str) -> list[StoredCopy]:
        """Every stored copy of a story, in the order they were first seen."""
        rows = self._execute(
            f"SELECT {STORED_COPY.select()} FROM entries WHERE entry_id = ?"
            " ORDER BY first_seen, rowid",
            (entry_id,),
        ).fetchall()
        return [STORED_COPY.load(r) for r in rows]
