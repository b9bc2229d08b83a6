"""The store roles of workers that share one store: the sources table as their queue
(leases on sources and hosts), the registry of live workers, and the one publisher.

Each method is one transaction, atomic with respect to the other workers' claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from feeds.store.transaction import Transactional

if TYPE_CHECKING:
    from feeds.store.values import ExpiredLease, SourcesClaimed, WorkerInfo
    from feeds.types import HostHold, SourceState

__all__ = ["HostHoldBoard", "PublisherLock", "WorkQueue", "WorkerRegistry"]


class WorkQueue(Transactional, Protocol):
    """The sources table as the queue that workers share: a claim is a lease that expires.

    Each method is one transaction, atomic with respect to every other worker's claims (no
    select-then-update: SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's ``FOR UPDATE SKIP
    LOCKED``). A source is due when its saved ``next_due`` is NULL or past, it is not
    retired, its Retry-After is past and nobody holds a lease on it. A host (see
    :func:`feeds.store.values.host_of`) is held by one worker at a time, so ``max_per_host``
    and ``min_host_delay``, which each worker's fetcher keeps, hold for all of them.
    """

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
        """First record every lease that ran out by ``now`` as an error on its source (see
        :meth:`expired_leases`), then lease up to ``limit`` due sources to ``worker`` until
        ``now + lease``: host by host (the host of the longest due source first, so that a
        claim holds few hosts), at most ``per_host`` of one host (0: no cap) counting the
        sources of it ``worker`` holds already, only of hosts no other worker holds;
        ``worker`` takes their hosts until the same time. Their states, the longest due
        first (then by name).

        A host of which ``worker`` holds no source in hand (released: see
        :meth:`release_sources`) is free for it at once (its fetcher spaces its own
        requests), but ``hand_over`` after it is free for the others while another worker
        looks for work (heard from within twice ``hand_over``; a claim counts as a
        heartbeat): a daemon that fetches without a pause leaves the hosts it is done
        with to an idle one, so several share few hosts. A source fetched at or after
        ``fetched_before`` (in the caller's round) is not claimed (None: whenever it was
        fetched)."""
        ...

    def claim_sources(
        self, names: Sequence[str], now: datetime, lease: timedelta, *, worker: str
    ) -> list[str]:
        """Lease the named sources to ``worker`` whether due or not (``feeds refresh``),
        except those another worker holds or whose host another worker holds; the names
        leased. Expired leases are recorded first, as in :meth:`claim_due`."""
        ...

    def claim_sources_in_turn(
        self, names: Sequence[str], now: datetime, lease: timedelta, *, worker: str, wait: timedelta
    ) -> SourcesClaimed:
        """:meth:`claim_sources`, and also the sources on a host that another worker has
        released (none of its fetches in flight) to be free within ``wait`` of ``now``:
        those are leased with the time their host is free, which their first request
        waits for (``feeds refresh`` just after another run: ``wait`` is
        ``min_host_delay``). A host with a fetch of another worker in flight is still
        left to it."""
        ...

    def release_source(
        self,
        name: str,
        worker: str,
        next_due: datetime | None,
        now: datetime,
        *,
        free_hosts_at: datetime | None = None,
    ) -> bool:
        """End ``worker``'s lease on ``name`` and save when it is next due (None: never, it
        is retired); in the transaction that saved its fetch. False, changing nothing, when
        ``worker`` does not hold it (its lease ran out and another worker claimed it).
        ``free_hosts_at``: as in :meth:`release_sources`."""
        ...

    def release_sources(
        self,
        worker: str,
        releases: Sequence[tuple[str, datetime | None]],
        now: datetime,
        *,
        free_hosts_at: datetime | None = None,
    ) -> set[str]:
        """:meth:`release_source` for each ``(name, next_due)``, in a few statements (a
        group of sources saved in one transaction); the names released. With
        ``free_hosts_at`` (the last request + min_host_delay), a host of which ``worker``
        then holds no source is released too: free for any worker from that time, not
        when ``worker``'s round of claims ends (None: held until :meth:`release_claims`)."""
        ...

    def renew_leases(self, worker: str, until: datetime) -> int:
        """Extend every lease ``worker`` holds (sources, and hosts it has sources of in
        hand) to ``until`` (a worker alive on a long run); how many sources it holds."""
        ...

    def release_claims(self, worker: str, free_at: datetime) -> None:
        """End every lease ``worker`` still holds: its sources stay as due as they were; its
        hosts are free for any worker from ``free_at`` (its last request + min_host_delay)."""
        ...

    def set_next_due(self, dues: Sequence[tuple[str, datetime | None, datetime | None]]) -> None:
        """Save ``(name, last_fetched, next_due)`` computed from a source's state fetched at
        ``last_fetched`` (after a config change); a source leased now, or fetched since,
        keeps what its fetch saved."""
        ...

    def expired_leases(self, now: datetime, since: datetime) -> list[ExpiredLease]:
        """Leases that ran out before their worker saved the source: those not claimed again
        yet (``at`` None) and those recorded as errors at or after ``since``."""
        ...

    def queued_dues(self) -> dict[str, datetime]:
        """When the queue has each source due, by name (its saved ``next_due``; a source
        with none is not listed): no claim takes it sooner, whatever its state says (a
        source deferred for a held host keeps its state, and is due at the hold's end)."""
        ...


