"""RFC 5005 paged archives: which archive documents exist and which must be rewritten.

::

    store.story_index(sources)          ids and dates only, newest first
      | split: newest max_entries → subscription document; the rest → archive
      | pages numbered from the oldest: each where it began last time (the output's
      | published state), the newest filled to page_size and new ones after it; the
      | first time, pages of page_size stories from page 1; at least two pages once
      | there is one (the next one empty while the newest has room)
      | signature per page (its stories' ids and dates, its links, the output's settings)
      | pages whose signature changed or whose file is missing → load, render, write

Numbering from the oldest keeps pages stable: a new story only pushes the
oldest story of the subscription document into the newest page, and a story that
leaves (retention, a ``max_age`` rule, a drop) leaves a gap on its page, moving no
other. Only pages whose signature changed are loaded and rendered, so a run in
which nothing moved reads the id index and writes nothing. A story that arrives
with an old date (or is updated) rewrites the page that holds it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feeds.config import OutputConfig
from feeds.core.digest import sha256
from feeds.publish.formats import FORMATS
from feeds.store import StoryKey
from feeds.store.protocol import PublishState
from feeds.types import DedupeOptions, StoredEntry
from feeds.version import __version__

#: Raised when the documents' bytes are made differently for the same stories, so every
#: stored page is written again once (a version alone does not change between releases).
#: 2: Atom entries' ``updated`` carry a fraction of a second; URLs as the validators take them.
#: 3: misread UTF-8 read again (``Â´`` is ``´``), which the W3C Feed Validator warned about.
#: 4: beside misread UTF-8, an author's capital before a quote is kept (``É”``, not ``ɔ``).
RENDERING = 4


Place = tuple[datetime, str]
"""Where a story stands among the archived ones: its date, then its id (oldest first: the
earlier date, then, at one date, the greater id, as the index lists them)."""


@dataclass(frozen=True)
class Page:
    """Archive document ``number`` of the pages ``first`` (the oldest) to ``of`` (the
    newest); ``ids`` oldest first; ``start``: the place its stories begin at (None: the
    empty page after a lone one)."""

    number: int
    of: int
    ids: tuple[str, ...]
    signature: str
    first: int = 1
    start: Place | None = None


def plan(
    output: OutputConfig,
    index: Sequence[StoryKey],
    atom_ids: Mapping[str, str] | None = None,
    starts: Mapping[int, Place] | None = None,
) -> list[Page]:
    """The archive pages of ``output`` given its story index (newest first). Pure.

    ``starts``: where each page began when last published (:func:`recorded_starts`), so
    that a page keeps its stories when others leave: a story stays on the page whose
    place it falls in; the newest page fills up to the page size and what is over starts
    pages after it; pages left with no story at either end go (numbers are not reused:
    the oldest page left has no ``prev-archive`` link). Without ``starts``, the stories
    are cut into pages from the oldest.

    A story with a minted Atom id (``atom_ids``, see :class:`~feeds.publish.documents.DocLinks`)
    signs it too: its page is written again when that id changes."""
    minted = atom_ids or {}
    older = list(reversed(index[output.max_entries :]))
    chunks = _chunks(older, output.page_size, starts or {})
    if len(chunks) == 1:
        # A lone archive document has no earlier or later one to link to (RFC 5005 §4), and
        # the W3C Feed Validator warns about an archive document with neither link
        # (ArchiveIncomplete). The page after it, where stories go once it is full, is
        # published empty until then, so that each page links to the other.
        chunks.append((chunks[0][0] + 1, None, []))
    settings = _settings(output)
    first, last = (chunks[0][0], chunks[-1][0]) if chunks else (1, 0)
    pages: list[Page] = []
    for n, start, chunk in chunks:
        payload = {
            "v": __version__,
            "rendering": RENDERING,
            "settings": settings,
            "page": n,
            "last": n == last,
            "stories": [_signed(s, minted) for s in chunk],
        }
        if n == first > 1:  # (a key only then: pages numbered from 1 sign as they did)
            payload["first"] = True
        digest = sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        pages.append(Page(n, last, tuple(s.id for s in chunk), digest, first, start))
    return pages


_Chunk = tuple[int, Place | None, list[StoryKey]]


def _chunks(older: list[StoryKey], size: int, starts: Mapping[int, Place]) -> list[_Chunk]:
    """The archived stories (oldest first) as pages: each page's number, start and stories."""
    if not older:
        return []
    if not starts:
        cut = [older[i : i + size] for i in range(0, len(older), size)]
        return [(n, place(chunk[0]), chunk) for n, chunk in enumerate(cut, start=1)]
    numbers = sorted(starts)
    held: dict[int, list[StoryKey]] = {n: [] for n in numbers}
    k = 0
    for story in older:
        at = (story.published, story.id)
        while k + 1 < len(numbers) and not _before(at, starts[numbers[k + 1]]):
            k += 1
        held[numbers[k]].append(story)
    kept = [n for n in numbers if held[n]]
    kept = [n for n in numbers if kept[0] <= n <= kept[-1]]  # (older stories: the first)
    chunks: list[_Chunk] = [(n, starts[n], held[n]) for n in kept]
    newest, start, stories = chunks[-1]
    chunks[-1] = (newest, start, stories[:size])
    over = stories[size:]
    for n, i in enumerate(range(0, len(over), size), start=newest + 1):
        chunks.append((n, place(over[i]), over[i : i + size]))
    return chunks


