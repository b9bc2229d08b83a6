"""Fetch a run's sources and prepare their documents as they arrive.

::

    requests (round-robin by host) ─ fetches (threads), while the buffer has room ─ done
        ─ new feed document? ─ worker pool running? ─ yes → prepare() in a worker process
                                                    ─ no  → prepare() by the consumer
    consumer ← (index, outcome, Prepared | None), in request order

The fetch threads run in this process, or, in a large run of cron's refresh
(``FETCH_PROCESS_MIN_SOURCES``), in fetch processes of their own, one per core, each with
its share of the requests and of the connections (see :func:`deal`): a fetch from a server
that answers at once is Python work, which would otherwise take turns with the saving on
one interpreter lock.

:func:`feeds.ingest.prepare.prepare` runs in a pool of worker processes, one per core, while the
main process saves what is done. The workers come from a fork server (:mod:`feeds.run.worker_pool`),
started with the run's first new document when the run has at least
``PARALLEL_MIN_SOURCES`` sources, else once it has fetched ``PARALLEL_MIN_BYTES`` in more
than one new document (one document alone is no work to share); a run that brings nothing
new (every feed unchanged) starts none.
Memory stays bounded: fetched documents wait for the consumer up to ``BUFFER_BYTES``,
instead of every body of the run at once.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack

from feeds.errors import FetchError, describe
from feeds.ingest.fetch import Fetcher, PageFetcher, interleave
from feeds.ingest.prepare import Job, Prepared, prepare_safely
from feeds.run import heap
from feeds.run.ending import fetching_ending
from feeds.run.fetch_processes import FetchProcesses, deal
from feeds.run.fetching import (
    WINDOW,
    ClaimPace,
    Event,
    Fetching,
    Outcome,
    Raised,
    Rolling,
    Throttle,
    notify,
)
from feeds.run.held_ctrl_c import ctrl_c_held
from feeds.run.worker_pool import start_pool, usable_cores
from feeds.types import FetchRequest, FetchResult

__all__ = [
    "FetchProcesses",
    "Throttle",
    "deal",
    "standby_fetch_processes",
    "stream",
    "stream_claims",
    "usable_cores",
]

PARALLEL_MIN_BYTES = 1024 * 1024
"""Start the worker pool once a run has fetched this many bytes of new feed documents.

Parsing and cleaning are CPU-bound pure Python; the documents fetched before the pool
starts are prepared by the main process. Starting the pool costs about 0.1 s (see
bench/RESULTS.md), which 1 MiB of WordPress feed (about 200 entries) repays.
"""

BUFFER_BYTES = 1024 * 1024
"""Fetched documents waiting for their turn hold at most about this much (see :func:`stream`).

About ten feeds of 30 posts: enough to keep the workers busy while the saving process
works through a large one. It was 2 MiB; the saving process peaks while it saves, with the
documents in flight in its heaps, and a cold refresh of 1,000 Reuters feeds peaked 2.1 and
2.9 MiB lower with 1 MiB, for the same CPU time (bench/RESULTS.md, twenty-ninth session)."""

PARALLEL_MIN_SOURCES = 8
"""A run of at least this many sources starts its workers with its first new document."""

FETCH_PROCESS_MIN_SOURCES = 32
"""A run of at least this many sources fetches in processes of its own (when it can).

