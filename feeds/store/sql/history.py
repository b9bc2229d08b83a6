"""When each source posted: what adaptive polling (:mod:`feeds.core.adaptive`) reads."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from feeds.store.sql.connection import SqlConnection

__all__ = ["PostingHistory"]


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class PostingHistory(SqlConnection):
    """When sources posted (the ``PostingHistory`` role)."""

    def posting_history(
        self, sources: Sequence[str], since: datetime
    ) -> dict[str, tuple[list[datetime], datetime | None]]:
        """Per source: when its entries published after ``since`` were published, and when
        its first entry was seen (None without entries). Reads the ``published`` index."""
        wanted = set(sources)
        history: dict[str, tuple[list[datetime], datetime | None]] = {
            name: ([], None) for name in wanted
        }
        cutoff = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        rows = self._execute(
            "SELECT source, published FROM entries WHERE published >= ?", (cutoff,)
        )
        for source, published in rows:
            if source in wanted:
                history[source][0].append(_parse(published))
        marks = ",".join("?" * len(wanted))
        firsts = self._execute(
            f"SELECT source, min(first_seen) FROM entries WHERE source IN ({marks})"
            " GROUP BY source",
            tuple(wanted),
        )
        for source, first in firsts:
            history[source] = (history[source][0], _parse(first) if first else None)
        return history

    def stories_first_seen(
        self, source: str, at: datetime, limit: int = 20
    ) -> list[tuple[str, str, str | None]]:
        """``(entry id, title, link)`` of the stories ``source`` brought first at ``at`` (the
        ``now`` of the run that saved them), newest first; copies merged into a story are not
        stories."""
        stamp = at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
        rows = self._execute(
            "SELECT entry_id, title, coalesce(link, shared_link) FROM entries"
            " WHERE source = ? AND first_seen = ?"
            " AND merged_reason IS NULL ORDER BY published DESC, rowid DESC LIMIT ?",
            (source, stamp, limit),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def stories_started(self, sources: Collection[str], at: datetime) -> dict[str, int]:
        """How many stories each of ``sources`` brought first at ``at`` (the ``now`` of the
        run that saved them) that are stories still: not joined to another, not dropped
        (those :meth:`stories_first_seen` lists)."""
        stamp = at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
        names = sorted(sources)
        counts: dict[str, int] = {}
        for start in range(0, len(names), 500):
            part = names[start : start + 500]
            rows = self._execute(
                "SELECT source, count(*) FROM entries"
                f" WHERE source IN ({','.join('?' * len(part))}) AND first_seen = ?"
                " AND merged_reason IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.entry_id = entries.entry_id)"
                " GROUP BY source",
                (*part, stamp),
            )
            counts.update((row[0], int(row[1])) for row in rows)
        return counts
