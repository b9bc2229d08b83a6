"""The published copy of a story: which of its copies a reader sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    tied = [i for i, c in enumerate(copies) if c.published == copies[best].published]
    if len(tied) == 1:
        return best, "earliest published"
    decided = _decided_by(best, tied, earliest)
    return best, f"earliest published, {decided} of {len(tied)} published then"


#: What the order of :func:`_earliest` (past the published time) decided by, in words.
_DECIDING = {1: "the longest", 2: "the first seen", 3: "the fewest words"}


def _decided_by(
    best: int, tied: Sequence[int], earliest: Callable[[int], tuple[object, ...]]
) -> str:
    """What put ``best`` before the next of the copies ``tied`` with it: the first part of
    :func:`_earliest`'s order where they differ (the others being teasers: the longest;
    then the first seen, the fewest words; else their sources' names and keys)."""
    runner_up = min((i for i in tied if i != best), key=earliest)
    mine, theirs = earliest(best), earliest(runner_up)
    step = next(k for k, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b)
    return _DECIDING.get(step, "the first by source name and key")


def _first_source(copies: Sequence[CopyInfo]) -> str:
    """The source of the story's first copy (:func:`first_copy`): the one that published
    the story before any other copy of it was known."""
    return copies[first_copy(copies)].source


def _of_source(copies: Sequence[CopyInfo], source: str) -> list[int]:
    return [i for i, c in enumerate(copies) if c.source == source]


def _newest_version(copies: Sequence[CopyInfo], among: Sequence[int]) -> int | None:
    """The index of the newest copy that supersedes those before it, among ``among``: the
    last published, then the last seen (a second correction replaces the first)."""
    versions = [i for i in among if copies[i].supersedes]
    if not versions:
        return None
    return max(versions, key=lambda i: (*_last_seen(copies[i]), copies[i].order))


#: Of copies published at one instant, a copy with less than this share of the longest one's
#: words is a teaser (31 words of a 342-word story): never published, nor taken for the
#: story's first copy, in its place.
THIN_SHARE = 0.5


def _thin(copies: Sequence[CopyInfo], among: Sequence[int] | None = None) -> Callable[[int], bool]:
    """Whether a copy (by index) is thin beside the longest of those among ``among`` (every
    copy by default) published at the same instant (:data:`THIN_SHARE`)."""
    longest: dict[datetime, int] = {}
    for c in (copies[i] for i in among) if among is not None else copies:
        longest[c.published] = max(longest.get(c.published, 0), c.words)
    return lambda i: copies[i].words < THIN_SHARE * longest[copies[i].published]


def _earliest(
    copies: Sequence[CopyInfo], among: Sequence[int] | None = None
) -> Callable[[int], tuple[datetime, bool, datetime, int, str, str, int]]:
    """The order of "earliest published" among ``among`` (every copy by default), an
    index's key. Of copies published at the same instant (a wire story and its teasers
    often carry one time): not a teaser (:func:`_thin`), the first seen, then the one with
    the fewest words (a copy adds a footer, a paragraph or an advertisement to the text it
    copies: the wire's text under the wire's own date is published, not the copy that
    padded it), then their sources and keys, never the order they were saved in."""
    thin = _thin(copies, among)

    def key(i: int) -> tuple[datetime, bool, datetime, int, str, str, int]:
        c = copies[i]
        return (c.published, thin(i), c.first_seen, c.words, c.source, c.key, c.order)

    return key


def _last_seen(c: CopyInfo) -> tuple[datetime, datetime, str, str]:
    """The last published version wins, then the last seen; of versions one run saw at
    once, the order of their sources and keys (never the order the run saved them in)."""
    return (c.published, c.first_seen, c.source, c.key)


def first_copy(copies: Sequence[CopyInfo]) -> int:
    """The index of a story's first copy among ``copies``: the one whose id the story
    carries, and the version a newer one corrects.

    The first seen; of copies first seen at one instant (one run found them, and saved them
    in whatever order its sources came back or were listed in), an original before a new
    version (:func:`~feeds.core.signals.new_version`), then the earliest published, not a
    teaser, the fewest words (the text the others copy and add to), then the source and
    key. So a story whose copies one run saves gets the same id and first copy whatever
    order they are saved in, and the same first copy as the one published (:func:`_earliest`).
    """
    if not copies:
        raise ValueError("a story has at least one copy")
    return _first_of_together(copies, min(c.first_seen for c in copies))


def may_come_first(copies: Sequence[CopyInfo], joining: CopyInfo) -> bool:
    """Whether ``joining`` could be the :func:`first_copy` of a story of ``copies`` and it,
    told without the copies' words: none of ``copies`` is first seen before it, nor, first
    seen with it, an original where it is a new version or published before it (what orders
    copies before their words do). False: ``joining`` is not the first copy."""

    def head(c: CopyInfo) -> tuple[datetime, bool, datetime]:
        return (c.first_seen, new_version(c.title), c.published)

    return head(joining) <= min(map(head, copies))


def _first_of_together(copies: Sequence[CopyInfo], seen: datetime) -> int:
    """The :func:`first_copy` of ``copies``: of those first seen at ``seen``,
    by :func:`_founding` among them alone. A teaser is told by the copies it came with:
    a longer copy first seen in a later run (a copier padding the wire's text under its
    date) must not make the story's first copy a teaser after the fact, and hand the
    story's first source (whose corrections replace every copy) to another."""
    together = [i for i, c in enumerate(copies) if c.first_seen == seen]
    return min(together, key=_founding(copies, together))


def _founding(
    copies: Sequence[CopyInfo], among: Sequence[int] | None = None
) -> Callable[[int], tuple[datetime, bool, datetime, bool, int, str, str]]:
    """The order of :func:`first_copy` among ``among`` (every copy by default), an index's key."""
    thin = _thin(copies, among)

    def key(i: int) -> tuple[datetime, bool, datetime, bool, int, str, str]:
        c = copies[i]
        return (c.first_seen, new_version(c.title), c.published, thin(i), c.words, c.source, c.key)

    return key


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
    first = _first_of_together(copies, seen)
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