A fetch from a server that answers at once is mostly Python work (httpx, h11), which the
fetch threads and the consumer would otherwise share one interpreter lock for: in
processes of their own, one per core, the fetches run beside the saving. Forking them
costs a few milliseconds.
"""

log = logging.getLogger("feeds.refresh")


def stream(
    fetcher: Fetcher,
    requests: Sequence[FetchRequest],
    job_for: Callable[[int, FetchResult], Job | None],
    *,
    stack: ExitStack,
    buffer_bytes: int = BUFFER_BYTES,
    on_wait: Callable[[], None] | None = None,
    use_pages: Callable[[PageFetcher], None] | None = None,
    standby: FetchProcesses | None = None,
) -> Iterator[tuple[int, Outcome, Prepared | None]]:
    """Fetch ``requests`` and yield ``(index, outcome, prepared)`` in request order.

    Requests are taken round-robin by host (:func:`feeds.ingest.fetch.interleave`), at most
    ``max_connections`` at a time (fewer while more would not help: see :class:`Throttle`).
    A new fetch starts only while the documents fetched but not yet consumed hold less
    than ``buffer_bytes``: a slow server at the head of the order holds up the others
    only once that much is waiting, and memory stays bounded. ``job_for`` (called in this
    thread, so it may read the store) says how to prepare a fetched document, or None to
    leave it to the consumer. ``on_wait`` is called while waiting for the next outcome's
    server (every :data:`WINDOW` seconds, not for a worker): the consumer may save what
    it holds meanwhile. Closing ``stack`` cancels the fetches not started and stops the
    workers.

    In a large run (:data:`FETCH_PROCESS_MIN_SOURCES`) of a process with no other thread,
    the fetches run in processes of their own, forked with ``fetcher`` (see
    :class:`~feeds.run.fetch_processes.FetchProcesses`), or in ``standby``, those the caller
    forked earlier (:func:`standby_fetch_processes`); ``use_pages`` is then called with
    what fetches pages through those processes while the stream lasts, each page by the
    process that fetches its host, so that the limits and delays of a host hold across
    feeds and pages. Otherwise it is not called: the caller's ``fetcher`` serves.
    """
    if not requests:
        return
    order = interleave(requests)
    # Forked now, before any thread of ours starts, the fetch processes cost milliseconds;
    # later (threads alive) fetches stay in this process.
    fetching: Fetching | FetchProcesses
    if standby is not None and len(requests) < FETCH_PROCESS_MIN_SOURCES:
        standby.stop()  # few are due after all: they are fetched here, as in any small run
        standby = None
    elif standby is None:
        standby = _forked(fetcher, fetch_processes_for(fetcher, len(requests)))
    if standby is not None:
        fetching = standby
        stack.push(fetching_ending(fetching))
        fetching.assign(requests, order, buffer_bytes)
        fetching.start()
        if use_pages is not None:
            use_pages(fetching)
    else:
        fetching = Fetching(fetcher, requests, order, buffer_bytes)
        stack.push(fetching_ending(fetching))
    heap.map_large_blocks()  # after the forks: for this process, which saves
    run = _Stream(requests, job_for, stack, fetching, large=len(requests) >= PARALLEL_MIN_SOURCES)
    for i in order:
        yield run.next(i, on_wait)


def stream_claims(
    fetcher: Fetcher,
    claim: Callable[[int], Mapping[int, FetchRequest]],
    job_for: Callable[[int, FetchResult], Job | None],
    *,
    slots: int,
    stack: ExitStack,
    on_wait: Callable[[], None] | None = None,
    buffer_bytes: int = BUFFER_BYTES,
    retry: float = 0.0,
    linger: float = 0.0,
    should_stop: Callable[[], bool] = lambda: False,
    grace: float = 0.0,
) -> Iterator[tuple[int, Outcome, Prepared | None]]:
    """:func:`stream` over the requests ``claim(n)`` gives as the stream goes (at most
    ``n``, keyed by indices not given before), yielded as each is ready, not in request
    order; in this process's threads.

    At most ``slots`` requests are in hand (fetching, or fetched and not yet yielded).
    ``claim`` is asked when none is, and when half the slots are free while nothing is
    ready to yield: a server that keeps one fetch waiting (up to ``total_timeout``) holds
    one slot, not the fetches of the sources claimed next. After a claim that gave
    nothing, the next waits for a request to be yielded (its source saved may make room
    on its host) or ``retry`` seconds (a host released at a save is free again a little
    later: see :class:`ClaimPace`). The stream ends when nothing is in hand and a claim
    made ``retry`` seconds or more after the last yield gave nothing (``linger`` seconds
    or more after the start, when nothing was yielded). ``on_wait`` is called while no
    fetch has come back (see :func:`stream`).

    Once ``should_stop()`` is true, nothing more is claimed; what came back, or comes back
    within ``grace`` seconds, is yielded; the other fetches are abandoned, not waited for
    (see :func:`_last_fetches`).
    """
    requests: dict[int, FetchRequest] = {}
    fetching = Rolling(fetcher, buffer_bytes)
    stack.push(fetching_ending(fetching))
    run = _Stream(requests, job_for, stack, fetching, large=False)
    pace = ClaimPace(retry, linger)
    in_hand = 0
    while True:
        run.take_all()
        if should_stop():
            yield from _last_fetches(run, fetching, in_hand, grace)
            return
        free = slots - in_hand
        if not in_hand or (pace.may_claim() and 2 * free >= slots and run.ready() is None):
            in_hand += _fetch_claimed(claim(free), requests, fetching, run, pace)
        if not in_hand:
            if pace.settled():
                return
            pace.wait()
            continue
        room = 2 * (slots - in_hand) >= slots  # else the next claim waits for a yield
        ready = run.next_ready(on_wait, pace.next_claim() if room else None, should_stop)
        if ready is None:  # time to claim again, or to stop
            continue
        fetching.done(ready[0])
        in_hand -= 1
        pace.yielded()
        yield ready


def _fetch_claimed(
    claimed: Mapping[int, FetchRequest],
    requests: dict[int, FetchRequest],
    fetching: Rolling,
    run: _Stream,
    pace: ClaimPace,
) -> int:
    """Start fetching what a claim gave; how many requests that is."""
    requests.update(claimed)
    fetching.add(claimed)
    run.large = len(requests) >= PARALLEL_MIN_SOURCES
    pace.claimed(bool(claimed))
    return len(claimed)


def _last_fetches(
    run: _Stream, fetching: Rolling, in_hand: int, grace: float
) -> Iterator[tuple[int, Outcome, Prepared | None]]:
    """A stopping stream's end: what comes back within ``grace`` seconds, then what had
    come back (its document prepared first: none fetched and finished is dropped). The
    fetches still under way are abandoned at once (a server may keep one for the whole
    ``total_timeout``): their sources are the caller's to release."""
    deadline = time.monotonic() + grace
    while in_hand and (ready := run.next_ready(None, until=deadline)) is not None:
        fetching.done(ready[0])
        in_hand -= 1
        yield ready
    run.take_all()
    for i in sorted(run.arrived):
        last = run.next(i, None)
        fetching.done(i)
        yield last
    fetching.abandon()


