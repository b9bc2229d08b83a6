"""The published copy of a story: which of its copies a reader sees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from feeds.core.signals import new_version
from feeds.types import CleanEntry, DedupeOptions


@dataclass(frozen=True)
class CopyInfo:
    """What choosing a story's published copy looks at.

    ``order`` is the copy's place among the story's copies in the order they were first
    seen (then stored); ``merged`` says the copy joined a story stored before it (its
    ``merged_reason`` is set), as every copy but a story's first does (see
    :func:`settle_first_copy` for copies one run saved together). ``key`` is the copy's key
    in its source: with ``source``, what tells apart copies that tie on everything else,
    whatever order they were saved in.
    """

    source: str
    published: datetime
    first_seen: datetime
    words: int
    order: int
    title: str = ""
    merged: bool = False
    key: str = ""

    @property
    def supersedes(self) -> bool:
        """Whether this copy replaces the copies before it: its title says it is a new
        version of the story ("CORRECTED -", "UPDATE 2-": :func:`~feeds.core.signals.new_version`)
        and it was merged into that story, so the story's first version is the one it
        corrects. A reader should see the correction, not the figures it corrects."""
        return self.merged and new_version(self.title)


def saved_copy(source: str, key: str, entry: CleanEntry, now: datetime) -> CopyInfo:
    """What choosing a story's first copy looks at, of ``entry`` as a copy saved at ``now``
    under ``source`` and ``key`` (undated: published when first seen, as the store saves it)."""
    return CopyInfo(
        source=source,
        published=entry.published or entry.updated or now,
        first_seen=now,
        words=len(entry.body_text.split()),
        order=0,
        title=entry.title,
        key=key,
    )


def choose_copy(copies: Sequence[CopyInfo], options: DedupeOptions) -> tuple[int, str]:
    """The index of the copy to publish among ``copies``, and why (for ``feeds explain``).

    A copy from ``preferred_sources`` wins (of its source's copies, the newest version,
    else the earliest); then the newest version merged into the story
    (:attr:`CopyInfo.supersedes`); then the earliest published or, with
    ``prefer = "longest"``, the longest body.
    """
    if not copies:
        raise ValueError("a story has at least one copy")
    for preferred in options.preferred_sources:
        mine = [i for i, c in enumerate(copies) if c.source == preferred]
        if mine:
            newest = _newest_version(copies, mine)
            if newest is not None:
                return newest, f"from preferred source {preferred!r}, its newest version"
            best = min(mine, key=lambda i: _earliest(copies[i]))
            return best, f"from preferred source {preferred!r}"
    newest = _newest_version(copies, range(len(copies)))
    if newest is not None:
        return newest, "newest version: its title says it corrects or updates the story"
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


def _newest_version(copies: Sequence[CopyInfo], among: Sequence[int]) -> int | None:
    """The index of the newest copy that supersedes those before it, among ``among``: the
    last published, then the last seen (a second correction replaces the first)."""
    versions = [i for i in among if copies[i].supersedes]
    if not versions:
        return None
    return max(versions, key=lambda i: (*_last_seen(copies[i]), copies[i].order))


def _last_seen(c: CopyInfo) -> tuple[datetime, datetime, str, str]:
    """The last published version wins, then the last seen; of versions one run saw at
    once, the order of their sources and keys (never the order the run saved them in)."""
    return (c.published, c.first_seen, c.source, c.key)


def _earliest(c: CopyInfo) -> tuple[datetime, int, datetime, str, str, int]:
    """Earliest published first; of copies published at the same instant (a wire story and
    its teasers often carry one time), the longest body, then the first seen; of copies
    one run saw at once, their sources and keys decide, not the order they were saved in."""
    return (c.published, -c.words, c.first_seen, c.source, c.key, c.order)


def first_copy(copies: Sequence[CopyInfo]) -> int:
    """The index of a story's first copy among ``copies``: the one whose id the story
    carries, and the version a newer one corrects.

    The first seen; of copies first seen at one instant (one run found them, and saved them
    in whatever order its sources came back or were listed in), an original before a new
    version (:func:`~feeds.core.signals.new_version`), then the earliest published, the
    longest body, then the source and key. So a story whose copies one run saves gets the
    same id and first copy whatever order they are saved in.
    """
    if not copies:
        raise ValueError("a story has at least one copy")
    return min(range(len(copies)), key=lambda i: _founding(copies[i]))


def _founding(c: CopyInfo) -> tuple[datetime, bool, datetime, int, str, str]:
    return (c.first_seen, new_version(c.title), c.published, -c.words, c.source, c.key)


def settle_first_copy(copies: Sequence[CopyInfo]) -> list[CopyInfo]:
    """``copies`` (a story's live copies) with ``merged`` as the order of saving cannot
    change it: of the copies first seen together with the story's first copy, the
    :func:`first_copy` is the one not merged, the others are. Copies seen later keep what
    the store says (they joined a story stored before them).

    The store marks the first copy saved as the story's first (``merged_reason`` NULL); of
    copies one run saves, which one that is depends on the order it saves them in, and a
    correction saved before its first version would then not correct it.
    """
    firsts = [c.first_seen for c in copies if not c.merged]
    if not firsts:
        return list(copies)
    seen = min(firsts)
    together = [i for i, c in enumerate(copies) if c.first_seen == seen]
    first = min(together, key=lambda i: _founding(copies[i]))
    return [
        replace(c, merged=i != first) if c.first_seen == seen else c for i, c in enumerate(copies)
    ]


def version_updated(
    title: str, updated: datetime, earlier: datetime | None, now: datetime
) -> datetime:
    """The ``updated`` to save for a copy under ``title`` merged into a story whose copies
    seen before this run were last updated at ``earlier`` (None: no such copy).

    A new version (:attr:`CopyInfo.supersedes`) is published in its first version's place,
    with its own ``updated``; a correction that keeps its first version's date would leave
    the story's ``updated`` where it was, and a reader that looks at ``updated`` keeps the
    figures it corrects. Such a version is updated when it was first seen (``now``), at
    least a second after ``earlier`` (feeds write whole seconds). Any other copy, and a
    version dated after ``earlier``, keeps ``updated``; so do the copies one run sees
    together (no earlier copy was published).
    """
    if earlier is None or not new_version(title) or _second(updated) > _second(earlier):
        return updated
    return max(now, _second(earlier) + timedelta(seconds=1))


def _second(value: datetime) -> datetime:
    return value.replace(microsecond=0)
