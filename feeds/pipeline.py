"""Fetch a run's sources and prepare their documents as they arrive.

::

    requests (round-robin by host) ─ fetches (threads), while the buffer has room ─ done
        ─ new feed document? ─ worker pool running? ─ yes → prepare() in a worker process
                                                    ─ no  → prepare() by the consumer
    consumer ← (index, outcome, Prepared | None), in request order

:func:`feeds.prepare.prepare` runs in a pool of worker processes, one per core, while the
main process saves what is done: forked before the first fetch when the run has at least
``PARALLEL_MIN_SOURCES`` sources and this process runs no other thread (cron's refresh),
else started from a fork server once the run has fetched ``PARALLEL_MIN_BYTES`` in more
than one new document (the daemon, whose scheduler is a thread; one document alone is no
work to share).
Memory stays bounded: fetched documents wait for the consumer up to ``BUFFER_BYTES``,
instead of every body of the run at once.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from feeds.errors import FetchError
from feeds.fetch import Fetcher, interleave
from feeds.prepare import Job, Prepared, prepare
from feeds.types import FetchRequest, FetchResult

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

WINDOW = 0.05
"""Seconds: how often the number of fetches at once is reconsidered (:class:`Throttle`), and
how long the consumer waits for a server before ``on_wait`` (see :func:`stream`)."""

Outcome = FetchResult | FetchError


def stream(
    fetcher: Fetcher,
    requests: Sequence[FetchRequest],
    job_for: Callable[[int, FetchResult], Job | None],
    *,
    stack: ExitStack,
    buffer_bytes: int = BUFFER_BYTES,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[tuple[int, Outcome, Prepared | None]]:
    """Fetch ``requests`` and yield ``(index, outcome, prepared)`` in request order.

    Requests are taken round-robin by host (:func:`feeds.fetch.interleave`), at most
    ``max_connections`` at a time (fewer while more would not help: see :class:`Throttle`).
    A new fetch starts only while the documents fetched but not yet consumed hold less
    than ``buffer_bytes``: a slow server at the head of the order holds up the others
    only once that much is waiting, and memory stays bounded. ``job_for`` (called in this
    thread, so it may read the store) says how to prepare a fetched document, or None to
    leave it to the consumer. ``on_wait`` is called while waiting for the next outcome's
    server (every :data:`WINDOW` seconds, not for a worker): the consumer may save what
    it holds meanwhile. Closing ``stack`` cancels the fetches not started and stops the
    workers.
    """
    if not requests:
        return
    order = interleave(requests)
    # Forked now, before the fetch threads start, the workers cost ~10 ms; later (threads
    # alive) they come from a fork server, once the run turns out to be large.
    pool = None
    if len(requests) >= PARALLEL_MIN_SOURCES:
        if any(not (r.etag or r.last_modified or r.body_hash) for r in requests):
            preload()  # new sources: documents will come; the workers share what is loaded
        pool = _fork_pool(stack)
    fetching = _Fetching(fetcher, requests, order, buffer_bytes)
    stack.callback(fetching.stop)
    arrived: dict[int, Outcome] = {}
    jobs: dict[int, Job] = {}
    working: dict[int, Future[Prepared]] = {}
    fetched_bytes = 0  # new documents so far: starts the pool
    documents = 0  # (one document is no work to share)

    def take(event: _Event) -> None:
        nonlocal pool, fetched_bytes, documents
        i, outcome = event
        if outcome is None:  # a worker finished i's document
            return
        if isinstance(outcome, _Raised):
            raise outcome.exc  # a bug in the fetcher: it returns FetchErrors, raises nothing
        arrived[i] = outcome
        if not isinstance(outcome, FetchResult) or outcome.content is None:
            return
        job = job_for(i, outcome)
        if job is None:
            return
        fetched_bytes += len(job.content)
        documents += 1
        if pool is None and fetched_bytes >= PARALLEL_MIN_BYTES and documents > 1:
            pool = _start_pool(stack)
        if pool is not None:
            working[i] = pool.submit(prepare, job)
            working[i].add_done_callback(_notify(fetching.finished, (i, None)))
        else:
            jobs[i] = job

    def take_all() -> None:
        while True:
            try:
                take(fetching.finished.get_nowait())
            except queue.Empty:
                break
        fetching.reconsider()

    for i in order:
        take_all()
        while i not in arrived or (i in working and not working[i].done()):
            try:
                take(fetching.finished.get(timeout=WINDOW))
            except queue.Empty:
                if i not in arrived and on_wait is not None:
                    on_wait()
            take_all()
        outcome = arrived.pop(i)
        if isinstance(outcome, FetchResult) and outcome.content is not None:
            fetching.consumed(len(outcome.content))
        prepared: Prepared | None = None
        if i in working:
            prepared = working.pop(i).result()
        elif i in jobs:
            prepared = prepare(jobs.pop(i))
        yield i, outcome, prepared


@dataclass(frozen=True)
class _Raised:
    """What a fetch raised (instead of returning an outcome), to raise in the consumer."""

    exc: BaseException


_Event = tuple[int, Outcome | _Raised | None]
"""(index, what its fetch gave) from a fetch thread; (index, None) from a worker."""


def _notify(finished: queue.SimpleQueue[_Event], event: _Event) -> Callable[[Future[Any]], None]:
    """A done-callback that puts ``event`` on ``finished``."""
    return lambda _: finished.put(event)


class _Fetching:
    """The fetch threads of one :func:`stream`.

    Each thread takes the next request in ``order`` itself (no hand-over per request)
    while fewer fetches than the throttle's limit are under way and the buffer has room,
    and puts what it got on ``finished``.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        requests: Sequence[FetchRequest],
        order: Sequence[int],
        buffer_bytes: int,
    ) -> None:
        self.finished: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self._fetcher, self._requests, self._order = fetcher, requests, order
        self._buffer_bytes = buffer_bytes
        self._throttle = Throttle(min(fetcher.options.max_connections, len(requests)))
        self._turn = threading.Condition()
        self._started = 0  # requests taken, in order
        self._running = 0  # fetches under way
        self._buffered = 0  # bytes of documents fetched and not yet consumed
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._run, name=f"feeds-fetch-{n}", daemon=True)
            for n in range(self._throttle.cap)
        ]
        for thread in self._threads:
            thread.start()

    def _next(self) -> int | None:
        with self._turn:
            while not self._stopping and self._started < len(self._order):
                if self._running < self._throttle.limit and self._buffered < self._buffer_bytes:
                    j = self._order[self._started]
                    self._started += 1
                    self._running += 1
                    return j
                self._turn.wait()
            return None

    def _run(self) -> None:
        while (j := self._next()) is not None:
            outcome: Outcome | _Raised
            try:
                outcome = self._fetcher.attempt(self._requests[j])
            except BaseException as exc:  # handed to the consumer, raised there
                outcome = _Raised(exc)
            with self._turn:
                self._running -= 1
                if isinstance(outcome, FetchResult) and outcome.content is not None:
                    self._buffered += len(outcome.content)
                self._turn.notify()
            self.finished.put((j, outcome))

    def consumed(self, size: int) -> None:
        """The consumer took a document of ``size`` bytes: room in the buffer."""
        with self._turn:
            self._buffered -= size
            self._turn.notify()

    def reconsider(self) -> None:
        """Let the throttle change how many fetches run at once."""
        before = self._throttle.limit
        self._throttle.update()
        if self._throttle.limit > before:
            with self._turn:
                self._turn.notify_all()

    def stop(self) -> None:
        """Start no more fetches; wait for those under way."""
        with self._turn:
            self._stopping = True
            self._turn.notify_all()
        for thread in self._threads:
            thread.join()


