"""Hook events waiting to be delivered (see :mod:`feeds.run.hooks`).

An event is saved here, in the transaction of the run that caused it, before anyone is
told; delivery deletes it, a failed attempt pushes ``next_attempt`` back. So a crash
between saving and sending loses nothing, and a receiver sees the same ``id`` on every
retry (it can drop duplicates).
"""

from __future__ import annotations

from datetime import datetime

from feeds.store.sql.codec import RowMap, required_dt, ts
from feeds.store.sql.connection import SqlConnection
from feeds.store.values import HookEvent

__all__ = ["HookEventTable"]


HOOK_EVENT = RowMap(HookEvent, convert={"created": required_dt, "next_attempt": required_dt})


class HookEventTable(SqlConnection):
    """The ``hook_events`` table."""

    def add_hook_event(self, event: HookEvent) -> None:
        """Save ``event``, due at once (an id seen before is ignored)."""
        self._execute(
            "INSERT INTO hook_events (id, hook, event, payload, created, next_attempt)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                event.id,
                event.hook,
                event.event,
                event.payload,
                ts(event.created),
                ts(event.created),
            ),
        )

    def due_hook_events(self, now: datetime, limit: int = 100) -> list[HookEvent]:
        """Events whose next attempt is due at ``now``, oldest first."""
        rows = self._execute(
            f"SELECT {HOOK_EVENT.select()}"
            " FROM hook_events WHERE next_attempt <= ? ORDER BY created, id LIMIT ?",
            (ts(now), limit),
        ).fetchall()
        return [HOOK_EVENT.load(r) for r in rows]

    def pending_hook_events(self) -> int:
        return int(self._execute("SELECT count(*) FROM hook_events").fetchone()[0])

    def hook_event_delivered(self, event_id: str) -> None:
        self._execute("DELETE FROM hook_events WHERE id = ?", (event_id,))

    def hook_event_failed(self, event_id: str, error: str, next_attempt: datetime) -> None:
        self._execute(
            "UPDATE hook_events SET attempts = attempts + 1, last_error = ?, next_attempt = ?"
            " WHERE id = ?",
            (error, ts(next_attempt), event_id),
        )

    def hook_event_postponed(self, event_id: str, next_attempt: datetime) -> None:
        """Try the event again at ``next_attempt``, no attempt counted (nothing was sent:
        the receiver's host is held)."""
        self._execute(
            "UPDATE hook_events SET next_attempt = ? WHERE id = ?", (ts(next_attempt), event_id)
        )
