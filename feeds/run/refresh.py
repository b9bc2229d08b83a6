"""One refresh: the pipeline that ties the layers together.

::

    store.sources() | pipeline.stream (fetch; in worker processes: parse | normalize
                    | entry_keys | signature) | full text | decide | store | publish

A ``type = "html"`` source reads its section page instead of a feed:
``article_links | article pages | extract`` give its entries. A feed source whose URL
answers with an HTML page that advertises feeds reads the matching feed (remembered in
the store as the source's ``feed_url``). Article pages are fetched under one per-run
budget (``[full_text]``); when the budget deferred some, the source's validators are
not kept, so the next run reads the feed again and picks them up.

Each source is fetched (concurrently), then parsed, cleaned, deduplicated and
saved all or nothing (a savepoint of its own). Sources are committed in groups (up
to ``GROUP_SOURCES`` sources or ``GROUP_ENTRIES`` entries), so a crash mid-run loses
at most the open group, whose sources stay due, and half-saves nothing. The group is
committed before waiting on a server, and a source that fetches pages while being
saved is committed on its own: the write lock is not held across network waits. Sources are
saved in request order (round-robin by host), whichever server answers first, so
the result does not depend on timing. A source's failure is a value in the report,
never a crash of the batch; outputs are published from whatever is stored.
The clock is passed in (``now``); this module never reads the real time.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.config import Config, OutputConfig, SourceConfig
from feeds.core import schedule
from feeds.errors import (
    FetchError,
    HTTPStatusError,
    NotAFeedError,
    ParseError,
    PublishError,
    StoreError,
    describe,
)
from feeds.ingest.fetch import Fetcher, PageFetcher
from feeds.ingest.prepare import Job, Prepared, clean_entries, prepare
from feeds.publish import websub
from feeds.run import hooks
from feeds.run.adaptive import with_adaptive_intervals
from feeds.run.executor import stream
from feeds.run.ingest import ingest_entries
from feeds.run.tally import Tally, timed
from feeds.store import FetchOutcome, ScheduleUpdate
from feeds.store.protocol import Storage
from feeds.types import (
    Change,
    FetchRequest,
    FetchResult,
    ParsedEntry,
    ParsedFeed,
    ScheduleOptions,
    SourceState,
)

if TYPE_CHECKING:
    from feeds.ingest.articles import Budget

# The cleaning, article-page and publishing stack (lxml, nh3, feedparser, feedgen) is
# imported where it is used: a run in which nothing changed needs none of it.

#: A refresh commits its saves after this many sources, or once they hold this many entries.
GROUP_SOURCES = 200
GROUP_ENTRIES = 1000

#: Statuses whose Retry-After delays the source (RFC 9110 §10.2.3, RFC 6585 §4).
RETRY_AFTER_STATUSES = frozenset({429, 503})

# Copies saved before signatures existed that one refresh signs (a few seconds at most).
SIGN_PER_RUN = 2000

log = logging.getLogger("feeds.refresh")

_ALWAYS_SHOWN = (Change.NEW, Change.UPDATED, Change.UNCHANGED, Change.DUPLICATE)


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
    skipped: str | None = None  # why it was not fetched (not due, Retry-After, retired)
    next_due: datetime | None = None  # None: retired
    moved_to: str | None = None  # the stored URL followed a confirmed permanent redirect
    #: The feed read for a section page that advertises one.
    feed_url: str | None = None
    #: What full text did (pages used, kept feed texts and why, deferred by the budget).
    full_text: str | None = None
    #: Entries left out because they could not be cleaned, each as "title: error".
    dropped_entries: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def changed(self) -> bool:
        """Whether the published stories may have changed (new, updated or duplicate copies)."""
        quiet = (Change.UNCHANGED, Change.THROTTLED, Change.DROPPED)
        return any(self.changes.get(c.value, 0) for c in Change if c not in quiet)

    def summary(self) -> str:
        """One line for a terminal or a cron mail."""
        if self.error is not None:
            return f"{self.name}: FAILED: {self.error}"
        if self.skipped is not None:
            return f"{self.name}: skipped: {self.skipped}"
        if self.not_modified:
            text = f"{self.name}: not modified"
        else:
            parts = [
                f"{self.changes.get(c.value, 0)} {c.value}"
                for c in Change
                if c in _ALWAYS_SHOWN or self.changes.get(c.value, 0)
            ]
            text = f"{self.name}: " + ", ".join(parts)
        if self.feed_url:
            text += f" (via {self.feed_url})"
        if self.full_text:
            text += f" ({self.full_text})"
        if self.warning:
            text += f" (warning: {self.warning})"
        if self.dropped_entries:
            text += (
                f" ({len(self.dropped_entries)} entries could not be cleaned and were left out:"
                f" {'; '.join(self.dropped_entries)})"
            )
        if self.moved_to:
            text += f" (moved permanently to {self.moved_to})"
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
    seconds: float = 0.0  # how long publishing it took (0 when it was left as it was)


@dataclass(frozen=True)
class RefreshReport:
    sources: tuple[SourceReport, ...]
    outputs: tuple[OutputReport, ...]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sources) and all(o.error is None for o in self.outputs)

    @property
    def changed(self) -> bool:
        return any(s.changed for s in self.sources)


def refresh(
    config: Config,
    store: Storage,
    fetcher: Fetcher,
    *,
    now: datetime,
    names: Sequence[str] | None = None,
    force: bool = False,
    publish: bool = True,
    on_source: Callable[[SourceReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    budget: Budget | None = None,
) -> RefreshReport:
    """Fetch the chosen sources that are due, save what they carry, publish every output.

    ``names`` limits the run to those sources (default: all). ``force``
    fetches them whether due or not, but never a retired source and never
    before a server's Retry-After (see :func:`feeds.core.schedule.decide`); the
    others are reported as skipped. ``publish=False`` leaves publishing to the
    caller (the daemon coalesces it). When ``should_stop()`` turns true, the
    fetches still in hand are dropped unsaved (those sources stay due).
    ``budget`` bounds the article pages of this run (default: ``config.full_text``).
    """
    store.sync_sources([(s.name, s.url) for s in config.sources])
    config = with_adaptive_intervals(config, store, now)  # interval = "auto" sources
    with store.transaction():
        store.sign_unsigned(SIGN_PER_RUN)
    if names is None:
        states = {s.name: s for s in store.sources()}
    else:  # a few sources of what may be thousands: only theirs are read
        states = {s.name: store.source(s.name) for s in config.sources if s.name in names}
    wanted: list[SourceConfig] = []
    reports: list[SourceReport] = []
    for source in config.sources:
        if names is not None and source.name not in names:
            continue
        state = states[source.name]
        due = schedule.decide(
            state, config.schedule, config.interval(source.name), now, force=force
        )
        if due.fetch:
            wanted.append(source)
        else:
            report = SourceReport(
                name=source.name,
                url=state.url,
                status=state.last_status,
                skipped=due.reason,
                next_due=due.at,
            )
            reports.append(report)
            if on_source is not None:
                on_source(report)
    requests = [_source_request(s, states[s.name]) for s in wanted]
    run = _Run(
        config=config,
        store=store,
        fetcher=fetcher,
        budget=budget,
        batch=config.fetch.max_connections,
        now=now,
    )
    tally = Tally()
    with ExitStack() as stack:

        def job_for(i: int, outcome: FetchResult) -> Job | None:
            source = wanted[i]
            if source.type == "html" or outcome.content is None:
                return None
            return _job(store, source, outcome, now)

        # Sources are saved in groups: one transaction per group, a savepoint per source (all
        # of a source or none of it). A commit writes every page the transaction touched, and
        # new entries touch index pages all over the store (the LSH bands are random keys):
        # a commit per source would write most of them once per source. A crash loses the
        # open group only; its sources stay due (their validators were not saved either).
        # A source that fetches article pages while being saved is saved on its own.
        group = stack.enter_context(ExitStack())
        grouped = [0, 0]  # sources, entries in the open group

        def commit() -> None:
            group.close()
            grouped[:] = [0, 0]

        def ingest(i: int, outcome: FetchResult | FetchError, ready: Prepared | None) -> None:
            source = wanted[i]
            # fetches pages (articles, a section page's feed) while it is being saved
            alone = (
                isinstance(outcome, FetchResult)
                and outcome.content is not None
                and (
                    ready is None or ready.page_feed_urls is not None or any(ready.wants_full_text)
                )
            )
            if alone or grouped[0] >= GROUP_SOURCES or grouped[1] >= GROUP_ENTRIES:
                commit()
            if not alone:
                if not grouped[0]:
                    group.enter_context(store.transaction())
                grouped[0] += 1
                grouped[1] += len(ready.cleaned) if ready is not None else 0
            tally.fetched(outcome)
            report = _ingest_or_fail(run, source, states[source.name], requests[i], outcome, ready)
            reports.append(report)
            if on_source is not None:
                on_source(report)

        # While a server keeps us waiting, what is saved is committed: the write lock is
        # not held across network waits (`feeds drop`, `feeds enable` would wait on it).
        def use_pages(pages: PageFetcher) -> None:
            run.fetcher = pages

        fetches = stream(
            fetcher, requests, job_for, stack=stack, on_wait=commit, use_pages=use_pages
        )
        for i, outcome, ready in fetches:
            if should_stop is not None and should_stop():
                break
            ingest(i, outcome, ready)
    tally.sources(reports)
    tally.save(store)
    hooks.queue_events(config, store, reports, now)
    order = {s.name: i for i, s in enumerate(config.sources)}
    reports.sort(key=lambda r: order[r.name])
    outputs = publish_all(config, store, poster=fetcher, now=now) if publish else ()
    if publish:  # after publishing: a slow receiver never holds up the files
        hooks.deliver_due(config, store, fetcher, now)
    return RefreshReport(sources=tuple(reports), outputs=outputs)


def _output_fingerprint(config: Config, output: OutputConfig) -> str:
    """What an output's documents depend on besides the store: its settings, the choice
    of copies, and the code that renders them. (What it shows of its sources, their titles
    and URLs, comes from the store.)"""
    digest = hashlib.sha256(_code_fingerprint().encode())
    digest.update(repr((output, config.dedupe)).encode())
    return digest.hexdigest()


PACKAGE = Path(__file__).resolve().parents[1]
"""The package's folder: every module in it and its sub-packages renders outputs."""