class _Stream:
    """The fetched documents of one :func:`stream`, and who prepares each."""

    def __init__(
        self,
        requests: Sequence[FetchRequest] | Mapping[int, FetchRequest],
        job_for: Callable[[int, FetchResult], Job | None],
        stack: ExitStack,
        fetching: Fetching | FetchProcesses | Rolling,
        *,
        large: bool,
    ) -> None:
        self.requests, self.job_for, self.stack = requests, job_for, stack
        self.fetching, self.large = fetching, large
        self.pool: ProcessPoolExecutor | None = None  # started with the first new document
        self.refused = False  # the system would not start workers: this process prepares
        self.arrived: dict[int, Outcome] = {}
        self.jobs: dict[int, Job] = {}  # to prepare in this process
        self.working: dict[int, Future[bytes]] = {}  # each a pickled Prepared
        # to each worker's job, its pool
        self.submitted: dict[int, tuple[Job, ProcessPoolExecutor]] = {}
        self.fetched_bytes = 0  # new documents so far: starts the pool
        self.documents = 0  # (one document is no work to share)

    def next(
        self, i: int, on_wait: Callable[[], None] | None
    ) -> tuple[int, Outcome, Prepared | None]:
        """Request ``i``'s outcome and prepared document, once both are there."""
        self.take_all()
        while i not in self.arrived or (i in self.working and not self.working[i].done()):
            try:
                self.take(self.fetching.finished.get(timeout=WINDOW))
            except queue.Empty:
                if i not in self.arrived and on_wait is not None:
                    on_wait()
            self.take_all()
        outcome = self.arrived.pop(i)
        if isinstance(outcome, FetchResult) and outcome.content is not None:
            self.fetching.consumed(i, len(outcome.content))
        prepared: Prepared | None = None
        if i in self.working:
            prepared = self.prepared_by_worker(i)
        elif i in self.jobs:
            prepared = prepare_safely(self.jobs.pop(i))
        if prepared is not None and prepared.trace is not None:
            log.info("%s: %s\n%s", self.requests[i].source, prepared.error, prepared.trace)
        return i, outcome, prepared

    def next_ready(
        self,
        on_wait: Callable[[], None] | None,
        until: float | None = None,
        interrupt: Callable[[], bool] | None = None,
    ) -> tuple[int, Outcome, Prepared | None] | None:
        """The outcome and prepared document of a request that has both, the first to;
        None when none has by ``until`` (a time of ``time.monotonic``; None: no limit) or
        once ``interrupt()`` is true."""
        self.take_all()
        while (i := self.ready()) is None:
            if until is not None and time.monotonic() >= until:
                return None
            if interrupt is not None and interrupt():
                return None
            try:
                self.take(self.fetching.finished.get(timeout=WINDOW))
            except queue.Empty:
                if not self.arrived and on_wait is not None:
                    on_wait()
            self.take_all()
        return self.next(i, None)

    def ready(self) -> int | None:
        """A request whose outcome is here and whose document, if a worker prepares it, is
        done (None: none yet)."""
        for i in self.arrived:
            if i not in self.working or self.working[i].done():
                return i
        return None

    def take_all(self) -> None:
        while True:
            try:
                self.take(self.fetching.finished.get_nowait())
            except queue.Empty:
                break
        self.fetching.reconsider()

    def take(self, event: Event) -> None:
        i, outcome = event
        if outcome is None:  # a worker finished i's document
            return
        if isinstance(outcome, Raised):
            # A bug in a fetch (which returns FetchErrors), or a fetch process that died:
            # that source's error, not the run's.
            log.info("%s: the fetch failed", self.requests[i].source, exc_info=outcome.exc)
            outcome = FetchError(self.requests[i].url, describe(outcome.exc))
        self.arrived[i] = outcome
        if not isinstance(outcome, FetchResult) or outcome.content is None:
            return
        job = self.job_for(i, outcome)
        if job is None:
            return
        self.fetched_bytes += len(job.content)
        self.documents += 1
        if self.pool is None and (
            self.large or (self.fetched_bytes >= PARALLEL_MIN_BYTES and self.documents > 1)
        ):
            self.pool = self.new_pool()
        if self.pool is not None:
            self.submit(i, job, self.pool)
        else:
            self.jobs[i] = job

    def new_pool(self) -> ProcessPoolExecutor | None:
        """A pool of workers, or None: one core, or the system would not start one."""
        if self.refused:
            return None
        try:
            return start_pool(self.stack, usable_cores())
        except (OSError, EOFError) as exc:
            self.refuse(exc)
            return None

    def refuse(self, exc: BaseException) -> None:
        """No workers for the rest of the run: this process prepares every document (a
        fork server that cannot start, a fork the system refuses, no file descriptor left)."""
        log.warning("could not start the worker processes (%s): reading in this one", describe(exc))
        self.refused, self.pool = True, None

    def submit(self, i: int, job: Job, to: ProcessPoolExecutor) -> None:
        try:
            try:
                future = _submitted(to, job)
            except BrokenProcessPool:  # a worker died since: the job goes to a new pool
                if to is self.pool:
                    self.pool = self.new_pool()
                if self.pool is None:
                    self.jobs[i] = job  # (no core to spare) this process prepares it
                    return
                to = self.pool
                future = _submitted(to, job)
        except (OSError, EOFError) as exc:  # the fork server could not start a worker
            self.refuse(exc)
            self.jobs[i] = job
            return
        self.working[i] = future
        future.add_done_callback(notify(self.fetching.finished, (i, None)))
        self.submitted[i] = (job, to)

    def prepared_by_worker(self, i: int) -> Prepared:
        """What the worker made of ``i``'s document. A worker that died (killed, out of
        memory) breaks its pool and fails every job in it: each is given once more to a
        new pool; a document that breaks that one too is its source's error."""
        job, owner = self.submitted.pop(i)
        try:
            prepared: Prepared = pickle.loads(self.working.pop(i).result())
            return prepared
        except BrokenProcessPool as exc:
            if job.retried:
                return _failed(job, exc)
            log.info("%s: a worker process ended; trying again", self.requests[i].source)
            if owner is self.pool:
                self.pool = self.new_pool()
            if self.pool is None:
                return _failed(job, exc) if not self.refused else prepare_safely(job)
            self.submit(i, job._replace(retried=True), self.pool)
            if i in self.jobs:
                return prepare_safely(self.jobs.pop(i))
            return self.prepared_by_worker(i)
        except Exception as exc:  # the job or its result did not pickle: a bug
            return _failed(job, exc)


