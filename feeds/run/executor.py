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

import contextlib
import functools
import importlib
import itertools
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from feeds.errors import FetchError, describe
from feeds.ingest.fetch import Fetcher, PageFetcher, interleave, request_host
from feeds.ingest.prepare import Job, Prepared, prepare_safely
from feeds.types import FetchOptions, FetchRequest, FetchResult

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

WINDOW = 0.05
"""Seconds: how often the number of fetches at once is reconsidered (:class:`Throttle`), and
how long the consumer waits for a server before ``on_wait`` (see :func:`stream`)."""

Outcome = FetchResult | FetchError

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
    :class:`_FetchProcesses`); ``use_pages`` is then called with what fetches pages
    through those processes while the stream lasts, each page by the process that fetches
    its host, so that the limits and delays of a host hold across feeds and pages.
    Otherwise it is not called: the caller's ``fetcher`` serves.
    """
    if not requests:
        return
    order = interleave(requests)
    if len(requests) >= PARALLEL_MIN_SOURCES and any(
        not (r.etag or r.last_modified or r.body_hash) for r in requests
    ):
        preload()  # new sources: documents will come; the processes forked now share it
    # Forked now, before any thread of ours starts, the fetch processes and the workers cost
    # milliseconds; later (threads alive) workers come from a fork server, once the run
    # turns out to be large, and fetches stay in this process.
    fetching: _Fetching | _FetchProcesses
    if processes := _fetch_processes(fetcher, requests):
        fetching = _FetchProcesses(fetcher, requests, order, buffer_bytes, processes)
        stack.callback(fetching.stop)
        pool = _fork_pool(stack, inherited=fetching.ends)
        fetching.start()
        if use_pages is not None:
            use_pages(fetching)
    else:
        pool = _fork_pool(stack) if len(requests) >= PARALLEL_MIN_SOURCES else None
        fetching = _Fetching(fetcher, requests, order, buffer_bytes)
        stack.callback(fetching.stop)
    arrived: dict[int, Outcome] = {}
    jobs: dict[int, Job] = {}  # to prepare in this process
    working: dict[int, Future[Prepared]] = {}
    submitted: dict[int, tuple[Job, ProcessPoolExecutor]] = {}  # to each worker's job, its pool
    fetched_bytes = 0  # new documents so far: starts the pool
    documents = 0  # (one document is no work to share)

    def take(event: _Event) -> None:
        nonlocal pool, fetched_bytes, documents
        i, outcome = event
        if outcome is None:  # a worker finished i's document
            return
        if isinstance(outcome, _Raised):
            # A bug in a fetch (which returns FetchErrors), or a fetch process that died:
            # that source's error, not the run's.
            log.info("%s: the fetch failed", requests[i].source, exc_info=outcome.exc)
            outcome = FetchError(requests[i].url, describe(outcome.exc))
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
            submit(i, job, pool)
        else:
            jobs[i] = job

    def submit(i: int, job: Job, to: ProcessPoolExecutor) -> None:
        nonlocal pool
        try:
            future = to.submit(prepare_safely, job)
        except BrokenProcessPool:  # a worker died since: the job goes to a new pool
            if to is pool:
                pool = _start_pool(stack)
            if pool is None:
                jobs[i] = job  # (no core to spare) this process prepares it
                return
            to = pool
            future = to.submit(prepare_safely, job)
        working[i] = future
        future.add_done_callback(_notify(fetching.finished, (i, None)))
        submitted[i] = (job, to)

    def prepared_by_worker(i: int) -> Prepared:
        """What the worker made of ``i``'s document. A worker that died (killed, out of
        memory) breaks its pool and fails every job in it: each is given once more to a
        new pool; a document that breaks that one too is its source's error."""
        nonlocal pool
        job, owner = submitted.pop(i)
        try:
            return working.pop(i).result()
        except BrokenProcessPool as exc:
            if job.retried:
                return _failed(job, exc)
            log.info("%s: a worker process ended; trying again", requests[i].source)
            if owner is pool:
                pool = _start_pool(stack)
            if pool is None:
                return _failed(job, exc)
            submit(i, job._replace(retried=True), pool)
            if i in jobs:
                return prepare_safely(jobs.pop(i))
            return prepared_by_worker(i)
        except Exception as exc:  # the job or its result did not pickle: a bug
            return _failed(job, exc)

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
            fetching.consumed(i, len(outcome.content))
        prepared: Prepared | None = None
        if i in working:
            prepared = prepared_by_worker(i)
        elif i in jobs:
            prepared = prepare_safely(jobs.pop(i))
        if prepared is not None and prepared.trace is not None:
            log.info("%s: %s\n%s", requests[i].source, prepared.error, prepared.trace)
        yield i, outcome, prepared


