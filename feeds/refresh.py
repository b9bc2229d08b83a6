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

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from feeds import archive, dedupe, normalize, parse, websub
from feeds.config import Config
from feeds.errors import FetchError, HTTPStatusError, ParseError, PublishError
from feeds.fetch import Fetcher
from feeds.publish import PublishResult, publish
from feeds.store import FetchOutcome, Store
from feeds.types import Change, FetchRequest, FetchResult


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
    for source, outcome in zip(wanted, fetcher.fetch_many(requests), strict=True):
        report = _ingest(store, source.name, source.title, source.url, outcome, now)
        reports.append(report)
        if on_source is not None:
            on_source(report)
    return RefreshReport(
        sources=tuple(reports), outputs=publish_all(config, store, poster=fetcher, now=now)
    )


def _ingest(
    store: Store,
    name: str,
    title: str | None,
    url: str,
    outcome: FetchResult | FetchError,
    now: datetime,
) -> SourceReport:
    """Parse, clean, dedupe and save one source's fetch, all in one transaction."""
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

    try:
        feed = parse.parse(outcome.content, url=outcome.final_url, headers=outcome.headers)
    except ParseError as exc:
        with store.transaction():
            store.record_fetch(name, FetchOutcome(status=outcome.status, error=exc.message), now)
        return SourceReport(name=name, url=url, status=outcome.status, error=exc.message)

    cleaned = [normalize.normalize_entry(entry, now=now) for entry in feed.entries]
    changes: Counter[str] = Counter()
    with store.transaction():
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
    )


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
