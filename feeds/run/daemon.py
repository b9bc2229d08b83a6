"""The daemon: a worker that fetches each source when it is due, publishes after changes,
stops cleanly; several daemons on one store share its sources.

Two parts:

- :class:`Daemon`, the logic, with the clock passed in and no APScheduler,
  signals or threads of its own. ``tick(now)`` claims the sources due at ``now`` from the
  store (a lease on them and their hosts), claiming again as fetches end, until none is
  left (:func:`~feeds.run.refresh.refresh_claiming`), fetches them (concurrently, under
  the fetcher's global and per-host caps), saves each all or nothing (see
  :mod:`feeds.run.refresh`) and releases it with its next due time; then it
  publishes as the one publisher when the coalescing window has passed, records a
  heartbeat, and returns when it next needs to run. An output this
  daemon has not published yet (every output after start, a new one after SIGHUP) is
  published at the end of the first tick that sees it, so a fresh install shows its
  feeds as soon as the first round of fetches is done; ``publish_delay`` coalesces the
  changes after that (counted from the first change any worker saved). A test
  drives it through a simulated day with a fake clock.
- :func:`run`, the shell: registers the worker, keeps its leases fresh from a thread,
  lets an APScheduler ``BlockingScheduler`` call ``tick`` at the times it
  asks for (one job, ``max_instances=1``, coalescing, a misfire grace time, so
  runs never overlap and a late wake-up runs once), and handles signals:

  ======== ==================================================================
  SIGTERM  stop taking new work; fetches in flight that come back within
  SIGINT   ``STOP_GRACE`` seconds are saved, so is every one that had come
           back, and the others are abandoned at once, not waited for (their
           leases end: they stay due, for any worker); no new article page is
           fetched; pending changes are published; the worker leaves the
           registry; exit 0
  SIGHUP   reload the config before the next run; a bad config is reported
           and the old one kept (a changed ``[store] path`` needs a restart)
  ======== ==================================================================

No lock keeps a second daemon out: the store's leases are what keep two workers (two
daemons, or a daemon and a cron ``feeds refresh``, which leases what it fetches too) from
fetching one source, or one host, at once. See docs/scaling.md.
"""

from __future__ import annotations

import _thread
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from types import FrameType
from typing import Any

from feeds import config as config_module
from feeds.config import Config
from feeds.core import schedule
from feeds.errors import ConfigError, FeedsError, StoreError
from feeds.ingest.fetch import Fetcher
from feeds.run.adaptive import with_adaptive_intervals
from feeds.run.filtering import retention_before_publishing
from feeds.run.hooks import deliver_due
from feeds.run.notify import notify
from feeds.run.publish_outputs import aged_at
from feeds.run.refresh import SIGN_PER_RUN, OutputReport, SourceReport, refresh_claiming
from feeds.run.shared_holds import held_until
from feeds.run.worker import (
    HAND_OVER,
    IDLE_CLAIMS,
    LeaseRenewer,
    claim_limit,
    forget_gone_workers,
    free_hosts_at,
    lease_for,
    publish_as,
    reschedule,
    worker_id,
)
from feeds.store import open_store
from feeds.store.protocol import Storage
from feeds.types import SourceState

__all__ = ["Daemon", "TickReport", "run"]

log = logging.getLogger("feeds.daemon")
#: A line per source fetched without a problem: ``feeds daemon -v`` only (its help says
#: "log every fetch, not only problems"); its failures go to ``log``, always shown.
fetch_log = logging.getLogger("feeds.daemon.fetches")

#: Never wake up sooner than this after a run (a source that stays due must not spin).
MIN_WAIT = timedelta(seconds=1)
#: A worker not heard from for this long (or ten heartbeats, if longer) leaves the registry.
FORGET_WORKERS = timedelta(hours=1)
#: Seconds a stopping daemon waits for the fetches under way: those that come back by then
#: are saved, the others abandoned, their sources left due for any worker (docs/scaling.md).
STOP_GRACE = 2.0
#: How late a run may start and still run (a suspended laptop, a busy machine).
MISFIRE_GRACE_SECONDS = 300


