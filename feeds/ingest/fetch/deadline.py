"""The total deadline of the fetch running on this thread, over every step of it: the name
lookup, connecting, TLS, each read and write (see :mod:`~feeds.ingest.fetch.connections`,
which sets it for the length of a request); and its end when another thread abandons it
(:func:`abandon`: a daemon told to stop).

A fetch is synchronous, so every socket operation of it happens on the thread that called
``Fetcher.fetch``; a thread-local is how the connections and the resolver learn the deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

_local = threading.local()


class Abandoned(Exception):
    """The fetch on this thread was abandoned (:func:`abandon`): it sends nothing more."""


@dataclass
class _Abandonable:
    """A fetch that another thread may abandon: whether it was, and the sockets it waits on."""

    abandoned: bool = False
    waiting_on: set[socket.socket] = field(default_factory=set)


_lock = threading.Lock()
_fetches: dict[int, _Abandonable] = {}  # by thread: the fetch running on it


@contextmanager
def abandonable() -> Iterator[None]:
    """The fetch on this thread, inside, may be abandoned by another thread."""
    ident = threading.get_ident()
    with _lock:
        _fetches[ident] = _Abandonable()
    try:
        yield
    finally:
        with _lock:
            del _fetches[ident]


def abandon(threads: Iterable[int]) -> int:
    """Abandon the fetches running on ``threads`` (idents): each socket one waits on is shut
    down now, so its connection closes at once (not when the server answers, or the process
    ends), and its next step raises :class:`Abandoned`. How many fetches were running."""
    with _lock:
        fetches = [_fetches[ident] for ident in set(threads) if ident in _fetches]
        sockets = [sock for fetch in fetches for sock in fetch.waiting_on]
        for fetch in fetches:
            fetch.abandoned = True
    for sock in sockets:
        with suppress(OSError):  # closed meanwhile by its own thread
            # socket.socket's own: a TLS socket's would drop its TLS object under the reader
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
    return len(fetches)


@contextmanager
def waiting_on(sock: socket.socket | None) -> Iterator[None]:
    """A step of this thread's fetch that waits on ``sock`` (call :func:`clamp` inside):
    should the fetch be abandoned meanwhile, the socket is shut down, which ends the wait
    (None: a stream with no socket, a test's)."""
    with _lock:
        fetch = _fetches.get(threading.get_ident()) if sock is not None else None
        if fetch is not None and sock is not None:
            fetch.waiting_on.add(sock)
    try:
        yield
    finally:
        if fetch is not None and sock is not None:
            with _lock:
                fetch.waiting_on.discard(sock)


@contextmanager
def fetch_deadline(deadline: float, connect_timeout: float) -> Iterator[None]:
    """Every network step on this thread, inside, ends by ``deadline`` (time.monotonic()
    seconds); a name lookup also within ``connect_timeout`` (it is part of connecting)."""
    _local.deadline = deadline
    _local.connect_timeout = connect_timeout
    try:
        yield
    finally:
        _local.deadline = None
        _local.connect_timeout = None


def abandoned_here() -> bool:
    """Whether the fetch on this thread was abandoned (:func:`abandon`): the error its
    socket gave once shut down under it (the server "disconnected") is the run's doing."""
    with _lock:
        fetch = _fetches.get(threading.get_ident())
        return fetch is not None and fetch.abandoned


def clamp(timeout: float | None, expired: type[Exception]) -> float | None:
    """Return ``timeout`` shortened to the time left before this thread's deadline.

    Raises ``expired`` (an httpx timeout in :mod:`~feeds.ingest.fetch.http11`; an httpcore
    one in :mod:`~feeds.ingest.fetch.transport`, which httpx turns into its own) when the
    deadline has already passed, and :class:`Abandoned` when the fetch was abandoned.
    """
    with _lock:
        fetch = _fetches.get(threading.get_ident())
        if fetch is not None and fetch.abandoned:
            raise Abandoned("the fetch was abandoned: the run is stopping")
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("total timeout exceeded")
    return remaining if timeout is None else min(timeout, remaining)


def lookup_timeout() -> float | None:
    """How long a name lookup may take on this thread: the connect timeout (None outside a
    fetch: no bound); :func:`clamp` cuts it to the deadline."""
    return getattr(_local, "connect_timeout", None)
