"""The configured filter rules applied to entries, and retention applied to the store.

Rules are applied when outputs are published, to the stored copies (so a changed rule
changes what is published, also for entries saved or blocked before): a copy is blocked
by ``[filters]`` then its source's rules (:func:`store_verdict`), then by its output's
(:func:`output_verdict`). Retention runs once per refresh, after the sources are saved
and before the outputs are published (:func:`apply_retention`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from feeds.config import Config, OutputConfig
from feeds.core.filters import Filtered, RuleSet, Verdict, verdict
from feeds.core.retention import signature_cutoff
from feeds.errors import StoreError
from feeds.store.protocol import IngestStore
from feeds.types import StoredEntry


def source_rules(config: Config, source: str) -> RuleSet:
    """A source's own rules (none for a source no longer configured)."""
    found = config._sources_by_name.get(source)
    return found.filters if found is not None else RuleSet()


def store_verdict(config: Config, entry: Filtered, source: str, now: datetime) -> Verdict:
    """Global block, source block, global keep, source keep."""
    return verdict(entry, (config.filters, source_rules(config, source)), now)


def output_verdict(
    config: Config, output: OutputConfig, entry: Filtered, source: str, now: datetime
) -> Verdict:
    """:func:`store_verdict`, then the output's own block and keep rules."""
    found = store_verdict(config, entry, source, now)
    if found.blocked or not output.filters:
        return found
    own = verdict(entry, (output.filters,), now)
    return own if own.blocked or own.rule else found


def has_rules(config: Config, output: OutputConfig) -> bool:
    return bool(
        config.filters
        or output.filters
        or any(source_rules(config, name) for name in output.sources)
    )


def acceptor(
    config: Config, output: OutputConfig, now: datetime
) -> Callable[[StoredEntry], bool] | None:
    """What ``output`` may publish (None: every copy, no rule applies)."""
    if not has_rules(config, output):
        return None

    def accept(entry: StoredEntry) -> bool:
        return not output_verdict(config, output, entry, entry.source, now).blocked

    return accept


def shortest_age(config: Config, output: OutputConfig) -> timedelta | None:
    """The shortest ``max_age`` that applies to some copy of ``output`` (None: none)."""
    ages = [*config.filters.ages(), *output.filters.ages()]
    for name in output.sources:
        ages += source_rules(config, name).ages()
    return min(ages) if ages else None


def fingerprint_part(config: Config, output: OutputConfig) -> str:
    """The rules an output's documents depend on, as text (for its fingerprint)."""
    parts = [config.filters, output.filters, *(source_rules(config, n) for n in output.sources)]
    return repr([([r.text for r in p.block], [r.text for r in p.keep]) for p in parts])


def retention_before_publishing(config: Config, store: IngestStore, now: datetime) -> int:
    """:func:`apply_retention`, which every publish follows or a run's retention came just
    before (``feeds publish`` and a daemon's last publish as it stops run it first): a run
    whose retention failed (the disk full) left copies it lets go, which must not be
    published. Raises :class:`~feeds.errors.StoreError`, saying nothing was published."""
    try:
        return apply_retention(config, store, now)
    except StoreError as exc:
        raise StoreError(f"retention could not run, nothing was published: {exc}") from exc


def apply_retention(config: Config, store: IngestStore, now: datetime) -> int:
    """Expire the copies ``[store] keep`` and ``max_entries_per_source`` let go; how many."""
    retention = config.retention
    if not retention:
        return 0
    with store.transaction():
        return store.expire_copies(
            older_than=retention.cutoff(now),
            max_per_source=retention.max_entries_per_source,
            unsign_before=signature_cutoff(now, config.dedupe.window_hours),
            now=now,
        )
