"""Prepare a fetched feed document: the part of an ingest that needs no store.

:func:`prepare` parses, cleans, computes the keys (trusting GUIDs), the near-duplicate
signatures and the full-text decision. It is pure, so :mod:`feeds.run.executor` runs it in
worker processes when a run is large. This module imports only what that needs (no
HTTP client, no database), so the workers stay small.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple

from feeds.core import dedupe
from feeds.core.repeated_items import listed_once
from feeds.core.rewrite import FeedRules
from feeds.errors import NotAFeedError, ParseError, describe
from feeds.types import Body, CleanEntry, ParsedEntry, ParsedFeed

log = logging.getLogger("feeds.refresh")

Signature = tuple[int, ...]

NO_RULES = FeedRules()


class Job(NamedTuple):
    """What :func:`prepare` needs: the document, and what it may skip.

    ``known`` holds the content hashes of the source's stored copies: an entry whose
    content is already stored needs no signature (the consumer computes one if it
    turns out to need it after all). ``bodies`` holds cleaned bodies of the source's
    recent copies by :func:`feeds.ingest.normalize.body_key`: an entry whose body is among
    them is not cleaned again (cleaning the body is most of the work, and a changed
    feed repeats most of its entries unchanged).
    """

    content: bytes
    url: str
    headers: Mapping[str, str]
    now: datetime
    full_text: str | bool = False
    known: frozenset[str] = frozenset()
    bodies: Mapping[str, Body] = {}  # shared, never mutated
    retried: bool = False  # given to a second worker after the first one died
    rules: FeedRules = FeedRules()  # the source's rewrite rules


@dataclass(frozen=True)
class Prepared:
    """A fetched feed document parsed and cleaned, with its keys and signatures.

    It must pickle (it comes back from a worker process): a parse error travels as
    its message (and an HTML page's advertised feeds) and is raised again by
    :meth:`feed_and_entries` in the main process. ``feed.entries`` (the raw entries) is
    empty when no entry wants its article page. ``keys`` trust the GUIDs;
    ``signatures[i]`` (and ``buckets[i]``, its LSH buckets) is meaningful only when ``i``
    is not in ``unsigned``.
    """

    url: str
    feed: ParsedFeed | None = None
    cleaned: tuple[CleanEntry, ...] = ()
    error: str | None = None
    page_feed_urls: tuple[str, ...] | None = None  # set when the document was an HTML page
    keys: tuple[dedupe.Keys, ...] = ()
    signatures: tuple[Signature | None, ...] = ()
    unsigned: frozenset[int] = frozenset()
    buckets: tuple[tuple[int, ...], ...] = ()  # dedupe.lsh_buckets of each signature (or ())
    #: dedupe.lead_buckets of each signed entry's body text (() for the others); empty from a
    #: worker of an older feeds, which did not send them.
    leads: tuple[tuple[int, ...], ...] = ()
    wants_full_text: tuple[bool, ...] = ()
    body_keys: tuple[str, ...] = ()  # normalize.body_key of each entry's body
    #: :func:`cited_links` of each signed entry (None for the others); empty from a worker
    #: of an older feeds, which did not send them.
    linked: tuple[tuple[str, ...] | None, ...] = ()
    #: Entries that could not be cleaned and were left out, each as "title: error".
    dropped: tuple[str, ...] = ()
    #: The traceback of what prepare() raised unexpectedly (``error`` says what it was).
    trace: str | None = None
    #: The feed's own title and link, cleaned (:func:`feeds.ingest.normalize.feed_title_and_link`).
    feed_title: str | None = None
    feed_link: str | None = None

    def feed_and_entries(self) -> tuple[ParsedFeed, list[CleanEntry]]:
        """The parsed feed and its cleaned entries; raises the parse error, if any."""
        if self.page_feed_urls is not None:
            raise NotAFeedError(self.url, self.page_feed_urls, self.error)
        if self.feed is None:
            raise ParseError(self.url, self.error or "unreadable document")
        return self.feed, list(self.cleaned)

    def cited_links(self, i: int, entry: CleanEntry) -> tuple[str, ...]:
        """:func:`cited_links` of ``entry``: the worker's, when it is cleaned entry ``i``."""
        if self.linked and self.cleaned[i] is entry and (linked := self.linked[i]) is not None:
            return linked
        return cited_links(entry)

    def signature(self, i: int) -> Signature | None:
        """The signature of cleaned entry ``i`` (computed now if the worker skipped it)."""
        if i in self.unsigned or i >= len(self.signatures):
            return dedupe.signature(self.cleaned[i].body_text)
        return self.signatures[i]


class Cleaned(NamedTuple):
    """A document's entries cleaned one by one: those that could be, and those that could not."""

    entries: tuple[ParsedEntry, ...]  # the raw entries that were cleaned
    cleaned: tuple[CleanEntry, ...]  # ... and what they became
    body_keys: tuple[str, ...]  # normalize.body_key of each one's body
    dropped: tuple[str, ...]  # "title: error" of each entry that could not be cleaned


def clean_entries(
    entries: Sequence[ParsedEntry],
    now: datetime,
    bodies: Mapping[str, Body] | None = None,
    rules: FeedRules = NO_RULES,
) -> Cleaned:
    """Clean each entry on its own: one that raises is left out and named, not the source;
    an item the document lists more than once is kept once (:func:`listed_once`).

    ``bodies``: bodies already cleaned, by :func:`feeds.normalize.body_key` (not used when
    ``rules`` rewrite bodies: a stored body does not say which rules changed it).
    """
    if rules.touches_body:
        bodies = None
    from feeds.ingest import normalize

    kept: list[ParsedEntry] = []
    cleaned: list[CleanEntry] = []
    keys: list[str] = []
    dropped: list[str] = []
    for entry in entries:
        try:
            source = normalize.body_source(entry)
            key = normalize.body_key(source, rules)
            body = bodies.get(key) if bodies else None
            if body is None:
                body = normalize.clean_body(source, rules)
            clean = normalize.normalize_entry(entry, now=now, body=body, rules=rules)
        except Exception as exc:  # a bug: the entry goes, the source and the run go on
            log.info("entry %r could not be cleaned", entry.title, exc_info=exc)
            dropped.append(f"{normalize.clean_title(entry.title or '')[:80]!r}: {describe(exc)}")
            continue
        kept.append(entry)
        cleaned.append(clean)
        keys.append(key)
    told_apart = normalize.links_told_apart(kept, cleaned)  # a live blog's #post-1, #post-2
    once = listed_once(told_apart)  # an item listed twice (same GUID, link and date): once
    if len(once) < len(kept):  # the links told apart again, among the entries kept
        kept, cleaned = [kept[i] for i in once], [cleaned[i] for i in once]
        keys = [keys[i] for i in once]
        told_apart = normalize.links_told_apart(kept, cleaned)
    return Cleaned(tuple(kept), told_apart, tuple(keys), tuple(dropped))


def cited_links(entry: CleanEntry) -> tuple[str, ...]:
    """The canonical links an entry gives to where it comes from, other than its own: its
    ``<source>`` / ``dc:source`` link (already canonical), then the links in its body.

    Made by the worker that prepares the entry (:attr:`Prepared.linked`): the process that
    saves then never loads the cleaning stack (lxml, nh3) for the links of a near-copy
    lookup."""
    from feeds.ingest.normalize import canonical_url

    found = (canonical_url(url) for url in dedupe.linked_urls(entry.content_html))
    linked = [url for url in (entry.source_link, *found) if url is not None and url != entry.link]
    return tuple(dict.fromkeys(linked))


def prepare_safely(job: Job) -> Prepared:
    """:func:`prepare`, with whatever it raises as the document's error (and its traceback)."""
    try:
        return prepare(job)
    except Exception as exc:
        return Prepared(
            url=job.url,
            error=f"{describe(exc)} (while reading the document)",
            trace="".join(traceback.format_exception(exc)),
        )


def prepare(job: Job) -> Prepared:
    """Parse and clean one feed document. Pure: no store, no clock but ``job.now``."""
    # Imported here: a process that prepares nothing (a run in which nothing changed)
    # never loads the parsing and cleaning stack. See also worker_pool.PRELOAD.
    from feeds.ingest import fulltext, normalize, parse

    try:
        feed = parse.parse(job.content, url=job.url, headers=job.headers)
    except NotAFeedError as exc:
        return Prepared(url=job.url, error=exc.message, page_feed_urls=exc.feed_urls)
    except ParseError as exc:
        return Prepared(url=job.url, error=exc.message)
    kept = clean_entries(feed.entries, job.now, job.bodies, job.rules)
    if len(kept.entries) != len(feed.entries):  # some could not be cleaned, or were repeats
        feed = replace(feed, entries=kept.entries)
    cleaned, body_keys = kept.cleaned, kept.body_keys
    keys = tuple(dedupe.entry_keys(cleaned))
    unsigned = frozenset(i for i, k in enumerate(keys) if k.content_hash in job.known)
    signatures = tuple(
        dedupe.signatures([None if i in unsigned else e.body_text for i, e in enumerate(cleaned)])
    )
    buckets = tuple(dedupe.lsh_buckets(sig) if sig is not None else () for sig in signatures)
    leads = tuple(
        dedupe.lead_buckets(entry.body_text) if sig is not None else ()
        for entry, sig in zip(cleaned, signatures, strict=True)
    )
    linked = tuple(
        cited_links(entry) if sig is not None else None
        for entry, sig in zip(cleaned, signatures, strict=True)
    )
    wants = tuple(
        bool(clean.link)
        and fulltext.wants_full_text(raw, job.full_text, content_text=clean.body_text)
        for raw, clean in zip(feed.entries, cleaned, strict=True)
    )
    feed_title, feed_link = normalize.feed_title_and_link(feed)
    if not any(wants):
        # The consumer reads the raw entries only to fetch article pages: sending them back
        # would double what crosses between the processes and what waits in the buffer.
        feed = replace(feed, entries=())
    return Prepared(
        url=job.url,
        feed=feed,
        cleaned=cleaned,
        keys=keys,
        signatures=signatures,
        unsigned=unsigned,
        buckets=buckets,
        leads=leads,
        linked=linked,
        wants_full_text=wants,
        body_keys=body_keys,
        dropped=kept.dropped,
        feed_title=feed_title,
        feed_link=feed_link,
    )
