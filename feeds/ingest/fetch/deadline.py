"""The total deadline of the fetch running on this thread, over every step of it: the name
lookup, connecting, TLS, each read and write (see :mod:`~feeds.ingest.fetch.connections`,
which sets it for the length of a request).

A fetch is synchronous, so every socket operation of it happens on the thread that called
``Fetcher.fetch``; a thread-local is how the connections and the resolver learn the deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


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


def clamp(timeout: float | None, expired: type[Exception]) -> float | None:
    """Return ``timeout`` shortened to the time left before this thread's deadline.

    Raises ``expired`` (an httpx timeout in :mod:`~feeds.ingest.fetch.http11`; an httpcore
    one in :mod:`~feeds.ingest.fetch.transport`, which httpx turns into its own) when the
    deadline has already passed.
    """
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
