"""Hosts that asked to wait, shared by every worker of the store (the ``HostHoldBoard``
role; see :mod:`feeds.ingest.fetch.holds`).

A table of its own rather than columns of ``host_leases``: a hold is the fetcher's, of a
host *name* (every port of it, as the fetcher counts hosts: feeds, article pages and
redirect hops alike), while a host lease is of a source's name and port and exists only
for sources' hosts (an article page's host has none). The claims never read it: a
worker hands the holds to its fetcher, which sends nothing to a held host, so the
sources it claimed there are deferred to the hold's end as those of the worker that
met the answer are. One row per host; a row whose hold ended is deleted when holds are
next written.

A hold ends :data:`~feeds.types.MAX_HOLD` after the reader's own now at the latest. A row
written by a machine whose clock was far ahead (or a long Retry-After dated by one) said
"until next year": each fetcher kept to it for an hour only, but read it again on every
run, and a daemon's wake-up and a deferred source's due time took its end as it was, so
every worker stayed off the host until then. Read now, it ends an hour from now at most;
a row that ends more than twice that after the reader's now is shortened to an hour from
then, so the next read, on any worker, sees the same end. Twice: a reader whose clock is
behind, by an hour or less, never shortens a hold its writer dated soundly (one that is
behind by more shortens it as that writer's is ahead: no clock here tells which is right).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from feeds.errors import StoreError
from feeds.store.sql.codec import required_dt, ts
from feeds.store.sql.connection import SqlConnection
from feeds.types import MAX_HOLD, HostHold

__all__ = ["HostHoldTable"]

_HOLD = """
INSERT INTO host_holds (host, until, why) VALUES (?, ?, ?)
ON CONFLICT (host) DO UPDATE SET until = excluded.until, why = excluded.why
WHERE host_holds.until < excluded.until
"""
"""A hold, unless the host is held longer already."""

_SHORTEN = "UPDATE host_holds SET until = ? WHERE until > ?"
"""Holds that end far too late (their writer's clock was ahead) end at the latest allowed."""


class HostHoldTable(SqlConnection):
    """The holds every worker keeps to: written as they begin, read at each claim."""

    def hold_hosts(self, holds: Sequence[HostHold], now: datetime) -> None:
        """Keep every worker off each hold's host until its end (a longer hold of the
        host stays); forget the holds ended by ``now``."""
        with self.batch():
            self._execute("DELETE FROM host_holds WHERE until <= ?", (ts(now),))
            self._many(_HOLD, [(h.host, ts(h.until), h.why) for h in holds])

    def hold_hosts_now(self, holds: Sequence[HostHold], now: datetime) -> None:
        """:meth:`hold_hosts` on a connection of its own, committed at once, whatever this
        one's open transaction (callable from any thread: it uses nothing of this one's)."""
        with self._reopened() as other:
            other.hold_hosts(holds, now)

    def host_holds(self, now: datetime) -> list[HostHold]:
        """The holds not ended at ``now``, by host, none ending later than
        :data:`~feeds.types.MAX_HOLD` after ``now`` (one far longer is shortened to that in
        the store too: see the module)."""
        latest = now + timedelta(seconds=MAX_HOLD)
        rows = self._execute(
            "SELECT host, until, why FROM host_holds WHERE until > ? ORDER BY host", (ts(now),)
        ).fetchall()
        holds = [HostHold(str(host), required_dt(until), str(why)) for host, until, why in rows]
        if any(hold.until > latest + timedelta(seconds=MAX_HOLD) for hold in holds):
            try:
                with self.batch():
                    self._execute(_SHORTEN, (ts(latest), ts(latest + timedelta(seconds=MAX_HOLD))))
            except StoreError:  # a store read only (feeds status): what it reads is capped
                pass
        return [HostHold(h.host, min(h.until, latest), h.why) for h in holds]
