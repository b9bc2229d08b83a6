"""Workers sharing one store: the sources table as their queue, host leases, the worker
registry and the publisher lease (the ``WorkQueue``, ``WorkerRegistry`` and
``PublisherLock`` roles).

A claim is one transaction that no other claim interleaves with (SQLite's ``BEGIN
IMMEDIATE`` lets one writer in at a time; PostgreSQL's takes the claim lock): leases that
ran out are recorded as errors on their sources, then one ``UPDATE … RETURNING`` (the
dialect's ``claim``: PostgreSQL's skips the rows another transaction locks) leases the due
sources whose host no other worker holds, and the claimer takes those hosts. The publisher
is a lease in a row on both: the daemon opens the store anew at each tick, and a session's
advisory lock would end with its connection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from feeds.core.schedule import CLOCK_SLACK
from feeds.store.sql.codec import (
    RowMap,
    chunks,
    marks,
    optional_dt,
    optional_ts,
    padded,
    required_dt,
    ts,
)
from feeds.store.sql.connection import SqlConnection
from feeds.store.sql.sources import SOURCE_STATE
from feeds.store.values import ExpiredLease, SourcesClaimed, WorkerInfo
from feeds.types import SourceState

__all__ = ["WorkerTables"]

RELEASE_GROUP = 256
"""Sources released per statement (two bound values each in its ``CASE``, one in its ``IN``)."""

WORKER = RowMap(
    WorkerInfo,
    columns={
        "leased": "(SELECT count(*) FROM sources WHERE sources.lease_worker = workers.id)",
    },
    convert={"started": required_dt, "heartbeat": required_dt, "last_activity": optional_dt},
)

_REAP = """
UPDATE sources SET
    error_count = error_count + 1,
    last_error = 'lease expired: worker ' || lease_worker || ' did not save it by '
        || lease_until,
    expired_leases = expired_leases + 1,
    expired_worker = lease_worker, expired_until = lease_until, expired_at = :now,
    lease_worker = NULL, lease_until = NULL
WHERE lease_until IS NOT NULL AND lease_until <= :now
"""

_TAKE_HOSTS = """
INSERT INTO host_leases (host, worker, until, in_flight)
    SELECT host, :worker, :until, count(*) FROM sources
    WHERE lease_worker = :worker AND host != '' GROUP BY host
ON CONFLICT (host) DO UPDATE SET
    worker = excluded.worker, until = excluded.until, in_flight = excluded.in_flight
"""


_CLAIM_NAMED = """
UPDATE sources SET lease_worker = :worker, lease_until = :until
WHERE name IN ({names})
    AND (lease_worker IS NULL OR lease_worker = :worker)
    AND (host = '' OR NOT EXISTS (SELECT 1 FROM host_leases h
        WHERE h.host = sources.host AND h.worker != :worker AND h.until > :now
        AND NOT (h.in_flight = 0 AND (h.until > :ahead OR h.until <= :within))))
RETURNING name, (SELECT h.until FROM host_leases h
    WHERE h.host = sources.host AND h.worker != :worker AND h.in_flight = 0
    AND h.until > :now AND h.until <= :within AND h.until <= :ahead)
