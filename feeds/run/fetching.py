"""The fetch threads of one stream, the throttle that decides how many run at once, and
the pace of a daemon's claims."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from feeds.errors import FetchError
from feeds.ingest.fetch import Fetcher, interleave
from feeds.ingest.fetch.hosts import HostQueue
from feeds.types import FetchRequest, FetchResult

WINDOW = 0.05
"""Seconds: how often the number of fetches at once is reconsidered (:class:`Throttle`), and
how long the consumer waits for a server before ``on_wait`` (see :func:`stream`)."""

Outcome = FetchResult | FetchError


@dataclass(frozen=True)
class Raised:
    """What a fetch raised (instead of returning an outcome), to raise in the consumer."""

    exc: BaseException


Event = tuple[int, Outcome | Raised | None]
"""(index, what its fetch gave) from a fetch thread; (index, None) from a worker."""


def notify(finished: queue.SimpleQueue[Event], event: Event) -> Callable[[Future[Any]], None]:
    """A done-callback that puts ``event`` on ``finished``."""
    return lambda _: finished.put(event)


class Fetching:
    """The fetch threads of one :func:`stream`.

    Each thread takes the next request in ``order`` itself (no hand-over per request)
    while fewer fetches than the throttle's limit are under way and the buffer has room,
    and puts what it got on ``finished`` (or hands it to ``deliver``).
    """

    def __init__(
        self,
        fetcher: Fetcher,
        requests: Sequence[FetchRequest] | Mapping[int, FetchRequest],
        order: Sequence[int],
        buffer_bytes: int,
        deliver: Callable[[Event], None] | None = None,
    ) -> None:
        self.finished: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._deliver = deliver or self.finished.put
        self._fetcher, self._requests = fetcher, requests
        self._buffer_bytes = buffer_bytes
        self._throttle = Throttle(min(fetcher.options.max_connections, len(order)))
        self._turn = threading.Condition()
        self._waiting = HostQueue(requests, order, fetcher.options.max_per_host)
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
            while not self._stopping and len(self._waiting):
                if self._running < self._throttle.limit and self._buffered < self._buffer_bytes:
                    j = self._waiting.take()  # None: every waiting request's host is busy
                    if j is not None:
                        self._running += 1
                        return j
                self._turn.wait()
            return None

    def _run(self) -> None:
        while (j := self._next()) is not None:
            outcome: Outcome | Raised
            try:
                outcome = self._fetcher.attempt(self._requests[j])
            except BaseException as exc:  # handed to the consumer, raised there
                outcome = Raised(exc)
            with self._turn:
                self._running -= 1
                host_was_full = self._waiting.done(j)
                if isinstance(outcome, FetchResult) and outcome.content is not None:
                    self._buffered += len(outcome.content)
                if host_was_full:  # threads may wait for its host: the one woken may not
                    self._turn.notify_all()
                else:
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
        self.abort()
        for thread in self._threads:
            thread.join()

    def abort(self) -> None:
        """Start no more fetches, and do not wait for those under way (Ctrl-C): the threads
        end with their fetches (by the total deadline), or with the process (daemons)."""
        with self._turn:
            self._stopping = True
            self._turn.notify_all()

    def abandon(self) -> None:
        """:meth:`abort`, and the fetches under way are abandoned: their connections close
        now (a server that hangs would otherwise keep one open until the process ends)
        and their threads end with them."""
        self.abort()
        self._fetcher.abandon(t.ident for t in self._threads if t.ident is not None)


class Rolling:
    """The fetches of a stream that takes more requests as it goes (the daemon's claims):
    each batch added gets fetch threads of its own (a :class:`Fetching`, round-robin by
    host), and every batch puts what it got on the one :attr:`finished` queue."""

    def __init__(self, fetcher: Fetcher, buffer_bytes: int) -> None:
        self.finished: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._fetcher, self._buffer_bytes = fetcher, buffer_bytes
        self._batches: dict[int, Fetching] = {}  # each request's, until it is consumed

    def add(self, requests: Mapping[int, FetchRequest]) -> None:
        """Start fetching ``requests`` (keyed by indices not used before)."""
        keys = list(requests)
        if not keys:
            return
        order = [keys[j] for j in interleave([requests[k] for k in keys])]
        batch = Fetching(self._fetcher, requests, order, self._buffer_bytes, self.finished.put)
        self._batches.update(dict.fromkeys(keys, batch))

    def consumed(self, i: int, size: int) -> None:
        self._batches[i].consumed(i, size)

    def done(self, i: int) -> None:
        """Request ``i`` was handed to the consumer."""
        del self._batches[i]

    def reconsider(self) -> None:
        for batch in self._live():
            batch.reconsider()

    def stop(self) -> None:
        for batch in self._live():
            batch.stop()

    def abort(self) -> None:
        for batch in self._live():
            batch.abort()

    def abandon(self) -> None:
        """Start no more fetches and abandon those under way (a daemon stopping): their
        connections close now, their threads end, and :meth:`stop` no longer waits for
        them."""
        for batch in self._live():
            batch.abandon()
        self._batches.clear()

    def _live(self) -> list[Fetching]:
        """The batches with a request not handed over yet (the others' threads have ended)."""
        return list({id(batch): batch for batch in self._batches.values()}.values())


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


class ClaimPace:
    """When :func:`~feeds.run.executor.stream_claims` claims again after a claim that gave
    nothing, and when it may end: ``retry`` seconds after that claim, or at once when a
    request is yielded; it ends when the claim that gave nothing came ``retry`` seconds or
    more after the last yield (the hosts released by that save are free again by then), or, when
    nothing was yielded, ``linger`` seconds or more after the start (a host that another
    worker hands over is taken within ``retry``, not at the next round)."""

    def __init__(
        self, retry: float, linger: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.retry, self.clock = retry, clock
        self.paused_until: float | None = None  # after an empty claim, the next one
        self.last_yield: float | None = None
        self.last_empty: float | None = None
        self.linger_until = clock() + linger

    def claimed(self, gave: bool) -> None:
        now = self.clock()
        self.paused_until = None if gave else now + self.retry
        self.last_empty = None if gave else now

    def yielded(self) -> None:
        self.paused_until, self.last_yield = None, self.clock()

    def may_claim(self) -> bool:
        return self.paused_until is None or self.clock() >= self.paused_until

    def next_claim(self) -> float | None:
        """When to claim again though nothing is ready (None: when a request is yielded)."""
        return self.paused_until if self.retry > 0 else None

    def settled(self) -> bool:
        """Whether the last claim, which gave nothing, came late enough to end on."""
        if self.last_empty is None:
            return True
        return self.last_empty >= self._settles_at()

    def wait(self) -> None:
        """Sleep until the next claim, at most ``retry`` seconds (see :meth:`settled`)."""
        rest = min(self._settles_at() - self.clock(), self.retry)
        time.sleep(max(rest, 0.0))

    def _settles_at(self) -> float:
        if self.last_yield is None:
            return self.linger_until
        return self.last_yield + self.retry
