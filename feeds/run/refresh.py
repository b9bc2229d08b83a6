"""One refresh: the pipeline that ties the layers together.

::

    store.sources() | executor.stream (fetch; in worker processes: parse | normalize
                    | entry_keys | signature) | save_source (the source's kind reads it:
                    full text | decide | store) | publish_outputs

Each source is fetched (concurrently), then read, cleaned, deduplicated and saved all or
nothing (:mod:`feeds.run.save_source`), in groups (:class:`GroupSaver`). Sources are saved
in request order (round-robin by host), whichever server answers first, so the result does
not depend on timing. A source's failure is a value in the report, never a crash of the
batch; outputs are published from whatever is stored. The clock is passed in (``now``,
and ``clock`` for when a host is done with); this module never reads the real time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from feeds.config import Config, SourceConfig
from feeds.core import schedule
from feeds.ingest.fetch import Fetcher
from feeds.run import heap, hooks
from feeds.run.adaptive import with_adaptive_intervals
from feeds.run.after_saving import after_saving
from feeds.run.executor import FetchProcesses, standby_fetch_processes, stream, stream_claims
from feeds.run.group_saver import GroupSaver
from feeds.run.publish_outputs import publish_all
from feeds.run.reports import OutputReport, RefreshReport, SourceReport
from feeds.run.save_source import Run
from feeds.run.shared_holds import SharedHolds
from feeds.run.tally import Tally
from feeds.run.worker import (
    claim_limit,
    claim_retry,
    free_hosts_at,
    lease_for,
    publish_as,
    utc_clock,
    worker_id,
)
from feeds.store.protocol import Storage
from feeds.types import FetchRequest, SourceState

if TYPE_CHECKING:
    from feeds.ingest.articles import Budget

__all__ = [
    "HELD_ELSEWHERE",
    "OutputReport",
    "RefreshReport",
    "SourceReport",
    "publish_all",
    "refresh",
    "refresh_claiming",
]

#: Why a refresh skips a source that another worker (a daemon) holds.
HELD_ELSEWHERE = "another worker is fetching it (or its host) now"

# Copies saved before signatures existed that one refresh signs (a few seconds at most).
SIGN_PER_RUN = 2000


def refresh(
    config: Config,
    store: Storage,
    fetcher: Fetcher,
    *,
    now: datetime,
    names: Sequence[str] | None = None,
    force: bool = False,
    publish: bool = True,
    on_source: Callable[[SourceReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    budget: Budget | None = None,
    worker: str | None = None,
    renew: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = utc_clock,
) -> RefreshReport:
    """Fetch the chosen sources that are due, save what they carry, apply retention
    (``[store] keep``, ``max_entries_per_source``), publish every output.

    ``names`` limits the run to those sources (default: all). ``force`` fetches them whether
    due or not, but never a retired source and never before a server's Retry-After (see
    :func:`feeds.core.schedule.decide`); the others are reported as skipped.
    ``publish=False`` leaves publishing to the caller. When ``should_stop()`` turns true, the
    fetches still in hand are dropped unsaved (those sources stay due). ``budget`` bounds
    the article pages of this run (default: ``config.full_text``).

    The run is a worker of the store (``worker``, default a new id): it leases the sources
    it fetches, so a daemon sharing the store fetches none of them meanwhile, and skips
    those a daemon holds (or whose host a daemon holds); it publishes as the one publisher
    (when a daemon publishes at that moment, the daemon publishes this run's changes too).
    ``renew()`` is called after each source saved (to renew the leases of a long run).
    A host is released once its last source is saved, free for the other workers
    ``min_host_delay`` after ``clock()`` then (after the run's last request to it, however
    long the run has gone on); those left, when the run ends.
    """
    worker = worker or worker_id()
    reports: list[SourceReport] = []
    report = _Reporter(reports, on_source)
    with ExitStack() as stack:
        # Forked before the store is read, the fetch processes get ready meanwhile.
        sources = len(config.sources) if names is None else len(names)
        standby = standby_fetch_processes(fetcher, sources, stack)
        free_hosts = partial(_hosts_free_at, config, clock)
        chosen = _leased(config, store, names, now, force, worker, report, free_hosts)
        config, wanted, states, free_at = chosen
        fetcher.hold_hosts(_host_waits(config, states, free_at, clock()))
        run = (config, store, fetcher, wanted, states, now, worker, budget, report)
        try:
            settled = _fetch_and_save(*run, should_stop, renew, standby, clock)
        finally:
            store.release_claims(worker, free_hosts())
    order = {s.name: i for i, s in enumerate(config.sources)}
    reports[:] = sorted((settled.get(r.name, r) for r in reports), key=lambda r: order[r.name])
    outputs: tuple[OutputReport, ...] = ()
    if publish:
        heap.give_back_free_memory()  # what saving freed, before publishing loads its code
        outputs = publish_as(worker, config, store, fetcher, now) or ()
        # after publishing: a slow receiver never holds up the files
        hooks.deliver_due(config, store, fetcher, now)
    return RefreshReport(sources=tuple(reports), outputs=outputs)


def _hosts_free_at(config: Config, clock: Callable[[], datetime]) -> datetime:
    """When the hosts a run is done with now are free for any worker."""
    return free_hosts_at(config, clock())


def _leased(
    config: Config,
    store: Storage,
    names: Sequence[str] | None,
    now: datetime,
    force: bool,
    worker: str,
    report: Callable[[SourceReport], None],
    free_hosts: Callable[[], datetime],
) -> tuple[Config, list[SourceConfig], dict[str, SourceState], dict[str, datetime]]:
    """Bring the store up to the config, then lease the chosen sources that are due: the
    config with its adaptive intervals, the sources leased, the states of the chosen (a
    host of none of them is released, free from ``free_hosts()``), and when the host of
    each source leased on a host another run has just released is free."""
    store.sync_sources([(s.name, s.url) for s in config.sources])
    config = with_adaptive_intervals(config, store, now)  # interval = "auto" sources
    with store.transaction():
        store.sign_unsigned(SIGN_PER_RUN)
    states = _states(config, store, names)
    due = _due(config, states, now, force, report)
    wanted, free_at = _claimed(config, store, due, now, worker, report)
    if wanted:  # read again once leased: another worker may have fetched one meanwhile
        states = _states(config, store, names)
        leased = (wanted, states, now, force, worker)
        wanted = _still_due(config, store, *leased, report, free_hosts())
    return config, wanted, states, free_at


def _host_waits(
    config: Config, states: dict[str, SourceState], free_at: dict[str, datetime], now: datetime
) -> dict[str, float]:
    """Seconds from ``now`` before the first request to each URL whose host another run
    released just before this one (at most ``min_host_delay``: the claim took no host
    free later than that)."""
    delay = config.fetch.min_host_delay
    return {
        states[name].url: min(max((at - now).total_seconds(), 0.0), delay)
        for name, at in free_at.items()
        if name in states
    }


def _to_fetch(
    config: Config,
    store: Storage,
    states: dict[str, SourceState],
    now: datetime,
    worker: str,
    report: Callable[[SourceReport], None],
    free_hosts: datetime | None,
) -> list[SourceConfig]:
    """Of the claimed sources ``states``, those to fetch; a source not due by this config
    after all (a due time saved under another config) is reported and released with its
    due time, one no longer configured released to be looked at much later."""
    skipped: list[SourceReport] = []
    wanted = _due(config, states, now, False, skipped.append)
    releases = [(r.name, r.next_due) for r in skipped]
    later = now + config.schedule.max_interval  # not ours to fetch: look again much later
    releases += [(name, later) for name in sorted(states.keys() - {s.name for s in config.sources})]
    store.release_sources(worker, releases, now, free_hosts_at=free_hosts)
    for source_report in skipped:
        report(source_report)
    return wanted


Claim = Callable[[int, datetime], Sequence[SourceState]]
"""``claim(limit, now)``: lease up to ``limit`` due sources at ``now`` (see
:meth:`~feeds.store.protocol.WorkQueue.claim_due`)."""


def refresh_claiming(
    config: Config,
    store: Storage,
    fetcher: Fetcher,
    claim: Claim,
    *,
    now: datetime,
    clock: Callable[[], datetime],
    worker: str,
    should_stop: Callable[[], bool],
    linger: float = 0.0,
    stop_grace: float = 0.0,
) -> RefreshReport:
    """Fetch and save what ``claim`` leases, claiming again as fetches end
    (:func:`~feeds.run.executor.stream_claims`: at most ``claim_limit`` sources in hand, a
    slow server holding one of them only), until a claim brings nothing new; publish
    nothing. Each source is saved as it is ready and released with its host, once the
    host has no other source in hand (free for any worker ``min_host_delay`` after the
    save, by ``clock()``); fetched once at most: ``claim`` should not lease a source
    fetched in this call, and one it leases again is released at once, as due as it was
    (held to the end, it kept its host from its other sources). ``clock()`` dates each
    claim and the saves after it; when the first claims find nothing, claims go on for
    ``linger`` seconds (another worker may hand a host over). Once ``should_stop()`` turns
    true, nothing more is claimed and no article page fetched (those under way are
    abandoned ``stop_grace`` seconds later); every fetch that came back, or comes back
    within ``stop_grace`` seconds, is saved, and the others are abandoned at once. Their
    leases are the caller's to end."""
    config = with_adaptive_intervals(config, store, now)
    reports: list[SourceReport] = []
    saved: list[SourceReport] = []
    batch = config.fetch.max_connections
    run = Run(config, store, fetcher, None, batch=batch, now=now)
    run.stopping, run.stop_grace = should_stop, stop_grace  # for article pages too
    tally = Tally()
    saved_at: dict[str, datetime] = {}  # each source's save, dated by its claim
    with ExitStack() as stack:
        saver = GroupSaver(run, [], {}, stack, tally, _both(saved, reports, saved_at, run), worker)
        saver.free_hosts = lambda: free_hosts_at(config, clock())  # each as it is saved
        saver.clock = clock
        saver.holds = holds = SharedHolds(store, fetcher.holds)
        stack.enter_context(holds.writing_at_once(clock))
        claims = _Claims(saver, claim, clock, should_stop, reports.append, holds)
        fetches = stream_claims(
            fetcher,
            claims,
            saver.job_for,
            slots=claim_limit(config),
            stack=stack,
            on_wait=saver.commit,
            retry=claim_retry(config),
            linger=linger,
            should_stop=should_stop,
            grace=stop_grace,
        )
        for i, outcome, ready in fetches:
            saver.save(i, outcome, ready)
    holds.write(clock())
    settled = after_saving(config, store, tally, saved, run.now, saved_at, worker)
    return RefreshReport(sources=tuple(settled.get(r.name, r) for r in reports), outputs=())


def _both(
    saved: list[SourceReport], reports: list[SourceReport], saved_at: dict[str, datetime], run: Run
) -> Callable[[SourceReport], None]:
    """Keep each report, in both lists, and when it was saved (``run.now`` as it is saved:
    the time of the claim it came in, which dates its copies' ``first_seen``)."""

    def add(report: SourceReport) -> None:
        saved.append(report)
        reports.append(report)
        saved_at[report.name] = run.now

    return add


class _Claims:
    """The claims of :func:`refresh_claiming`: each leases sources at the clock's time,
    and adds those to fetch to the saver (their requests are what it gives)."""

    def __init__(
        self,
        saver: GroupSaver,
        claim: Claim,
        clock: Callable[[], datetime],
        should_stop: Callable[[], bool],
        report: Callable[[SourceReport], None],
        holds: SharedHolds,
    ) -> None:
        self.saver, self.claim, self.clock = saver, claim, clock
        self.should_stop, self.report, self.holds = should_stop, report, holds
        self.seen: set[str] = set()

    def __call__(self, limit: int) -> dict[int, FetchRequest]:
        """The requests of the next claim with a source to fetch; none when a claim brings
        no source not claimed before (or the run stops)."""
        run = self.saver.run
        while not self.should_stop():
            self.saver.commit()  # its sources released: their hosts count as free
            run.now = self.clock()
            self.holds.exchange(run.now)  # what it claims is fetched knowing every hold
            claimed = self.claim(limit, run.now)
            self._release_seen([s.name for s in claimed if s.name in self.seen])
            states = {s.name: s for s in claimed if s.name not in self.seen}
            if not states:
                break
            self.seen.update(states)
            worker = self.saver.worker
            free = self.saver.free_hosts()
            wanted = _to_fetch(run.config, run.store, states, run.now, worker, self.report, free)
            if wanted:  # else all were released, not due by this config: claim again
                return self.saver.add(wanted, states)
        return {}

    def _release_seen(self, names: list[str]) -> None:
        """Sources claimed again that were fetched in this call (due again already): not
        fetched twice in one round, nor held to its end; left due, for any worker."""
        if names:
            run, saver = self.saver.run, self.saver
            releases = [(name, run.now) for name in names]
            free = saver.free_hosts()
            run.store.release_sources(saver.worker, releases, run.now, free_hosts_at=free)


def _claimed(
    config: Config,
    store: Storage,
    wanted: list[SourceConfig],
    now: datetime,
    worker: str,
    report: Callable[[SourceReport], None],
) -> tuple[list[SourceConfig], dict[str, datetime]]:
    """The ``wanted`` sources this run could lease, and when the host of each leased on a
    host another run has just finished with is free; the others (held by another worker,
    or on a host with another worker's fetch in flight) are reported as skipped.

    A host a run has finished with is free ``min_host_delay`` after its last request: a
    run started just after (``feeds enable NAME && feeds refresh``) leases it all the
    same, and its first request there waits for that time while the others go ahead."""
    lease = lease_for(config, claim_limit(config))  # renewed while the run lasts (registered)
    wait = timedelta(seconds=config.fetch.min_host_delay)
    names = [s.name for s in wanted]
    claimed = store.claim_sources_in_turn(names, now, lease, worker=worker, wait=wait)
    leased = set(claimed.names)
    for source in wanted:
        if source.name not in leased:
            report(
                SourceReport(name=source.name, url=source.url, status=None, skipped=HELD_ELSEWHERE)
            )
    return [s for s in wanted if s.name in leased], claimed.host_free_at


def _still_due(
    config: Config,
    store: Storage,
    wanted: list[SourceConfig],
    states: dict[str, SourceState],
    now: datetime,
    force: bool,
    worker: str,
    report: Callable[[SourceReport], None],
    free_hosts: datetime,
) -> list[SourceConfig]:
    """The leased ``wanted`` sources still due by their state read after the lease; the
    others are reported and released with their due time (a host of none of the others
    too: this run sent it nothing)."""
    skipped: list[SourceReport] = []
    leased = {s.name: states[s.name] for s in wanted}
    due = {s.name for s in _due(config, leased, now, force, skipped.append)}
    releases = [(r.name, r.next_due) for r in skipped]
    store.release_sources(worker, releases, now, free_hosts_at=free_hosts)
    for source_report in skipped:
        report(source_report)
    return [s for s in wanted if s.name in due]


def _fetch_and_save(
    config: Config,
    store: Storage,
    fetcher: Fetcher,
    wanted: list[SourceConfig],
    states: dict[str, SourceState],
    now: datetime,
    worker: str,
    budget: Budget | None,
    report: Callable[[SourceReport], None],
    should_stop: Callable[[], bool] | None,
    renew: Callable[[], None] | None = None,
    standby: FetchProcesses | None = None,
    clock: Callable[[], datetime] | None = None,
) -> dict[str, SourceReport]:
    """Fetch ``wanted`` and save each (in groups), releasing each source with its due time
    and its host with the last of them (free ``min_host_delay`` after ``clock()`` then;
    without a clock, at the run's end); in ``standby``'s processes, when given (see
    :func:`~feeds.run.executor.stream`)."""
    reports: list[SourceReport] = []

    def saved(source_report: SourceReport) -> None:
        reports.append(source_report)
        report(source_report)

    run = Run(config, store, fetcher, budget, batch=config.fetch.max_connections, now=now)
    tally = Tally()
    with ExitStack() as stack:
        saver = GroupSaver(run, wanted, states, stack, tally, saved, worker)
        if clock is not None:
            saver.free_hosts = partial(_hosts_free_at, config, clock)
            saver.clock = clock
        saver.holds = holds = SharedHolds(store, fetcher.holds)
        stack.enter_context(holds.writing_at_once(saver.clock))
        holds.exchange(saver.clock())  # the sources leased are fetched knowing every hold
        fetches = stream(
            fetcher,
            saver.requests,
            saver.job_for,
            stack=stack,
            on_wait=saver.commit,
            use_pages=saver.use_pages,
            standby=standby,
        )
        for i, outcome, ready in fetches:
            if should_stop is not None and should_stop():
                break
            saver.save(i, outcome, ready)
            if renew is not None:
                renew()
    holds.write(saver.clock())
    return after_saving(config, store, tally, reports, now, worker=worker)


@dataclass
class _Reporter:
    """Collects the sources' reports, and hands each to ``on_source`` as it comes."""

    reports: list[SourceReport]
    on_source: Callable[[SourceReport], None] | None

    def __call__(self, report: SourceReport) -> None:
        self.reports.append(report)
        if self.on_source is not None:
            self.on_source(report)


def _states(config: Config, store: Storage, names: Sequence[str] | None) -> dict[str, SourceState]:
    if names is None:
        return {s.name: s for s in store.sources()}
    # a few sources of what may be thousands: only theirs are read
    return {s.name: store.source(s.name) for s in config.sources if s.name in names}


def _due(
    config: Config,
    states: dict[str, SourceState],
    now: datetime,
    force: bool,
    report: Callable[[SourceReport], None],
) -> list[SourceConfig]:
    """The chosen sources that are due (in configuration order); the others are reported."""
    wanted: list[SourceConfig] = []
    for source in config.sources:
        if source.name not in states:
            continue
        state = states[source.name]
        due = schedule.decide(
            state, config.schedule, config.interval(source.name), now, force=force
        )
        if due.fetch:
            wanted.append(source)
            continue
        report(
            SourceReport(
                name=source.name,
                url=state.url,
                status=state.last_status,
                skipped=due.reason,
                next_due=due.at,
            )
        )
    return wanted
