"""The published copy of a story: which of its copies a reader sees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from feeds.types import DedupeOptions


@dataclass(frozen=True)
class CopyInfo:
    """What choosing a story's published copy looks at."""

    source: str
    published: datetime
    first_seen: datetime
    words: int
    order: int


def choose_copy(copies: Sequence[CopyInfo], options: DedupeOptions) -> tuple[int, str]:
    """The index of the copy to publish among ``copies``, and why (for ``feeds explain``)."""
    if not copies:
        raise ValueError("a story has at least one copy")
    for preferred in options.preferred_sources:
        mine = [i for i, c in enumerate(copies) if c.source == preferred]
        if mine:
            best = min(mine, key=lambda i: _earliest(copies[i]))
            return best, f"from preferred source {preferred!r}"
    if options.prefer == "longest" and len(copies) > 1:
        best = min(range(len(copies)), key=lambda i: (-copies[i].words, _earliest(copies[i])))
        return best, f"longest body ({copies[best].words} words)"
    best = min(range(len(copies)), key=lambda i: _earliest(copies[i]))
    if len(copies) == 1:
        return best, "the only copy"
    tied = sum(1 for c in copies if c.published == copies[best].published)
    if tied > 1:
        return best, f"earliest published, the longest of {tied} published then"
    return best, "earliest published"


def _earliest(c: CopyInfo) -> tuple[datetime, int, datetime, int]:
    """Earliest published first; of copies published at the same instant (a wire story and
    its teasers often carry one time), the longest body, then the first seen."""
    return (c.published, -c.words, c.first_seen, c.order)
