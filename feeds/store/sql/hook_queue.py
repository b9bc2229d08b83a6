"""Hook events waiting to be delivered (see :mod:`feeds.run.hooks`).

An event is saved here, in the transaction of the run that caused it, before anyone is
told; delivery deletes it, a failed attempt pushes ``next_attempt`` back. So a crash
between saving and sending loses nothing, and a receiver sees the same ``id`` on every
retry (it can drop duplicates).

A *draft* (``event`` is :data:`DRAFT`, ``hook`` the worker that saved it) is a source's
save that may fire events, written in the transaction of that save: the events, and the
stories they name, are made from it when the worker's round ends (a story's id settles
only then), or by another worker's round once the worker is gone (killed). A draft is
never due, and is no pending event.
"""

from __future__ import annotations

from datetime import datetime

from feeds.store.sql.codec import RowMap, required_dt, ts
from feeds.store.sql.connection import SqlConnection
from feeds.store.values import HookEvent

__all__ = ["DRAFT", "HookEventTable"]

#: The ``event`` of a draft (no hook's event is named so: the config's are fixed names).
DRAFT = "draft"
#: A draft's next attempt: never.
_NEVER = "9999-12-31T23:59:59.999999Z"


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

    def add_hook_draft(self, draft: HookEvent) -> None:
        """Save ``draft`` (its ``event`` :data:`DRAFT`, its ``hook`` the worker's id): never
        due, until :meth:`hook_event_delivered` deletes it."""
        self._execute(
            "INSERT INTO hook_events (id, hook, event, payload, created, next_attempt)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (draft.id, draft.hook, DRAFT, draft.payload, ts(draft.created), _NEVER),
        )

    def hook_drafts(self) -> list[HookEvent]:
        """Every draft, oldest first."""
        rows = self._execute(
            f"SELECT {HOOK_EVENT.select()} FROM hook_events WHERE event = ? ORDER BY created, id",
            (DRAFT,),
        ).fetchall()
        return [HOOK_EVENT.load(r) for r in rows]

    def due_hook_events(self, now: datetime, limit: int = 100) -> list[HookEvent]:
        """Events whose next attempt is due at ``now``, oldest first (never a draft)."""
        rows = self._execute(
            f"SELECT {HOOK_EVENT.select()} FROM hook_events"
            " WHERE next_attempt <= ? AND event != ? ORDER BY created, id LIMIT ?",
            (ts(now), DRAFT, limit),
        ).fetchall()
        return [HOOK_EVENT.load(r) for r in rows]

    def pending_hook_events(self) -> int:
        """Events saved and not delivered yet (drafts are none)."""
        row = self._execute("SELECT count(*) FROM hook_events WHERE event != ?", (DRAFT,))
        return int(row.fetchone()[0])

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
