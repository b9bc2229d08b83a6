"""Fetch processes: a large run's fetches in processes of their own, one per core.

A fetch from a server that answers at once is Python work, which would otherwise take turns
with the saving on one interpreter lock. Each process gets its share of the requests and of
the connections (:func:`deal`), and fetches the article pages of its hosts too.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import pickle
import queue
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from feeds.errors import FetchError
from feeds.ingest.fetch import Fetcher, request_host
from feeds.run.fetching import WINDOW, Event, Fetching, Outcome, Raised
from feeds.run.held_ctrl_c import ctrl_c_held, deaf_to_ctrl_c
from feeds.types import FetchOptions, FetchRequest, FetchResult, HostHold


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
    share = share_of(options, count)
    if _by_turns(options, count):
        dealt = [list(order[k::count]) for k in range(count)]
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
    return _Deal(parts, share, owners)


def _by_turns(options: FetchOptions, count: int) -> bool:
    """Whether :func:`deal` deals every host's requests round-robin (no delay to keep)."""
    return options.min_host_delay == 0 and options.max_per_host >= count


def share_of(options: FetchOptions, count: int) -> FetchOptions:
    """Each of ``count`` fetch processes' limits (see :func:`deal`): they depend on the
    config's alone, so a process can make its connections before it knows its requests."""
    connections = max(1, options.max_connections // count)
    if _by_turns(options, count):
        return replace(
            options, max_connections=connections, max_per_host=options.max_per_host // count
        )
    return replace(options, max_connections=connections)


_Pages = list[Outcome] | Raised
"""What a page request gave: an outcome per request, or what the fetcher raised."""


class FetchProcesses:
    """The fetches of one :func:`stream`, in processes of their own (see :func:`deal`).

    Each process is forked with the fetcher and makes its connections at once (httpx's
    import: about 0.1 s), before it knows its requests: forked early, the
    processes get ready while this process reads the store. :meth:`assign` then deals the
    requests; each process runs :class:`Fetching` for its share, throttled by its own CPU
    use; what the fetches give comes back through a pipe, read by a thread here onto
    ``finished``. The consumer's other fetches (article pages while a source is saved:
    :meth:`fetch_many`) go to the process that fetches the page's host, so per-host limits
    and delays hold across both. A process ends when told to stop, or when this process
    dies (its pipe's far end closes). A host hold one process meets reaches the others at
    once through this one, which keeps it too, for the store (:mod:`feeds.run.shared_holds`).
    """

    def __init__(self, fetcher: Fetcher, count: int) -> None:
        self.finished: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._fetcher = fetcher
        self._options = fetcher.options
        share = share_of(fetcher.options, count)
        self._children: list[_Child] = []
        try:
            with ctrl_c_held():
                for _ in range(count):
                    inherited = [fd for child in self._children for fd in child.ends]
                    self._children.append(_Child(fetcher, share, inherited))
        except BaseException:  # a fork refused (EAGAIN, ENOMEM), Ctrl-C: none is left behind
            for child in self._children:
                child.process.kill()
                child.process.join()
                child.close()
            raise
        self._owners: dict[str, int] = {}
        self._fetched_by: dict[int, int] = {}
        self._assigned = False
        self._reading = False
        self._calls = itertools.count()
        self._stopping = False
        self._readers = [
            threading.Thread(
                target=self._read, args=(child,), name="feeds-fetch-reader", daemon=True
            )
            for child in self._children
        ]

    def assign(
        self, requests: Sequence[FetchRequest], order: Sequence[int], buffer_bytes: int
    ) -> None:
        """Deal ``requests`` (taken in ``order``) to the processes, which start fetching; a
        process left with nothing ends. Once only, before :meth:`start`."""
        dealt = deal(requests, order, self._options, len(self._children))
        self._owners = dealt.owners
        self._assigned = True
        for k, child in enumerate(self._children):
            work = None  # nothing for it: it ends
            if k < len(dealt.parts):
                child.part = dealt.parts[k]
                mine = {i: requests[i] for i in child.part}
                # the hosts' turns this fetcher keeps (hosts another worker just released):
                # the processes were forked before it knew them
                turns = self._fetcher.host_turns()
                holds = self._fetcher.holds.held()  # and the hosts held (the store's too)
                work = (mine, child.part, buffer_bytes // len(dealt.parts), turns, holds)
            # A process that died meanwhile (the OOM killer): its reader reports its part.
            with contextlib.suppress(OSError):
                child.send(work)
        self._fetched_by = {i: k for k, part in enumerate(dealt.parts) for i in part}

    @property
    def options(self) -> FetchOptions:
        return self._options

    def start(self) -> None:
        """Start reading what the fetch processes send."""
        self._reading = True
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
                elif message[0] == "hold":  # a host it met asked to wait: the others keep off
                    self._fetcher.holds.keep([message[1]], seen_here=True)
                    self._send_holds([message[1]], but=child)
                elif (future := child.pages.pop(message[1], None)) is not None:
                    future.set_result(message[2])  # ("pages", call, what they gave)
        except (EOFError, OSError):
            pass
        child.process.join()
        ended = RuntimeError(f"a fetch process ended (exit code {child.process.exitcode})")
        # Its own page calls only: another process's answers are still to come (a process
        # left without requests ends at once, while the others serve pages).
        for call in list(child.pages):
            if (future := child.pages.pop(call, None)) is not None:
                future.set_exception(ended)
        if not self._stopping:  # what it had not fetched yet is those sources' error
            for i in child.part:
                if i not in received:
                    self.finished.put((i, Raised(ended)))

    def keep_holds(self, holds: Sequence[HostHold]) -> None:
        """Send nothing to the hosts of ``holds`` (read from the store) until they end, from
        any process (given with the requests, when they are not dealt yet)."""
        self._fetcher.holds.keep(holds)
        if self._assigned:
            self._send_holds(holds)

    def _send_holds(self, holds: Sequence[HostHold], but: _Child | None = None) -> None:
        for child in self._children:
            if child is not but:
                with contextlib.suppress(OSError):  # it ended: its reader reports the rest
                    child.send(("holds", list(holds)))

    def consumed(self, i: int, size: int) -> None:
        """The consumer took request ``i``'s document of ``size`` bytes: room in the buffer."""
        with contextlib.suppress(OSError):  # the process ended: its reader reports the rest
            self._children[self._fetched_by[i]].send(size)

    def reconsider(self) -> None:
        """Nothing to do here: each fetch process throttles itself."""

    def fetch_many(
        self, requests: Sequence[FetchRequest], *, abandon: Callable[[], bool] | None = None
    ) -> list[FetchResult | FetchError]:
        """:meth:`Fetcher.fetch_many`, made by the fetch processes of the pages' hosts.
        ``abandon`` is not asked: only a daemon abandons pages, and its fetches stay in
        its own process (a refresh stops at Ctrl-C, which ends these processes)."""
        by_child: dict[int, list[int]] = {}
        for n, request in enumerate(requests):
            by_child.setdefault(self._owners.get(request_host(request), 0), []).append(n)
        calls: list[tuple[list[int], Future[_Pages]]] = []
        for k, indices in by_child.items():
            future: Future[_Pages] = Future()
            call = next(self._calls)
            child = self._children[k]
            child.pages[call] = future
            try:
                child.send(("pages", call, [requests[n] for n in indices]))
            except OSError as exc:  # the process is gone: its end of the pipe closed
                child.pages.pop(call, None)
                raise RuntimeError("a fetch process ended") from exc
            calls.append((indices, future))
        outcomes: list[FetchResult | FetchError | None] = [None] * len(requests)
        for indices, future in calls:
            pages = future.result()
            if isinstance(pages, Raised):
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
        """Start no more fetches; wait for those under way and for the processes to end.
        Processes never given requests (:meth:`assign`) have fetched nothing, and those
        whose outcomes are not read (:meth:`start` never came: an error between the two)
        would wait for ever to send them: these are killed, not waited for."""
        self._end(kill=not self._assigned or not self._reading)

    def abort(self) -> None:
        """Kill the processes, fetches under way and all (Ctrl-C: nothing more is saved),
        and wait for them to end."""
        self._end(kill=True)

    def _end(self, *, kill: bool) -> None:
        if self._stopping:
            return
        self._stopping = True
        for child in self._children:
            if kill:
                child.process.kill()
            with contextlib.suppress(OSError):  # it ended already
                child.send(None)
        for child, reader in zip(self._children, self._readers, strict=True):
            if reader.is_alive():
                reader.join()  # it ends with the process, and waits for it (one waiter only)
            child.process.join()
            child.close()


class _Child:
    """One fetch process: its pipes and what it fetches."""

    def __init__(self, fetcher: Fetcher, options: FetchOptions, inherited: Sequence[int]) -> None:
        context = multiprocessing.get_context("fork")
        self.part: list[int] = []  # the requests it makes (indices): see FetchProcesses.assign
        self.pages: dict[int, Future[_Pages]] = {}  # its page calls not answered yet
        self.results, child_results = context.Pipe(duplex=False)
        child_control, self.control = context.Pipe(duplex=False)
        # The copy of this end that the fork leaves in the process must go too, or the
        # process would never see its control pipe close when this process dies.
        inherited = [*inherited, *self.ends]
        self.process = context.Process(
            target=_serve_fetches,
            args=(fetcher, options, child_results, child_control, inherited),
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

    def close(self) -> None:
        self.results.close()
        self.control.close()


def _serve_fetches(
    fetcher: Fetcher,
    options: FetchOptions,
    results: Connection,
    control: Connection,
    inherited: Sequence[int],
) -> None:
    """A fetch process of :class:`FetchProcesses`: make the connections, wait for the
    requests, fetch, send back, serve page requests.

    Messages in: first ``(requests by index, order, buffer_bytes, host turns, host holds)``
    or None (stop at once); then a size (the consumer took a document), ``("pages", call,
    requests)``, ``("holds", holds)`` (met by another process, or read from the store),
    None (stop). Out: ``("event", (index, outcome))``, ``("pages", call, outcomes)``,
    ``("hold", hold)`` as soon as a host it asked says to wait, and, once stopped,
    ``("turns", {host: when it may be asked next})``: the consumer's own fetcher keeps the
    hosts' delays after the stream (a WebSub ping to a feed's host).
    """
    deaf_to_ctrl_c()
    close_all(inherited)  # this end's copies of the pipes: each must see the others close
    fetcher.restrict(options)
    # Connecting takes a while (httpx's import): the requests are read meanwhile, so that
    # the consumer, which sends them, is not kept waiting on a full pipe.
    connecting = threading.Thread(target=_connect, args=(fetcher,), name="feeds-fetch-connect")
    connecting.start()
    try:
        assignment = control.recv()
    except (EOFError, OSError):  # the parent died
        assignment = None
    connecting.join()
    if assignment is None:
        fetcher.close()
        return
    requests, order, buffer_bytes, turns, holds = assignment
    fetcher.keep_turns(turns)
    fetcher.holds.keep(holds)
    server = _FetchServer(fetcher, results, len(order))
    fetcher.holds.on_hold(server.hold)
    fetching = Fetching(fetcher, requests, order, buffer_bytes, server.deliver)
    listener = threading.Thread(
        target=server.listen, args=(control, fetching), name="feeds-fetch-control", daemon=True
    )
    listener.start()
    try:
        while not server.done.wait(WINDOW) and not server.stopped.is_set():
            fetching.reconsider()
        listener.join()  # pages are asked for until the consumer has saved the last source
        with contextlib.suppress(OSError):  # the consumer is gone
            server.send(("turns", fetcher.host_turns()))
    finally:
        fetching.stop()
        fetcher.close()


def _connect(fetcher: Fetcher) -> None:
    with contextlib.suppress(Exception):  # it fails again at the first request, as its error
        fetcher.connect()


class _FetchServer:
    """The messages of one fetch process (see :func:`_serve_fetches`)."""

    def __init__(self, fetcher: Fetcher, results: Connection, count: int) -> None:
        self._fetcher, self._results, self._count = fetcher, results, count
        self._sending = threading.Lock()
        self._counting = threading.Lock()
        self._delivered = 0
        self.stopped = threading.Event()
        self.done = threading.Event()

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        except Exception:  # a bug's exception that does not pickle: its traceback does
            data = pickle.dumps(_portable(message), pickle.HIGHEST_PROTOCOL)
        with self._sending:
            self._results.send_bytes(data)

    def deliver(self, event: Event) -> None:
        """Send an outcome at once, from the thread that fetched it (no hand-over)."""
        with contextlib.suppress(OSError):  # the consumer is gone: the listener stops us
            self.send(("event", event))
        with self._counting:
            self._delivered += 1
            if self._delivered == self._count:
                self.done.set()

    def hold(self, hold: HostHold) -> None:
        """Tell the consumer of a hold at once, from the thread that met it."""
        with contextlib.suppress(OSError):  # the consumer is gone: the listener stops us
            self.send(("hold", hold))

    def pages(self, call: int, wanted: Sequence[FetchRequest]) -> None:
        answer: _Pages
        try:
            answer = self._fetcher.fetch_many(wanted)
        except BaseException as exc:  # a bug: raised in the consumer
            answer = Raised(exc)
        with contextlib.suppress(OSError):  # the consumer stopped waiting: it is gone
            self.send(("pages", call, answer))

    def listen(self, control: Connection, fetching: Fetching) -> None:
        while True:
            try:
                message = control.recv()
            except (EOFError, OSError):  # the parent died
                message = None
            if message is None:
                self.stopped.set()
                fetching.stop()
                return
            if isinstance(message, int):
                fetching.consumed(-1, message)  # one buffer: whose document it was is no matter
            elif message[0] == "holds":
                self._fetcher.holds.keep(message[1])
            else:
                threading.Thread(target=self.pages, args=message[1:], daemon=True).start()


def _portable(message: tuple[Any, ...]) -> tuple[Any, ...]:
    """``message`` with each exception that does not pickle replaced by a RuntimeError."""

    def fix(item: Any) -> Any:
        if isinstance(item, Raised):
            try:
                pickle.dumps(item.exc)
            except Exception:
                text = "".join(traceback.format_exception(item.exc))
                return Raised(RuntimeError(f"in the fetch process: {text}"))
            return item
        if isinstance(item, tuple):
            return tuple(fix(part) for part in item)
        if isinstance(item, list):
            return [fix(part) for part in item]
        return item

    return tuple(fix(part) for part in message)


def close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        os.close(fd)
