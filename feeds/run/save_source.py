"""Save one source's fetch: read it as its kind says, save its entries and its schedule.

What the source's own URL answered drives its schedule. A feed a section page advertised
is read for the source, so its Retry-After holds the source back and its errors back off as
the source's own would; but it is not the source's URL: its 410 must not retire the source,
nor its 301 move it. When it fails it is forgotten and the page asked again, unconditionally
(the validators kept were the feed's, and the store drops them with the feed).

A source whose host is held (it answered another source's feed, or a page, with 429 or
503, or timed out, a short while ago: :mod:`feeds.ingest.fetch.holds`) is deferred: nothing
was sent, nothing is saved, its state stays as it was, and it is due again once the hold
ends. The host's doing is not the source's: no error, no back-off.

Article pages are fetched under one per-run budget (``[full_text]``); when the budget
deferred some, the source's validators are not kept, so the next run reads the document
again and picks them up (not for retries of pages that failed for a passing reason: those
wait for the feed's next change).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from feeds.config import Config, SourceConfig
from feeds.core import schedule
from feeds.core.signals import site_names
from feeds.errors import (
    FetchError,
    HostHeldError,
    HTTPStatusError,
    StoreError,
    describe,
    printable_line,
)
from feeds.ingest.fetch import PageFetcher, shortened
from feeds.ingest.kinds import Postponed, Read, Reader, Unreadable, kind_of
from feeds.ingest.prepare import Prepared
from feeds.run.filtering import source_rules, store_verdict
from feeds.run.ingest import ingest_entries
from feeds.run.reports import SourceReport
from feeds.store import FetchOutcome, ScheduleUpdate, SourceSite
from feeds.store.protocol import Storage
from feeds.types import CleanEntry, FetchRequest, FetchResult, ScheduleOptions, SourceState

if TYPE_CHECKING:
    from feeds.ingest.articles import Budget

#: Statuses whose Retry-After delays the source (RFC 9110 §10.2.3, RFC 6585 §4).
RETRY_AFTER_STATUSES = frozenset({429, 503})

log = logging.getLogger("feeds.refresh")


@dataclass
class Run:
    """What every source of one refresh is saved with."""

    config: Config
    store: Storage
    fetcher: PageFetcher  # the run's fetcher, or its stand-in for the fetch processes
    budget: Budget | None  # made at the first article page (see pages)
    batch: int
    now: datetime
    #: The names each source goes by in its titles, read once from the store, kept up to
    #: date as each source is saved (see :meth:`sites_with`).
    sites: SiteNames | None = field(default=None, repr=False)
    #: True once a daemon is told to stop: no article page more (see :class:`Budget`).
    stopping: Callable[[], bool] = field(default=lambda: False, repr=False)
    #: Seconds after the stop that the article pages under way are abandoned.
    stop_grace: float = 0.0

    def sites_with(
        self, source: SourceConfig, title: str | None, link: str | None
    ) -> Mapping[str, tuple[str, ...]]:
        """Every source's site names (its name, titles and hosts), ``source``'s with the
        title and site link its feed just gave."""
        if self.sites is None:
            self.sites = SiteNames(self.config, self.store.source_sites())
        self.sites.set(source.name, _site_names(source, source.name, (title,), (link,)))
        return self.sites

    def pages(self) -> Budget:
        """The run's budget of article pages, shared by all its sources."""
        if self.budget is None:
            from feeds.ingest.articles import Budget

            self.budget = Budget(
                self.config.full_text, stopping=self.stopping, grace=self.stop_grace
            )
        return self.budget

    def reader(self) -> Reader:
        return Reader(self.store, self.fetcher, self.pages, self.batch, self.now, self.stopping)


class SiteNames(Mapping[str, tuple[str, ...]]):
    """Every stored source's site names, each worked out when first asked for: a fetch
    meets a few other sources, a store may hold thousands."""

    def __init__(self, config: Config, sites: Sequence[SourceSite]) -> None:
        self._configured = {s.name: s for s in config.sources}
        self._sites = {s.name: s for s in sites}
        self._names: dict[str, tuple[str, ...]] = {}
        self._all = dict.fromkeys(self._sites)  # in a stable order

    def set(self, name: str, names: tuple[str, ...]) -> None:
        self._names[name] = names
        self._all[name] = None

    def __getitem__(self, name: str) -> tuple[str, ...]:
        found = self._names.get(name)
        if found is None:
            site = self._sites[name]
            configured = self._configured.get(name)
            found = _site_names(configured, name, (site.title,), (site.link, site.url))
            self._names[name] = found
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)


