"""A worker: one process that shares a store's sources with others (``feeds daemon``, and
``feeds refresh`` while it runs).

Each worker has an id, ``host:pid:random``. It claims due sources from the store (the
sources table is the queue: :class:`~feeds.store.protocol.WorkQueue`), holds them and their
hosts for a lease, and releases each source with its next due time in the transaction that
saves its fetch. A lease is long enough for every fetch of a claim in turn, each bounded by
``[fetch] total_timeout``, plus ``[daemon] save_time``; a worker that dies loses its sources
to the others once the lease runs out (the store counts it as an error on each). One worker
at a time publishes (:class:`~feeds.store.protocol.PublisherLock`); the others leave a
request that the publisher (or the next one) honours.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, datetime, timedelta

from feeds.config import Config
from feeds.core import schedule
from feeds.core.limits import printable
from feeds.errors import FeedsError, LockError, StoreError
from feeds.publish import websub
from feeds.run.adaptive import with_adaptive_intervals
from feeds.run.publish_outputs import publish_all
from feeds.run.reports import OutputReport
from feeds.run.shared_holds import held_until
from feeds.store.protocol import Storage

__all__ = [
    "HAND_OVER",
    "IDLE_CLAIMS",
    "PUBLISH_HOLD",
    "LeaseRenewer",
    "Renewal",
    "claim_limit",
    "claim_retry",
    "forget_dead_publisher",
    "forget_dead_refreshes",
    "forget_gone_workers",
    "free_hosts_at",
    "is_refresh",
    "lease_for",
    "process_exists",
    "process_gone",
    "publish_as",
    "publisher",
    "registered",
    "reschedule",
    "utc_clock",
    "worker_id",
]

log = logging.getLogger("feeds.worker")

#: How long the publisher lease lasts where the store keeps one (SQLite): should its holder
#: die while publishing, another worker publishes after this.
PUBLISH_HOLD = timedelta(minutes=2)


#: The random part of a ``feeds refresh`` worker's id starts with this.
REFRESH = "refresh-"


def worker_id(pid: int | None = None, *, refresh: bool = False) -> str:
    """``host:pid:random``: unique among the workers of a store, and says where to look
    (``random`` starts with ``refresh-`` for a ``feeds refresh`` run)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{REFRESH if refresh else ''}{os.urandom(3).hex()}"


def is_refresh(worker: str) -> bool:
    """Whether ``worker`` is a process that holds the refresh lock while it lives (a ``feeds
    refresh``, ``feeds publish`` or ``feeds drop`` on an SQLite store): the random part of
    its id, after the last colon, starts with :data:`REFRESH` (a host may be named so too)."""
    return worker.rpartition(":")[2].startswith(REFRESH)


def forget_dead_refreshes(
    store: Storage, worker: str, now: datetime, delay: timedelta = timedelta(0)
) -> int:
    """End the leases of other ``feeds refresh`` runs and drop them from the registry: call
    it holding the refresh lock, which only one refresh at a time holds (the kernel lets it
    go when its holder dies), so any other refresh in the registry was killed. Without this,
    a refresh killed by cron or the OOM killer would keep the next ones from its sources
    until its leases ran out. Its hosts stay held until ``delay`` (``min_host_delay``) after
    it was last heard from (a save, a claim, a heartbeat): this run leases them all the
    same and waits for that time before its first request to each. How many were forgotten."""
    forget_dead_publisher(store, worker)
    dead = [w for w in store.workers() if is_refresh(w.id) and w.id != worker]
    for other in dead:
        heard = max(other.heartbeat, other.last_activity or other.heartbeat)
        store.worker_stopped(other.id, min(heard, now) + delay)
    return len(dead)


