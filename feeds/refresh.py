"""One refresh: the pipeline that ties the layers together.

::

    store.sources() | fetch_many | parse | normalize | full text | entry_keys | decide | store
                    | publish

A ``type = "html"`` source reads its section page instead of a feed:
``article_links | article pages | extract`` give its entries. A feed source whose URL
answers with an HTML page that advertises feeds reads the matching feed (remembered in
the store as the source's ``feed_url``). Article pages are fetched under one per-run
budget (``[full_text]``); when the budget deferred some, the source's validators are
not kept, so the next run reads the feed again and picks them up.

Each source is fetched (concurrently), then parsed, cleaned, deduplicated and
saved in one transaction of its own, so a crash mid-run loses nothing already
saved and half-saves nothing. A source's failure is a value in the report,
never a crash of the batch; outputs are published from whatever is stored.
The clock is passed in (``now``); this module never reads the real time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from feeds import archive, dedupe, normalize, parse, websub
from feeds.articles import Budget, full_text, section_entries
from feeds.config import Config, SourceConfig
from feeds.errors import FetchError, HTTPStatusError, NotAFeedError, ParseError, PublishError
from feeds.fetch import Fetcher
from feeds.publish import PublishResult, publish
from feeds.section import article_links, page_title, pick_feed
from feeds.store import FetchOutcome, Store
from feeds.types import Change, FetchRequest, FetchResult, ParsedEntry, ParsedFeed, SourceState


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
    #: The feed read for a section page that advertises one.
    feed_url: str | None = None
    #: What full text did (pages used, kept feed texts and why, deferred by the budget).
    full_text: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        """One line for a terminal or a cron mail."""
        if self.error is not None:
            return f"{self.name}: FAILED: {self.error}"
        if self.not_modified:
            text = f"{self.name}: not modified"
        else:
            parts = [f"{self.changes.get(c.value, 0)} {c.value}" for c in Change]
            text = f"{self.name}: " + ", ".join(parts)
        if self.feed_url:
            text += f" (via {self.feed_url})"
        if self.full_text:
            text += f" ({self.full_text})"
        if self.warning:
            text += f" (warning: {self.warning})"
        return text


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


@dataclass(frozen=True)
class RefreshReport:
    sources: tuple[SourceReport, ...]
    outputs: tuple[OutputReport, ...]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sources) and all(o.error is None for o in self.outputs)


def refresh(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    *,
    now: datetime,
    names: Sequence[str] | None = None,
    on_source: Callable[[SourceReport], None] | None = None,
    budget: Budget | None = None,
) -> RefreshReport:
    """Fetch the chosen sources (all by default), save what they carry, publish every output.

    ``budget`` bounds the article pages of this run (default: ``config.full_text``).
    """
    store.sync_sources([(s.name, s.url) for s in config.sources])
    states = {s.name: s for s in store.sources()}
    wanted = [s for s in config.sources if names is None or s.name in names]
    requests = [_source_request(s, states[s.name]) for s in wanted]
    run = _Run(
        store=store,
        fetcher=fetcher,
        budget=budget or Budget(config.full_text),
        batch=config.fetch.max_connections,
        now=now,
    )
    reports: list[SourceReport] = []
    for source, request, outcome in zip(
        wanted, requests, fetcher.fetch_many(requests), strict=True
    ):
        report = _ingest(run, source, request, outcome)
        reports.append(report)
        if on_source is not None:
            on_source(report)
    return RefreshReport(
        sources=tuple(reports), outputs=publish_all(config, store, poster=fetcher, now=now)
    )


@dataclass(frozen=True)
class _Run:
    store: Store
    fetcher: Fetcher
    budget: Budget
    batch: int
    now: datetime


def _source_request(source: SourceConfig, state: SourceState) -> FetchRequest:
    """The feed a section page pointed us to last time, else the configured URL."""
    discovered = state.feed_url if source.type == "feed" else None
    return FetchRequest(
        source=source.name,
        url=discovered or source.url,
        etag=state.etag,
        last_modified=state.last_modified,
        body_hash=state.body_hash,
        public_only=discovered is not None,
    )


def _failed(run: _Run, source: SourceConfig, status: int | None, error: str) -> SourceReport:
    with run.store.transaction():
        run.store.record_fetch(source.name, FetchOutcome(status=status, error=error), run.now)
    return SourceReport(name=source.name, url=source.url, status=status, error=error)


def _ingest(
    run: _Run, source: SourceConfig, request: FetchRequest, outcome: FetchResult | FetchError
) -> SourceReport:
    """Parse, clean, dedupe and save one source's fetch, all in one transaction."""
    store, now, name, url, title = run.store, run.now, source.name, source.url, source.title
    if isinstance(outcome, FetchError):
        status = outcome.status if isinstance(outcome, HTTPStatusError) else None
        if request.public_only:
            # The feed the section page advertised failed (gone, moved, refused): go back to
            # the page next run and discover again; it costs one request.
            with store.transaction():
                store.record_feed_url(name, None)
            return _failed(run, source, status, f"the page's feed {request.url}: {outcome.message}")
        return _failed(run, source, status, outcome.message)

    validators = FetchOutcome(
        status=outcome.status,
        error=None,
        etag=outcome.etag,
        last_modified=outcome.last_modified,
        body_hash=outcome.body_hash,
    )
    if outcome.content is None:
        with store.transaction():
            store.record_fetch(name, validators, now)
        return SourceReport(
            name=name,
            url=url,
            status=outcome.status,
            not_modified=True,
            feed_url=request.url if request.public_only else None,
        )

    feed_url = request.url if request.public_only else None
    parsed: list[ParsedEntry]
    if source.type == "html":
        links = article_links(outcome.content, outcome.final_url, source.selector)
        section = section_entries(
            name,
            links,
            store=store,
            fetcher=run.fetcher,
            budget=run.budget,
            batch=run.batch,
            now=now,
        )
        feed = ParsedFeed(
            url=outcome.final_url,
            format="html",
            title=page_title(outcome.content),
            link=outcome.final_url,
            entries=section.entries,
            warning=None
            if links
            else f"no article links on the page (selector {source.selector or 'default'})",
        )
        parsed, records, deferred = list(section.entries), section.records, section.deferred
        note: str | None = section.note
        cleaned = [normalize.normalize_entry(entry, now=now) for entry in parsed]
    else:
        try:
            feed = parse.parse(outcome.content, url=outcome.final_url, headers=outcome.headers)
        except NotAFeedError as exc:
            if request.public_only or not exc.feed_urls:
                if request.public_only:
                    with store.transaction():
                        store.record_feed_url(name, None)
                return _failed(run, source, outcome.status, exc.message)
            discovered = _discovered_feed(run, source, outcome, exc.feed_urls)
            if isinstance(discovered, SourceReport):
                return discovered
            outcome, feed = discovered
            feed_url = outcome.url
            validators = FetchOutcome(
                status=outcome.status,
                error=None,
                etag=outcome.etag,
                last_modified=outcome.last_modified,
                body_hash=outcome.body_hash,
            )
        except ParseError as exc:
            return _failed(run, source, outcome.status, exc.message)
        parsed = list(feed.entries)
        cleaned = [normalize.normalize_entry(entry, now=now) for entry in parsed]
        enriched = full_text(
            name,
            source.full_text,
            parsed,
            cleaned,
            store=store,
            fetcher=run.fetcher,
            budget=run.budget,
            batch=run.batch,
            now=now,
        )
        cleaned = list(enriched.entries)
        records, deferred, note = enriched.records, enriched.deferred, enriched.note

    if deferred:
        # Read the document again next run, so the pages the budget skipped are picked up.
        validators = FetchOutcome(status=validators.status, error=None)
    changes: Counter[str] = Counter()
    with store.transaction():
        for record in records:
            store.save_article(record)
        store.record_feed_url(name, feed_url)
        store.record_full_text_note(name, note)
        for entry, keys in zip(cleaned, dedupe.entry_keys(cleaned), strict=True):
            existing = store.find_existing(name, keys.key)
            match = None if existing is not None else store.find_match(keys)
            decision = dedupe.decide(name, keys, existing, match)
            changes[decision.change.value] += 1
            if decision.change is Change.UPDATED:
                store.update_copy(name, keys, entry, now=now)
            elif decision.change in (Change.NEW, Change.DUPLICATE):
                store.insert_copy(
                    name,
                    keys,
                    entry,
                    entry_id=decision.entry_id,
                    merged_reason=decision.reason,
                    now=now,
                )
        store.record_fetch(
            name,
            FetchOutcome(
                status=validators.status,
                error=None,
                etag=validators.etag,
                last_modified=validators.last_modified,
                body_hash=validators.body_hash,
                title=title or (normalize.clean_title(feed.title) if feed.title else None),
                link=normalize.canonical_url(feed.link) if feed.link else None,
            ),
            now,
        )
    return SourceReport(
        name=name,
        url=url,
        status=outcome.status,
        warning=feed.warning,
        changes=dict(changes),
        feed_url=feed_url,
        full_text=note,
    )


