"""What one run adds to the store's counters (see :mod:`feeds.store.counters`).

Counted by the process that did the work, added to the store in one transaction at the
end of the run, read by whichever process exposes them (``feeds serve --metrics``,
``feeds metrics``, ``feeds refresh --metrics-file``). Names follow the Prometheus
conventions: ``_total`` for counters, base units (``_seconds``, ``_bytes``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from feeds.errors import (
    AddressNotAllowedError,
    BodyTooLargeError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    TooManyRedirectsError,
)
from feeds.store.protocol import CounterStore
from feeds.types import FetchResult

if TYPE_CHECKING:
    from feeds.run.refresh import OutputReport, SourceReport

__all__ = ["Tally", "fetch_outcome", "labels", "timed"]

FETCHES = "feeds_fetch_total"
FETCHED_BYTES = "feeds_fetch_body_bytes_total"
ENTRIES = "feeds_entries_total"
PUBLISHES = "feeds_publish_total"
PUBLISH_SECONDS = "feeds_publish_duration_seconds"
PUBLISHED_AT = "feeds_publish_last_timestamp_seconds"

#: What a change is called in the metrics (``duplicate`` copies were merged into a story).
_CHANGE_LABELS = {
    "new": "new",
    "updated": "updated",
    "duplicate": "merged",
    "throttled": "throttled",
    "dropped": "dropped",
    "blocked": "blocked",  # new entries the filter rules keep from every output
}
EXPIRED = "feeds_entries_expired_total"


def labels(**pairs: str) -> str:
    """Labels as the exposition writes them: ``a="x",b="y"``, sorted, values escaped."""
    return ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(pairs.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def fetch_outcome(outcome: FetchResult | FetchError) -> str:
    """The outcome class of one fetch: ``200`` (any 2xx), ``304``, ``4xx``, ``5xx``,
    ``timeout``, ``too_large``, ``refused_address``, ``redirects`` or ``error``
    (network failures, undecodable bodies, unreadable files)."""
    if isinstance(outcome, FetchResult):
        return "304" if outcome.status == 304 else "200"
    if isinstance(outcome, HTTPStatusError):
        return f"{outcome.status // 100}xx"
    classes: tuple[tuple[type[FetchError], str], ...] = (
        (FetchTimeoutError, "timeout"),
        (BodyTooLargeError, "too_large"),
        (AddressNotAllowedError, "refused_address"),
        (TooManyRedirectsError, "redirects"),
    )
    for kind, name in classes:
        if isinstance(outcome, kind):
            return name
    return "error"


def timed(report: OutputReport, started: float) -> OutputReport:
    """``report`` with the seconds since ``started`` (``time.monotonic()``)."""
    return replace(report, seconds=time.monotonic() - started)


class Tally:
    """Counts of one run, saved with :meth:`save`."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.gauges: dict[tuple[str, str], float] = {}

    def fetched(self, outcome: FetchResult | FetchError) -> None:
        self.counts[FETCHES, labels(outcome=fetch_outcome(outcome))] += 1
        if isinstance(outcome, FetchResult) and outcome.content is not None:
            self.counts[FETCHED_BYTES, ""] += len(outcome.content)

    def sources(self, reports: Iterable[SourceReport]) -> None:
        for report in reports:
            for change, n in report.changes.items():
                name = _CHANGE_LABELS.get(change)
                if name is not None and n:
                    self.counts[ENTRIES, labels(change=name)] += n

    def expired(self, count: int) -> None:
        """Copies whose bodies retention deleted."""
        if count:
            self.counts[EXPIRED, ""] += count

    def outputs(self, reports: Iterable[OutputReport], now: float) -> None:
        for report in reports:
            result = "failed" if report.error else "written" if report.written else "unchanged"
            self.counts[PUBLISHES, labels(output=report.name, result=result)] += 1
            if report.seconds > 0:  # 0: left as it was, nothing timed
                self.gauges[PUBLISH_SECONDS, labels(output=report.name)] = report.seconds
            if report.error is None:
                self.gauges[PUBLISHED_AT, labels(output=report.name)] = now

    def save(self, store: CounterStore) -> None:
        if not self.counts and not self.gauges:
            return
        with store.transaction():
            store.add_counts(dict(self.counts))
            store.set_gauges(self.gauges)