"""
"""``feeds refresh``'s claim of named sources: a host another worker holds is left to it,
unless it released the host (none of its fetches in flight) to be free by ``:within``
(its time is returned: the first request waits for it) or at a time too far ahead to be
true (see :func:`_ahead`)."""


#: ``fetched_before`` of a claim that takes sources whenever they were last fetched.
NEVER = "9999-12-31T23:59:59.999999Z"


def _ahead(now: datetime) -> str:
    """Past this, a time was saved by a clock that was ahead (:data:`CLOCK_SLACK`): a fetch
    dated so makes its source due, and a host freed at such a time is free."""
    return ts(now + CLOCK_SLACK)


class WorkerTables(SqlConnection):
    """Claims and leases of sources and hosts, the worker registry, the publisher lease."""

    # -- the queue -------------------------------------------------------------------------

    def claim_due(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        worker: str,
        per_host: int = 0,
        hand_over: timedelta = timedelta(0),
        fetched_before: datetime | None = None,
    ) -> list[SourceState]:
        """Lease up to ``limit`` due sources to ``worker`` until ``now + lease``: host by host,
        the host of the longest due source first, at most ``per_host`` of one host (0: any
        number) with those of it ``worker`` holds already; see the module."""
        if limit <= 0:
            return []
        until = ts(now + lease)
        params = {"now": ts(now), "worker": worker, "until": until}
        choice = {
            "limit": limit,
            "per_host": per_host,
            "ahead": _ahead(now),
            "own_free": ts(now - hand_over),
            "looking": ts(now - 2 * hand_over),
            "fetched_before": NEVER if fetched_before is None else ts(fetched_before),
        }
        with self.batch():
            self._lock_claims()
            self._execute(_REAP, params)
            self._execute(  # heard from: a worker that claims looks for work (see the claim)
                f"UPDATE workers SET heartbeat = {self.dialect.greatest}(heartbeat, :now)"
                " WHERE id = :worker",
                params,
            )
            names = self._execute(self.dialect.claim, {**params, **choice}).fetchall()
            if not names:
                return []
            self._execute(_TAKE_HOSTS, params)
            self._touch(worker, now)
            # Only these: an earlier claim at the same time has the same lease end.
            claimed = {str(row[0]) for row in names}
            return [s for s in self._leased(worker, until) if s.name in claimed]

    def claim_sources(
        self, names: Sequence[str], now: datetime, lease: timedelta, *, worker: str
    ) -> list[str]:
        """Lease the named sources to ``worker``, due or not, except those another worker
        holds or whose host another worker holds; the names leased."""
        return self.claim_sources_in_turn(names, now, lease, worker=worker, wait=timedelta(0)).names

    def claim_sources_in_turn(
        self, names: Sequence[str], now: datetime, lease: timedelta, *, worker: str, wait: timedelta
    ) -> SourcesClaimed:
        """:meth:`claim_sources`, and the sources on a host another worker released to be
        free within ``wait``: leased with when their host is free (read before the claim
        takes the host, which writes its own lease over that time)."""
        until = ts(now + lease)
        params = {
            "now": ts(now),
            "worker": worker,
            "until": until,
            "ahead": _ahead(now),
            "within": ts(now + max(wait, timedelta(0))),
        }
        leased: dict[str, datetime | None] = {}
        with self.batch():
            self._lock_claims()
            self._execute(_REAP, params)
            for part in chunks(names):  # one statement per 500 names, not one per name
                named = {f"n{i}": name for i, name in enumerate(part)}
                in_list = ", ".join(f":{key}" for key in named)
                rows = self._execute(_CLAIM_NAMED.format(names=in_list), {**params, **named})
                # read whole: a Ctrl-C amid the rows left the statement open
                leased.update((str(name), optional_dt(free)) for name, free in rows.fetchall())
            if leased:
                self._execute(_TAKE_HOSTS, params)
                self._touch(worker, now)
        return SourcesClaimed(
            names=[name for name in names if name in leased],  # in the order asked
            host_free_at={name: at for name, at in sorted(leased.items()) if at is not None},
        )

    def _leased(self, worker: str, until: str) -> list[SourceState]:
        rows = self._execute(
            f"SELECT {SOURCE_STATE.select()} FROM sources"
            " WHERE lease_worker = ? AND lease_until = ? ORDER BY coalesce(next_due, ''), name",
            (worker, until),
        ).fetchall()
        return [SOURCE_STATE.load(r) for r in rows]

    def release_source(
        self,
        name: str,
        worker: str,
        next_due: datetime | None,
        now: datetime,
        *,
        free_hosts_at: datetime | None = None,
    ) -> bool:
        """End ``worker``'s lease on ``name`` and save when it is next due (None: never,
        for a retired source). False, and nothing changed, when ``worker`` does not hold it
        (its lease ran out and another worker claimed it). See :meth:`release_sources`
        for ``free_hosts_at``."""
        released = self.release_sources(
            worker, [(name, next_due)], now, free_hosts_at=free_hosts_at
        )
        return bool(released)

    def release_sources(
        self,
        worker: str,
        releases: Sequence[tuple[str, datetime | None]],
        now: datetime,
        *,
        free_hosts_at: datetime | None = None,
    ) -> set[str]:
        """:meth:`release_source` for each ``(name, next_due)`` of ``releases``, in a few
        statements (a group of saved sources is released at its commit); the names
        released. A name given twice is released with its last due time. With
        ``free_hosts_at``, a host of which ``worker`` then holds no source is released
        too, free for the others from that time (a daemon's, whose round goes on)."""
        dues = {name: optional_ts(due) for name, due in releases}
        released: set[str] = set()
        if not dues:
            return released
        names = sorted(dues)
        hosts: Counter[str] = Counter()
        with self.batch():
            for part in chunks(names, RELEASE_GROUP):
                part = padded(part)  # a few statement lengths, for the statement cache
                whens = " ".join("WHEN ? THEN ?" for _ in part)
                params: list[str | None] = [v for name in part for v in (name, dues[name])]
                rows = self._execute(
                    f"UPDATE sources SET next_due = CASE name {whens} END,"
                    " lease_worker = NULL, lease_until = NULL"
                    f" WHERE name IN ({marks(part)}) AND lease_worker = ? RETURNING name, host",
                    (*params, *part, worker),
                )
                for name, host in rows:
                    released.add(str(name))
                    hosts[str(host)] += 1
            for host, count in sorted(hosts.items()):
                self._host_released(host, worker, count, free_hosts_at)
            if released:
                self._touch(worker, now)
        return released

    def _host_released(self, host: str, worker: str, count: int, free_at: datetime | None) -> None:
        """``count`` of ``worker``'s sources of ``host`` are released: with ``free_at``, the
        host too once none is left (the row keeps who released it: see the claim)."""
        less = f"in_flight = {self.dialect.greatest}(in_flight - ?, 0)"
        if free_at is None:
            sql = f"UPDATE host_leases SET {less} WHERE host = ? AND worker = ?"
            self._execute(sql, (count, host, worker))
            return
        self._execute(
            f"UPDATE host_leases SET {less},"
            " until = CASE WHEN in_flight <= ? THEN ? ELSE until END"
            " WHERE host = ? AND worker = ?",
            (count, count, ts(free_at), host, worker),
        )

    def renew_leases(self, worker: str, until: datetime) -> int:
        """Extend every lease ``worker`` holds (sources and hosts) to ``until``."""
        with self.batch():
            cursor = self._execute(
                "UPDATE sources SET lease_until = ? WHERE lease_worker = ?", (ts(until), worker)
            )
            self._execute(  # not the hosts it released (they are free from their time)
                "UPDATE host_leases SET until = ? WHERE worker = ? AND in_flight > 0",
                (ts(until), worker),
            )
        return cursor.rowcount

    def release_claims(self, worker: str, free_at: datetime) -> None:
        """End every lease ``worker`` holds: its sources stay as due as they were, its hosts
        are free for any worker from ``free_at`` (the last request plus ``min_host_delay``)."""
        with self.batch():
            self._execute(
                "UPDATE sources SET lease_worker = NULL, lease_until = NULL WHERE lease_worker = ?",
                (worker,),
            )
            # A host released at a save (none of its sources in hand) keeps its earlier
            # time and who released it (see the claim); the others are free from free_at.
            self._execute(
                "UPDATE host_leases SET"
                " worker = CASE WHEN in_flight = 0 AND until < :free THEN worker ELSE '' END,"
                " until = CASE WHEN in_flight = 0 AND until < :free THEN until ELSE :free END,"
                " in_flight = 0 WHERE worker = :worker",
                {"free": ts(free_at), "worker": worker},
            )

    def set_next_due(self, dues: Sequence[tuple[str, datetime | None, datetime | None]]) -> None:
        """Save ``(name, last_fetched, next_due)``: when each source is next due, computed
        from its state fetched at ``last_fetched``. A source leased now, or fetched again
        since, keeps what its fetch saved."""
        with self.batch():
            self._many(
                "UPDATE sources SET next_due = ? WHERE name = ? AND lease_worker IS NULL"
                f" AND last_fetched {self.dialect.same_text}"
                f" AND next_due {self.dialect.other_text}",
                [
                    (optional_ts(due), name, optional_ts(fetched), optional_ts(due))
                    for name, fetched, due in dues
                ],
            )

    def queued_dues(self) -> dict[str, datetime]:
        """When the queue has each source due (see the role); one read of the table."""
        rows = self._execute("SELECT name, next_due FROM sources WHERE next_due IS NOT NULL")
        return {str(name): required_dt(due) for name, due in rows.fetchall()}

    def expired_leases(self, now: datetime, since: datetime) -> list[ExpiredLease]:
        """Leases that ran out before their worker saved the source: those still unclaimed
        (``at`` None) and those recorded as errors since ``since``."""
        rows = self._execute(
            "SELECT name, lease_worker, lease_until, CAST(NULL AS TEXT) FROM sources"
            " WHERE lease_until IS NOT NULL AND lease_until <= :now"
            " UNION ALL SELECT name, expired_worker, expired_until, expired_at FROM sources"
            " WHERE expired_at IS NOT NULL AND expired_at >= :since ORDER BY 1, 4 NULLS FIRST",
            {"now": ts(now), "since": ts(since)},
        ).fetchall()
        return [
            ExpiredLease(source=r[0], worker=r[1], until=required_dt(r[2]), at=optional_dt(r[3]))
            for r in rows
        ]

    # -- the registry ----------------------------------------------------------------------

    def worker_started(self, worker: str, now: datetime) -> None:
        """Register ``worker`` (``host:pid:random``) as alive at ``now``."""
        with self.batch():
            self._execute(
                "INSERT INTO workers (id, started, heartbeat, last_activity)"
                " VALUES (?, ?, ?, NULL) ON CONFLICT (id) DO UPDATE SET"
                " started = excluded.started, heartbeat = excluded.heartbeat,"
                " last_activity = NULL",
                (worker, ts(now), ts(now)),
            )

    def worker_beat(self, worker: str, now: datetime) -> None:
        """``worker`` is alive at ``now`` (registered again if its row was removed)."""
        with self.batch():
            self._execute(
                "INSERT INTO workers (id, started, heartbeat) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat",
                (worker, ts(now), ts(now)),
            )

    def worker_stopped(self, worker: str, free_at: datetime) -> None:
        """``worker`` exits cleanly: its leases end (see :meth:`release_claims`), its
        publisher lease too, and it leaves the registry."""
        with self.batch():
            self.release_claims(worker, free_at)
            self.release_publisher_lock(worker)
            self._execute("DELETE FROM workers WHERE id = ?", (worker,))

    def workers(self) -> list[WorkerInfo]:
        """Every registered worker, the most recently started first."""
        rows = self._execute(
            f"SELECT {WORKER.select()} FROM workers ORDER BY started DESC, id"
        ).fetchall()
        return [WORKER.load(r) for r in rows]

    def forget_workers(self, heard_before: datetime) -> int:
        """Remove workers not heard from since ``heard_before`` (they died); how many."""
        with self.batch():
            cursor = self._execute("DELETE FROM workers WHERE heartbeat < ?", (ts(heard_before),))
        return cursor.rowcount

    def _touch(self, worker: str, now: datetime) -> None:
        self._execute("UPDATE workers SET last_activity = ? WHERE id = ?", (ts(now), worker))

    # -- the publisher ---------------------------------------------------------------------

    def try_publisher_lock(self, worker: str, now: datetime, hold: timedelta) -> bool:
        """Become the one publisher, unless another worker is (never waits). The store keeps
        a lease until ``now + hold`` (taken over after it, should its holder die)."""
        with self.batch():
            row = self._execute(
                "UPDATE publisher SET worker = ?, until = ?"
                " WHERE id = 1 AND (worker IS NULL OR worker = ? OR until <= ?) RETURNING 1",
                (worker, ts(now + hold), worker, ts(now)),
            ).fetchone()
        return row is not None

    def release_publisher_lock(self, worker: str) -> None:
        """Stop being the publisher (nothing happens when ``worker`` is not)."""
        with self.batch():
            self._execute(
                "UPDATE publisher SET worker = NULL, until = NULL WHERE id = 1 AND worker = ?",
                (worker,),
            )

    def publisher_lock_holder(self) -> str | None:
        """The worker whose lease is in the row (it may have run out: ask its ``until``)."""
        row = self._execute("SELECT worker FROM publisher WHERE id = 1").fetchone()
        return str(row[0]) if row is not None and row[0] is not None else None

    def request_publish(self, now: datetime) -> None:
        """Note that saved changes wait to be published (the first request's time is kept)."""
        with self.batch():
            self._execute(
                "UPDATE publisher SET needed_since = coalesce(needed_since, ?) WHERE id = 1",
                (ts(now),),
            )

    def publish_requested(self) -> datetime | None:
        """Since when changes wait to be published, or None."""
        row = self._execute("SELECT needed_since FROM publisher WHERE id = 1").fetchone()
        return optional_dt(row[0]) if row else None

    def take_publish_request(self) -> datetime | None:
        """Clear the request (the caller publishes now); since when it was pending."""
        with self.batch():  # the row locked (or one writer): nobody asks in between
            row = self._execute(
                "SELECT needed_since FROM publisher WHERE id = 1" + self.dialect.for_update
            ).fetchone()
            self._execute("UPDATE publisher SET needed_since = NULL WHERE id = 1")
        return optional_dt(row[0]) if row else None
