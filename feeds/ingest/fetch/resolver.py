"""Name lookups that end by the fetch's deadline.

The operating system's resolver (``getaddrinfo``) blocks for as long as the name servers
take, and takes no timeout: a publisher whose name servers never answer held one of our
fetch threads for the resolver's own retries (glibc: 5 s a try, two tries a server), past
the fetch's total deadline. Here the lookup runs on a thread of its own and the fetch
waits for it only as long as a connect may take (the connect timeout, cut to the
deadline); then it fails with :class:`LookupTimeout`, and the lookup is left to end by
itself. Fetches that want a name being looked up wait for that lookup. At most
:data:`LOOKUPS_IN_FLIGHT` count at once, abandoned ones included: a fetch that finds no room
waits for one, within its own time. Many distinct names whose servers never answer can take
every slot; a lookup that then finds none takes the slot of the lookup abandoned longest
ago (every fetch that wanted it gave up), which goes on uncounted until ``getaddrinfo``
returns, its answer dropped. At most :data:`ABANDONED_MAX` go on so, so threads stay
bounded: a long-running daemon whose lookups hang, even for good, goes on resolving other
names, until that many hang at once; then a fetch of another name waits for a slot as long
as its lookup could have taken and fails as a lookup timeout (the run goes on, and sources
on IP literals, which need no lookup, are fetched as ever) until hung lookups end. Only a
process of its own could end a ``getaddrinfo`` that never returns.

An IP literal needs no lookup. Outside a fetch (no deadline on the thread: ``feeds sources
import`` checking an OPML file's hosts) the lookup is made directly.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Any

from feeds.ingest.fetch.deadline import clamp, lookup_timeout

LOOKUPS_IN_FLIGHT = 64
"""Name lookups counted at once in a process, those every fetch gave up on included."""

ABANDONED_MAX = 192
"""Lookups every fetch gave up on that may go on uncounted, having handed their slot to a
new lookup (their threads are the only thing they hold): a process has at most
``LOOKUPS_IN_FLIGHT + ABANDONED_MAX`` lookup threads."""

_slots = threading.BoundedSemaphore(LOOKUPS_IN_FLIGHT)


class LookupTimeout(Exception):
    """A name lookup did not end within the connect timeout or the fetch's deadline (not an
    :class:`OSError`, which says the name does not resolve; the fetch reports a timeout)."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, as strings, in the resolver's order (an IP
    literal: itself); within this thread's fetch deadline (see the module docstring).

    Raises :class:`OSError` (``socket.gaierror``) when the name does not resolve,
    :class:`LookupTimeout` when the lookup takes too long."""
    if ip_literal(host) is not None:
        return [host]
    timeout = clamp(lookup_timeout(), LookupTimeout)
    if timeout is None:
        return _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    return _bounded_getaddrinfo(host, port, timeout)


class _Lookup:
    """One ``getaddrinfo`` call under way, and what it found (for every fetch waiting)."""

    def __init__(self, key: tuple[str, int]) -> None:
        self.key = key
        self.done = threading.Event()
        self.addresses: list[str] = []
        self.error = ""  # why it failed: the resolver's words, or ours
        self.timed_out = False  # it failed for want of a slot, not for the name
        self.started = False  # its thread runs (and ends it)
        self.waiting = 0  # fetches waiting for it (none: abandoned, while under way)
        self.counted = True  # holds a slot (False: handed to a newer lookup, see _reclaim)
        self.slots = _slots  # where its slot comes from and goes back to (a test's own)

    def end(self, addresses: list[str], error: str = "", *, timed_out: bool = False) -> None:
        """The lookup is over (once: later calls change nothing)."""
        with _under_way_lock:
            if self.done.is_set():
                return
            if _under_way.get(self.key) is self:
                del _under_way[self.key]
            _abandoned.pop(self.key, None)
            self.addresses, self.error, self.timed_out = addresses, error, timed_out
            self.done.set()

    def run(self) -> None:
        """On the lookup's own thread."""
        host, port = self.key
        try:
            addresses = _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # for the fetches waiting: the name does not resolve
            self.end([], str(exc) or type(exc).__name__)
        else:
            self.end(addresses)
        finally:
            self._give_back()

    def _give_back(self) -> None:
        """Its thread ends: its slot goes back, or it no longer counts as uncounted."""
        global _uncounted
        with _under_way_lock:
            if self.counted:
                self.slots.release()
            else:
                _uncounted -= 1

    def wait(self, until: float) -> bool:
        """Wait for the lookup until ``until`` (``time.monotonic``); whether it ended. The
        last fetch to give up on it leaves it abandoned (see :func:`_reclaim`), once it
        runs: one still waiting for a slot holds none to hand on (its starter, the last
        to wait for it, leaves it abandoned if it comes to that)."""
        with _under_way_lock:
            self.waiting += 1
            _abandoned.pop(self.key, None)
        try:
            return self.done.wait(max(0.0, until - time.monotonic()))
        finally:
            with _under_way_lock:
                self.waiting -= 1
                if not self.waiting and self.started and self.counted and not self.done.is_set():
                    _abandoned[self.key] = self  # the newest last


