"""Source kinds: how a fetched document becomes a source's cleaned entries.

A ``feed`` source reads a feed document (parsed and cleaned in a worker process; when its URL
answers with an HTML page that advertises feeds, the matching feed, remembered in the store as
the source's ``feed_url``; article pages for teaser-only entries).
A section page (``type = "html"``) reads its article links and builds an entry from each
article page. A new kind is one class here and its name in :data:`KINDS`.

The cleaning and article-page stack (lxml, nh3, feedparser) is imported where it is used: a
run in which nothing changed needs none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from feeds.config import SourceConfig
from feeds.errors import FetchError, NotAFeedError, ParseError
from feeds.ingest.fetch import PageFetcher
from feeds.ingest.prepare import Job, Prepared, clean_entries, prepare
from feeds.store.protocol import ArticleCache, IngestStore
from feeds.types import (
    ArticleRecord,
    CleanEntry,
    FetchRequest,
    FetchResult,
    ParsedFeed,
    SourceState,
)

if TYPE_CHECKING:
    from feeds.ingest.articles import Budget
    from feeds.ingest.section import SectionPage


class KindStore(IngestStore, ArticleCache, Protocol):
    """What reading a source asks of the store: its recent bodies, cached article pages."""


@dataclass
class Reader:
    """What a kind reads with: the store, the run's page fetcher and article-page budget."""

    store: KindStore
    fetcher: PageFetcher
    pages: Callable[[], Budget]  # the run's budget of article pages, made at the first page
    batch: int
    now: datetime
    #: True once a daemon is told to stop: a read that would fetch a document first is
    #: postponed (:class:`Postponed`), as article pages are not taken (see :class:`Budget`).
    stopping: Callable[[], bool] = lambda: False


class Postponed(Exception):
    """A source's read put off: it would fetch another document (the feed its page
    advertises) while the daemon saving it stops. Nothing of it is saved, nor recorded
    against it; it stays due, for any worker, as a fetch abandoned at the stop does."""


@dataclass(frozen=True)
class Read:
    """A source's document, read: its feed, cleaned entries and article pages to save.

    ``document`` is what was read (the feed a section page advertised, when it was fetched
    instead); ``feed_url`` is that feed's URL. ``prepared`` is kept only while it still
    describes ``cleaned`` (its keys and signatures). ``deferred``: article pages the budget
    left for a later run.
    """

    document: FetchResult
    feed: ParsedFeed
    cleaned: list[CleanEntry]
    prepared: Prepared | None
    records: Sequence[ArticleRecord]
    deferred: int
    note: str | None
    dropped: tuple[str, ...]
    feed_url: str | None


@dataclass(frozen=True)
class Unreadable:
    """Why a fetched document gave no entries; ``forget_feed``: the source's remembered
    feed failed, so its page is asked again next run. ``feed_error``: the page's feed could
    not be fetched, and why (its status and Retry-After are the attempt's)."""

    error: str
    forget_feed: bool = False
    feed_error: FetchError | None = None


class SourceKind(Protocol):
    """One kind of source (the ``type`` of a ``[[sources]]`` table)."""

    @property
    def subscribable(self) -> bool:
        """Whether feed readers subscribe to the source's URL (an OPML ``rss`` outline)."""
        ...

    def request(self, source: SourceConfig, state: SourceState) -> FetchRequest:
        """What to fetch for the source."""
        ...

    def job(
        self, store: IngestStore, source: SourceConfig, fetched: FetchResult, now: datetime
    ) -> Job | None:
        """The work a worker process can do on the fetched document (None: none)."""
        ...

    def read(
        self,
        reader: Reader,
        source: SourceConfig,
        request: FetchRequest,
        fetched: FetchResult,
        prepared: Prepared | None,
    ) -> Read | Unreadable:
        """The source's entries from a fetched document (``prepared``: the worker's job)."""
        ...


def feed_job(store: IngestStore, source: SourceConfig, fetched: FetchResult, now: datetime) -> Job:
    """What :func:`prepare` needs for a fetched feed document, with what the store knows
    of the source (its content hashes, its newest cleaned bodies)."""
    assert fetched.content is not None
    return Job(
        content=fetched.content,
        url=fetched.final_url,
        headers=dict(fetched.headers),
        now=now,
        full_text=source.full_text,
        known=store.content_hashes(source.name),
        bodies=store.recent_bodies(source.name),
        rules=source.rules,
    )


