"""RFC 5005 paged archives: which archive documents exist and which must be rewritten.

::

    store.story_index(sources)          ids and dates only, newest first
      | split: newest max_entries → subscription document; the rest → archive
      | pages of page_size stories, numbered from the oldest (page 1); at least two
      | pages once there is one (page 2 empty while page 1 has room)
      | signature per page (its stories' ids and dates, its links, the output's settings)
      | pages whose signature changed or whose file is missing → load, render, write

Numbering from the oldest keeps pages stable: a new story only pushes the
oldest story of the subscription document into the newest page. Only pages
whose signature changed are loaded and rendered, so a run in which nothing
moved reads the id index and writes nothing. A story that arrives with an old
date (or is updated) rewrites the page that holds it and the pages after it
that shift.
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


@dataclass(frozen=True)
class Page:
    """Archive document ``number`` (1 = oldest) of ``of``; ``ids`` oldest first."""

    number: int
    of: int
    ids: tuple[str, ...]
    signature: str


def plan(
    output: OutputConfig, index: Sequence[StoryKey], atom_ids: Mapping[str, str] | None = None
) -> list[Page]:
    """The archive pages of ``output`` given its story index (newest first). Pure.

    A story with a minted Atom id (``atom_ids``, see :class:`~feeds.publish.documents.DocLinks`)
    signs it too: its page is written again when that id changes."""
    minted = atom_ids or {}
    older = list(reversed(index[output.max_entries :]))
    size = output.page_size
    chunks = [older[i : i + size] for i in range(0, len(older), size)]
    if len(chunks) == 1:
        # A lone archive document has no earlier or later one to link to (RFC 5005 §4), and
        # the W3C Feed Validator warns about an archive document with neither link
        # (ArchiveIncomplete). Page 2, where stories go once page 1 is full, is published
        # empty until then, so that each page links to the other.
        chunks.append([])
    settings = _settings(output)
    pages: list[Page] = []
    for n, chunk in enumerate(chunks, start=1):
        payload = {
            "v": __version__,
            "rendering": RENDERING,
            "settings": settings,
            "page": n,
            "last": n == len(chunks),
            "stories": [_signed(s, minted) for s in chunk],
        }
        digest = sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        pages.append(Page(n, len(chunks), tuple(s.id for s in chunk), digest))
    return pages


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
        written += publish.publish_archive_page(output, page.number, page.of, stories, atom_ids)
        store.set_archive_signature(output.name, page.number, page.signature)
    return written


def remove_stale_pages(output: OutputConfig, store: PublishState, pages: Sequence[Page]) -> None:
    """Remove the archive pages past the last of ``pages``, and the store's record of them.

    Called once the subscription documents are written: until then they link to the last
    page there was, so a publish that fails in between leaves every link going somewhere.
    """
    from feeds.publish.documents import archive_path

    for number in sorted(n for n in store.archive_signatures(output.name) if n > len(pages)):
        for fmt in archived_formats(output):
            archive_path(output, fmt, number).unlink(missing_ok=True)
        store.forget_archive_page(output.name, number)