def _code_fingerprint() -> str:
    """A hash of this package's source files (a new version renders anew)."""
    return code_fingerprint(PACKAGE)


@cache
def code_fingerprint(package: Path) -> str:
    """A hash of every ``.py`` file under ``package``, sub-packages included, by relative path."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        digest.update(name.encode() + b"\x00" + path.read_bytes())
    return digest.hexdigest()


def _file_marks(output: OutputConfig) -> dict[str, list[int] | None]:
    """Size and modification time of each document an output writes (None: missing)."""
    marks: dict[str, list[int] | None] = {}
    for fmt in output.formats:
        path = output.format_path(fmt)
        try:
            info = path.stat()
        except OSError:
            marks[str(path)] = None
        else:
            marks[str(path)] = [info.st_size, info.st_mtime_ns]
    return marks


def _unchanged_output(
    store: Storage, output: OutputConfig, generation: int, fingerprint: str
) -> OutputReport | None:
    """The report of an output that needs no rebuilding (see :func:`publish_all`), or None."""
    if output.archive:
        return None
    state = store.published_state(output.name)
    if (
        state is None
        or state.get("generation") != generation
        or state.get("fingerprint") != fingerprint
    ):
        return None
    files = _file_marks(output)
    if state.get("files") != files or any(mark is None for mark in files.values()):
        return None
    return OutputReport(name=output.name, path=str(output.path), entries=int(state["entries"]))


def schedule_update(
    state: SourceState,
    options: ScheduleOptions,
    outcome: FetchResult | FetchError,
    now: datetime,
    ttl_minutes: int | None = None,
) -> ScheduleUpdate:
    """What a fetch outcome tells the schedule: Retry-After, freshness, 410, redirects."""
    seen = outcome.permanent_redirect if isinstance(outcome, FetchResult) else None
    redirect_url, redirect_count, move = schedule.track_redirect(
        state.redirect_url, state.redirect_count, seen
    )
    if isinstance(outcome, FetchResult):
        cache_seconds: int | None = schedule.freshness(outcome.headers, now) or 0
        if outcome.status == 304 and not {"cache-control", "expires"} & outcome.headers.keys():
            # RFC 9111 §4.3.4: a 304 freshens the stored response; what it omits stays.
            cache_seconds = None
        return ScheduleUpdate(
            cache_seconds=cache_seconds,
            ttl_seconds=ttl_minutes * 60 if ttl_minutes else None,
            redirect_url=redirect_url,
            redirect_count=redirect_count,
            move=move,
        )
    status = outcome.status if isinstance(outcome, HTTPStatusError) else None
    retry_after = None
    if isinstance(outcome, HTTPStatusError) and status in RETRY_AFTER_STATUSES:
        retry_after = schedule.parse_retry_after(outcome.retry_after, now, options.max_retry_after)
    return ScheduleUpdate(
        retry_after=retry_after,
        retire="HTTP 410 Gone" if status == 410 else None,
        redirect_url=redirect_url,
        redirect_count=redirect_count,
    )


@dataclass
class _Run:
    config: Config
    store: Storage
    fetcher: PageFetcher  # the run's fetcher, or its stand-in for the fetch processes
    budget: Budget | None  # made at the first article page (see pages)
    batch: int
    now: datetime

    def pages(self) -> Budget:
        """The run's budget of article pages, shared by all its sources."""
        if self.budget is None:
            from feeds.ingest.articles import Budget

            self.budget = Budget(self.config.full_text)
        return self.budget


