"""Fetch a run's sources through a window and prepare their documents as they arrive.

::

    requests (round-robin by host) ─ window of fetches (threads) ─ done
        ─ new feed document? ─ worker pool running? ─ yes → prepare() in a worker process
                                                    ─ no  → prepare() by the consumer
    consumer ← (index, outcome, Prepared | None), in request order

:func:`prepare` is the part of an ingest that needs no store: parse, clean, compute the
keys (trusting GUIDs), the near-duplicate signatures and the full-text decision. It is
pure, so it runs in a worker process when a run is large (at least
``PARALLEL_MIN_BYTES`` of new documents), while the main process saves what is done.

Memory stays bounded: at most ``window`` fetched documents wait for the consumer, instead
of every body of the run at once.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from feeds import dedupe, normalize, parse
from feeds.errors import FetchError, NotAFeedError, ParseError
from feeds.fetch import Fetcher, interleave
from feeds.types import CleanEntry, FetchRequest, FetchResult, ParsedFeed

PARALLEL_MIN_BYTES = 1024 * 1024
"""Start the worker pool once a run has fetched this many bytes of new feed documents.

Parsing and cleaning are CPU-bound pure Python; the documents fetched before the pool
starts are prepared by the main process. Starting the pool costs about 0.1 s (see
bench/RESULTS.md), which 1 MiB of WordPress feed (about 200 entries) repays.
"""

Signature = tuple[int, ...]
Outcome = FetchResult | FetchError


class Job(NamedTuple):
    """What :func:`prepare` needs: the document, and what it may skip.

    ``known`` holds the content hashes of the source's stored copies: an entry whose
    content is already stored needs no signature (the consumer computes one if it
    turns out to need it after all).
    """

    content: bytes
    url: str
    headers: Mapping[str, str]
    now: datetime
    full_text: str | bool = False
    known: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Prepared:
    """A fetched feed document parsed and cleaned, with its keys and signatures.

    It must pickle (it comes back from a worker process): a parse error travels as
    its message (and an HTML page's advertised feeds) and is raised again by
    :meth:`feed_and_entries` in the main process. ``feed.entries`` (the raw entries) is
    empty when no entry wants its article page. ``keys`` trust the GUIDs;
    ``signatures[i]`` is meaningful only when ``i`` is not in ``unsigned``.
    """

    url: str
    feed: ParsedFeed | None = None
    cleaned: tuple[CleanEntry, ...] = ()
    error: str | None = None
    page_feed_urls: tuple[str, ...] | None = None  # set when the document was an HTML page
    keys: tuple[dedupe.Keys, ...] = ()
    signatures: tuple[Signature | None, ...] = ()
    unsigned: frozenset[int] = frozenset()
    wants_full_text: tuple[bool, ...] = ()

    def feed_and_entries(self) -> tuple[ParsedFeed, list[CleanEntry]]:
        """The parsed feed and its cleaned entries; raises the parse error, if any."""
        if self.page_feed_urls is not None:
            raise NotAFeedError(self.url, self.page_feed_urls, self.error)
        if self.feed is None:
            raise ParseError(self.url, self.error or "unreadable document")
        return self.feed, list(self.cleaned)

    def signature(self, i: int) -> Signature | None:
        """The signature of cleaned entry ``i`` (computed now if the worker skipped it)."""
        if i in self.unsigned or i >= len(self.signatures):
            return dedupe.signature(self.cleaned[i].body_text)
        return self.signatures[i]


def prepare(job: Job) -> Prepared:
    """Parse and clean one feed document. Pure: no store, no clock but ``job.now``."""
    from feeds import fulltext  # its extraction stack loads lazily; this part is plain

    try:
        feed = parse.parse(job.content, url=job.url, headers=job.headers)
    except NotAFeedError as exc:
        return Prepared(url=job.url, error=exc.message, page_feed_urls=exc.feed_urls)
    except ParseError as exc:
        return Prepared(url=job.url, error=exc.message)
    cleaned = tuple(normalize.normalize_entry(entry, now=job.now) for entry in feed.entries)
    keys = tuple(dedupe.entry_keys(cleaned))
    unsigned = frozenset(i for i, k in enumerate(keys) if k.content_hash in job.known)
    signatures = tuple(
        None if i in unsigned else dedupe.signature(entry.body_text)
        for i, entry in enumerate(cleaned)
    )
    wants = tuple(
        bool(clean.link)
        and fulltext.wants_full_text(raw, job.full_text, content_text=clean.body_text)
        for raw, clean in zip(feed.entries, cleaned, strict=True)
    )
    if not any(wants):
        # The consumer reads the raw entries only to fetch article pages: sending them back
        # would double what crosses between the processes and what waits in the window.
        feed = replace(feed, entries=())
    return Prepared(
        url=job.url,
        feed=feed,
        cleaned=cleaned,
        keys=keys,
        signatures=signatures,
        unsigned=unsigned,
        wants_full_text=wants,
    )


def stream(
    fetcher: Fetcher,
    requests: Sequence[FetchRequest],
    job_for: Callable[[int, FetchResult], Job | None],
    *,
    window: int,
    stack: ExitStack,
) -> Iterator[tuple[int, Outcome, Prepared | None]]:
    """Fetch ``requests`` and yield ``(index, outcome, prepared)`` in request order.

    Requests are taken round-robin by host (:func:`feeds.fetch.interleave`); at most
    ``window`` of them are in flight or waiting for the consumer. ``job_for`` (called
    in this thread, so it may read the store) says how to prepare a fetched
    document, or None to leave it to the consumer. Closing ``stack`` cancels the
    fetches not started and stops the workers.
    """
    if not requests:
        return
    order = interleave(requests)
    threads = ThreadPoolExecutor(
        max_workers=min(fetcher.options.max_connections, len(requests)),
        thread_name_prefix="feeds-fetch",
    )
    stack.callback(threads.shutdown, wait=True, cancel_futures=True)
    pending: dict[Future[Outcome], int] = {}
    arrived: dict[int, Outcome] = {}
    jobs: dict[int, Job] = {}
    working: dict[int, Future[Prepared]] = {}
    pool: ProcessPoolExecutor | None = None
    fetched_bytes = 0
    started = 0

    def arrive(i: int, outcome: Outcome) -> None:
        nonlocal pool, fetched_bytes
        arrived[i] = outcome
        if not isinstance(outcome, FetchResult) or outcome.content is None:
            return
        job = job_for(i, outcome)
        if job is None:
            return
        fetched_bytes += len(job.content)
        if pool is None and fetched_bytes >= PARALLEL_MIN_BYTES:
            pool = _start_pool(stack)
        if pool is not None:
            working[i] = pool.submit(prepare, job)
        else:
            jobs[i] = job

    for taken, i in enumerate(order):
        while started < len(order) and started - taken < window:
            j = order[started]
            pending[threads.submit(fetcher.attempt, requests[j])] = j
            started += 1
        while i not in arrived or (i in working and not working[i].done()):
            watched: list[Future[Any]] = [*pending]
            if i in working:
                watched.append(working[i])
            done, _ = wait_for(watched, return_when=FIRST_COMPLETED)
            for future in done:
                if future in pending:
                    arrive(pending.pop(future), future.result())
        outcome = arrived.pop(i)
        prepared: Prepared | None = None
        if i in working:
            prepared = working.pop(i).result()
        elif i in jobs:
            prepared = prepare(jobs.pop(i))
        yield i, outcome, prepared


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