def _submitted(to: ProcessPoolExecutor, job: Job) -> Future[bytes]:
    """``job`` given to the pool ``to``. A worker may start here: the fork server forks it
    once this process has sent it the worker's descriptors. A Ctrl-C in the middle of that
    left the fork server printing a traceback (EOFError, as a refresh stopped); it waits
    until the worker is there (:func:`~feeds.run.held_ctrl_c.ctrl_c_held`)."""
    with ctrl_c_held():
        return to.submit(prepare_pickled, job)


def prepare_pickled(job: Job) -> bytes:
    """:func:`~feeds.ingest.prepare.prepare_safely` in a worker, its result pickled there.

    The saving process unpickles a document when its turn comes (:meth:`_Stream.next`), not
    as it arrives: the documents that wait for their turn (up to :data:`BUFFER_BYTES` of
    them, fetched in request order) wait as bytes (about 200 KiB for a feed of 30 posts)
    instead of as objects (about 320 KiB), and the objects are made and freed in one thread.
    A cold run of 1,000 feeds: the saving process's RSS before publishing 44.5 -> 40.5 MiB
    (bench/RESULTS.md, seventeenth session)."""
    return pickle.dumps(prepare_safely(job), protocol=pickle.HIGHEST_PROTOCOL)


def _failed(job: Job, exc: BaseException) -> Prepared:
    """A job no worker could finish, as its document's error."""
    return Prepared(
        url=job.url,
        error=f"{describe(exc)} (while reading the document in a worker process)",
        trace="".join(traceback.format_exception(exc)),
    )