@dataclass(frozen=True)
class TickReport:
    """What one :meth:`Daemon.tick` did, and when the daemon should next run."""

    now: datetime
    sources: tuple[SourceReport, ...]
    outputs: tuple[OutputReport, ...]
    next_run: datetime

    @property
    def fetched(self) -> tuple[SourceReport, ...]:
        return tuple(s for s in self.sources if s.skipped is None)


class Daemon:
    """The daemon's logic: claim what is due at ``now``, publish as the one publisher after
    the coalescing window, keep a heartbeat.

    A worker among the store's workers (:mod:`feeds.run.worker`): each tick claims due
    sources in leases until none is left, fetches and saves them, and releases each with
    its next due time; another daemon on the same store shares the work.
    Not thread-safe: one ``tick`` at a time (the scheduler guarantees it).
    Each tick opens the store afresh, so ticks may run on any thread.
    """

    def __init__(
        self,
        config: Config,
        fetcher: Fetcher,
        *,
        pid: int | None = None,
        worker: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.fetcher = fetcher
        self.pid = os.getpid() if pid is None else pid
        self.worker = worker or worker_id(self.pid)
        self._clock = clock  # the real time for a tick's later claims; None: the tick's now
        self._stop = threading.Event()
        self._published: set[str] = set()
        self._config_changed = True  # sources and their due times are saved at the next tick

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, now: datetime) -> None:
        """Record in the store that a daemon (a worker) runs here: the heartbeat starts."""
        with open_store(self.config.store_location) as store:
            self._register(store, now)

    def _register(self, store: Storage, now: datetime) -> None:
        store.sync_sources([(s.name, s.url) for s in self.config.sources])
        store.daemon_started(self.pid, socket.gethostname(), now)
        store.worker_started(self.worker, now)
        store.forget_workers(now - self._forget_after())

    def _forget_after(self) -> timedelta:
        """A worker not heard from for this long is dead: it leaves the registry."""
        return max(10 * self.config.daemon.heartbeat, FORGET_WORKERS)

    def request_stop(self) -> None:
        """Take no new work; a tick in progress saves the fetches that came back (or come
        back within ``STOP_GRACE``) and abandons the others, their sources left due."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def finish(self, now: datetime) -> tuple[OutputReport, ...]:
        """Publish pending changes, leave the registry, record that the daemon stopped."""
        with open_store(self.config.store_location) as store:
            outputs: tuple[OutputReport, ...] = ()
            if store.publish_requested() is not None:
                try:  # a tick's retention may have failed: none of its copies is published
                    retention_before_publishing(self.config, store, now)
                except StoreError as exc:
                    log.error("%s", exc)
                else:
                    outputs = publish_as(self.worker, self.config, store, self.fetcher, now) or ()
            store.worker_stopped(self.worker, free_hosts_at(self.config, now))
            store.daemon_stopped(now)
        return outputs

    def reload(self, config: Config) -> None:
        """Use a new config from the next tick on (the store path must not change)."""
        if config.store_location != self.config.store_location:
            raise ConfigError(
                [f"store.path: changing it ({config.store_path}) needs a restart of the daemon"],
                str(config.path) if config.path else None,
            )
        self.config = config
        self._config_changed = True
        self._published.clear()  # an output's title, sources, formats or rules may differ

    # -- one run ---------------------------------------------------------------------------

    def tick(self, now: datetime) -> TickReport:
        """Fetch the sources due at ``now``, publish if the window passed, say when to run next."""
        config = self.config
        with open_store(config.store_location) as store:
            if store.daemon_info() is None:  # a new store: the file was deleted or replaced
                log.warning("the store holds no daemon: a new store (deleted?), set up again")
                self._register(store, now)
                self._published.clear()
                self._config_changed = True
            store.worker_beat(self.worker, now)
            # A worker of this machine killed holds its sources until its leases run out;
            # one long unheard of (killed elsewhere) keeps its hooks' drafts from the others.
            delay = timedelta(seconds=config.fetch.min_host_delay)
            forget_gone_workers(store, self.worker, now, delay)
            store.forget_workers(now - self._forget_after())
            if self._config_changed:
                store.sync_sources([(s.name, s.url) for s in config.sources])
                reschedule(config, store, now)
                self._config_changed = False
            with store.transaction():
                store.sign_unsigned(SIGN_PER_RUN)
            sources = self._work(store, now)
            aged = aged_at(config, store)
            if any(s.changed for s in sources) or (aged is not None and now >= aged):
                store.request_publish(now)  # (an output shows an entry past its max_age)
            outputs = self._publish(store, now)
            # Hooks once what they announce is published (no change waits for publish_delay);
            # when stopping, at the next start. By the clock: the events of this tick's
            # saves are dated by their claims.
            if not self.stopping and store.publish_requested() is None:
                when = self._clock() if self._clock else now
                deliver_due(config, store, self.fetcher, when, stopping=self._stop.is_set)
            store.daemon_beat(now)
            next_run = self._next_run(store, now)
        return TickReport(now=now, sources=sources, outputs=outputs, next_run=next_run)

    def _work(self, store: Storage, now: datetime) -> tuple[SourceReport, ...]:
        """Claim due sources and save them, claiming again as fetches end, until none is
        due; every lease left is ended (those sources stay due)."""
        config = self.config
        clock = self._clock or (lambda: now)
        try:
            report = refresh_claiming(
                config,
                store,
                self.fetcher,
                self._claimer(store, now),
                now=now,
                clock=clock,
                worker=self.worker,
                should_stop=self._stop.is_set,
                linger=IDLE_CLAIMS if self._others_at_work(store, now) else 0.0,
                stop_grace=STOP_GRACE,
            )
        finally:
            store.release_claims(self.worker, free_hosts_at(config, clock()))
        return report.sources

    def _others_at_work(self, store: Storage, now: datetime) -> bool:
        """Whether another worker was heard from lately (a claim counts): it may hand this
        daemon a host within the round (see ``IDLE_CLAIMS``, ``HAND_OVER``); with none, a
        round that finds nothing ends at once."""
        lately = now - 2 * HAND_OVER
        return any(w.heartbeat > lately for w in store.workers() if w.id != self.worker)

    def _claimer(
        self, store: Storage, round_start: datetime
    ) -> Callable[[int, datetime], list[SourceState]]:
        """Claims of due sources, each of at most ``limit`` (what ``_work`` has room for),
        none fetched since ``round_start`` (due again already, it waits for the next round,
        unleased: any worker may take it), none of the hosts this daemon released while
        another worker may want them (see ``HAND_OVER``)."""
        config = self.config
        lease = lease_for(config, claim_limit(config))

        def claim(limit: int, at: datetime) -> list[SourceState]:
            return store.claim_due(
                at,
                limit,
                lease,
                worker=self.worker,
                per_host=config.fetch.max_per_host,
                hand_over=HAND_OVER,
                fetched_before=round_start,
            )

        return claim

    def _publish(self, store: Storage, now: datetime) -> tuple[OutputReport, ...]:
        """Publish as the one publisher when the window has passed since the first change
        waiting (or this daemon has not published an output yet)."""
        if self.stopping:
            return ()
        publish_at = self._publish_at(store)
        if not (publish_at is not None and now >= publish_at) and not self._unpublished():
            return ()
        outputs = publish_as(self.worker, self.config, store, self.fetcher, now)
        if outputs is None:  # another worker publishes now; it or the next one does ours
            return ()
        self._published.update(o.name for o in outputs if o.error is None)
        return outputs

    def _publish_at(self, store: Storage) -> datetime | None:
        since = store.publish_requested()
        return None if since is None else since + self.config.daemon.publish_delay

    def _unpublished(self) -> set[str]:
        """Outputs of the current config that this daemon has not published yet."""
        return {o.name for o in self.config.outputs} - self._published

    def _next_run(self, store: Storage, now: datetime) -> datetime:
        config = with_adaptive_intervals(self.config, store, now)
        candidates = [now + config.daemon.heartbeat]
        publish_at = self._publish_at(store)
        if publish_at is not None:
            candidates.append(publish_at)
        aged = aged_at(self.config, store)
        if aged is not None and aged > now:
            candidates.append(aged)
        configured = {s.name for s in config.sources}
        queued = store.queued_dues()  # no claim takes a source sooner (this worker's or not)
        held = held_until(store.host_holds(now))  # any worker's: its sources wait for the end
        for state in store.sources():
            if state.name not in configured:
                continue
            due = schedule.next_due(state, config.schedule, config.interval(state.name))
            if due is not None:  # a deferred source: when its host's hold ends
                due = max(due, queued.get(state.name, due), held(state.url) or due)
                candidates.append(due)
        return max(min(candidates), now + MIN_WAIT)


# --- the shell: lock, APScheduler, signals ---------------------------------------------------
class _Stop(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT to leave the scheduler's loop."""


