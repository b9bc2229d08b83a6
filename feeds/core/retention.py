"""Retention: which stored copies lose their bodies (config ``[store] keep`` and
``max_entries_per_source``). Pure: the store applies it (``IngestStore.expire_copies``).

A copy whose body is deleted keeps its identity keys, its content hash and its story id,
so the feed that still lists it finds it unchanged and it never comes back as new; the
signatures of copies still inside the dedupe window are kept too (a near copy published
within the window still merges), older ones are deleted. Tombstones are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Retention:
    """``keep``: a copy published (and last updated) longer ago loses its body;
    ``max_entries_per_source``: each source keeps the bodies of this many newest copies."""

    keep: timedelta | None = None
    max_entries_per_source: int | None = None

    def __bool__(self) -> bool:
        return self.keep is not None or self.max_entries_per_source is not None

    def cutoff(self, now: datetime) -> datetime | None:
        """Copies published and updated before this lose their bodies (None: no age limit)."""
        return now - self.keep if self.keep is not None else None


def signature_cutoff(now: datetime, window_hours: float) -> datetime:
    """Copies published before this can no longer be near copies of a new entry."""
    return now - timedelta(hours=window_hours)
