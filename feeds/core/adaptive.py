"""Adaptive polling (``interval = "auto"``): poll a source about as often as it posts.

Pure: the store hands in when the source's entries were published and since when the
source is known; nothing here reads the clock. The rule::

    n = entries published in the last 7 days
    n = 0                     → max_interval
    else                      → window / n, clamped to [min_interval, max_interval]
    window = 7 days, or, for a source known for less than a week, the time since its
             oldest entry of the week (at least an hour): a new source's backlog is not
             mistaken for a slow week

The result replaces the source's interval only: server hints (Cache-Control, Expires,
``<ttl>``), Retry-After and error back-off still apply on top of it in
:func:`feeds.core.schedule.next_due`, so a fetch is never earlier than they allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from feeds.core.schedule import format_duration

__all__ = ["WEEK", "Adaptive", "adaptive_interval"]

WEEK = timedelta(days=7)
_SHORTEST_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Adaptive:
    """An adaptive interval and the sentence that explains it (for ``feeds status``)."""

    interval: timedelta
    reason: str


def adaptive_interval(
    published: Sequence[datetime],
    known_since: datetime | None,
    now: datetime,
    min_interval: timedelta,
    max_interval: timedelta,
) -> Adaptive:
    """The interval of a source whose entries were ``published`` at these times (UTC).

    ``known_since`` is when its first entry was seen (None: no entry yet).
    """
    recent = sorted(p for p in published if now - WEEK < p <= now)
    if not recent:
        return Adaptive(max_interval, "auto: no entries in the last 7 days → max_interval")
    window = WEEK
    if known_since is not None and now - known_since < WEEK:
        window = max(now - recent[0], _SHORTEST_WINDOW)
    raw = window / len(recent)
    interval = min(max(raw, min_interval), max_interval)
    clamp = ""
    if interval != raw:
        clamp = f", clamped to {'min' if interval == min_interval else 'max'}_interval"
    return Adaptive(
        interval,
        f"auto: {len(recent)} entries in the last {format_duration(window)}"
        f" → every {format_duration(interval)}{clamp}",
    )