_UTC_NOW = partial(datetime.now, UTC)


def run(config: Config, *, clock: Callable[[], datetime] = _UTC_NOW) -> int:
    """Run the daemon in the foreground until SIGTERM or SIGINT; return the exit status (0).

    Raises :class:`~feeds.errors.FeedsError` when it cannot start (the store is unusable).
    """
    # Imported here: cron's `feeds refresh` and `feeds --help` never pay for APScheduler.
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    logging.getLogger("apscheduler.scheduler").addFilter(_OVERLAP_NOT_A_PROBLEM)
    worker = worker_id()
    renewer = _renewer(config, worker, clock)
    with Fetcher(config.fetch) as first_fetcher:
        daemon = Daemon(config, first_fetcher, worker=worker, clock=clock)
        daemon.start(clock())
        log.info("feeds daemon started (worker %s): %d sources", worker, len(config.sources))
        scheduler = BlockingScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        reload_requested = threading.Event()
        fetchers = [first_fetcher]
        scheduler.add_job(
            _ticker(daemon, scheduler, fetchers, reload_requested, clock),
            IntervalTrigger(seconds=daemon.config.daemon.heartbeat.total_seconds(), timezone=UTC),
            id="tick",
            name="fetch due sources",
            next_run_time=clock(),
        )

        def on_hup(signum: int, frame: FrameType | None) -> None:
            reload_requested.set()
            # Not from the handler itself: the scheduler's locks may be held by this thread.
            threading.Thread(
                target=_wake, args=(scheduler, clock()), name="feeds-reload", daemon=True
            ).start()

        notify(f"READY=1\nMAINPID={os.getpid()}\nSTATUS={len(config.sources)} sources")
        with renewer:
            _serve(daemon, scheduler, on_hup)
        outputs = daemon.finish(clock())
        for output in outputs:
            if output.error:
                log.error("output %s: FAILED: %s", output.name, output.error)
        for fetcher in fetchers[1:]:
            fetcher.close()
    log.info("feeds daemon stopped")
    return 0