@dataclass(frozen=True)
class FeedKind:
    """An RSS, Atom or JSON feed (or a page that advertises one)."""

    subscribable: bool = True

    def request(self, source: SourceConfig, state: SourceState) -> FetchRequest:
        """The feed a page pointed us to last time, else where the source lives now
        (``state.url`` follows confirmed permanent redirects of the configured URL).

        The stored validators are those of the URL asked: the store drops them when the
        remembered feed is forgotten or changes, so a page that advertises a feed is asked
        unconditionally, and its 304 can never stand for its feed's.
        """
        discovered = state.feed_url
        return FetchRequest(
            source=source.name,
            url=discovered or state.url,
            etag=state.etag,
            last_modified=state.last_modified,
            body_hash=state.body_hash,
            public_only=discovered is not None,
        )

    def job(
        self, store: IngestStore, source: SourceConfig, fetched: FetchResult, now: datetime
    ) -> Job | None:
        return None if fetched.content is None else feed_job(store, source, fetched, now)

    def read(
        self,
        reader: Reader,
        source: SourceConfig,
        request: FetchRequest,
        fetched: FetchResult,
        prepared: Prepared | None,
    ) -> Read | Unreadable:
        if prepared is None:
            prepared = prepare(feed_job(reader.store, source, fetched, reader.now))
        try:
            feed, cleaned = prepared.feed_and_entries()
        except NotAFeedError as exc:
            if request.public_only or not exc.feed_urls:
                return Unreadable(exc.message, forget_feed=request.public_only)
            return self._advertised(reader, source, fetched, exc.feed_urls)
        except ParseError as exc:
            return Unreadable(exc.message)
        feed_url = request.url if request.public_only else None
        return _with_full_text(reader, source, fetched, feed, cleaned, prepared, feed_url)

    def _advertised(
        self, reader: Reader, source: SourceConfig, page: FetchResult, feed_urls: Sequence[str]
    ) -> Read | Unreadable:
        """The feed a page advertises, fetched and parsed (a third-party link: guarded)."""
        from feeds.ingest import parse
        from feeds.ingest.section import pick_feed

        chosen = pick_feed(page.final_url, feed_urls)
        if reader.stopping():  # a new request could hold the stop for its total_timeout
            raise Postponed(chosen)
        request = FetchRequest(source=source.name, url=chosen, public_only=True)
        try:
            fetched = reader.fetcher.fetch(request)
        except FetchError as exc:
            return Unreadable(f"the page's feed {chosen}: {exc.message}", feed_error=exc)
        if fetched.content is None:  # not modified, though no validators were sent
            return Unreadable(f"the page's feed {chosen}: the answer had no document")
        try:
            feed = parse.parse(fetched.content, url=fetched.final_url, headers=fetched.headers)
        except ParseError as exc:
            return Unreadable(f"the page's feed {chosen}: {exc.message}")
        kept = clean_entries(feed.entries, reader.now, rules=source.rules)
        feed = replace(feed, entries=kept.entries)
        read = _with_full_text(reader, source, fetched, feed, list(kept.cleaned), None, fetched.url)
        return replace(read, dropped=kept.dropped) if isinstance(read, Read) else read