def _site_names(
    source: SourceConfig | None, name: str, titles: Sequence[str | None], urls: Sequence[str | None]
) -> tuple[str, ...]:
    if source is not None:
        titles, urls = (source.title, *titles), (*urls, source.url)
    return site_names((name, *titles), urls)


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
        retry_after = schedule.parse_retry_after(
            outcome.retry_after, now, options.max_retry_after, outcome.date
        )
    return ScheduleUpdate(
        retry_after=retry_after,
        retire="HTTP 410 Gone" if _gone(outcome) else None,
        redirect_url=redirect_url,
        redirect_count=redirect_count,
    )


@dataclass(frozen=True)
class _Attempt:
    """One source's fetch attempt, as its schedule sees it (``answered``: what the source's
    own URL answered; an advertised feed's redirects and 410 are not the source's)."""

    run: Run
    source: SourceConfig
    state: SourceState
    answered: FetchResult | FetchError

    def save(
        self, attempt: FetchOutcome, ttl_minutes: int | None = None
    ) -> tuple[str | None, datetime | None]:
        """Save the attempt and what it tells the schedule; where it moved, when next due."""
        config, name, now = self.run.config, self.source.name, self.run.now
        update = schedule_update(self.state, config.schedule, self.answered, now, ttl_minutes)
        after = self.run.store.record_attempt(name, attempt, update, now, url=self.state.url)
        moved = update.redirect_url if update.move else None
        return moved, schedule.next_due(after, config.schedule, config.interval(name))

    def failed(self, status: int | None, error: str, *, forget_feed: bool = False) -> SourceReport:
        """Save a failed attempt. A failed or not-modified source writes a few rows whose error
        ends the run: inside the caller's group it needs no savepoint of its own."""
        error = printable_line(error)  # the server's words in it (a long link, quoted whole)
        with self.run.store.transaction(savepoint=False):
            if forget_feed:  # go back to the page next run (the feed's validators go too)
                self.run.store.record_feed_url(self.source.name, None)
            moved, next_due = self.save(FetchOutcome(status=status, error=error))
        return SourceReport(
            name=self.source.name,
            url=self.state.url,
            status=status,
            error=error,
            next_due=next_due,
            moved_to=moved,
        )


def save_source(
    run: Run,
    source: SourceConfig,
    state: SourceState,
    request: FetchRequest,
    outcome: FetchResult | FetchError,
    prepared: Prepared | None = None,
) -> SourceReport:
    """Read, clean, dedupe and save one source's fetch, all in one transaction.

    ``prepared`` is the kind's worker job on the fetched document when the caller did it
    already (in a worker process); otherwise the kind does it here.
    """
    if isinstance(outcome, HostHeldError):
        return deferred(run, source, state, outcome)
    attempt = _Attempt(run, source, state, _page_feed(outcome) if request.public_only else outcome)
    if isinstance(outcome, FetchError):
        status = _status(outcome)
        message = outcome.message
        if request.public_only:
            return attempt.failed(
                status, f"the page's feed {shortened(request.url)}: {message}", forget_feed=True
            )
        if _gone(outcome):
            message += f"; source retired (re-enable it with: feeds enable {source.name})"
        return attempt.failed(status, message)
    if outcome.content is None:
        with run.store.transaction(savepoint=False):
            moved, next_due = attempt.save(_validators(outcome))
        return SourceReport(
            name=source.name,
            url=state.url,
            status=outcome.status,
            not_modified=True,
            feed_url=request.url if request.public_only else None,
            next_due=next_due,
            moved_to=moved,
        )
    read = kind_of(source).read(run.reader(), source, request, outcome, prepared)
    if isinstance(read, Unreadable):
        # A 301/308 counts only when its target gives a document we can read: the stored
        # URL never moves to an HTML page, an empty body or a parked domain's junk.
        attempt = replace(attempt, answered=replace(outcome, permanent_redirect=None))
        if isinstance(read.feed_error, HostHeldError):  # the page's feed's host is held
            return deferred(run, source, state, read.feed_error)
        if read.feed_error is not None:  # the feed the page advertises could not be fetched
            failed = replace(attempt, answered=_page_feed(read.feed_error))
            return failed.failed(_status(read.feed_error), read.error)
        return attempt.failed(outcome.status, read.error, forget_feed=read.forget_feed)
    return _save_read(attempt, read)


def deferred(
    run: Run, source: SourceConfig, state: SourceState, held: HostHeldError
) -> SourceReport:
    """A source not fetched because its host is held: nothing saved, its state as it was,
    due again when the hold ends (or when its state says, if later). The store's queue
    gets that time as the source is released, so no worker claims it sooner."""
    config = run.config
    due = schedule.next_due(state, config.schedule, config.interval(source.name))
    hold_ends = run.now + timedelta(seconds=max(held.seconds, 1.0))
    return SourceReport(
        name=source.name,
        url=state.url,
        status=None,
        skipped=f"deferred: {held.message}",
        deferred=True,
        next_due=hold_ends if due is None else max(due, hold_ends),
    )


