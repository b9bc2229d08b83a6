"""Name lookups that end by the fetch's deadline.

The operating system's resolver (``getaddrinfo``) blocks for as long as the name servers
take, and takes no timeout: a publisher whose name servers never answer held one of our
fetch threads for the resolver's own retries (glibc: 5 s a try, two tries a server), past
the fetch's total deadline. Here the lookup runs on a thread of its own and the fetch
waits for it only as long as a connect may take (the connect timeout, cut to the
deadline); then it fails with :class:`LookupTimeout`, and the lookup is left to end by
itself. At most :data:`LOOKUPS_IN_FLIGHT` run at once, abandoned ones included, so a
resolver that hangs cannot pile up threads: a fetch that finds no room waits for one,
within its own time.

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

LOOKUPS_IN_FLIGHT = 32
"""Name lookups running at once in a process, those a fetch gave up on included."""

_slots = threading.BoundedSemaphore(LOOKUPS_IN_FLIGHT)


class LookupTimeout(Exception):
    """A name lookup did not end within the connect timeout or the fetch's deadline (not an
    :class:`OSError`, which says the name does not resolve; the fetch reports a timeout)."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, as strings, in the resolver's order (an IP
    literal: itself); within this thread's fetch deadline (see the module docstring).

    Raises :class:`OSError` (``socket.gaierror``) when the name does not resolve,
    :class:`LookupTimeout` when the lookup takes too long."""
    if _is_ip_literal(host):
        return [host]
    timeout = clamp(lookup_timeout(), LookupTimeout)
    if timeout is None:
        return _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    return _addresses(_bounded_getaddrinfo(host, port, timeout))


def _bounded_getaddrinfo(host: str, port: int, timeout: float) -> list[Any]:
    """``getaddrinfo`` on a thread of its own, waited for at most ``timeout`` seconds."""
    until = time.monotonic() + timeout
    if not _slots.acquire(timeout=timeout):
        raise LookupTimeout(f"no room to look up {host}: {LOOKUPS_IN_FLIGHT} lookups hang")
    outcome: list[Any] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the waiting fetch, if it still waits
            outcome.append(exc)
        finally:
            _slots.release()
            done.set()

    threading.Thread(target=look_up, name="feeds-name-lookup", daemon=True).start()
    if not done.wait(max(0.0, until - time.monotonic())):
        raise LookupTimeout(f"looking up {host} took longer than {timeout:.3g} s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return list(result)


def _addresses(infos: list[Any]) -> list[str]:
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True