_under_way: dict[tuple[str, int], _Lookup] = {}
_under_way_lock = threading.Lock()
# Lookups under way that hold a slot and no fetch waits for, abandoned longest ago first.
_abandoned: dict[tuple[str, int], _Lookup] = {}
_uncounted = 0  # threads of lookups that handed their slot on and have not returned


def _reclaim() -> bool:
    """Hand the slot of the lookup abandoned longest ago to a new one, unless
    :data:`ABANDONED_MAX` go on uncounted already; whether a slot was freed."""
    global _uncounted
    with _under_way_lock:
        if not _abandoned or _uncounted >= ABANDONED_MAX:
            return False
        key = next(iter(_abandoned))
        oldest = _abandoned.pop(key)
        oldest.counted = False
        _uncounted += 1
        oldest.slots.release()
    return True


def _bounded_getaddrinfo(host: str, port: int, timeout: float) -> list[str]:
    """The addresses of ``host`` by ``getaddrinfo`` on a thread of its own, waited for at
    most ``timeout`` seconds. A fetch that asks for a name being looked up waits for that
    lookup: a name whose servers hang holds one slot, however many fetches want it."""
    until = time.monotonic() + timeout
    key = (host, port)
    with _under_way_lock:
        lookup = _under_way.get(key)
        starts = lookup is None
        if lookup is None:
            lookup = _under_way[key] = _Lookup(key)
    if starts:
        try:
            _start(lookup, timeout)
        finally:  # Ctrl-C on this thread included: the others waiting learn it ended
            if not lookup.done.is_set() and not lookup.started:
                lookup.end([], f"the lookup of {host} did not start")
    if not lookup.wait(until):
        raise LookupTimeout(f"looking up {host} took longer than {timeout:.3g} s")
    if lookup.timed_out:
        raise LookupTimeout(lookup.error)
    if lookup.error:
        raise OSError(lookup.error)
    return lookup.addresses


def _start(lookup: _Lookup, timeout: float) -> None:
    """Run ``lookup`` on a thread once a slot is free; it fails at once when none frees up
    within ``timeout`` or no thread starts."""
    host, slots = lookup.key[0], lookup.slots
    has_slot = slots.acquire(blocking=False) or (_reclaim() and slots.acquire(blocking=False))
    if not has_slot and not slots.acquire(timeout=timeout):
        lookup.end(
            [], f"no room to look up {host}: {LOOKUPS_IN_FLIGHT} lookups hang", timed_out=True
        )
        return
    try:
        threading.Thread(target=lookup.run, name="feeds-name-lookup", daemon=True).start()
    except BaseException as exc:  # no thread (RuntimeError), or Ctrl-C: the slot goes back
        slots.release()
        lookup.end([], f"cannot look up {host}: {exc}")
        if not isinstance(exc, Exception):
            raise
    else:
        lookup.started = True


def _addresses(infos: list[Any]) -> list[str]:
    """The addresses of ``getaddrinfo``'s answers, each once, in its order."""
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells (brackets and an IPv6 zone left out), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
