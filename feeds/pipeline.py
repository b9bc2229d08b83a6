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

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import ExitStack
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
    ``max_connections`` at a time. A new fetch starts only while the documents fetched
    but not yet consumed hold less than ``buffer_bytes``: a slow server at the head
    of the order holds up the others only once that much is waiting, and memory stays
    bounded. ``job_for`` (called in this thread, so it may read the store) says how
    to prepare a fetched document, or None to leave it to the consumer. ``on_wait`` is
    called before waiting for the next outcome's server (not for a worker): the consumer
    may save what it holds meanwhile. Closing ``stack`` cancels the fetches not started
    and stops the workers.
    """
    if not requests:
        return
    order = interleave(requests)
    # Forked now, before the fetch threads start, the workers cost ~10 ms; later (threads
    # alive) they come from a fork server, once the run turns out to be large.
    pool = _fork_pool(stack) if len(requests) >= PARALLEL_MIN_SOURCES else None
    connections = min(fetcher.options.max_connections, len(requests))
    threads = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="feeds-fetch")
    stack.callback(threads.shutdown, wait=True, cancel_futures=True)
    pending: dict[Future[Outcome], int] = {}
    arrived: dict[int, Outcome] = {}
    jobs: dict[int, Job] = {}
    working: dict[int, Future[Prepared]] = {}
    fetched_bytes = 0  # new documents so far: starts the pool
    documents = 0  # (one document is no work to share)
    buffered = 0  # bytes of documents fetched and not yet consumed
    started = 0

    def top_up() -> None:
        nonlocal started
        while started < len(order) and len(pending) < connections and buffered < buffer_bytes:
            j = order[started]
            pending[threads.submit(fetcher.attempt, requests[j])] = j
            started += 1

    def arrive(i: int, outcome: Outcome) -> None:
        nonlocal pool, fetched_bytes, buffered, documents
        arrived[i] = outcome
        if not isinstance(outcome, FetchResult) or outcome.content is None:
            return
        buffered += len(outcome.content)
        job = job_for(i, outcome)
        if job is None:
            return
        fetched_bytes += len(job.content)
        documents += 1
        if pool is None and fetched_bytes >= PARALLEL_MIN_BYTES and documents > 1:
            pool = _start_pool(stack)
        if pool is not None:
            working[i] = pool.submit(prepare, job)
        else:
            jobs[i] = job

    def dispatch() -> None:
        """Take in the fetches that are done (their documents go to the workers), start more."""
        for future in [f for f in pending if f.done()]:
            arrive(pending.pop(future), future.result())
        top_up()

    for i in order:
        dispatch()
        while i not in arrived or (i in working and not working[i].done()):
            if i not in arrived and on_wait is not None:
                on_wait()
            watched: list[Future[Any]] = [*pending]
            if i in working:
                watched.append(working[i])
            wait_for(watched, return_when=FIRST_COMPLETED)
            dispatch()
        outcome = arrived.pop(i)
        if isinstance(outcome, FetchResult) and outcome.content is not None:
            buffered -= len(outcome.content)
        prepared: Prepared | None = None
        if i in working:
            prepared = working.pop(i).result()
        elif i in jobs:
            prepared = prepare(jobs.pop(i))
        yield i, outcome, prepared


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
        context.set_forkserver_preload(["feeds.prepare", "feeds.fulltext"])
        return context
    return multiprocessing.get_context("spawn")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