def _discovered_feed(
    run: _Run, source: SourceConfig, page: FetchResult, feed_urls: Sequence[str]
) -> tuple[FetchResult, ParsedFeed] | SourceReport:
    """Fetch and parse the feed a section page advertises (a third-party link: guarded)."""
    chosen = pick_feed(page.final_url, feed_urls)
    try:
        result = run.fetcher.fetch(FetchRequest(source=source.name, url=chosen, public_only=True))
    except FetchError as exc:
        status = exc.status if isinstance(exc, HTTPStatusError) else None
        return _failed(run, source, status, f"the page's feed {chosen}: {exc.message}")
    assert result.content is not None  # no validators were sent
    try:
        feed = parse.parse(result.content, url=result.final_url, headers=result.headers)
    except ParseError as exc:
        return _failed(run, source, result.status, f"the page's feed {chosen}: {exc.message}")
    return result, feed


def publish_all(
    config: Config,
    store: Store,
    *,
    poster: websub.Poster | None = None,
    now: datetime | None = None,
) -> tuple[OutputReport, ...]:
    """Rebuild every output from the store; one failing output does not stop the others.

    Then deliver the pending WebSub pings with ``poster`` (none are sent without
    one; they stay pending). ``now`` dates newly queued pings.
    """
    reports: list[OutputReport] = []
    for output in config.outputs:
        pages: list[archive.Page] = []
        if output.archive:
            pages = archive.plan(output, store.story_index(output.sources))
        entries = store.entries_for_output(output.sources, output.max_entries)
        try:
            result: PublishResult = publish(output, entries, archive_pages=len(pages))
            with store.transaction():
                written_pages = archive.publish_archives(output, store, pages)
                if now is not None:
                    websub.queue(store, output, result.written_formats, now)
        except PublishError as exc:
            reports.append(OutputReport(name=output.name, path=str(output.path), error=str(exc)))
            continue
        reports.append(
            OutputReport(
                name=result.name,
                path=str(result.path),
                entries=result.entries,
                written=result.written,
                archive_pages=written_pages,
            )
        )
    if poster is None:
        return tuple(reports)
    failed: dict[str, list[str]] = {}
    for ping in websub.deliver(store, poster, config.outputs):
        if not ping.ok:
            for output in config.outputs:
                if output.hub == ping.hub:
                    failed.setdefault(output.name, []).append(f"{ping.topic}: {ping.error}")
    return tuple(replace(r, ping_errors=tuple(failed.get(r.name, ()))) for r in reports)