class Throttle:
    """How many fetches run at once: as many as keep this process busy, at most ``cap``.

    A fetch is network waits and Python work. While servers keep us waiting, more
    fetches at once keep the process busy. When they answer at once, the fetch threads
    and the consumer take turns on one interpreter lock, and more threads only add
    switching: a refresh of 1,000 unchanged sources from a local server took 0.8 s with
    8 fetches at once and 0.55 s with 1 (bench/RESULTS.md). So every ``window`` seconds
    the share of a core this process used decides: under ``idle`` the limit doubles (up
    to ``cap``), over ``busy`` it drops by one (down to 1). It starts at ``start``.
    No more connections than help is also politer to the servers.
    """

    def __init__(
        self,
        cap: int,
        *,
        start: int = 2,
        window: float | None = None,
        idle: float = 0.5,
        busy: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.process_time,
    ) -> None:
        self.cap = max(cap, 1)
        self.limit = min(start, self.cap)
        self._window = WINDOW if window is None else window
        self._idle, self._busy = idle, busy
        self._clock, self._cpu = clock, cpu
        self._since = (clock(), cpu())

    def update(self) -> None:
        """Reconsider the limit once a window has passed since the last change."""
        wall = self._clock()
        elapsed = wall - self._since[0]
        if elapsed < self._window:
            return
        cpu = self._cpu()  # a process's CPU time costs more to read than the clock
        used = (cpu - self._since[1]) / elapsed
        self._since = (wall, cpu)
        if used < self._idle:
            self.limit = min(self.limit * 2, self.cap)
        elif used > self._busy:
            self.limit = max(self.limit - 1, 1)


PRELOAD = ("feeds.parse", "feeds.normalize", "feeds.fulltext")
"""What :func:`feeds.prepare.prepare` loads on first use: the parsing and cleaning stack."""


def preload() -> None:
    """Load :data:`PRELOAD` now (a worker forked afterwards starts with it loaded)."""
    for name in PRELOAD:
        importlib.import_module(name)


def _fork_pool(stack: ExitStack) -> ProcessPoolExecutor | None:
    """A pool of workers forked from this process now, or None when that is not safe."""
    if usable_cores() < 2 or threading.active_count() > 1:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    pool = _start_pool(stack)
    if pool is not None:
        pool.submit(int)  # forks the workers now, before any thread of ours starts
    return pool


def _start_pool(stack: ExitStack) -> ProcessPoolExecutor | None:
    workers = usable_cores()
    if workers < 2:
        return None
    pool = ProcessPoolExecutor(workers, mp_context=_mp_context())
    # If saving fails half-way, or the run is stopped, do not wait for the rest.
    stack.callback(pool.shutdown, wait=True, cancel_futures=True)
    return pool


def _mp_context() -> multiprocessing.context.BaseContext:
    """How to start the workers.

    ``fork`` when this process runs no other thread: the workers start in
    milliseconds with the parsing stack already imported. With other threads alive
    (the fetch threads, the daemon's scheduler, a test's server) a fork could copy a
    lock held mid-operation, so then ``forkserver`` (or ``spawn``): a clean process
    that imports the parsing stack once, then forks the workers (about 0.1 s).
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["feeds.prepare", *PRELOAD])
        return context
    return multiprocessing.get_context("spawn")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
