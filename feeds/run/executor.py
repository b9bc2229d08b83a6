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
main process saves what is done: forked before the first fetch when the run has at least
``PARALLEL_MIN_SOURCES`` sources and this process runs no other thread (cron's refresh),
else started from a fork server once the run has fetched ``PARALLEL_MIN_BYTES`` in more
than one new document (the daemon, whose scheduler is a thread; one document alone is no
work to share).
Memory stays bounded: fetched documents wait for the consumer up to ``BUFFER_BYTES``,
instead of every body of the run at once.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, suppress

from feeds.core import dedupe
from feeds.errors import FetchError, describe
from feeds.ingest.fetch import Fetcher, PageFetcher, interleave
from feeds.ingest.prepare import Job, Prepared, prepare_safely
from feeds.run.fetch_processes import FetchProcesses, close_all, deal
from feeds.run.fetching import WINDOW, Event, Fetching, Outcome, Raised, Throttle, notify
from feeds.types import FetchRequest, FetchResult

__all__ = [
    "FetchProcesses",
    "Throttle",
    "deal",
    "standby_fetch_processes",
    "stream",
    "usable_cores",
]

PARALLEL_MIN_BYTES = 1024 * 1024
"""Start the worker pool once a run has fetched this many bytes of new feed documents.

Parsing and cleaning are CPU-bound pure Python; the documents fetched before the pool
starts are prepared by the main process. Starting the pool costs about 0.1 s (see
bench/RESULTS.md), which 1 MiB of WordPress feed (about 200 entries) repays.
"""

BUFFER_BYTES = 2 * 1024 * 1024
"""Fetched documents waiting for their turn hold at most about this much (see :func:`stream`)."""

PARALLEL_MIN_SOURCES = 8
"""A run of at least this many sources forks its workers before fetching (when it can)."""

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
    # Forked now, before any thread of ours starts, the fetch processes and the workers cost
    # milliseconds; later (threads alive) workers come from a fork server, once the run
    # turns out to be large, and fetches stay in this process.
    fetching: Fetching | FetchProcesses
    if standby is not None and len(requests) < FETCH_PROCESS_MIN_SOURCES:
        standby.stop()  # few are due after all: they are fetched here, as in any small run
        standby = None
    elif standby is None:
        standby = _forked(fetcher, fetch_processes_for(fetcher, len(requests)))
    if standby is not None:
        fetching = standby
        stack.callback(fetching.stop)
        fetching.assign(requests, order, buffer_bytes)
        pool = _fork_pool(stack, inherited=fetching.ends)
        fetching.start()
        if use_pages is not None:
            use_pages(fetching)
    else:
        pool = _fork_pool(stack) if len(requests) >= PARALLEL_MIN_SOURCES else None
        fetching = Fetching(fetcher, requests, order, buffer_bytes)
        stack.callback(fetching.stop)
    run = _Stream(requests, job_for, stack, fetching, pool)
    for i in order:
        yield run.next(i, on_wait)


class _Stream:
    """The fetched documents of one :func:`stream`, and who prepares each."""

    def __init__(
        self,
        requests: Sequence[FetchRequest],
        job_for: Callable[[int, FetchResult], Job | None],
        stack: ExitStack,
        fetching: Fetching | FetchProcesses,
        pool: ProcessPoolExecutor | None,
    ) -> None:
        self.requests, self.job_for, self.stack = requests, job_for, stack
        self.fetching, self.pool = fetching, pool
        self.arrived: dict[int, Outcome] = {}
        self.jobs: dict[int, Job] = {}  # to prepare in this process
        self.working: dict[int, Future[Prepared]] = {}
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
        if self.pool is None and self.fetched_bytes >= PARALLEL_MIN_BYTES and self.documents > 1:
            self.pool = _start_pool(self.stack)
        if self.pool is not None:
            self.submit(i, job, self.pool)
        else:
            self.jobs[i] = job

    def submit(self, i: int, job: Job, to: ProcessPoolExecutor) -> None:
        try:
            future = to.submit(prepare_safely, job)
        except BrokenProcessPool:  # a worker died since: the job goes to a new pool
            if to is self.pool:
                self.pool = _start_pool(self.stack, clean=True)
            if self.pool is None:
                self.jobs[i] = job  # (no core to spare) this process prepares it
                return
            to = self.pool
            future = to.submit(prepare_safely, job)
        self.working[i] = future
        future.add_done_callback(notify(self.fetching.finished, (i, None)))
        self.submitted[i] = (job, to)

    def prepared_by_worker(self, i: int) -> Prepared:
        """What the worker made of ``i``'s document. A worker that died (killed, out of
        memory) breaks its pool and fails every job in it: each is given once more to a
        new pool; a document that breaks that one too is its source's error."""
        job, owner = self.submitted.pop(i)
        try:
            return self.working.pop(i).result()
        except BrokenProcessPool as exc:
            if job.retried:
                return _failed(job, exc)
            log.info("%s: a worker process ended; trying again", self.requests[i].source)
            if owner is self.pool:
                self.pool = _start_pool(self.stack, clean=True)
            if self.pool is None:
                return _failed(job, exc)
            self.submit(i, job._replace(retried=True), self.pool)
            if i in self.jobs:
                return prepare_safely(self.jobs.pop(i))
            return self.prepared_by_worker(i)
        except Exception as exc:  # the job or its result did not pickle: a bug
            return _failed(job, exc)


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


PRELOAD = ("feeds.ingest.parse", "feeds.ingest.normalize", "feeds.ingest.fulltext")
"""What :func:`feeds.ingest.prepare.prepare` loads on first use: the parsing and cleaning stack
(a fork server imports it before it forks workers)."""


def _fork_pool(stack: ExitStack, inherited: Sequence[int] = ()) -> ProcessPoolExecutor | None:
    """A pool of workers forked from this process now, or None when that is not safe.

    ``inherited``: file descriptors the workers close at once (the ends of the fetch
    process's pipes: the fetch process must see end-of-file when this process dies).
    """
    if usable_cores() < 2 or threading.active_count() > 1:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    pool = _start_pool(stack, inherited)
    if pool is not None:
        pool.submit(int)  # forks the workers now, before any thread of ours starts
    return pool


def _start_pool(
    stack: ExitStack, inherited: Sequence[int] = (), *, clean: bool = False
) -> ProcessPoolExecutor | None:
    """A pool of workers; ``clean``: never forked from this process (a pool that replaces
    one whose worker died starts from a fresh interpreter, not from a copy of this one)."""
    workers = usable_cores()
    if workers < 2:
        return None
    pool = ProcessPoolExecutor(
        workers,
        mp_context=_mp_context(clean),
        initializer=functools.partial(_worker, tuple(inherited)),
    )
    # If saving fails half-way, or the run is stopped, do not wait for the rest.
    stack.callback(pool.shutdown, wait=True, cancel_futures=True)
    return pool


def _mp_context(clean: bool = False) -> multiprocessing.context.BaseContext:
    """How to start the workers.

    ``fork`` when this process runs no other thread: the workers start in
    milliseconds, and each imports the parsing stack with its first document (this
    process, which only saves, never does). With other threads alive
    (the fetch threads, the daemon's scheduler, a test's server) a fork could copy a
    lock held mid-operation, so then ``forkserver`` (or ``spawn``): a clean process
    that imports the parsing stack once, then forks the workers (about 0.1 s).
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and not clean:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["feeds.ingest.prepare", *PRELOAD])
        return context
    return multiprocessing.get_context("spawn")


ORPHAN_CHECK = 1.0
"""Seconds: how often a worker checks that the process that started it is still there."""

WORKER_NICENESS = 10
"""How much lower a worker's scheduling priority is than its parent's (``nice``).

The saving process is the one part of a run that cannot be shared out, and the workers
(one per core) want every core too. Treated alike, three processes on two cores each
got two thirds of one: the saving fell behind, the documents waiting for it filled the
buffer, fetching stopped, and the workers idled. Niced, a worker runs when the saving
process does not need the core. A cold refresh of 1,000 feeds (bench/RESULTS.md, eighth
session): 1.77 of 2 cores busy, then 1.86; wall 14.89 -> 14.23 s in 5 of 5 pairs.
"""


def _worker(inherited: Sequence[int]) -> None:
    """Set up a worker: close ``inherited`` (see :func:`_fork_pool`), lower its priority
    (:data:`WORKER_NICENESS`), sign each document's entries in one numpy pass
    (:func:`feeds.core.near.sign_in_batches`), and end the worker once its parent is gone.
    A worker waits for work on a queue whose other end it holds itself, so a refresh killed
    outright (SIGKILL, the OOM killer) would leave it waiting for ever."""
    close_all(inherited)
    with suppress(OSError):  # a lower priority: never refused, but not worth failing over
        os.nice(WORKER_NICENESS)
    dedupe.sign_in_batches()
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK)
        os._exit(1)

    threading.Thread(target=watch, name="feeds-orphan-check", daemon=True).start()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
