"""The published copy of a story: which of its copies a reader sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from feeds.core.signals import new_version
from feeds.types import DedupeOptions


@dataclass(frozen=True)
class CopyInfo:
    """What choosing a story's published copy looks at.

    ``order`` is the copy's place among the story's copies in the order they were first
    seen (then stored); ``merged`` says the copy joined a story stored before it (its
    ``merged_reason`` is set), as every copy but a story's first does.
    """

    source: str
    published: datetime
    first_seen: datetime
    words: int
    order: int
    title: str = ""
    merged: bool = False

    @property
    def supersedes(self) -> bool:
        """Whether this copy replaces the copies before it: its title says it is a new
        version of the story ("CORRECTED -", "UPDATE 2-": :func:`~feeds.core.signals.new_version`)
        and it was merged into that story, so the story's first version is the one it
        corrects. A reader should see the correction, not the figures it corrects."""
        return self.merged and new_version(self.title)


def choose_copy(copies: Sequence[CopyInfo], options: DedupeOptions) -> tuple[int, str]:
    """The index of the copy to publish among ``copies``, and why (for ``feeds explain``).

    A copy from ``preferred_sources`` wins (of its source's copies, the newest version,
    else the earliest); then the newest version the story's first source merged into it
    (:attr:`CopyInfo.supersedes`); then the earliest published or, with
    ``prefer = "longest"``, the longest body, replaced by its own source's newest version.

    A title is no credential: any source can write "CORRECTED - " before another's title.
    So a version supersedes the copies of its own source, and every copy only when its
    source first published the story (the wire correcting itself); another source's
    "correction" never replaces the copy a reader would otherwise see.
    """
    if not copies:
        raise ValueError("a story has at least one copy")
    for preferred in options.preferred_sources:
        mine = [i for i, c in enumerate(copies) if c.source == preferred]
        if mine:
            newest = _newest_version(copies, mine)
            if newest is not None:
                return newest, f"from preferred source {preferred!r}, its newest version"
            best = min(mine, key=_earliest(copies, mine))
            return best, f"from preferred source {preferred!r}"
    newest = _newest_version(copies, _of_source(copies, _first_source(copies)))
    if newest is not None:
        return newest, _NEWEST_VERSION
    best, why = _ordinary_choice(copies, options)
    newest = _newest_version(copies, _of_source(copies, copies[best].source))
    if newest is not None:
        return newest, _NEWEST_VERSION
    return best, why


_NEWEST_VERSION = "newest version: its title says it corrects or updates the story"


def _ordinary_choice(copies: Sequence[CopyInfo], options: DedupeOptions) -> tuple[int, str]:
    """The earliest published copy or, with ``prefer = "longest"``, the longest, and why."""
    earliest = _earliest(copies)
    if options.prefer == "longest" and len(copies) > 1:
        best = min(range(len(copies)), key=lambda i: (-copies[i].words, earliest(i)))
        return best, f"longest body ({copies[best].words} words)"
    best = min(range(len(copies)), key=earliest)
    if len(copies) == 1:
        return best, "the only copy"
    tied = [c for c in copies if c.published == copies[best].published]
    if len(tied) == 1:
        return best, "earliest published"
    if copies[best].words == max(c.words for c in tied):
        return best, f"earliest published, the longest of {len(tied)} published then"
    return best, f"earliest published, the first seen of {len(tied)} published then"


def _first_source(copies: Sequence[CopyInfo]) -> str:
    """The source of the story's first copy (the first seen, then stored): the one that
    published the story before any other copy of it was known."""
    return min(copies, key=lambda c: c.order).source


def _of_source(copies: Sequence[CopyInfo], source: str) -> list[int]:
    return [i for i, c in enumerate(copies) if c.source == source]


def _newest_version(copies: Sequence[CopyInfo], among: Sequence[int]) -> int | None:
    """The index of the newest copy that supersedes those before it, among ``among``: the
    last published, then the last seen (a second correction replaces the first)."""
    versions = [i for i in among if copies[i].supersedes]
    if not versions:
        return None
    return max(versions, key=lambda i: (copies[i].published, copies[i].first_seen, copies[i].order))


#: Of copies published at one instant, one seen later wins over the first seen only when
#: that one has less than this share of its words: a teaser (31 words of a 342-word story).
#: A copy that adds a paragraph, a footer or an advertisement to the wire's text it copies,
#: with the wire's own date, is no reason to publish it in the wire's place.
THIN_SHARE = 0.5


def _earliest(
    copies: Sequence[CopyInfo], among: Sequence[int] | None = None
) -> Callable[[int], tuple[datetime, bool, datetime, int]]:
    """The order of "earliest published" among ``among`` (every copy by default), an
    index's key: of copies published at the same instant (a wire story and its teasers
    often carry one time), the first seen, unless it is thin beside the longest of them
    (:data:`THIN_SHARE`)."""
    longest: dict[datetime, int] = {}
    for c in (copies[i] for i in among) if among is not None else copies:
        longest[c.published] = max(longest.get(c.published, 0), c.words)

    def key(i: int) -> tuple[datetime, bool, datetime, int]:
        c = copies[i]
        return (c.published, c.words < THIN_SHARE * longest[c.published], c.first_seen, c.order)

    return key