def fetch_processes_for(fetcher: Fetcher, sources: int) -> int:
    """How many processes of their own a run of ``sources`` fetches in (0: none).

    The run must be large (:data:`FETCH_PROCESS_MIN_SOURCES`), the machine have a core to
    spare, and forking be safe: no other thread in this process (cron's refresh, not the
    daemon's scheduler) and a fetcher that never sent anything (no connection to share with
    the copies). One process per core: a fetch from a server that answers at once is CPU
    work.
    """
    if (
        sources < FETCH_PROCESS_MIN_SOURCES
        or not fetcher.idle
        or threading.active_count() > 1
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return 0
    cores = usable_cores()
    return cores if cores >= 2 else 0


def standby_fetch_processes(
    fetcher: Fetcher, sources: int, stack: ExitStack
) -> FetchProcesses | None:
    """Fetch processes forked now for a run of up to ``sources`` sources (None when
    :func:`fetch_processes_for` says none), to pass to :func:`stream` later: they make their
    connections while this process reads the store. Closing ``stack`` stops them."""
    processes = _forked(fetcher, fetch_processes_for(fetcher, sources))
    if processes is not None:
        stack.callback(processes.stop)
    return processes


def _forked(fetcher: Fetcher, count: int) -> FetchProcesses | None:
    """``count`` fetch processes, or None when there are to be none or the system refuses
    to fork them (then the fetches run in this process)."""
    if not count:
        return None
    try:
        return FetchProcesses(fetcher, count)
    except OSError as exc:
        log.warning("could not start the fetch processes (%s): fetching in this one", exc)
        return None