def _with_full_text(
    reader: Reader,
    source: SourceConfig,
    fetched: FetchResult,
    feed: ParsedFeed,
    cleaned: list[CleanEntry],
    prepared: Prepared | None,
    feed_url: str | None,
) -> Read:
    """A feed's entries with the article pages of teaser-only ones (where allowed)."""
    dropped = prepared.dropped if prepared is not None else ()
    if prepared is not None and not any(prepared.wants_full_text):
        # No page wanted (the worker asked each entry): the article machinery (lxml.html,
        # the page cache) is not even imported; a refresh of sources without full text
        # keeps its process that much smaller.
        return Read(
            document=fetched,
            feed=feed,
            cleaned=cleaned,
            prepared=prepared,
            records=(),
            deferred=0,
            note=None,
            dropped=dropped,
            feed_url=feed_url,
        )
    from feeds.ingest.articles import full_text

    enriched = full_text(
        source.name,
        source.full_text,
        list(feed.entries),
        cleaned,
        store=reader.store,
        fetcher=reader.fetcher,
        budget=reader.pages(),
        batch=reader.batch,
        now=reader.now,
        wants=prepared.wants_full_text if prepared is not None else None,
        rules=source.page_rules,
    )
    if prepared is not None and any(
        a is not b for a, b in zip(prepared.cleaned, enriched.entries, strict=True)
    ):
        prepared = None  # some bodies are article pages now: keys and signatures change
    return Read(
        document=fetched,
        feed=feed,
        cleaned=list(enriched.entries),
        prepared=prepared,
        records=enriched.records,
        deferred=enriched.deferred,
        note=enriched.note,
        dropped=dropped,
        feed_url=feed_url,
    )


@dataclass(frozen=True)
class SectionPageKind:
    """A section page (``type = "html"``): its article links become entries."""

    subscribable: bool = False

    def request(self, source: SourceConfig, state: SourceState) -> FetchRequest:
        return FetchRequest(
            source=source.name,
            url=state.url,
            etag=state.etag,
            last_modified=state.last_modified,
            body_hash=state.body_hash,
        )

    def job(
        self, store: IngestStore, source: SourceConfig, fetched: FetchResult, now: datetime
    ) -> Job | None:
        return None  # its article pages are fetched while it is saved

    def read(
        self,
        reader: Reader,
        source: SourceConfig,
        request: FetchRequest,
        fetched: FetchResult,
        prepared: Prepared | None,
    ) -> Read | Unreadable:
        from feeds.ingest.articles import section_entries
        from feeds.ingest.section import read_page

        assert fetched.content is not None
        content_type = fetched.headers.get("content-type")
        page = read_page(
            fetched.content, fetched.final_url, source.selector, content_type=content_type
        )
        links = page.links
        section = section_entries(
            source.name,
            links,
            store=reader.store,
            fetcher=reader.fetcher,
            budget=reader.pages(),
            batch=reader.batch,
            now=reader.now,
            rules=source.page_rules,
            headlines=page.headlines,
        )
        no_links, said = _section_remarks(source, content_type, page, len(fetched.content))
        feed = ParsedFeed(
            url=fetched.final_url,
            format="html",
            title=page.title,
            link=fetched.final_url,
            entries=section.entries,
            warning=no_links,
        )
        kept = clean_entries(list(section.entries), reader.now, rules=source.rules)
        cleaned = [
            replace(c, rules=(*section.rules[e.link or ""], *c.rules))
            if (e.link or "") in section.rules
            else c
            for e, c in zip(kept.entries, kept.cleaned, strict=True)
        ]
        return Read(
            document=fetched,
            feed=feed,
            cleaned=cleaned,
            prepared=None,
            records=section.records,
            deferred=section.deferred,
            note=f"{section.note} ({'; '.join(said)})" if said else section.note,
            dropped=kept.dropped,
            feed_url=None,
        )


def _section_remarks(
    source: SourceConfig, content_type: str | None, page: SectionPage, size: int
) -> tuple[str | None, list[str]]:
    """Why a section page of ``size`` bytes gave no article link (None: it gave some; also
    its warning), and what the source's note says of the page: that, and that only its
    start was read."""
    from feeds.ingest.section import MAX_SECTION_BYTES

    no_links = None
    if not page.links:
        no_links = f"no article links on the page (selector {source.selector or 'default'})"
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media and "html" not in media and "xml" not in media:
            no_links = f"no article links: the page is not HTML ({media})"
    said = [no_links] if no_links else []
    if page.cut:
        first = MAX_SECTION_BYTES // 2**20
        said.append(f"the page is {size / 2**20:.1f} MiB: only its first {first} MiB read")
    return no_links, said


#: Each kind by the ``type`` that names it in the configuration.
KINDS: dict[str, SourceKind] = {"feed": FeedKind(), "html": SectionPageKind()}


def kind_of(source: SourceConfig) -> SourceKind:
    """The kind of a configured source."""
    return KINDS[source.type]