class _OverlapNotAProblem(logging.Filter):
    """Leaves out APScheduler's warning that the tick's heartbeat trigger fired while a tick
    still ran ('Execution of job "fetch due sources …" skipped: maximum number of running
    instances reached (1)'). A tick longer than ``heartbeat`` (a host that hangs until
    ``total_timeout``, a large round) is the daemon working as meant: ``max_instances=1`` is
    the intent, and the tick sets its own next run when it ends. Logged as a WARNING once a
    heartbeat, it filled the journal with problems that were none."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


_OVERLAP_NOT_A_PROBLEM = _OverlapNotAProblem()


def _renewer(config: Config, worker: str, clock: Callable[[], datetime]) -> LeaseRenewer:
    """Keeps the worker's leases and heartbeat fresh through a long tick."""
    return LeaseRenewer(
        worker,
        lease_for(config, claim_limit(config)),
        clock=clock,
        open_store=lambda: open_store(config.store_location),
    )


def _ticker(
    daemon: Daemon,
    scheduler: Any,
    fetchers: list[Fetcher],
    reload_requested: threading.Event,
    clock: Callable[[], datetime],
) -> Callable[[], None]:
    """The scheduler's job: reload when asked, tick, and set when it runs next."""

    def job() -> None:
        if reload_requested.is_set():
            reload_requested.clear()
            _reload(daemon, fetchers)
        try:
            report = daemon.tick(clock())
        except FeedsError as exc:  # e.g. the disk is full: log it and try again later
            log.error("run failed: %s", exc)
            next_run = clock() + daemon.config.daemon.heartbeat
        except Exception:  # a bug: the daemon logs it and goes on
            log.exception("run failed")
            next_run = clock() + daemon.config.daemon.heartbeat
        else:
            _log_tick(report)
            next_run = report.next_run
            notify("WATCHDOG=1")  # the heartbeat is saved: systemd's watchdog too
        if reload_requested.is_set():  # a SIGHUP during the tick: its wake-up was now
            next_run = clock()
        if not daemon.stopping:
            scheduler.modify_job("tick", next_run_time=next_run)
        elif scheduler.running:  # stopping, not stopped: APScheduler took the stop for an
            _thread.interrupt_main(signal.SIGTERM)  # error as it submitted a tick; again

    return job


