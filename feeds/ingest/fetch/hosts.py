"""Requests by host: the host a request counts against, and a round-robin order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from feeds.core.uri import host_key
from feeds.types import FetchRequest

__all__ = ["host_key", "interleave", "request_host", "url_host"]


def request_host(request: FetchRequest) -> str:
    """The host a request goes to, as per-host limits count it ("" for a bad URL)."""
    return url_host(request.url)


def url_host(url: str) -> str:
    """The host a URL names, as per-host limits count it ("" for a bad URL)."""
    try:
        return host_key(urlsplit(url).hostname or "")
    except ValueError:
        return ""  # fetch() reports the bad URL in its place


def interleave(requests: Sequence[FetchRequest]) -> list[int]:
    """Indices of ``requests`` taken round-robin by host, each host in first-seen order."""
    by_host: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        by_host.setdefault(request_host(request), []).append(i)
    queues = list(by_host.values())
    order: list[int] = []
    for round_ in range(max(len(q) for q in queues)):
        order.extend(q[round_] for q in queues if round_ < len(q))
    return order


class HostQueue:
    """Requests waiting to start, taken in ``order`` but skipping those whose host has
    ``per_host`` fetches of this queue under way: they would only wait for a slot (up to
    a whole timeout behind a host that hangs) while other hosts' requests could start.
    Not thread-safe: its owner holds a lock around each call."""

    def __init__(
        self,
        requests: Sequence[FetchRequest] | Mapping[int, FetchRequest],
        order: Sequence[int],
        per_host: int,
    ) -> None:
        self._hosts = {i: request_host(requests[i]) for i in order}
        self._pending = list(order)
        self._per_host = max(per_host, 1)
        self._running: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._pending)

    def take(self) -> int | None:
        """The first waiting request whose host has a free slot (it is now under way), or
        None when every waiting request's host is busy (or none waits)."""
        full: set[str] = set()
        for k, i in enumerate(self._pending):
            host = self._hosts[i]
            if host in full:
                continue
            if self._running[host] < self._per_host:
                del self._pending[k]
                self._running[host] += 1
                return i
            full.add(host)
        return None

    def done(self, i: int) -> bool:
        """Request ``i``'s fetch ended: its host has a slot more. Whether its host was full
        (then a request skipped for it may start now)."""
        host = self._hosts[i]
        self._running[host] -= 1
        return self._running[host] == self._per_host - 1
