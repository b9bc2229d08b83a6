"""One refresh: the pipeline that ties the layers together.

::

    store.sources() | executor.stream (fetch; in worker processes: parse | normalize
                    | entry_keys | signature) | save_source (the source's kind reads it:
                    full text | decide | store) | publish_outputs

Each source is fetched (concurrently), then read, cleaned, deduplicated and saved all or
nothing (:mod:`feeds.run.save_source`), in groups (:class:`_GroupSaver`). Sources are saved
in request order (round-robin by host), whichever server answers first, so the result does
not depend on timing. A source's failure is a value in the report, never a crash of the
batch; outputs are published from whatever is stored. The clock is passed in (``now``);
this module never reads the real time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from feeds.config import Config, SourceConfig
from feeds.core import schedule
from feeds.errors import FetchError
from feeds.ingest.fetch import Fetcher, PageFetcher
from feeds.ingest.kinds import kind_of
from feeds.ingest.prepare import Job, Prepared
from feeds.run import hooks
from feeds.run.adaptive import with_adaptive_intervals
from feeds.run.executor import stream
from feeds.run.filtering import apply_retention
from feeds.run.publish_outputs import publish_all
from feeds.run.reports import OutputReport, RefreshReport, SourceReport
from feeds.run.save_source import Run, save_or_fail
from feeds.run.tally import Tally
from feeds.store.protocol import Storage
from feeds.types import FetchRequest, FetchResult, SourceState

if TYPE_CHECKING:
    from feeds.ingest.articles import Budget

__all__ = ["OutputReport", "RefreshReport", "SourceReport", "publish_all", "refresh"]

#: A refresh commits its saves after this many sources, or once they hold this many entries.
GROUP_SOURCES = 200
GROUP_ENTRIES = 1000

# Copies saved before signatures existed that one refresh signs (a few seconds at most).
SIGN_PER_RUN = 2000


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
    """Fetch the chosen sources that are due, save what they carry, apply retention
    (``[store] keep``, ``max_entries_per_source``), publish every output.

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
    states = _states(config, store, names)
    reports: list[SourceReport] = []
    report = _Reporter(reports, on_source)
    wanted = _due(config, states, now, force, report)
    run = Run(config, store, fetcher, budget, batch=config.fetch.max_connections, now=now)
    tally = Tally()
    with ExitStack() as stack:
        saver = _GroupSaver(run, wanted, states, stack, tally, report)
        fetches = stream(
            fetcher,
            saver.requests,
            saver.job_for,
            stack=stack,
            on_wait=saver.commit,
            use_pages=saver.use_pages,
        )
        for i, outcome, ready in fetches:
            if should_stop is not None and should_stop():
                break
            saver.save(i, outcome, ready)
    tally.sources(reports)
    tally.expired(apply_retention(config, store, now))
    tally.save(store)
    hooks.queue_events(config, store, reports, now)
    order = {s.name: i for i, s in enumerate(config.sources)}
    reports.sort(key=lambda r: order[r.name])
    outputs = publish_all(config, store, poster=fetcher, now=now) if publish else ()
    if publish:  # after publishing: a slow receiver never holds up the files
        hooks.deliver_due(config, store, fetcher, now)
    return RefreshReport(sources=tuple(reports), outputs=outputs)


@dataclass
class _Reporter:
    """Collects the sources' reports, and hands each to ``on_source`` as it comes."""

    reports: list[SourceReport]
    on_source: Callable[[SourceReport], None] | None

    def __call__(self, report: SourceReport) -> None:
        self.reports.append(report)
        if self.on_source is not None:
            self.on_source(report)


def _states(config: Config, store: Storage, names: Sequence[str] | None) -> dict[str, SourceState]:
    if names is None:
        return {s.name: s for s in store.sources()}
    # a few sources of what may be thousands: only theirs are read
    return {s.name: store.source(s.name) for s in config.sources if s.name in names}


def _due(
    config: Config,
    states: dict[str, SourceState],
    now: datetime,
    force: bool,
    report: Callable[[SourceReport], None],
) -> list[SourceConfig]:
    """The chosen sources that are due (in configuration order); the others are reported."""
    wanted: list[SourceConfig] = []
    for source in config.sources:
        if source.name not in states:
            continue
        state = states[source.name]
        due = schedule.decide(
            state, config.schedule, config.interval(source.name), now, force=force
        )
        if due.fetch:
            wanted.append(source)
            continue
        report(
            SourceReport(
                name=source.name,
                url=state.url,
                status=state.last_status,
                skipped=due.reason,
                next_due=due.at,
            )
        )
    return wanted


class _GroupSaver:
    """Saves the fetched sources in groups of up to ``GROUP_SOURCES`` sources or
    ``GROUP_ENTRIES`` entries: one transaction per group, a savepoint per source (all of a
    source or none of it).

    A commit writes every page the transaction touched, and new entries touch index pages
    all over the store (the LSH bands are random keys): a commit per source would write most
    of them once per source. A crash loses the open group only; its sources stay due (their
    validators were not saved either). A source that fetches pages (articles, a section
    page's feed) while being saved is saved on its own, and while a server keeps us waiting
    what is saved is committed: the write lock is not held across network waits (`feeds
    drop`, `feeds enable` would wait on it).
    """

    def __init__(
        self,
        run: Run,
        wanted: list[SourceConfig],
        states: dict[str, SourceState],
        stack: ExitStack,
        tally: Tally,
        report: Callable[[SourceReport], None],
    ) -> None:
        self.run, self.wanted, self.states, self.tally, self.report = (
            run,
            wanted,
            states,
            tally,
            report,
        )
        self.requests: list[FetchRequest] = [kind_of(s).request(s, states[s.name]) for s in wanted]
        self.group = stack.enter_context(ExitStack())
        self.sources = 0  # in the open group
        self.entries = 0

    def job_for(self, i: int, outcome: FetchResult) -> Job | None:
        source = self.wanted[i]
        return kind_of(source).job(self.run.store, source, outcome, self.run.now)

    def use_pages(self, pages: PageFetcher) -> None:
        self.run.fetcher = pages

    def commit(self) -> None:
        self.group.close()
        self.sources = self.entries = 0

    def save(self, i: int, outcome: FetchResult | FetchError, ready: Prepared | None) -> None:
        source = self.wanted[i]
        alone = (
            isinstance(outcome, FetchResult)
            and outcome.content is not None
            and (ready is None or ready.page_feed_urls is not None or any(ready.wants_full_text))
        )
        if alone or self.sources >= GROUP_SOURCES or self.entries >= GROUP_ENTRIES:
            self.commit()
        if not alone:
            if not self.sources:
                self.group.enter_context(self.run.store.transaction())
            self.sources += 1
            self.entries += len(ready.cleaned) if ready is not None else 0
        self.tally.fetched(outcome)
        state = self.states[source.name]
        self.report(save_or_fail(self.run, source, state, self.requests[i], outcome, ready))