def _serve(daemon: Daemon, scheduler: Any, on_hup: Callable[[int, FrameType | None], None]) -> None:
    """Run the scheduler until a signal stops it; wait for the tick in progress."""
    from apscheduler.schedulers.base import SchedulerNotRunningError

    left = threading.Event()  # the scheduler's loop is left: a stop then raises nothing
    try:
        with _signals(daemon, on_hup, left):
            try:
                scheduler.start()
            except _Stop:
                pass
            finally:
                left.set()
                daemon.request_stop()
                notify("STOPPING=1")
                log.info("stopping: waiting for the run in progress")
                with suppress(SchedulerNotRunningError):
                    scheduler.shutdown(wait=True)  # waits for a tick in progress
    except _Stop:  # a signal in the instant before the scheduler started
        daemon.request_stop()


def _wake(scheduler: Any, now: datetime) -> None:
    from apscheduler.jobstores.base import JobLookupError
    from apscheduler.schedulers.base import SchedulerNotRunningError

    try:
        scheduler.modify_job("tick", next_run_time=now)
    except (JobLookupError, SchedulerNotRunningError) as exc:  # shutting down: nothing to wake
        log.debug("could not wake the scheduler: %s", exc)


def _reload(daemon: Daemon, fetchers: list[Fetcher]) -> None:
    path = daemon.config.path
    if path is None:
        log.warning("SIGHUP: the config was not read from a file; nothing to reload")
        return
    try:
        new = config_module.load(path)
        daemon.reload(new)
    except ConfigError as exc:
        # Each problem on a line of its own, once (the exception's text repeats them all).
        log.error(
            "SIGHUP: the new config in %s is not used, the old one is kept:", exc.path or path
        )
        for problem in exc.problems:
            log.error("  %s", problem)
        return
    if new.fetch != daemon.fetcher.options:
        daemon.fetcher = Fetcher(new.fetch, holds=daemon.fetcher.holds)  # a host's wait too
        fetchers.append(daemon.fetcher)
    log.info("SIGHUP: config reloaded from %s (%d sources)", path, len(new.sources))


def _log_tick(report: TickReport) -> None:
    for source in (s for s in report.sources if s.deferred):  # its host asked to wait
        fetch_log.info("%s", source.summary())
    for source in report.fetched:
        if source.ok:
            fetch_log.info("%s", source.summary())
        else:
            log.warning("%s", source.summary())
    for output in report.outputs:
        if output.error:
            log.error("output %s: FAILED: %s", output.name, output.error)
        else:
            state = "written" if output.written else "unchanged"
            log.info("output %s: %d entries, %s", output.name, output.entries, state)
    log.debug("next run at %s", report.next_run.isoformat())


@contextmanager
def _signals(
    daemon: Daemon, on_hup: Callable[[int, FrameType | None], None], left: threading.Event
) -> Iterator[None]:
    """Install the daemon's signal handlers for the duration, then restore the old ones."""

    def on_stop(signum: int, frame: FrameType | None) -> None:
        if left.is_set():
            return  # already stopping; the run in progress is bounded by the fetch timeout
        if not daemon.stopping:
            log.info("%s received: stopping", signal.Signals(signum).name)
        daemon.request_stop()
        raise _Stop

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, on_stop),
        signal.SIGINT: signal.signal(signal.SIGINT, on_stop),
        signal.SIGHUP: signal.signal(signal.SIGHUP, on_hup),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
