"""Requests by host: the host a request counts against, and a round-robin order."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from feeds.types import FetchRequest


def request_host(request: FetchRequest) -> str:
    """The host a request goes to, as per-host limits count it ("" for a bad URL)."""
    try:
        return urlsplit(request.url).hostname or ""
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