def _gone(outcome: FetchResult | FetchError) -> bool:
    """Whether ``outcome`` retires its source: a 410 Gone of the source's URL, or of where
    301/308 moved it for good; not of where a 302, 303 or 307 led for now (RFC 9110
    §15.4.3: the source's URL still stands)."""
    return (
        isinstance(outcome, HTTPStatusError)
        and outcome.status == 410
        and not outcome.temporary_redirect
    )


def _status(error: FetchError) -> int | None:
    return error.status if isinstance(error, HTTPStatusError) else None


def _page_feed(outcome: FetchResult | FetchError) -> FetchResult | FetchError:
    """What a feed a page advertises answered, as the source's schedule takes it: its
    Retry-After, freshness and errors count; its 301/308 does not move the source, nor its
    410 retire it (the page is still there: it is asked again, and may advertise another)."""
    if isinstance(outcome, FetchResult):
        return replace(outcome, permanent_redirect=None)
    if _status(outcome) == 410:
        return FetchError(outcome.url, outcome.message)
    return outcome


def _validators(fetched: FetchResult) -> FetchOutcome:
    return FetchOutcome(
        status=fetched.status,
        error=None,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        body_hash=fetched.body_hash,
    )


def _title_and_link(read: Read) -> tuple[str | None, str | None]:
    """The feed's title and link, cleaned: by the worker that prepared the document, if one
    did (this process then never loads the cleaning stack, lxml and nh3)."""
    if read.prepared is not None:
        return read.prepared.feed_title, read.prepared.feed_link
    from feeds.ingest import normalize

    return normalize.feed_title_and_link(read.feed)


def _save_read(attempt: _Attempt, read: Read) -> SourceReport:
    """Save what a source's document gave: article pages, entries, the attempt."""
    run, name, feed = attempt.run, attempt.source.name, read.feed
    store, title = run.store, attempt.source.title
    validators = _validators(read.document)
    if read.deferred or read.dropped:
        # Read the document again next run, so the pages the budget skipped are picked up
        # (and the entries that could not be cleaned are tried again).
        validators = FetchOutcome(status=validators.status, error=None)
    with store.transaction():
        for record in read.records:
            store.save_article(record)
        store.record_feed_url(name, read.feed_url)
        store.record_full_text_note(name, read.note)
        feed_title, feed_link = _title_and_link(read)
        changes = ingest_entries(
            store,
            name,
            read.cleaned,
            now=run.now,
            options=run.config.dedupe,
            prepared=read.prepared,
            blocked=_blocked(run, name),
            sites=run.sites_with(attempt.source, feed_title, feed_link),
        )
        described = replace(validators, title=title or feed_title, link=feed_link)
        moved, next_due = attempt.save(described, feed.ttl_minutes)
    return SourceReport(
        name=name,
        url=attempt.state.url,
        status=read.document.status,
        warning=feed.warning,
        changes=dict(changes),
        feed_url=read.feed_url,
        full_text=read.note,
        next_due=next_due,
        moved_to=moved,
        dropped_entries=read.dropped,
    )


def _blocked(run: Run, name: str) -> Callable[[CleanEntry], bool] | None:
    """Whether the global and the source's filter rules block a new entry (for the count)."""
    config = run.config
    if not (config.filters or source_rules(config, name)):
        return None
    return lambda entry: store_verdict(config, entry, name, run.now).blocked


def save_or_fail(
    run: Run,
    source: SourceConfig,
    state: SourceState,
    request: FetchRequest,
    outcome: FetchResult | FetchError,
    prepared: Prepared | None = None,
) -> SourceReport:
    """:func:`save_source`, with whatever it raises as the source's error: the run goes on.

    What it saved is undone (its savepoint), the error recorded like a failed fetch (so
    the source keeps its entries and is retried after the usual back-off), and the
    traceback logged (``feeds refresh -v`` shows it). Only a store that cannot save
    (:class:`~feeds.errors.StoreError`) ends the run: nothing else could be saved either;
    and a read put off by a stopping daemon (:class:`~feeds.ingest.kinds.Postponed`) is
    the caller's to leave unsaved.
    """
    try:
        return save_source(run, source, state, request, outcome, prepared)
    except (StoreError, Postponed):
        raise
    except Exception as exc:
        message = describe(exc)
        log.info("%s: %s", source.name, message, exc_info=exc)
    store, now, name = run.store, run.now, source.name
    status = outcome.status if isinstance(outcome, FetchResult) else None
    update = schedule_update(state, run.config.schedule, FetchError(request.url, message), now)
    with store.transaction():
        failure = FetchOutcome(status=status, error=message)
        after = store.record_attempt(name, failure, update, now, url=state.url)
    next_due = schedule.next_due(after, run.config.schedule, run.config.interval(name))
    return SourceReport(name=name, url=state.url, status=status, error=message, next_due=next_due)