def process_exists(host: str, pid: int) -> bool:
    """Whether process ``pid`` of machine ``host`` may exist: another machine's is assumed
    to (its heartbeat's age tells instead); on this machine, unless no process has the pid
    now (a pid in use again, whoever uses it, counts; so does one too large to be a pid)."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; no pid at all
        return True
    return True


def process_gone(worker: str) -> bool:
    """Whether the process of ``worker`` (an id of :func:`worker_id`) is provably gone: it
    ran on this machine and no process has its pid now (:func:`process_exists`: killed, or
    ended without leaving the registry); never for an id of another form."""
    host, pid, _ = worker.rsplit(":", 2) if worker.count(":") >= 2 else ("", "", "")
    return pid.isdigit() and not process_exists(host, int(pid))


def forget_gone_workers(store: Storage, worker: str, now: datetime, delay: timedelta) -> int:
    """End the leases of the other workers whose process is gone (:func:`process_gone`),
    their publisher lease too, and drop them from the registry: a daemon killed (kill -9,
    the OOM killer) kept its sources and their hosts from every other worker until its
    leases ran out (ten minutes by default), though its process was known to be gone. Its
    hosts are free ``delay`` (``min_host_delay``) after ``now``: it made no request after
    ``now``. How many were forgotten."""
    gone = [w.id for w in store.workers() if w.id != worker and process_gone(w.id)]
    for other in gone:
        store.worker_stopped(other, now + delay)
    return len(gone)


def forget_dead_publisher(store: Storage, worker: str) -> None:
    """End the publisher lease of a process that held the refresh lock (a refresh, `feeds
    publish`, `feeds drop`: their ids carry :data:`REFRESH`) when ``worker`` holds that lock
    now: the holder was killed. Its lease would keep every refresh from publishing, without
    a word, for ``PUBLISH_HOLD``."""
    holder = store.publisher_lock_holder()
    if holder is not None and is_refresh(holder) and holder != worker:
        store.release_publisher_lock(holder)


def claim_limit(config: Config) -> int:
    """How many sources one claim takes: as many as the fetcher runs at once."""
    return max(config.fetch.max_connections, 1)


def lease_for(config: Config, limit: int) -> timedelta:
    """The lease on a claim of ``limit`` sources: every fetch in turn, each bounded by
    ``total_timeout`` and spaced by ``min_host_delay``, then ``save_time`` to save them."""
    per_fetch = config.fetch.total_timeout + config.fetch.min_host_delay
    return timedelta(seconds=limit * per_fetch) + config.daemon.save_time


#: How much later than the other workers a daemon may take back a host it released, while
#: another worker is alive: an idle daemon looks for work every second (``MIN_WAIT`` of
#: :mod:`feeds.run.daemon`), so a busy one that is done with a host leaves it its turn,
#: and two daemons split few hosts between them instead of one taking every host.
HAND_OVER = timedelta(seconds=2)


#: Seconds a daemon's round that found nothing to claim goes on claiming (every
#: :func:`claim_retry`) before it ends, while another worker was heard from lately: a host
#: that it hands over is taken within a fraction of a second, not at the next round (a
#: second later, or more).
IDLE_CLAIMS = 1.0


def claim_retry(config: Config) -> float:
    """Seconds between a daemon's claims while the last found nothing to take, and how
    long after its last save it claims once more before its round ends: a host it
    released is free again ``min_host_delay`` after (at least 0.1 s, at most 1 s)."""
    return min(max(config.fetch.min_host_delay, 0.1), 1.0)


def free_hosts_at(config: Config, now: datetime) -> datetime:
    """When the hosts a worker releases at ``now`` may be fetched again by anyone: ``now``
    is when the worker is done with them (after its last request to each, and its save),
    never when its run began (a long run's last requests come long after)."""
    return now + timedelta(seconds=config.fetch.min_host_delay)


def utc_clock() -> datetime:
    """The real time, timezone-aware UTC: when a worker releases its hosts (see
    :func:`free_hosts_at`), for callers that pass no clock of their own."""
    return datetime.now(UTC)


def reschedule(config: Config, store: Storage, now: datetime) -> None:
    """Save when each configured source is next due by this config (after a start or a
    reload: intervals may have changed), not before its host's hold in the store ends (a
    source deferred for it stays due then). A source fetched since keeps what it saved."""
    config = with_adaptive_intervals(config, store, now)
    configured = {s.name for s in config.sources}
    held = held_until(store.host_holds(now))
    dues: list[tuple[str, datetime | None, datetime | None]] = []
    for state in store.sources():
        if state.name in configured:
            due = schedule.next_due(state, config.schedule, config.interval(state.name))
            hold_ends = held(state.url)
            if due is not None and hold_ends is not None:
                due = max(due, hold_ends)
            dues.append((state.name, state.last_fetched, due))
    store.set_next_due(dues)


def publish_as(
    worker: str,
    config: Config,
    store: Storage,
    poster: websub.Poster | None,
    now: datetime,
) -> tuple[OutputReport, ...] | None:
    """Publish every output as the one publisher; None when another worker publishes now
    (a request is left for it, so the changes are published by it or the next one)."""
    if not store.try_publisher_lock(worker, now, PUBLISH_HOLD):
        store.request_publish(now)
        return None
    try:
        since = store.take_publish_request()
        try:
            return publish_all(config, store, poster=poster, now=now)
        except BaseException:
            if since is not None:
                store.request_publish(since)
            raise
    finally:
        store.release_publisher_lock(worker)


class LeaseRenewer:
    """A thread that keeps a live worker's leases and heartbeat fresh during a long run.

    Every third of ``lease`` it extends every lease ``worker`` holds to ``clock() + lease``
    and records a heartbeat, through its own connection to the store. A renewal that fails,
    whatever the error (the store busy, gone or read-only, or a bug), is logged and tried
    again a third of ``lease`` later: the thread ends only when the worker is done with it.
    When the process dies, so does the thread, and the leases run out within one ``lease``.
    """

    def __init__(
        self,
        worker: str,
        lease: timedelta,
        *,
        clock: Callable[[], datetime],
        open_store: Callable[[], Storage],
    ) -> None:
        self._worker, self._lease, self._clock, self._open = worker, lease, clock, open_store
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeds-leases", daemon=True)

    def __enter__(self) -> LeaseRenewer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        every = max(self._lease.total_seconds() / 3, 0.1)
        while not self._stop.wait(every):
            self._renew()

    def _renew(self) -> None:
        """Renew the leases and the heartbeat once; an error is logged, never raised (the
        thread would end, and the worker's sources go to another worker meanwhile)."""
        try:
            with self._open() as store:
                now = self._clock()
                store.renew_leases(self._worker, now + self._lease)
                store.worker_beat(self._worker, now)
        except FeedsError as exc:  # the store is busy, gone or read-only: try again next time
            log.warning("could not renew the leases of %s: %s", self._worker, exc)
        except Exception:  # a bug: logged with its traceback, and tried again next time
            log.exception("could not renew the leases of %s", self._worker)


class Renewal:
    """Renews a worker's leases and heartbeat when called, at most every third of ``lease``
    (from the thread that works, so that no other thread runs: ``feeds refresh`` forks its
    worker processes only then)."""

    def __init__(
        self, store: Storage, worker: str, lease: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self._store, self._worker, self._lease, self._clock = store, worker, lease, clock
        self._every = lease.total_seconds() / 3
        self._last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self._last < self._every:
            return
        self._last = time.monotonic()
        now = self._clock()
        self._store.renew_leases(self._worker, now + self._lease)
        self._store.worker_beat(self._worker, now)


@contextmanager
def registered(
    config: Config, store: Storage, worker: str, *, clock: Callable[[], datetime]
) -> Iterator[Renewal]:
    """``worker`` is in the store's registry for the duration (call what it gives to renew
    its leases); on the way out its leases end and it leaves the registry. A ``feeds
    refresh`` worker (holding the refresh lock) first forgets the refreshes that were
    killed."""
    store.worker_started(worker, clock())
    # We hold the refresh lock: another refresh in the registry died. A PostgreSQL store has
    # no refresh lock (refreshes on other machines may be alive): its leases run out instead.
    delay = timedelta(seconds=config.fetch.min_host_delay)
    if is_refresh(worker) and config.store_url is None:
        forget_dead_refreshes(store, worker, clock(), delay)
    forget_gone_workers(store, worker, clock(), delay)
    interrupted = False
    try:
        yield Renewal(store, worker, lease_for(config, claim_limit(config)), clock)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        # Ctrl-C may leave a statement of the store half-read, which refuses the release:
        # the interrupt is what to report (the next refresh forgets this one's leases).
        with suppress(StoreError) if interrupted else nullcontext():
            store.worker_stopped(worker, free_hosts_at(config, clock()))


@contextmanager
def publisher(
    store: Storage,
    worker: str,
    timeout: float,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None] = time.sleep,
    refresh_locked: bool = False,
) -> Iterator[None]:
    """Be the one publisher for the duration (``feeds publish``, ``feeds drop``): wait at
    most ``timeout`` seconds while a worker publishes, then raise :class:`LockError`.
    ``refresh_locked``: the caller holds the refresh lock (an SQLite store), so a lease
    of an earlier holder of that lock is a killed one's (:func:`forget_dead_publisher`)."""
    if refresh_locked:
        forget_dead_publisher(store, worker)
    deadline = time.monotonic() + timeout
    while not store.try_publisher_lock(worker, clock(), PUBLISH_HOLD):
        if time.monotonic() >= deadline:
            holder = store.publisher_lock_holder()  # host:pid:…, which `feeds status` lists
            named = f" ({printable(holder)})" if holder else ""
            raise LockError(
                f"another worker{named} is publishing; gave up after waiting {timeout:g} s"
            )
        sleep(0.1)
    try:
        store.take_publish_request()
        yield
    finally:
        store.release_publisher_lock(worker)