def _job(store: Storage, source: SourceConfig, fetched: FetchResult, now: datetime) -> Job:
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
    )


def _source_request(source: SourceConfig, state: SourceState) -> FetchRequest:
    """The feed a section page pointed us to last time, else where the source lives now.

    ``state.url`` follows confirmed permanent redirects of the configured URL.
    """
    discovered = state.feed_url if source.type == "feed" else None
    return FetchRequest(
        source=source.name,
        url=discovered or state.url,
        etag=state.etag,
        last_modified=state.last_modified,
        body_hash=state.body_hash,
        public_only=discovered is not None,
    )


def _ingest(
    run: _Run,
    source: SourceConfig,
    state: SourceState,
    request: FetchRequest,
    outcome: FetchResult | FetchError,
    prepared: Prepared | None = None,
) -> SourceReport:
    """Parse, clean, dedupe and save one source's fetch, all in one transaction.

    ``prepared`` is :func:`prepare` of a feed's content when the caller did it already (in
    a worker process); otherwise it is done here.
    """
    store, now, name, url, title = run.store, run.now, source.name, state.url, source.title
    config = run.config
    # What the source's own URL answered drives its schedule. A feed a section page
    # advertised is not the source's URL: its 410 must not retire the source, nor its 301
    # move it; it is forgotten and the page asked again (see ``failed``).
    fetched: FetchResult | FetchError = outcome
    if request.public_only:
        fetched = (
            replace(outcome, permanent_redirect=None)
            if isinstance(outcome, FetchResult)
            else FetchError(outcome.url, outcome.message)
        )

    def save_attempt(
        attempt: FetchOutcome, ttl_minutes: int | None = None
    ) -> tuple[str | None, datetime | None]:
        """Save the attempt and what it tells the schedule; where it moved, when next due."""
        update = schedule_update(state, config.schedule, fetched, now, ttl_minutes)
        after = store.record_attempt(name, attempt, update, now)
        moved = update.redirect_url if update.move else None
        return moved, schedule.next_due(after, config.schedule, config.interval(name))

    # A failed or not-modified source writes a few rows whose error ends the run: inside
    # the caller's group it needs no savepoint of its own (they cost more than the rows).
    def failed(status: int | None, error: str, *, forget_feed: bool = False) -> SourceReport:
        with store.transaction(savepoint=False):
            if forget_feed:
                # The feed a section page advertised failed (gone, moved, refused): go back
                # to the page next run and discover again; it costs one request.
                store.record_feed_url(name, None)
            moved, next_due = save_attempt(FetchOutcome(status=status, error=error))
        return SourceReport(
            name=name, url=url, status=status, error=error, next_due=next_due, moved_to=moved
        )

    if isinstance(outcome, FetchError):
        status = outcome.status if isinstance(outcome, HTTPStatusError) else None
        message = outcome.message
        if request.public_only:
            return failed(status, f"the page's feed {request.url}: {message}", forget_feed=True)
        if status == 410:
            message += f"; source retired (re-enable it with: feeds enable {name})"
        return failed(status, message)

    validators = FetchOutcome(
        status=outcome.status,
        error=None,
        etag=outcome.etag,
        last_modified=outcome.last_modified,
        body_hash=outcome.body_hash,
    )
    if outcome.content is None:
        with store.transaction(savepoint=False):
            moved, next_due = save_attempt(validators)
        return SourceReport(
            name=name,
            url=url,
            status=outcome.status,
            not_modified=True,
            feed_url=request.url if request.public_only else None,
            next_due=next_due,
            moved_to=moved,
        )

    from feeds.ingest import normalize  # the document changed: cleaning is needed
    from feeds.ingest.articles import full_text, section_entries
    from feeds.ingest.section import article_links, page_title

    feed_url = request.url if request.public_only else None
    parsed: list[ParsedEntry]
    if source.type == "html":
        links = article_links(outcome.content, outcome.final_url, source.selector)
        section = section_entries(
            name,
            links,
            store=store,
            fetcher=run.fetcher,
            budget=run.pages(),
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
        kept = clean_entries(parsed, now)
        cleaned, dropped = list(kept.cleaned), kept.dropped
    else:
        if prepared is None:
            prepared = prepare(_job(store, source, outcome, now))
        dropped = prepared.dropped
        try:
            feed, cleaned = prepared.feed_and_entries()
        except NotAFeedError as exc:
            if request.public_only or not exc.feed_urls:
                return failed(outcome.status, exc.message, forget_feed=request.public_only)
            discovered = _discovered_feed(run, source, outcome, exc.feed_urls)
            if isinstance(discovered, str):
                return failed(outcome.status, discovered)
            outcome, feed = discovered
            feed_url = outcome.url
            validators = FetchOutcome(
                status=outcome.status,
                error=None,
                etag=outcome.etag,
                last_modified=outcome.last_modified,
                body_hash=outcome.body_hash,
            )
            kept = clean_entries(feed.entries, now)
            feed = replace(feed, entries=kept.entries)
            cleaned, dropped = list(kept.cleaned), kept.dropped
            prepared = None  # made here, from another document
        except ParseError as exc:
            return failed(outcome.status, exc.message)
        parsed = list(feed.entries)
        enriched = full_text(
            name,
            source.full_text,
            parsed,
            cleaned,
            store=store,
            fetcher=run.fetcher,
            budget=run.pages(),
            batch=run.batch,
            now=now,
            wants=prepared.wants_full_text if prepared is not None else None,
        )
        if prepared is not None and any(
            a is not b for a, b in zip(prepared.cleaned, enriched.entries, strict=True)
        ):
            prepared = None  # some bodies are article pages now: keys and signatures change
        cleaned = list(enriched.entries)
        records, deferred, note = enriched.records, enriched.deferred, enriched.note

    if deferred or dropped:
        # Read the document again next run, so the pages the budget skipped are picked up
        # (and the entries that could not be cleaned are tried again).
        validators = FetchOutcome(status=validators.status, error=None)
    with store.transaction():
        for record in records:
            store.save_article(record)
        store.record_feed_url(name, feed_url)
        store.record_full_text_note(name, note)
        changes = ingest_entries(
            store, name, cleaned, now=now, options=run.config.dedupe, prepared=prepared
        )
        moved, next_due = save_attempt(
            FetchOutcome(
                status=validators.status,
                error=None,
                etag=validators.etag,
                last_modified=validators.last_modified,
                body_hash=validators.body_hash,
                title=title or (normalize.clean_title(feed.title) if feed.title else None),
                link=normalize.canonical_url(feed.link) if feed.link else None,
            ),
            feed.ttl_minutes,
        )
    return SourceReport(
        name=name,
        url=url,
        status=outcome.status,
        warning=feed.warning,
        changes=dict(changes),
        feed_url=feed_url,
        full_text=note,
        next_due=next_due,
        moved_to=moved,
        dropped_entries=dropped,
    )


def _ingest_or_fail(
    run: _Run,
    source: SourceConfig,
    state: SourceState,
    request: FetchRequest,
    outcome: FetchResult | FetchError,
    prepared: Prepared | None = None,
) -> SourceReport:
    """:func:`_ingest`, with whatever it raises as the source's error: the run goes on.

    What it saved is undone (its savepoint), the error recorded like a failed fetch (so
    the source keeps its entries and is retried after the usual back-off), and the
    traceback logged (``feeds refresh -v`` shows it). Only a store that cannot save
    (:class:`~feeds.errors.StoreError`) ends the run: nothing else could be saved either.
    """
    try:
        return _ingest(run, source, state, request, outcome, prepared)
    except StoreError:
        raise
    except Exception as exc:
        message = describe(exc)
        log.info("%s: %s", source.name, message, exc_info=exc)
    store, now, name = run.store, run.now, source.name
    status = outcome.status if isinstance(outcome, FetchResult) else None
    update = schedule_update(state, run.config.schedule, FetchError(request.url, message), now)
    with store.transaction():
        after = store.record_attempt(name, FetchOutcome(status=status, error=message), update, now)
    next_due = schedule.next_due(after, run.config.schedule, run.config.interval(name))
    return SourceReport(name=name, url=state.url, status=status, error=message, next_due=next_due)


def _discovered_feed(
    run: _Run, source: SourceConfig, page: FetchResult, feed_urls: Sequence[str]
) -> tuple[FetchResult, ParsedFeed] | str:
    """Fetch and parse the feed a section page advertises (a third-party link: guarded).

    Returns the fetched feed, or the error message when it could not be read.
    """
    from feeds.ingest import parse
    from feeds.ingest.section import pick_feed

    chosen = pick_feed(page.final_url, feed_urls)
    try:
        result = run.fetcher.fetch(FetchRequest(source=source.name, url=chosen, public_only=True))
    except FetchError as exc:
        return f"the page's feed {chosen}: {exc.message}"
    assert result.content is not None  # no validators were sent
    try:
        feed = parse.parse(result.content, url=result.final_url, headers=result.headers)
    except ParseError as exc:
        return f"the page's feed {chosen}: {exc.message}"
    return result, feed


def publish_all(
    config: Config,
    store: Storage,
    *,
    poster: websub.Poster | None = None,
    now: datetime | None = None,
    force: bool = False,
) -> tuple[OutputReport, ...]:
    """Rebuild every output from the store; one failing output does not stop the others.

    An output is left as it is when nothing it shows can have changed since it was
    published: the store's generation (:meth:`~feeds.store.protocol.PublishState.generation`),
    the configuration and the code are what they were then, and its files are still the ones
    written (same size and modification time). ``force`` rebuilds it anyway. An output with archive
    pages is always rebuilt (its pages keep their own record of what changed).

    Then deliver the pending WebSub pings with ``poster`` (none are sent without
    one; they stay pending). ``now`` dates newly queued pings.
    """
    reports: list[OutputReport] = []
    generation = store.generation()  # read first: a change made while publishing moves it on
    for output in config.outputs:
        started = time.monotonic()
        fingerprint = _output_fingerprint(config, output)
        kept = None if force else _unchanged_output(store, output, generation, fingerprint)
        if kept is not None:
            reports.append(kept)
            continue
        from feeds.publish import archive
        from feeds.publish.documents import publish

        try:
            pages: list[archive.Page] = []
            if output.archive:
                pages = archive.plan(output, store.story_index(output.sources))
            entries = store.entries_for_output(output.sources, output.max_entries, config.dedupe)
            result = publish(output, entries, archive_pages=len(pages))
            with store.transaction():
                written_pages = archive.publish_archives(output, store, pages, config.dedupe)
                if now is not None:
                    websub.queue(store, output, result.written_formats, now)
                store.record_published(
                    output.name,
                    {
                        "generation": generation,
                        "fingerprint": fingerprint,
                        "entries": result.entries,
                        "files": _file_marks(output),
                    },
                )
        except PublishError as exc:
            failure = OutputReport(name=output.name, path=str(output.path), error=str(exc))
            reports.append(timed(failure, started))
            continue
        except StoreError:
            raise
        except Exception as exc:  # a bug: this output's error, the others are published
            log.info("output %s: %s", output.name, describe(exc), exc_info=exc)
            error = describe(exc)
            failure = OutputReport(name=output.name, path=str(output.path), error=error)
            reports.append(timed(failure, started))
            continue
        reports.append(
            timed(
                OutputReport(
                    name=result.name,
                    path=str(result.path),
                    entries=result.entries,
                    written=result.written,
                    archive_pages=written_pages,
                ),
                started,
            )
        )
    tally = Tally()
    tally.outputs(reports, now.timestamp() if now is not None else time.time())
    tally.save(store)
    if poster is None:
        return tuple(reports)
    failed: dict[str, list[str]] = {}
    for ping in websub.deliver(store, poster, config.outputs):
        if not ping.ok:
            for output in config.outputs:
                if output.hub == ping.hub:
                    failed.setdefault(output.name, []).append(f"{ping.topic}: {ping.error}")
    return tuple(replace(r, ping_errors=tuple(failed.get(r.name, ()))) for r in reports)