def _failed(job: Job, exc: BaseException) -> Prepared:
    """A job no worker could finish, as its document's error."""
    return Prepared(
        url=job.url,
        error=f"{describe(exc)} (while reading the document in a worker process)",
        trace="".join(traceback.format_exception(exc)),
    )


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
    and puts what it got on ``finished`` (or hands it to ``deliver``).
    """

    def __init__(
        self,
        fetcher: Fetcher,
        requests: Sequence[FetchRequest],
        order: Sequence[int],
        buffer_bytes: int,
        deliver: Callable[[_Event], None] | None = None,
    ) -> None:
        self.finished: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self._deliver = deliver or self.finished.put
        self._fetcher, self._requests, self._order = fetcher, requests, order
        self._buffer_bytes = buffer_bytes
        self._throttle = Throttle(min(fetcher.options.max_connections, len(order)))
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
            self._deliver((j, outcome))

    def consumed(self, i: int, size: int) -> None:
        """The consumer took request ``i``'s document of ``size`` bytes: room in the buffer."""
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


def _fetch_processes(fetcher: Fetcher, requests: Sequence[FetchRequest]) -> int:
    """How many processes of their own :func:`stream` fetches ``requests`` in (0: none).

    The run must be large, the machine have a core to spare, and forking be safe: no
    other thread in this process (cron's refresh, not the daemon's scheduler) and a
    fetcher that never sent anything (no connection to share with the copies). One
    process per core: a fetch from a server that answers at once is CPU work.
    """
    if (
        len(requests) < FETCH_PROCESS_MIN_SOURCES
        or not fetcher.idle
        or threading.active_count() > 1
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return 0
    cores = usable_cores()
    return cores if cores >= 2 else 0


@dataclass(frozen=True)
class _Deal:
    """Which requests each fetch process makes, and with what limits."""

    parts: list[list[int]]  # indices of the requests, in the order they are to be made
    options: FetchOptions  # each process's limits: together they stay within the config's
    owners: dict[str, int]  # host → the process that fetches it (absent: the first)


def deal(
    requests: Sequence[FetchRequest], order: Sequence[int], options: FetchOptions, count: int
) -> _Deal:
    """Share ``requests`` (taken in ``order``) between ``count`` fetch processes politely.

    With no delay to keep between a host's requests (``min_host_delay = 0``), every host's
    requests are dealt round-robin and each process may open ``max_per_host // count``
    connections to it: together never more than ``max_per_host``. Otherwise each host is
    fetched by one process only (the one with the fewest requests so far, largest host
    first), which keeps its delays; each process then has its share of
    ``max_connections``. Processes left with nothing are not started.
    """
    connections = max(1, options.max_connections // count)
    if options.min_host_delay == 0 and options.max_per_host >= count:
        dealt = [list(order[k::count]) for k in range(count)]
        share = replace(
            options, max_connections=connections, max_per_host=options.max_per_host // count
        )
        return _Deal([part for part in dealt if part], share, {})
    by_host: dict[str, list[int]] = {}
    for i in order:
        by_host.setdefault(request_host(requests[i]), []).append(i)
    sizes = [0] * count
    owners: dict[str, int] = {}
    for host, indices in sorted(by_host.items(), key=lambda item: -len(item[1])):
        k = sizes.index(min(sizes))
        owners[host] = k
        sizes[k] += len(indices)
    used = sorted(set(owners.values()))
    renumber = {k: n for n, k in enumerate(used)}
    owners = {host: renumber[k] for host, k in owners.items()}
    parts: list[list[int]] = [[] for _ in used]
    for i in order:
        parts[owners[request_host(requests[i])]].append(i)
    return _Deal(parts, replace(options, max_connections=connections), owners)


_Pages = list[Outcome] | _Raised
"""What a page request gave: an outcome per request, or what the fetcher raised."""


class _FetchProcesses:
    """The fetches of one :func:`stream`, in processes of their own (see :func:`deal`).

    Each process is forked with the fetcher and runs :class:`_Fetching` for its share of
    the requests, throttled by its own CPU use; what the fetches give comes back through
    a pipe, read by a thread here onto ``finished``. The consumer's other fetches
    (article pages while a source is saved: :meth:`fetch_many`) go to the process that
    fetches the page's host, so per-host limits and delays hold across both. A process
    ends when told to stop, or when this process dies (its pipe's far end closes).
    """

    def __init__(
        self,
        fetcher: Fetcher,
        requests: Sequence[FetchRequest],
        order: Sequence[int],
        buffer_bytes: int,
        count: int,
    ) -> None:
        self.finished: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self._fetcher = fetcher
        self._options = fetcher.options
        dealt = deal(requests, order, fetcher.options, count)
        self._owners = dealt.owners
        self._children: list[_Child] = []
        for part in dealt.parts:
            inherited = [fd for child in self._children for fd in child.ends]
            self._children.append(
                _Child(
                    fetcher,
                    dealt.options,
                    requests,
                    part,
                    buffer_bytes // len(dealt.parts),
                    inherited,
                )
            )
        self._fetched_by = {i: k for k, part in enumerate(dealt.parts) for i in part}
        self._calls = itertools.count()
        self._pages: dict[int, Future[_Pages]] = {}
        self._stopping = False
        self._readers = [
            threading.Thread(
                target=self._read, args=(child,), name="feeds-fetch-reader", daemon=True
            )
            for child in self._children
        ]

    @property
    def ends(self) -> list[int]:
        """This process's ends of the pipes (other processes forked later close them)."""
        return [fd for child in self._children for fd in child.ends]

    @property
    def options(self) -> FetchOptions:
        return self._options

    def start(self) -> None:
        """Start reading what the fetch processes send."""
        for reader in self._readers:
            reader.start()

    def _read(self, child: _Child) -> None:
        received: set[int] = set()
        try:
            while True:
                message = child.results.recv()
                if message[0] == "event":
                    self.finished.put(message[1])
                    received.add(message[1][0])
                elif message[0] == "turns":  # its last word: when its hosts may be asked next
                    self._fetcher.keep_turns(message[1])
                else:  # ("pages", call, what they gave)
                    self._pages.pop(message[1]).set_result(message[2])
        except (EOFError, OSError):
            pass
        child.process.join()
        ended = RuntimeError(f"a fetch process ended (exit code {child.process.exitcode})")
        for call in list(self._pages):
            if (future := self._pages.pop(call, None)) is not None:
                future.set_exception(ended)
        if not self._stopping:  # what it had not fetched yet is those sources' error
            for i in child.part:
                if i not in received:
                    self.finished.put((i, _Raised(ended)))

    def consumed(self, i: int, size: int) -> None:
        """The consumer took request ``i``'s document of ``size`` bytes: room in the buffer."""
        self._children[self._fetched_by[i]].send(size)

    def reconsider(self) -> None:
        """Nothing to do here: each fetch process throttles itself."""

    def fetch_many(self, requests: Sequence[FetchRequest]) -> list[FetchResult | FetchError]:
        """:meth:`Fetcher.fetch_many`, made by the fetch processes of the pages' hosts."""
        by_child: dict[int, list[int]] = {}
        for n, request in enumerate(requests):
            by_child.setdefault(self._owners.get(request_host(request), 0), []).append(n)
        calls: list[tuple[list[int], Future[_Pages]]] = []
        for k, indices in by_child.items():
            future: Future[_Pages] = Future()
            call = next(self._calls)
            self._pages[call] = future
            try:
                self._children[k].send(("pages", call, [requests[n] for n in indices]))
            except OSError as exc:  # the process is gone: its end of the pipe closed
                self._pages.pop(call, None)
                raise RuntimeError("a fetch process ended") from exc
            calls.append((indices, future))
        outcomes: list[FetchResult | FetchError | None] = [None] * len(requests)
        for indices, future in calls:
            pages = future.result()
            if isinstance(pages, _Raised):
                raise pages.exc
            for n, outcome in zip(indices, pages, strict=True):
                outcomes[n] = outcome
        return [outcome for outcome in outcomes if outcome is not None]

    def fetch(self, request: FetchRequest) -> FetchResult:
        """:meth:`Fetcher.fetch`, made by the fetch process of the request's host."""
        (outcome,) = self.fetch_many([request])
        if isinstance(outcome, FetchError):
            raise outcome
        return outcome

    def stop(self) -> None:
        """Start no more fetches; wait for those under way and for the processes to end."""
        self._stopping = True
        for child in self._children:
            with contextlib.suppress(OSError):  # it ended already
                child.send(None)
        for child, reader in zip(self._children, self._readers, strict=True):
            if reader.is_alive():
                reader.join()  # it ends with the process, and waits for it (one waiter only)
            child.process.join()
            child.results.close()
            child.control.close()


class _Child:
    """One fetch process: its pipes and what it fetches."""

    def __init__(
        self,
        fetcher: Fetcher,
        options: FetchOptions,
        requests: Sequence[FetchRequest],
        part: list[int],
        buffer_bytes: int,
        inherited: Sequence[int],
    ) -> None:
        context = multiprocessing.get_context("fork")
        self.part = part
        self.results, child_results = context.Pipe(duplex=False)
        child_control, self.control = context.Pipe(duplex=False)
        # The copy of this end that the fork leaves in the process must go too, or the
        # process would never see its control pipe close when this process dies.
        inherited = [*inherited, *self.ends]
        self.process = context.Process(
            target=_serve_fetches,
            args=(
                fetcher,
                options,
                requests,
                part,
                buffer_bytes,
                child_results,
                child_control,
                inherited,
            ),
            name="feeds-fetch",
            daemon=True,
        )
        self.process.start()
        child_results.close()
        child_control.close()
        self._sending = threading.Lock()

    @property
    def ends(self) -> tuple[int, int]:
        return (self.results.fileno(), self.control.fileno())

    def send(self, message: object) -> None:
        with self._sending:
            self.control.send(message)


def _serve_fetches(
    fetcher: Fetcher,
    options: FetchOptions,
    requests: Sequence[FetchRequest],
    order: Sequence[int],
    buffer_bytes: int,
    results: Connection,
    control: Connection,
    inherited: Sequence[int],
) -> None:
    """A fetch process of :class:`_FetchProcesses`: fetch, send back, serve page requests.

    Messages in: a size (the consumer took a document), ``("pages", call, requests)``,
    None (stop). Out: ``("event", (index, outcome))``, ``("pages", call, outcomes)`` and,
    once stopped, ``("turns", {host: when it may be asked next})``: the consumer's own
    fetcher keeps the hosts' delays after the stream (a WebSub ping to a feed's host).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    _close_all(inherited)  # this end's copies of the pipes: each must see the others close
    fetcher.restrict(options)
    sending = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        try:
            data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        except Exception:  # a bug's exception that does not pickle: its traceback does
            data = pickle.dumps(_portable(message), pickle.HIGHEST_PROTOCOL)
        with sending:
            results.send_bytes(data)

    stopped = threading.Event()
    done = threading.Event()
    counting = threading.Lock()
    delivered = 0

    def deliver(event: _Event) -> None:
        """Send an outcome at once, from the thread that fetched it (no hand-over)."""
        nonlocal delivered
        with contextlib.suppress(OSError):  # the consumer is gone: the listener stops us
            send(("event", event))
        with counting:
            delivered += 1
            if delivered == len(order):
                done.set()

    fetching = _Fetching(fetcher, requests, order, buffer_bytes, deliver)

    def pages(call: int, wanted: Sequence[FetchRequest]) -> None:
        answer: _Pages
        try:
            answer = fetcher.fetch_many(wanted)
        except BaseException as exc:  # a bug: raised in the consumer
            answer = _Raised(exc)
        with contextlib.suppress(OSError):  # the consumer stopped waiting: it is gone
            send(("pages", call, answer))

    def listen() -> None:
        while True:
            try:
                message = control.recv()
            except (EOFError, OSError):  # the parent died
                message = None
            if message is None:
                stopped.set()
                fetching.stop()
                return
            if isinstance(message, int):
                fetching.consumed(-1, message)  # one buffer: whose document it was is no matter
            else:
                threading.Thread(target=pages, args=message[1:], daemon=True).start()

    listener = threading.Thread(target=listen, name="feeds-fetch-control", daemon=True)
    listener.start()
    try:
        while not done.wait(WINDOW) and not stopped.is_set():
            fetching.reconsider()
        listener.join()  # pages are asked for until the consumer has saved the last source
        with contextlib.suppress(OSError):  # the consumer is gone
            send(("turns", fetcher.host_turns()))
    finally:
        fetching.stop()
        fetcher.close()


def _portable(message: tuple[Any, ...]) -> tuple[Any, ...]:
    """``message`` with each exception that does not pickle replaced by a RuntimeError."""

    def fix(item: Any) -> Any:
        if isinstance(item, _Raised):
            try:
                pickle.dumps(item.exc)
            except Exception:
                text = "".join(traceback.format_exception(item.exc))
                return _Raised(RuntimeError(f"in the fetch process: {text}"))
            return item
        if isinstance(item, tuple):
            return tuple(fix(part) for part in item)
        if isinstance(item, list):
            return [fix(part) for part in item]
        return item

    return tuple(fix(part) for part in message)


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


PRELOAD = ("feeds.ingest.parse", "feeds.ingest.normalize", "feeds.ingest.fulltext")
"""What :func:`feeds.ingest.prepare.prepare` loads on first use: the parsing and cleaning stack."""


def preload() -> None:
    """Load :data:`PRELOAD` now (a worker forked afterwards starts with it loaded)."""
    for name in PRELOAD:
        importlib.import_module(name)


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


def _start_pool(stack: ExitStack, inherited: Sequence[int] = ()) -> ProcessPoolExecutor | None:
    workers = usable_cores()
    if workers < 2:
        return None
    pool = ProcessPoolExecutor(
        workers, mp_context=_mp_context(), initializer=functools.partial(_worker, tuple(inherited))
    )
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
        context.set_forkserver_preload(["feeds.ingest.prepare", *PRELOAD])
        return context
    return multiprocessing.get_context("spawn")


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        os.close(fd)


ORPHAN_CHECK = 1.0
"""Seconds: how often a worker checks that the process that started it is still there."""


def _worker(inherited: Sequence[int]) -> None:
    """Set up a worker: close ``inherited`` (see :func:`_fork_pool`), and end the worker
    once its parent is gone. A worker waits for work on a queue whose other end it holds
    itself, so a refresh killed outright (SIGKILL, the OOM killer) would leave it waiting
    for ever."""
    _close_all(inherited)
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