def place(story: StoryKey) -> Place:
    """Where ``story`` stands among the archived stories (see :data:`Place`)."""
    return (story.published, story.id)


def _before(a: Place, b: Place) -> bool:
    """Whether place ``a`` comes before ``b``, oldest first."""
    return a[0] < b[0] or (a[0] == b[0] and a[1] > b[1])


def recorded_starts(state: Mapping[str, object] | None, size: int) -> dict[int, Place]:
    """The starts of the pages as :func:`starts_record` recorded them in an output's
    published state (none: pages cut from the oldest, as for a store published before,
    or when the page size has changed since)."""
    record = state.get("archive_starts") if state is not None else None
    if not isinstance(record, dict) or record.get("size") != size:
        return {}
    pages = record.get("pages")
    if not isinstance(pages, dict):
        return {}
    starts: dict[int, Place] = {}
    for number, start in pages.items():
        if not (isinstance(number, str) and number.isdigit() and int(number) > 0):
            return {}
        if not (isinstance(start, list) and len(start) == 2):
            return {}
        if not all(isinstance(part, str) for part in start):
            return {}
        try:
            at = datetime.fromisoformat(start[0])
        except ValueError:
            return {}
        if at.tzinfo is None:
            return {}
        starts[int(number)] = (at, start[1])
    return starts


def starts_record(pages: Sequence[Page], size: int) -> dict[str, object]:
    """What an output's published state keeps of ``pages`` (see :func:`recorded_starts`)."""
    starts = {str(p.number): [_instant(p.start[0]), p.start[1]] for p in pages if p.start}
    return {"size": size, "pages": starts}


def _signed(story: StoryKey, atom_ids: Mapping[str, str]) -> list[str]:
    """What a page's signature holds of one story (a story without a minted id signs as
    it always did, so its page is not written again)."""
    signed = [story.id, _instant(story.published), _instant(story.updated)]
    return [*signed, atom_ids[story.id]] if story.id in atom_ids else signed


def _instant(value: datetime) -> str:
    """An instant as signed: fixed-width UTC ISO 8601 text (as page signatures always were)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _settings(output: OutputConfig) -> list[object]:
    return [
        output.title,
        output.subtitle,
        output.author,
        output.url,
        output.id,
        output.summary_words,
        list(output.formats),
        str(output.path),
        str(output.rss_path),
        output.page_size,
        # (where the self links lead: signed only when it is not the file name, so that the
        # pages of other outputs are not written again)
        *sorted(
            output.local_path(f)
            for f in output.formats
            if output.local_path(f) != output.format_path(f).name
        ),
    ]


def archived_formats(output: OutputConfig) -> tuple[str, ...]:
    """The formats of ``output`` that have archive pages (see :mod:`feeds.publish.formats`)."""
    return tuple(f for f in output.formats if FORMATS[f].archived)


def publish_archives(
    output: OutputConfig,
    store: PublishState,
    pages: Sequence[Page],
    options: DedupeOptions | None = None,
    accept: Callable[[StoredEntry], bool] | None = None,
    atom_ids: Mapping[str, str] | None = None,
    *,
    every_page: bool = False,
) -> int:
    """Write the archive pages whose signature changed or whose file is missing (with
    ``every_page``, render each page and write those whose bytes differ: ``feeds publish``
    repairs a page damaged since it was written).

    Returns how many files were written. Pages past the last one (left over
    from a larger store or a smaller ``max_entries``) are left to
    :func:`remove_stale_pages`, once the subscription documents no longer link to them.
    ``options`` and ``accept`` (the filter rules) choose each story's published copy, as
    for the main feed; ``atom_ids`` are the ids minted over the output's story index.
    """
    from feeds.publish import documents as publish

    known = store.archive_signatures(output.name)
    formats = archived_formats(output)
    written = 0
    for page in pages:
        files = [publish.archive_path(output, fmt, page.number) for fmt in formats]
        unchanged = known.get(page.number) == page.signature and all(f.exists() for f in files)
        if unchanged and not every_page:
            continue
        stories = store.stories(page.ids, output.sources, options, accept)
        written += publish.publish_archive_page(
            output, page.number, page.of, stories, atom_ids, first=page.first
        )
        store.set_archive_signature(output.name, page.number, page.signature)
    return written


def remove_stale_pages(output: OutputConfig, store: PublishState, pages: Sequence[Page]) -> None:
    """Remove the archive pages not among ``pages`` (past the last of them, or before the
    first, whose stories all left), and the store's record of them.

    Called once the subscription documents are written: until then they link to the last
    page there was, so a publish that fails in between leaves every link going somewhere.
    """
    from feeds.publish.documents import archive_path

    numbers = {page.number for page in pages}
    for number in sorted(n for n in store.archive_signatures(output.name) if n not in numbers):
        for fmt in archived_formats(output):
            archive_path(output, fmt, number).unlink(missing_ok=True)
        store.forget_archive_page(output.name, number)