class WorkerRegistry(Protocol):
    """The workers sharing a store, each with its id (``host:pid:random``) and heartbeat."""

    def worker_started(self, worker: str, now: datetime) -> None:
        """Register ``worker`` as alive at ``now``."""
        ...

    def worker_beat(self, worker: str, now: datetime) -> None:
        """``worker`` is alive at ``now`` (registered again if it was forgotten)."""
        ...

    def worker_stopped(self, worker: str, free_at: datetime) -> None:
        """``worker`` exits cleanly: :meth:`WorkQueue.release_claims`, its publisher lock is
        released, and it leaves the registry."""
        ...

    def workers(self) -> list[WorkerInfo]:
        """Every registered worker (sources it leases, last claim or save), newest first."""
        ...

    def forget_workers(self, heard_before: datetime) -> int:
        """Remove the workers last heard from before ``heard_before``; how many."""
        ...


class PublisherLock(Protocol):
    """One publisher at a time, and the changes that wait for it.

    A worker that saved changes calls :meth:`request_publish`; whoever holds the lock (or
    takes it next) calls :meth:`take_publish_request` and publishes. PostgreSQL:
    ``pg_try_advisory_lock``; SQLite: a lease in a row.
    """

    def try_publisher_lock(self, worker: str, now: datetime, hold: timedelta) -> bool:
        """Become the publisher unless another worker is; never waits. A backend without
        session locks keeps a lease until ``now + hold`` (taken over after that)."""
        ...

    def release_publisher_lock(self, worker: str) -> None:
        """Stop being the publisher (nothing happens when ``worker`` is not)."""
        ...

    def publisher_lock_holder(self) -> str | None:
        """The worker that holds the publisher lease now (or held it until it died)."""
        ...

    def request_publish(self, now: datetime) -> None:
        """Saved changes wait to be published (the earliest request's time is kept)."""
        ...

    def publish_requested(self) -> datetime | None:
        """Since when changes wait to be published, or None."""
        ...

    def take_publish_request(self) -> datetime | None:
        """Clear the request (the caller publishes now); since when it was pending."""
        ...


class HostHoldBoard(Transactional, Protocol):
    """Hosts that asked to wait (a 429 or 503, or a timeout), for every worker of the store:
    a worker writes the holds its fetcher met and hands those it reads to its fetcher, so
    none sends a request to such a host until the hold ends (:mod:`feeds.ingest.fetch.holds`).
    """

    def hold_hosts(self, holds: Sequence[HostHold], now: datetime) -> None:
        """Hold each host until its hold's end (a longer hold of it stays); forget the
        holds ended by ``now``."""
        ...

    def hold_hosts_now(self, holds: Sequence[HostHold], now: datetime) -> None:
        """:meth:`hold_hosts` in a transaction of its own, on a connection of its own,
        committed at once whatever this connection's open transaction; from any thread."""
        ...

    def host_holds(self, now: datetime) -> list[HostHold]:
        """The holds not ended at ``now``, by host."""
        ...
