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
from dataclasses import dataclass, field
from datetime import datetime

from feeds import dedupe, normalize, parse
from feeds.config import Config
from feeds.errors import FetchError, HTTPStatusError, ParseError, PublishError
from feeds.fetch import Fetcher
from feeds.publish import PublishResult, publish
from feeds.store import FetchOutcome, Store
from feeds.types import Change, CleanEntry, DedupeOptions, FetchRequest, FetchResult

# Copies saved before signatures existed that one refresh signs (a few seconds at most).
SIGN_PER_RUN = 2000

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
            parts = [
                f"{self.changes.get(c.value, 0)} {c.value}"
                for c in Change
                if c in _ALWAYS_SHOWN or self.changes.get(c.value, 0)
            ]
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
    with store.transaction():
        store.sign_unsigned(SIGN_PER_RUN)
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
        report = _ingest(store, source.name, source.title, source.url, outcome, now, config.dedupe)
        reports.append(report)
        if on_source is not None:
            on_source(report)
    return RefreshReport(sources=tuple(reports), outputs=publish_all(config, store))


def _ingest(
    store: Store,
    name: str,
    title: str | None,
    url: str,
    outcome: FetchResult | FetchError,
    now: datetime,
    options: DedupeOptions,
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
    with store.transaction():
        changes = ingest_entries(store, name, cleaned, now=now, options=options)
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


def ingest_entries(
    store: Store,
    name: str,
    cleaned: Sequence[CleanEntry],
    *,
    now: datetime,
    options: DedupeOptions,
) -> Counter[str]:
    """Identify and save one fetch's cleaned entries (inside the caller's transaction).

    ::

        guid trust | entry_keys | this source's copy? | reused GUID? | exact match
          | near match (LSH candidates, verified) | decide | churn cap | tombstone | save

    Returns how many entries were new, updated, unchanged, merged, throttled, dropped.
    """
    changes: Counter[str] = Counter()
    distrust = store.guid_fallback(name)
    problem = dedupe.guid_problem(cleaned) if cleaned and distrust is None else None
    if problem is not None:
        store.set_guid_fallback(name, problem)
        distrust = problem
    all_keys = dedupe.entry_keys(cleaned, trust_guids=distrust is None)
    # This fetch's keys: a copy holding one of them is never re-keyed to another entry.
    taken = {k.key for k in all_keys}
    for i, entry in enumerate(cleaned):
        keys = all_keys[i]
        sig = dedupe.signature(entry.body_text)
        existing = store.find_copy(name, keys, taken)
        if existing is not None and dedupe.is_reused_guid(existing, entry.title, sig):
            store.set_guid_fallback(name, "GUIDs reused for different articles")
            all_keys = [dedupe.without_guid(k) for k in all_keys]
            keys = all_keys[i]
            taken = {k.key for k in all_keys}
            existing = store.find_copy(name, keys, taken)
            if existing is not None and existing.key.startswith("guid:"):
                existing = None
        match = None
        if existing is None:
            match = store.find_match(keys)
            if match is None and sig is not None and options.near:
                published = entry.published or entry.updated or now
                candidates = store.near_candidates(sig)
                match = dedupe.near_match(
                    name, entry.title, entry.body_text, sig, published, candidates, options
                )
        decision = dedupe.decide(
            name, keys, existing, match, now=now, max_updates_per_day=options.max_updates_per_day
        )
        change = decision.change
        if change is Change.UPDATED:
            store.update_copy(name, keys, entry, now=now, signature=sig)
        elif change in (Change.NEW, Change.DUPLICATE):
            store.insert_copy(
                name,
                keys,
                entry,
                entry_id=decision.entry_id,
                merged_reason=decision.reason,
                now=now,
                signature=sig,
                scores=decision.scores,
            )
        if change is not Change.UNCHANGED and store.dropped(decision.entry_id) is not None:
            change = Change.DROPPED
        changes[change.value] += 1
    return changes


def publish_all(config: Config, store: Store) -> tuple[OutputReport, ...]:
    """Rebuild every output from the store; one failing output does not stop the others."""
    reports: list[OutputReport] = []
    for output in config.outputs:
        entries = store.entries_for_output(output.sources, output.max_entries, config.dedupe)
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
