"""One refresh: the pipeline that ties the layers together.

::

    store.sources() | fetch_many | parse | normalize | entry_keys | decide | store | publish

Each source is fetched (concurrently), then parsed, cleaned, deduplicated and
saved in one transaction of its own, so a crash mid-run loses nothing already
saved and half-saves nothing. A source's failure is a value in the report,
never a crash of the batch; outputs are published from whatever is stored.
The clock is passed in (``now``); this module never reads the real time.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime

from feeds import dedupe, normalize, parse
from feeds.config import Config
from feeds.dedupe import Keys
from feeds.errors import FetchError, HTTPStatusError, ParseError, PublishError
from feeds.fetch import Fetcher
from feeds.publish import PublishResult, publish
from feeds.store import FetchOutcome, Store
from feeds.types import Change, CleanEntry, FetchRequest, FetchResult

PARALLEL_MIN_BYTES = 4 * 1024 * 1024
"""Parse in worker processes when a run has at least this many bytes of new documents.

Parsing and cleaning are CPU-bound pure Python (feedparser alone costs about 1 ms per
entry of a WordPress feed, cleaning about 0.7 ms); below this size (roughly 1,000
entries) starting the workers costs more than it saves. See bench/RESULTS.md.
"""


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
        if self.warning:
            text += f" (warning: {self.warning})"
        return text


@dataclass(frozen=True)
class OutputReport:
    """What publishing one output did; ``error`` is set when it was not published."""

    name: str
    path: str
    entries: int = 0
    written: bool = False
    error: str | None = None


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
) -> RefreshReport:
    """Fetch the chosen sources (all by default), save what they carry, publish every output."""
    store.sync_sources([(s.name, s.url) for s in config.sources])
    states = {s.name: s for s in store.sources()}
    wanted = [s for s in config.sources if names is None or s.name in names]
    requests = [
        FetchRequest(
            source=s.name,
            url=s.url,
            etag=states[s.name].etag,
            last_modified=states[s.name].last_modified,
            body_hash=states[s.name].body_hash,
        )
        for s in wanted
    ]
    reports: list[SourceReport] = []
    outcomes = fetcher.fetch_many(requests)
    with ExitStack() as stack:
        prepared = _prepare_all(outcomes, now, stack)
        for source, outcome in zip(wanted, outcomes, strict=True):
            report = _ingest(
                store, source.name, source.title, source.url, outcome, now, next(prepared)
            )
            reports.append(report)
            if on_source is not None:
                on_source(report)
    return RefreshReport(sources=tuple(reports), outputs=publish_all(config, store))


@dataclass(frozen=True)
class Prepared:
    """A fetched document parsed, cleaned and keyed: all of an ingest that needs no store.

    Made by :func:`prepare` (in a worker process for large runs, so it must pickle);
    ``error`` is the parse error's message when the document could not be read.
    """

    entries: tuple[CleanEntry, ...] = ()
    keys: tuple[Keys, ...] = ()
    title: str | None = None
    link: str | None = None
    warning: str | None = None
    error: str | None = None


def prepare(content: bytes, url: str, headers: Mapping[str, str], now: datetime) -> Prepared:
    """Parse, clean and key one document. Pure: no store, no clock but ``now``."""
    try:
        feed = parse.parse(content, url=url, headers=headers)
    except ParseError as exc:
        return Prepared(error=exc.message)
    cleaned = [normalize.normalize_entry(entry, now=now) for entry in feed.entries]
    return Prepared(
        entries=tuple(cleaned),
        keys=tuple(dedupe.entry_keys(cleaned)),
        title=normalize.clean_title(feed.title) if feed.title else None,
        link=normalize.canonical_url(feed.link) if feed.link else None,
        warning=feed.warning,
    )


def _prepare_job(job: tuple[bytes, str, Mapping[str, str], datetime]) -> Prepared:
    return prepare(*job)


def _prepare_all(
    outcomes: Sequence[FetchResult | FetchError], now: datetime, stack: ExitStack
) -> Iterator[Prepared | None]:
    """One :class:`Prepared` per outcome that has new content (None for the others), in order.

    Large runs are prepared in a pool of worker processes, one per usable core, while the
    caller saves the results already done: parsing leaves the main process, whose work is
    then only the store's.
    """
    jobs = [
        (o.content, o.final_url, dict(o.headers), now)
        for o in outcomes
        if isinstance(o, FetchResult) and o.content is not None
    ]
    workers = min(_usable_cores(), len(jobs))
    if workers > 1 and sum(len(job[0]) for job in jobs) >= PARALLEL_MIN_BYTES:
        pool = ProcessPoolExecutor(workers, mp_context=_mp_context())
        # If saving fails half-way, do not wait for the rest of the parsing.
        stack.callback(pool.shutdown, wait=True, cancel_futures=True)
        done: Iterator[Prepared] = pool.map(_prepare_job, jobs, chunksize=4)
    else:
        done = map(_prepare_job, jobs)
    for outcome in outcomes:
        has_content = isinstance(outcome, FetchResult) and outcome.content is not None
        yield next(done) if has_content else None


def _mp_context() -> multiprocessing.context.BaseContext:
    """How to start the parse workers.

    ``fork`` when this process runs no other thread (the fetcher's have finished): the
    workers start in milliseconds with the parsing stack already imported. With other
    threads alive a fork could copy a lock held mid-operation, so then ``forkserver`` (or
    ``spawn``), whose workers import the stack themselves.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["feeds.refresh"])
        return context
    return multiprocessing.get_context("spawn")


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _ingest(
    store: Store,
    name: str,
    title: str | None,
    url: str,
    outcome: FetchResult | FetchError,
    now: datetime,
    prepared: Prepared | None = None,
) -> SourceReport:
    """Parse, clean, dedupe and save one source's fetch, all in one transaction.

    ``prepared`` is :func:`prepare` of the outcome's content when the caller did it
    already (in a worker process); otherwise it is done here.
    """
    if isinstance(outcome, FetchError):
        status = outcome.status if isinstance(outcome, HTTPStatusError) else None
        with store.transaction():
            store.record_fetch(name, FetchOutcome(status=status, error=outcome.message), now)
        return SourceReport(name=name, url=url, status=status, error=outcome.message)

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
        return SourceReport(name=name, url=url, status=outcome.status, not_modified=True)

    if prepared is None:
        prepared = prepare(outcome.content, outcome.final_url, outcome.headers, now)
    if prepared.error is not None:
        with store.transaction():
            store.record_fetch(name, FetchOutcome(status=outcome.status, error=prepared.error), now)
        return SourceReport(name=name, url=url, status=outcome.status, error=prepared.error)

    changes: Counter[str] = Counter()
    with store.transaction():
        for entry, keys in zip(prepared.entries, prepared.keys, strict=True):
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
                title=title or prepared.title,
                link=prepared.link,
            ),
            now,
        )
    return SourceReport(
        name=name,
        url=url,
        status=outcome.status,
        warning=prepared.warning,
        changes=dict(changes),
    )


def publish_all(config: Config, store: Store) -> tuple[OutputReport, ...]:
    """Rebuild every output from the store; one failing output does not stop the others."""
    reports: list[OutputReport] = []
    for output in config.outputs:
        entries = store.entries_for_output(output.sources, output.max_entries)
        try:
            result: PublishResult = publish(output, entries)
        except PublishError as exc:
            reports.append(OutputReport(name=output.name, path=str(output.path), error=str(exc)))
            continue
        reports.append(
            OutputReport(
                name=result.name,
                path=str(result.path),
                entries=result.entries,
                written=result.written,
            )
        )
    return tuple(reports)
