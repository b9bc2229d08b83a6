"""What a refresh reports: per source, per output, and for the whole run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from feeds.types import Change

_ALWAYS_SHOWN = (Change.NEW, Change.UPDATED, Change.UNCHANGED, Change.DUPLICATE)


@dataclass(frozen=True)
class SourceReport:
    """What a refresh did for one source. ``error`` is set when it failed."""

    name: str
    url: str
    status: int | None
    error: str | None = None
    warning: str | None = None
    not_modified: bool = False
    changes: Mapping[str, int] = field(default_factory=dict)
    skipped: str | None = None  # why it was not fetched (not due, Retry-After, retired)
    #: Skipped because its host was held (it answered another request with 429 or 503, or
    #: timed out): nothing sent, nothing saved, fetched in a later run once ``next_due``.
    deferred: bool = False
    next_due: datetime | None = None  # None: retired
    moved_to: str | None = None  # the stored URL followed a confirmed permanent redirect
    #: The feed read for a section page that advertises one.
    feed_url: str | None = None
    #: What full text did (pages used, kept feed texts and why, deferred by the budget).
    full_text: str | None = None
    #: Entries left out because they could not be cleaned, each as "title: error".
    dropped_entries: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def changed(self) -> bool:
        """Whether the published stories may have changed (new, updated or duplicate copies)."""
        quiet = (Change.UNCHANGED, Change.THROTTLED, Change.DROPPED)
        return any(self.changes.get(c.value, 0) for c in Change if c not in quiet)

    def summary(self) -> str:
        """One line for a terminal or a cron mail."""
        if self.error is not None:
            return f"{self.name}: FAILED: {self.error}"
        if self.skipped is not None:
            return f"{self.name}: skipped: {self.skipped}"
        if self.not_modified:
            text = f"{self.name}: not modified"
        else:
            parts = [
                f"{self.changes.get(c.value, 0)} {c.value}"
                for c in Change
                if c in _ALWAYS_SHOWN or self.changes.get(c.value, 0)
            ]
            if self.changes.get("blocked"):
                parts.append(f"{self.changes['blocked']} blocked by filters")
            text = f"{self.name}: " + ", ".join(parts)
        if self.feed_url:
            text += f" (via {self.feed_url})"
        if self.full_text:
            text += f" ({self.full_text})"
        if self.warning:
            text += f" (warning: {self.warning})"
        if self.dropped_entries:
            text += (
                f" ({len(self.dropped_entries)} entries could not be cleaned and were left out:"
                f" {'; '.join(self.dropped_entries)})"
            )
        if self.moved_to:
            text += f" (moved permanently to {self.moved_to})"
        return text


def without_joined(report: SourceReport, started: int) -> SourceReport:
    """``report`` counting as ``new`` no more than the ``started`` stories its source saved
    first that are stories still: one that a copy saved later joined to another story is
    a ``duplicate``, so a run's counts do not depend on the order it saved its sources in."""
    new = report.changes.get(Change.NEW.value, 0)
    if started >= new:
        return report
    changes = {**report.changes, Change.NEW.value: started}
    changes[Change.DUPLICATE.value] = changes.get(Change.DUPLICATE.value, 0) + new - started
    if not started:
        del changes[Change.NEW.value]
    return replace(report, changes=changes)


@dataclass(frozen=True)
class OutputReport:
    """What publishing one output did; ``error`` is set when it was not published.

    ``archive_pages`` counts archive files written; ``ping_errors`` lists WebSub
    pings that failed (they stay pending and are retried on the next run).
    """

    name: str
    path: str
    entries: int = 0
    written: bool = False
    error: str | None = None
    archive_pages: int = 0
    ping_errors: tuple[str, ...] = ()
    seconds: float = 0.0  # how long publishing it took (0 when it was left as it was)


@dataclass(frozen=True)
class RefreshReport:
    sources: tuple[SourceReport, ...]
    outputs: tuple[OutputReport, ...]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sources) and all(o.error is None for o in self.outputs)

    @property
    def changed(self) -> bool:
        return any(s.changed for s in self.sources)
