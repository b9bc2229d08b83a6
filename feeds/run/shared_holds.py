"""Host holds shared by every worker of a store and every fetch process of a run.

A host that answers 429 or 503, or times out, is held by the fetcher that met it
(:mod:`feeds.ingest.fetch.holds`). Alone, that kept the one process off the host: another
daemon on the same store, or another fetch process of a large ``feeds refresh``, sent
the host's next feed meanwhile. Now each hold a run meets is written to the store
(:class:`~feeds.store.work_roles.HostHoldBoard`) and every run hands the holds it reads
there to its fetcher, which sends nothing to a held host: the sources claimed there are
deferred to the hold's end, as those of the run that met it are.

Statements: a daemon reads the holds once per claim (just before it, so that what it
claims is fetched knowing them); a refresh once after its claim and then at most every
:data:`READ_EVERY` seconds as it commits. A hold is written as it begins
(:meth:`SharedHolds.writing_at_once`), in a short transaction of its own on a connection
of its own, from the thread that met it: written at the run's next commit, it left
another worker, claiming meanwhile, free to ask the host (for as long as a slow server
kept the run from committing). One that cannot be written so (the store is busy past
its timeout) is written at the next commit, as before. A fetch process's hold reaches its
siblings at once, through the run's process
(:class:`~feeds.run.fetch_processes.FetchProcesses`), and the store from there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from feeds.errors import StoreError
from feeds.ingest.fetch.holds import HostHolds
from feeds.ingest.fetch.hosts import url_host
from feeds.store.work_roles import HostHoldBoard
from feeds.types import HostHold

if TYPE_CHECKING:
    from feeds.run.fetch_processes import FetchProcesses

__all__ = ["READ_EVERY", "SharedHolds", "held_until", "holding"]

#: A refresh reads the store's holds at most this often in seconds (once it has claimed).
READ_EVERY = 1.0


def held_until(holds: Iterable[HostHold]) -> Callable[[str], datetime | None]:
    """When the host of a URL is held until, by ``holds`` (the store's): None when it is
    not. No request goes there sooner, so no source there is due sooner either."""
    hold_of = holding(holds)

    def until(url: str) -> datetime | None:
        hold = hold_of(url)
        return hold.until if hold is not None else None

    return until


def holding(holds: Iterable[HostHold]) -> Callable[[str], HostHold | None]:
    """The hold of the host of a URL, of ``holds`` (the store's): None when it has none."""
    by_host = {hold.host: hold for hold in holds}

    def hold_of(url: str) -> HostHold | None:
        return by_host.get(url_host(url)) if by_host else None

    return hold_of


class SharedHolds:
    """One run's holds kept in step with the store's (see the module)."""

    def __init__(
        self,
        store: HostHoldBoard,
        holds: HostHolds,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store, self._holds, self._clock = store, holds, clock
        self._read_at: float | None = None
        #: The run's fetch processes, once they fetch: each keeps what is read too.
        self.processes: FetchProcesses | None = None
        self._unwritten: list[HostHold] = []  # met while writing at once, not written
        self._lock = threading.Lock()

    @contextmanager
    def writing_at_once(self, now: Callable[[], datetime]) -> Iterator[None]:
        """While in the context, write each hold as it begins (see the module; ``now()``:
        when, for the store's clean-up of ended holds)."""

        def write_now(hold: HostHold) -> None:
            try:
                self._store.hold_hosts_now([hold], now())
            except StoreError:  # busy past its timeout: at the next commit
                with self._lock:
                    self._unwritten.append(hold)

        self._holds.on_hold(write_now)
        try:
            yield
        finally:
            self._holds.on_hold(None)

    def exchange(self, now: datetime) -> None:
        """Write the holds met since the last call, and take those of every worker."""
        self.write(now)
        held = self._store.host_holds(now)
        self._read_at = self._clock()
        if held:
            self._holds.keep(held)
            if self.processes is not None:
                self.processes.keep_holds(held)

    def keep_up(self, now: datetime) -> None:
        """:meth:`exchange`, reading at most every :data:`READ_EVERY` seconds (writing what
        began at once)."""
        if self._read_at is not None and self._clock() - self._read_at < READ_EVERY:
            self.write(now)
        else:
            self.exchange(now)

    def write(self, now: datetime) -> None:
        """Write the holds met since the last call (no statement when none began)."""
        with self._lock:
            seen, self._unwritten = self._unwritten + self._holds.seen(), []
        if seen:
            self._store.hold_hosts(seen, now)
